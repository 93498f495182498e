"""The start page: a search box for agents, so mallbridge is usable without the helpdesk too."""
from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("web", __name__)


@bp.route("/")
@login_required
def index():
    """Search form for members and orders."""
    return render_template("index.html")


def banners():
    """Warnings shown on every page (demo mode, demo helpdesk environment, …)."""
    from flask import current_app

    from plugin import helpdesk

    found = []
    if current_app.config.get("DEMO"):
        found.append("デモモードで動作中です（MALLBRIDGE_DEMO=1）。本番データを入れないでください。")
    found.extend(helpdesk.banners())
    from plugin import outbox

    found.extend(outbox.banners())
    return found


def init_app(app):
    """Template helpers shared by every page."""
    from plugin import filters

    filters.init_app(app)
    app.context_processor(lambda: {"banners": banners})

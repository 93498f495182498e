"""The start page: a search box for agents, so mallbridge is usable without the helpdesk too."""
from flask import Blueprint, current_app, render_template
from flask_login import login_required

from plugin import filters, helpdesk, outbox

bp = Blueprint("web", __name__)


@bp.route("/")
@login_required
def index():
    """Search form for members and orders."""
    return render_template("index.html")


def banners():
    """Warnings shown on every page (demo mode, demo helpdesk environment, …)."""


    found = []
    if current_app.config.get("DEMO"):
        found.append("デモモードで動作中です（MALLBRIDGE_DEMO=1）。本番データを入れないでください。")
    found.extend(helpdesk.banners())

    found.extend(outbox.banners())
    return found


def init_app(app):
    """Template helpers shared by every page."""
    filters.init_app(app)
    app.context_processor(lambda: {"banners": banners})

"""The shop admin's console under /admin: one blueprint, views split into modules by topic."""
from flask import Blueprint, request, url_for
from flask_wtf import FlaskForm

from plugin.admin import menu
from plugin.auth import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

# (endpoint, Japanese label) of the console's menu; each view module appends its own entry.
MENU = []


def menu_entry(endpoint, label):
    """Register a page in the admin menu (called once at import time by each view module)."""
    if (endpoint, label) not in MENU:
        MENU.append((endpoint, label))


class ActionForm(FlaskForm):
    """Only the CSRF token: the URL names the action (requeue, revoke, disable, …)."""


def page_arg(most=100_000):
    """The `page` query parameter as a page number from 1 to `most`; anything unreadable is page 1."""
    try:
        return min(max(1, int(request.args.get("page", "1"))), most)
    except ValueError:
        return 1


@bp.before_request
@admin_required
def _admins_only():
    """Every /admin page: anonymous users log in first, agents get a 403 page."""
    return


@bp.context_processor
def _admin_menu():
    return {"admin_menu": menu.grouped(MENU, request.path, url_for)}


menu_entry("admin.dashboard", "ダッシュボード")
from plugin.admin import (
    audit_log,  # noqa: F401
    dashboard,  # noqa: F401
    forms,  # noqa: F401
    mail_templates,  # noqa: F401
    mall_accounts,  # noqa: F401
    outbox,  # noqa: F401
    replies,  # noqa: F401
    routing,  # noqa: F401
    settings,  # noqa: F401
    tokens,  # noqa: F401
    users,  # noqa: F401
)

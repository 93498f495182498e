"""Member and order detail pages for agents; every view is audited like a lookup (who saw whose data)."""
from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import select

from lookups import search
from lookups.models import Member, Order
from plugin import audit, helpdesk
from plugin.errors import error_response
from plugin.extensions import db

bp = Blueprint("pages", __name__, template_folder="templates")
MEMBER_ORDERS = 100


@bp.route("/members/<int:member_id>")
@login_required
def member(member_id):
    """One member with all contact data, recent orders and the helpdesk inbox button."""
    with search.connection(db.engine) as conn:
        m = search.member_page(conn, member_id, MEMBER_ORDERS)
    # Written (and committed) before anything is shown, as for a lookup; a missing id is audited too.
    audit.record("page.member", {"member": member_id, **({"customer_code": m.customer_code} if m else {})},
                 result_count=1 if m else 0)
    if m is None:
        return error_response(404, "会員が見つかりません。")
    return render_template("lookups/member.html", m=m, inbox_link=helpdesk.inbox_link())


@bp.route("/orders/<int:order_id>")
@login_required
def order(order_id):
    """One order with its items, shipping and the member who placed it."""
    o = db.session.get(Order, order_id)
    audit.record("page.order", {"order": order_id, **({"order_number": o.order_number} if o else {})},
                 result_count=1 if o else 0)
    if o is None:
        return error_response(404, "受注が見つかりません。")
    member = None
    if o.customer_code:
        member = db.session.scalar(
            select(Member).where(Member.shop_id == o.shop_id, Member.customer_code == o.customer_code))
    return render_template("lookups/order.html", o=o, member=member)

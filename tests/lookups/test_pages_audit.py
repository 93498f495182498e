"""The member and order pages show customer data: each view is audited like a lookup."""
from sqlalchemy import select

from plugin.extensions import db
from plugin.models import AuditLog
from tests import factories


def _rows(action):
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_member_page_view_is_audited(client, auth):
    """Who opened which member page, with one result; a missing member is audited with none."""
    member = factories.make_member()
    auth.login()
    assert client.get(f"/members/{member.id}").status_code == 200
    assert client.get("/members/999999").status_code == 404
    seen, missing = _rows("page.member")
    assert seen.actor == "agent@example.jp" and seen.user_id is not None and seen.result_count == 1
    assert seen.params == {"member": member.id, "customer_code": "M0001"}
    assert missing.result_count == 0


def test_order_page_view_is_audited(client, auth):
    """Opening an order page writes an audit row naming the order."""
    order = factories.make_order()
    auth.login()
    assert client.get(f"/orders/{order.id}").status_code == 200
    [row] = _rows("page.order")
    assert row.params == {"order": order.id, "order_number": "1001"} and row.result_count == 1


def test_the_audit_log_shows_page_views_in_japanese(client, auth):
    """The admin's audit page names the page views in Japanese, not by their codes."""
    member = factories.make_member()
    auth.login("admin@example.jp", "admin-password-1")
    client.get(f"/members/{member.id}")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "会員ページの表示" in page and "page.member" not in page


def test_logged_out_page_views_write_nothing(client):
    """Not logged in: redirected to login, nothing audited."""
    member = factories.make_member()
    assert client.get(f"/members/{member.id}").status_code == 302
    assert _rows("page.member") == []

"""The demo is coherent: the fake mall's sample inquiries that name an order lead, by their relay
address, to that order and its member in the demo shop's data."""
import email
from email import policy

from sqlalchemy import select

from plugin.demo import seed as demo
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync.fake_mall.seed import seed as seed_mall
from tests.sync.helpers import _live, rakuten_account, reply_address, yahoo_account


def _relay_addresses():
    """The relay address of every inquiry mail in the outbox, by its subject."""
    mails = [email.message_from_bytes(raw, policy=policy.default)
             for raw in db.session.scalars(select(OutboxMessage.raw))]
    return {str(m["Subject"]): reply_address(m) for m in mails}


def test_demo_inquiries_naming_an_order_show_it_and_its_member(sync_app, mall, client, auth):
    """Both sample inquiries with an order (Rakuten 受注問い合わせ, Yahoo! 配送日時の変更) resolve to
    that order with its items and to the member who placed it."""
    with mall.state.lock:
        seed_mall(mall.state)
    demo.seed(admin_password="admin-password-1", agent_password="agent-password-1")  # the auth fixture's logins
    _live(rakuten_account())
    _live(yahoo_account())
    buyers, orders = demo.inquiry_customers()
    auth.login()
    for buyer, order in zip(buyers, orders, strict=True):
        address = next(a for subject, a in _relay_addresses().items()
                       if ("受注問い合わせ" if order["mall"] == "rakuten" else "配送日時の変更") in subject)
        answer = client.get("/lookup/members", query_string={"email": address, "format": "json"}).get_json()
        assert [m["customer_code"] for m in answer["members"]] == [buyer["customer_code"]]
        [inquiry] = [i for i in answer["inquiries"] if i["order_number"] == order["order_number"]]
        assert inquiry["order"]["items"][0]["name"] == order["items"][0]["name"]

"""End to end: a mall inquiry travels fake mall → `sync run` → outbox → SMTP → inbox, and the
delivered mail's From address, looked up as the helpdesk would, shows the inquiry's order and member."""
import email
from email import policy

from plugin.extensions import db
from sync.fake_mall import world
from sync.models import MallAccount
from tests import factories
from tests.sync.helpers import INBOX, SHOP, add, rakuten_account

MASKED = "5f5f5f5f5f5f5f5fs9@pc.fw.rakuten.ne.jp"
ORDER = "391234-20261125-0000777"


def test_delivered_from_address_looks_up_the_inquirys_order_and_member(sync_app, mall, smtp_sink, runner, client,
                                                                        auth):
    """The From of the mail the inbox received resolves to the inquiry, its order (items, shipping) and member."""
    factories.make_member("R777", emails=("ichiro@example.jp",), phones=("090-7777-0000",),
                          name="鈴木 一郎", name_kana="スズキ イチロウ")
    factories.make_order(ORDER, customer_code="R777", email=MASKED, mall="rakuten", shipping_name="鈴木 一郎",
                         shipping_address="大阪府大阪市北区1-2-3", tracking_number="5555-6666-7777",
                         items=[{"sku": "matcha-30", "name": "抹茶 30g", "quantity": 3, "price": 1080}])
    inquiry = add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "鈴木 一郎", "user_mask_email": MASKED,
                                            "order_number": ORDER, "type": "受注問い合わせ", "message": "いつ届きますか？"})
    account = rakuten_account()
    live = db.session.get(MallAccount, account.id)
    live.backfilled_at = live.created_at  # mailed live, not held as a first backfill
    db.session.commit()

    assert runner.invoke(args=["sync", "run", "--once"]).exit_code == 0
    assert runner.invoke(args=["outbox", "run", "--once"]).exit_code == 0
    [(_sender, recipients, raw)] = smtp_sink.messages
    assert recipients == [INBOX]
    delivered = email.message_from_bytes(raw, policy=policy.default)
    address = delivered["From"].addresses[0].addr_spec
    assert address.startswith("r+")

    auth.login()
    found = client.get("/lookup/members", query_string={"email": address, "format": "json"}).get_json()
    assert [m["customer_code"] for m in found["members"]] == ["R777"]
    [asked] = found["inquiries"]
    assert asked["inquiry_id"] == inquiry["inquiryNumber"] and asked["state"] == "open"
    assert asked["type"] == "受注問い合わせ" and asked["url"] and asked["order_url"]
    assert asked["order"]["order_number"] == ORDER
    assert asked["order"]["items"] == [{"sku": "matcha-30", "name": "抹茶 30g", "quantity": 3, "price": 1080}]
    assert asked["order"]["shipping_address"] == "大阪府大阪市北区1-2-3"
    orders = client.get("/lookup/orders", query_string={"email": address, "format": "json"}).get_json()
    assert [o["order_number"] for o in orders["orders"]] == [ORDER]
    page = client.get("/lookup/members", query_string={"email": address}).get_data(as_text=True)
    assert page.index(inquiry["inquiryNumber"]) < page.index("抹茶 30g") < page.index("ichiro@example.jp")

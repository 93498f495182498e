"""Lookups by a mall customer's signed relay address (r+…@REPLY_DOMAIN): the ticket's address
resolves to the customer's inquiries, the order they name, its member and the masked-address orders."""
import datetime as dt

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.models import AuditLog
from sync.models import MallAccount
from tests import factories
from tests.sync.helpers import deliver_rakuten, deliver_yahoo, reply_address

MASKED = "0a1b2c3d4e5f6789s9@pc.fw.rakuten.ne.jp"
ORDER = "391234-20261120-0000123"


@pytest.fixture
def hanako(sync_app):
    """A member whose Rakuten order (with the masked address) a delivered inquiry names."""
    factories.make_member("R100", emails=("hanako@example.jp",), phones=("080-1111-2222",),
                          name="山田 花子", name_kana="ヤマダ ハナコ")
    factories.make_order(ORDER, customer_code="R100", email=MASKED, mall="rakuten", tracking_number="1234-5678-9012",
                         shipping_name="山田 花子", shipping_address="東京都千代田区1-1",
                         items=[{"sku": "tea-100", "name": "有機緑茶 100g", "quantity": 1, "price": 1620}])
    factories.make_order("391234-20260101-0000001", customer_code=None, email=MASKED, mall="rakuten",
                         ordered_at=dt.datetime(2026, 1, 1, 3, 0))
    return sync_app


def _json(client, kind, address, **extra):
    r = client.get(f"/lookup/{kind}", query_string={"email": address, "format": "json", **extra})
    assert r.status_code == 200
    return r.get_json()


def test_relay_address_finds_inquiry_order_and_member(hanako, mall, client, auth):
    """The ticket's relay address answers with the inquiry (number, state, mall link), the order it
    names with items and shipping, the member of that order and the orders with the masked address."""
    account, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    address = reply_address(mail)
    auth.login()
    members = _json(client, "members", address)
    assert [m["customer_code"] for m in members["members"]] == ["R100"]
    [inquiry] = members["inquiries"]
    assert inquiry["inquiry_id"] == number and inquiry["mall"] == "rakuten" and inquiry["state"] == "open"
    assert inquiry["order_number"] == ORDER and inquiry["url"].startswith("https://")
    assert inquiry["type"] == "商品問い合わせ" and inquiry["shop"] == "default"
    assert inquiry["order"]["items"][0]["name"] == "有機緑茶 100g"
    assert inquiry["order"]["tracking_number"] == "1234-5678-9012"
    orders = _json(client, "orders", address)
    assert [o["order_number"] for o in orders["orders"]] == [ORDER, "391234-20260101-0000001"]
    assert orders["orders"][0]["shipping_address"] == "東京都千代田区1-1"
    assert orders["inquiries"][0]["inquiry_id"] == number


def test_plain_email_lookups_carry_an_empty_inquiries_list(hanako, client, auth):
    """JSON always has `inquiries`; a plain e-mail finds none."""
    auth.login()
    assert _json(client, "members", "hanako@example.jp")["inquiries"] == []


@pytest.mark.parametrize("change", [
    lambda a: a.replace("@", "x@", 1),                        # altered signature
    lambda a: a[:-30] + ("0" if a[-30] != "0" else "1") + a[-29:],  # one character of the token
    lambda a: a.split("@")[0] + "@other.example",              # another domain
])
def test_forged_or_altered_relay_address_is_a_plain_no_match(hanako, mall, client, auth, change):
    """A forged or altered relay address: 200 with empty lists, never an error."""
    _, mail, _ = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    for kind in ("members", "orders"):
        found = _json(client, kind, change(reply_address(mail)))
        assert found[kind] == [] and found["inquiries"] == []


def test_relay_address_of_a_disabled_account_finds_nobody(hanako, mall, client, auth):
    """Once the mall account is disabled its relay addresses resolve to no one."""
    account, mail, _ = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    db.session.get(MallAccount, account.id).enabled = False
    db.session.commit()
    auth.login()
    found = _json(client, "members", reply_address(mail))
    assert found["members"] == [] and found["inquiries"] == []

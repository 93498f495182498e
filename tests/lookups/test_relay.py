"""Lookups by a mall customer's signed relay address (r+…@REPLY_DOMAIN): the ticket's address
resolves to the customer's inquiries, the order they name, its member and the masked-address orders."""
import datetime as dt

import pytest
from sqlalchemy import select

from plugin import mail_templates
from plugin.extensions import db
from plugin.models import AuditLog
from sync.models import MallAccount
from sync.replies import queue
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
    _account, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
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


def test_the_inquiry_type_shows_whatever_subject_the_shop_chose(hanako, mall, client, auth):
    """The mall's word for the inquiry is stored when it is polled, so a shop subject template that
    leaves it out does not take it off the lookup page."""
    mail_templates.save(factories.default_shop().id, "mall_subject", "No.{{ inquiry.id }} {{ inquiry.item_name }}", "")
    db.session.commit()
    _account, mail, _number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    assert not str(mail["Subject"]).startswith("【")
    auth.login()
    [inquiry] = _json(client, "members", reply_address(mail))["inquiries"]
    assert inquiry["type"] == "商品問い合わせ"


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


def _audit_rows():
    db.session.expire_all()
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action.like("lookup.%")).order_by(AuditLog.id)))


@pytest.mark.parametrize("method,path", [
    ("GET", "/lookup/members"), ("POST", "/lookup/members"), ("PUT", "/lookup/orders"),
    ("GET", "/default/admin_relation_member_search.html"), ("POST", "/default/admin_relation_order_search.html"),
    ("PUT", "/default/admin_relation_member_search.html"),
])
def test_every_lookup_kind_and_method_accepts_the_relay_address(hanako, mall, client, auth, method, path):
    """GET, POST and PUT, the lookups and their ebisumart-style aliases, in JSON and HTML: the same customer."""
    _, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    data = {"email": reply_address(mail)}
    if method == "GET":
        r = client.get(path, query_string={**data, "format": "json"})
        page = client.get(path, query_string=data)
    else:
        r = client.open(path, method=method, data=data, headers={"Accept": "application/json"})
        page = client.open(path, method=method, data=data)
    assert r.status_code == 200 and r.get_json()["inquiries"][0]["inquiry_id"] == number
    assert page.status_code == 200 and number in page.get_data(as_text=True)


@pytest.mark.parametrize("charset", ["utf-8", "shift_jis", "euc-jp"])
def test_relay_address_in_every_charset_and_unencoded_plus(hanako, mall, client, auth, charset):
    """The address is ASCII: it resolves in every charset, also when the helpdesk did not encode '+'."""
    _, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    address = reply_address(mail)
    r = client.get(f"/lookup/members?email={address}&charset={charset}&format=json")  # '+' arrives as a space
    assert r.get_json()["inquiries"][0]["inquiry_id"] == number
    assert [m["customer_code"] for m in r.get_json()["members"]] == ["R100"]


def test_the_audit_row_names_what_the_relay_address_resolved_to(hanako, mall, client, auth):
    """The audit row of a relay lookup says which mall account and customer the address named."""
    account, mail, _ = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    _json(client, "members", reply_address(mail))
    _json(client, "members", reply_address(mail).replace("@", "x@"))
    resolved, forged = _audit_rows()[-2:]
    assert f"楽天 アカウント{account.id}" in resolved.detail and resolved.result_count == 1
    assert "署名が一致しません" in forged.detail and forged.result_count == 0


def test_yahoo_relay_address_finds_the_order_by_its_order_id(sync_app, mall, client, auth):
    """A Yahoo! question's relay address leads to the order its order ID names, and to its member."""
    factories.make_member("Y1", emails=("jiro@example.jp",), name="佐藤 次郎", name_kana="サトウ ジロウ")
    factories.make_order("mallbridge-demo-10000042", customer_code="Y1", email="jiro@example.jp", mall="yahoo")
    _, mail, topic = deliver_yahoo(mall, order_id="mallbridge-demo-10000042")
    auth.login()
    found = _json(client, "members", reply_address(mail))
    assert [m["customer_code"] for m in found["members"]] == ["Y1"]
    [inquiry] = found["inquiries"]
    assert inquiry["inquiry_id"] == topic and inquiry["mall"] == "yahoo"
    assert inquiry["order"]["order_number"] == "mallbridge-demo-10000042"
    assert "mallbridge-demo" in inquiry["url"]


def test_in_customer_mode_the_masked_address_resolves_the_same_way(hanako, mall, client, auth):
    """With from_mode customer the ticket shows Rakuten's masked address: it finds the inquiry and its order too."""
    _, _, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    found = _json(client, "members", MASKED.upper())
    assert [m["customer_code"] for m in found["members"]] == ["R100"]
    assert [i["inquiry_id"] for i in found["inquiries"]] == [number]
    assert found["inquiries"][0]["order"]["order_number"] == ORDER


def test_an_inquiry_the_agent_completed_shows_as_completed(hanako, mall, client, auth):
    """State: open until an agent's completion is queued (完了処理中), completed once posted (完了)."""
    account, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    job = queue.enqueue_complete(account.id, number, actor="agent@example.jp")
    db.session.commit()
    assert _json(client, "members", reply_address(mail))["inquiries"][0]["state"] == "completing"
    job.state = "posted"
    db.session.commit()
    inquiry = _json(client, "members", reply_address(mail))["inquiries"][0]
    assert inquiry["state"] == "completed" and inquiry["state_label"] == "完了"


def test_a_customer_without_member_or_order_still_shows_the_inquiry(sync_app, mall, client, auth):
    """No order known: the inquiry alone, with empty member and order lists."""
    _, mail, number = deliver_rakuten(mall)
    auth.login()
    found = _json(client, "orders", reply_address(mail))
    assert found["orders"] == [] and found["inquiries"][0]["inquiry_id"] == number
    assert found["inquiries"][0]["order"] is None

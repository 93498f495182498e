"""Behaviour of /lookup/members and /lookup/orders as the helpdesk uses them."""
import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from lookups.params import LABELS
from plugin.extensions import db
from plugin.models import AuditLog
from tests import factories


@pytest.fixture
def taro(app):
    """A member with two e-mails and an order."""
    m = factories.make_member(emails=("Taro@Example.jp", "taro.work@example.com"), phones=("090-1234-5678",))
    factories.make_order()
    return m


def test_anonymous_html_lookup_redirects_to_login_with_next(client):
    """Not logged in: 302 to /login?next=<the lookup>."""
    r = client.get("/lookup/members?email=taro@example.jp")
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/lookup/members?email=taro@example.jp"]


def test_anonymous_json_lookup_is_401(client):
    """Not logged in and asking for JSON: 401 with a JSON error object."""
    r = client.get("/lookup/members?email=taro@example.jp", headers={"Accept": "application/json"})
    assert r.status_code == 401
    assert r.get_json()["error"]["status"] == 401


def test_login_round_trip_returns_to_lookup(client, auth, taro):
    """After logging in from the redirect, the agent lands on the lookup result."""
    r = client.get("/lookup/members?email=taro%40example.jp")
    next_url = parse_qs(urlsplit(r.headers["Location"]).query)["next"][0]
    r = auth.login(next_url=next_url)
    assert r.status_code == 302 and r.headers["Location"] == "/lookup/members?email=taro%40example.jp"
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "山田 太郎" in page and "M0001" in page


def test_post_lookup_while_logged_out_keeps_parameters_through_login(client, auth, taro):
    """A form POST from the helpdesk survives the login detour as a GET with the same parameters."""
    r = client.post("/lookup/members", data={"email": "taro@example.jp"})
    assert r.status_code == 302
    next_url = parse_qs(urlsplit(r.headers["Location"]).query)["next"][0]
    assert urlsplit(next_url).path == "/lookup/members"
    assert parse_qs(urlsplit(next_url).query) == {"email": ["taro@example.jp"]}
    auth.login()
    assert "山田 太郎" in client.get(next_url).get_data(as_text=True)


def test_raw_shift_jis_body_survives_the_login_detour(client, auth):
    """A logged-out POST with raw (unencoded) Shift_JIS bytes comes back after login with the same bytes."""
    factories.make_member("会員-０１", emails=("x@example.jp",))
    body = b"customer_code=" + "会員-０１".encode("cp932") + b"&charset=shift_jis"
    r = client.post("/lookup/members", data=body, content_type="application/x-www-form-urlencoded")
    next_url = parse_qs(urlsplit(r.headers["Location"]).query)["next"][0]
    assert "%89%EF" in next_url  # 会 in Shift_JIS, percent-encoded instead of replaced
    auth.login()
    r = client.get(next_url + "&format=json")
    assert r.status_code == 200 and r.get_json()["query"] == {"customer_code": "会員-０１"}


@pytest.mark.parametrize("email", ["taro@example.jp", "  TARO@EXAMPLE.JP ", "Taro@Example.jp", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ"])
def test_email_match_is_case_insensitive_and_trimmed(client, auth, taro, email):
    """E-mail match ignores case, surrounding spaces and full-width characters."""
    auth.login()
    r = client.get("/lookup/members", query_string={"email": email, "format": "json"})
    assert [m["customer_code"] for m in r.get_json()["members"]] == ["M0001"]


@pytest.mark.parametrize("tel", ["09012345678", "090-1234-5678", "090 1234 5678", "０９０－１２３４－５６７８", "+81-90-1234-5678", "+819012345678"])
def test_phone_match_ignores_formatting(client, auth, taro, tel):
    """Phone match ignores hyphens, spaces, full-width digits and a leading +81."""
    auth.login()
    r = client.get("/lookup/members", query_string={"tel": tel}, headers={"Accept": "application/json"})
    assert [m["customer_code"] for m in r.get_json()["members"]] == ["M0001"]


def test_customer_code_lookup_and_json_shape(client, auth, taro):
    """JSON answer: the query echoed back and members with the CSV column keys."""
    auth.login()
    body = client.get("/lookup/members?customer_code=M0001&format=json").get_json()
    assert body["query"] == {"customer_code": "M0001"}
    member = body["members"][0]
    assert member["emails"] == ["Taro@Example.jp", "taro.work@example.com"]
    assert member["shop"] == "default" and member["name_kana"] == "ヤマダ タロウ"
    assert member["latest_orders"][0]["order_number"] == "1001"


def test_every_member_sharing_an_email_is_listed(client, auth):
    """A family sharing one address: every member is shown."""
    factories.make_member("M1", emails=("family@example.jp",), name="佐藤 一郎")
    factories.make_member("M2", emails=("family@example.jp",), name="佐藤 花子")
    auth.login()
    body = client.get("/lookup/members?email=family@example.jp&format=json").get_json()
    assert sorted(m["name"] for m in body["members"]) == ["佐藤 一郎", "佐藤 花子"]


def test_member_found_through_order_email(client, auth):
    """A Rakuten masked address on an order leads to the member who placed it."""
    factories.make_member("R1", emails=("real@example.jp",))
    factories.make_order("R-1", customer_code="R1", email="abc123@pc.fw.rakuten.ne.jp", mall="rakuten")
    auth.login()
    body = client.get("/lookup/members?email=ABC123@pc.fw.rakuten.ne.jp&format=json").get_json()
    assert [m["customer_code"] for m in body["members"]] == ["R1"]


def test_order_lookup_lists_orders_newest_first(client, auth, taro):
    """Orders by the member's other e-mail are found too, newest first, with items."""
    import datetime as dt

    factories.make_order("1002", ordered_at=dt.datetime(2026, 11, 20, 3, 0), mall="rakuten")
    auth.login()
    body = client.get("/lookup/orders?email=taro.work@example.com&format=json").get_json()
    assert [o["order_number"] for o in body["orders"]] == ["1002", "1001"]
    assert body["orders"][1]["items"][0]["name"] == "有機緑茶 100g"
    assert body["orders"][1]["ordered_at"] == "2026-11-01T12:00:00+09:00"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_post_and_put_are_accepted(client, auth, taro, method):
    """The helpdesk may send the parameters as a form body with POST or PUT."""
    auth.login()
    r = client.open("/lookup/members", method=method, data={"email": "taro@example.jp"},
                    headers={"Accept": "application/json"})
    assert r.status_code == 200 and len(r.get_json()["members"]) == 1


@pytest.mark.parametrize("charset,encoding", [("shift_jis", "cp932"), ("euc-jp", "euc_jp"), ("utf-8", "utf-8")])
def test_charset_parameter_decodes_japanese_query(client, auth, charset, encoding):
    """A customer code with Japanese text, sent in the helpdesk's charset, is decoded correctly."""
    factories.make_member("会員-０１", emails=("x@example.jp",))
    auth.login()
    raw = quote("会員-０１".encode(encoding))
    r = client.get(f"/lookup/members?customer_code={raw}&charset={charset}&format=json")
    assert r.status_code == 200
    assert r.get_json()["query"] == {"customer_code": "会員-０１"}
    assert len(r.get_json()["members"]) == 1


def test_lookup_encoding_setting_applies_without_charset_parameter(client, auth):
    """An admin sets the lookup encoding to Shift_JIS: parameters without `charset` are decoded in it."""
    from plugin import settings

    factories.make_member("会員-０１", emails=("x@example.jp",))
    settings.set_value("lookups.encoding", "shift_jis", actor="t")
    auth.login()
    raw = quote("会員-０１".encode("cp932"))
    r = client.get(f"/lookup/members?customer_code={raw}&format=json")
    assert r.status_code == 200 and len(r.get_json()["members"]) == 1
    utf8 = quote("会員-０１".encode())
    assert len(client.get(f"/lookup/members?customer_code={utf8}&charset=utf-8&format=json").get_json()["members"]) == 1


def test_bytes_that_do_not_decode_are_a_400(client, auth):
    """Shift_JIS bytes sent as UTF-8: 400 saying the charset does not fit."""
    auth.login()
    raw = quote("山田".encode("cp932"))
    r = client.get(f"/lookup/members?customer_code={raw}&format=json")
    assert r.status_code == 400
    assert r.get_json()["error"]["param"] == "charset"


@pytest.mark.parametrize("query,param", [
    ("", "email"), ("email=", "email"), ("email=not-an-address", "email"), ("tel=abc", "tel"),
    ("email=" + "a" * 250 + "@example.jp", "email"), ("customer_code=" + "9" * 65, "customer_code"),
    ("email=a@example.jp&charset=klingon", "charset"),
])
def test_bad_parameters_are_a_400_naming_the_parameter(client, auth, query, param):
    """Missing, empty, overlong or malformed parameters: 400 naming the parameter in Japanese (the key
    itself in `param`), never 500."""
    auth.login()
    r = client.get(f"/lookup/members?{query}&format=json")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["param"] == param and LABELS[param] in err["message"]
    assert f"{param} が" not in err["message"]
    html = client.get(f"/lookup/members?{query}")
    assert html.status_code == 400 and "見つかりませんでした" not in html.get_data(as_text=True)


def test_no_match_is_200_with_empty_list_and_message(client, auth):
    """No match: 200, an empty list, and a plain message on the page."""
    auth.login()
    assert client.get("/lookup/orders?email=nobody@example.jp&format=json").get_json()["orders"] == []
    page = client.get("/lookup/members?email=nobody@example.jp")
    assert page.status_code == 200 and "該当する会員は見つかりませんでした" in page.get_data(as_text=True)


def test_stored_markup_is_escaped(client, auth):
    """Script tags and quotes in stored fields are shown as text."""
    factories.make_member("X1", emails=("x@example.jp",), name='<script>alert("x")</script>', note="'\"><img src=x>")
    auth.login()
    page = client.get("/lookup/members?email=x@example.jp").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_sql_meta_characters_are_plain_text(client, auth, taro):
    """Quotes and SQL keywords in a parameter are searched literally."""
    auth.login()
    r = client.get("/lookup/members", query_string={"customer_code": "' OR 1=1 --", "format": "json"})
    assert r.status_code == 200 and r.get_json()["members"] == []


def test_ebisumart_alias_scopes_to_shop_and_unknown_shop_is_404(client, auth, taro):
    """/<shop>/admin_relation_member_search.html searches that shop; an unknown shop is a 404 page."""
    other = factories.make_shop("tea")
    factories.make_member("T1", emails=("taro@example.jp",), shop=other)
    auth.login()
    r = client.get("/tea/admin_relation_member_search.html?email=taro@example.jp&format=json")
    assert [m["customer_code"] for m in r.get_json()["members"]] == ["T1"]
    r = client.get("/default/admin_relation_order_search.html?email=taro@example.jp&format=json")
    assert [o["order_number"] for o in r.get_json()["orders"]] == ["1001"]
    missing = client.get("/nope/admin_relation_member_search.html?email=taro@example.jp")
    assert missing.status_code == 404 and "nope" in missing.get_data(as_text=True)


def test_every_lookup_is_audited(app, client, auth, taro):
    """Who searched what, when, and how many results."""
    auth.login()
    client.get("/lookup/members?email=taro@example.jp")
    row = db.session.query(AuditLog).filter_by(action="lookup.members").one()
    assert row.actor == "agent@example.jp" and row.params == {"email": "taro@example.jp"} and row.result_count == 1


def test_member_and_order_pages(client, auth, taro):
    """Detail pages show the member's data and the order's items; unknown ids are a 404 page."""
    auth.login()
    page = client.get(f"/members/{taro.id}").get_data(as_text=True)
    assert "taro.work@example.com" in page and "1001" in page
    order_id = json.loads(client.get("/lookup/orders?email=taro@example.jp&format=json").data)["orders"][0]["id"]
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "有機緑茶 100g" in page and "¥3,240" in page
    assert client.get("/members/999999").status_code == 404


@pytest.mark.parametrize("query,param", [
    ("customer_code=%00", "customer_code"), ("customer_code=a%00b", "customer_code"),
    ("tel=%0003-1234-5678", "tel"), ("email=a@example.jp&shop=%00", "shop"),
])
def test_control_characters_are_a_400_naming_the_parameter(client, auth, query, param):
    """NUL and other control characters (PostgreSQL refuses NUL) are a 400 naming the parameter, not a 500."""
    auth.login()
    r = client.get(f"/lookup/members?{query}&format=json")
    assert r.status_code == 400 and r.get_json()["error"]["param"] == param
    assert client.get(f"/lookup/orders?{query}").status_code == 400


def test_ebisumart_alias_with_unusable_shop_code_is_404(client, auth):
    """A shop code in the alias path that no shop can have (NUL, overlong) is the unknown-shop 404."""
    auth.login()
    for code in ("a%00b", "x" * 300):
        r = client.get(f"/{code}/admin_relation_member_search.html?email=taro@example.jp")
        assert r.status_code == 404


def test_ids_beyond_the_integer_range_are_404(client, auth):
    """/members/<id> and /orders/<id> with an id no row can have are a 404 page, not a database error."""
    auth.login()
    for path in ("/members/99999999999999999999", "/orders/2147483648"):
        assert client.get(path).status_code == 404


@pytest.mark.parametrize("address", [
    "taro@example.jp", "r+abc.def@reply.localhost", "x@a.test", "x@foo.onion", "x@foo.arpa", "a..b@x.jp",
    "x@xn--abc.jp", "x@-a.jp", "x@a.c0m", "a@b_c.jp", '"a"@b.jp', "a@[1.2.3.4]", "x" * 65 + "@a.jp",
    "a@" + "b" * 64 + ".jp", "ü@a.jp",
])
def test_email_check_has_the_validators_answer_for_every_shape(address):
    """The lookup's quick check for everyday addresses answers as the full e-mail validator does."""
    from lookups import params
    from plugin.normalize import is_valid_email

    try:
        params.validate({"email": address})
        accepted = True
    except params.ParamError:
        accepted = False
    assert accepted == is_valid_email(address)


def test_json_answer_links_each_member_and_order_to_its_page(client, auth, taro):
    """Every member and order in the JSON answer carries the absolute URL of its detail page."""
    auth.login()
    member = client.get("/lookup/members?email=taro@example.jp&format=json").get_json()["members"][0]
    assert member["url"] == f"http://mallbridge.test/members/{member['id']}"
    order = member["latest_orders"][0]
    assert order["url"] == f"http://mallbridge.test/orders/{order['id']}" and "items" not in order
    listed = client.get("/lookup/orders?email=taro@example.jp&format=json").get_json()["orders"][0]
    assert listed["url"] == order["url"] and listed["items"][0]["sku"] == "tea-100"


def test_order_lookup_audits_the_orders_shown_when_the_list_is_cut(app, client, auth, taro):
    """With more orders than the limit, the answer says it is cut and the audit row counts those shown."""
    app.config["LOOKUP_ORDER_LIMIT"] = 2
    for n in range(3):
        factories.make_order(f"20{n}")
    auth.login()
    body = client.get("/lookup/orders?email=taro@example.jp&format=json").get_json()
    assert len(body["orders"]) == 2 and body["truncated"] is True
    db.session.expire_all()
    assert db.session.query(AuditLog).filter_by(action="lookup.orders").one().result_count == 2


def test_member_lookup_lists_latest_orders_newest_first_and_at_most_five(client, auth, taro):
    """Each member shows its five newest orders, newest first, and only its own."""
    import datetime as dt

    for day in range(1, 8):
        factories.make_order(f"D{day}", ordered_at=dt.datetime(2026, 10, day, 3, 0))
    factories.make_member("M0002", emails=("other@example.jp",))
    factories.make_order("OTHER", customer_code="M0002", email="other@example.jp")
    auth.login()
    member = client.get("/lookup/members?email=taro@example.jp&format=json").get_json()["members"][0]
    assert [o["order_number"] for o in member["latest_orders"]] == ["1001", "D7", "D6", "D5", "D4"]

"""Odd bodies on the lookup endpoints: always a 4xx JSON error object with a clear message, never a 500."""
import pytest

NESTED_ARRAY = b"[" * 10_000 + b"]" * 10_000
NESTED_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
BODIES = {
    "nested array": NESTED_ARRAY,
    "nested object": NESTED_OBJECT,
    "nested under email": b'{"email": ' + NESTED_ARRAY + b"}",
    "not utf-8": '{"email": "山田"}'.encode("cp932"),
    "not json": b"email=taro@example.jp",
    "array": b'["taro@example.jp"]',
    "string": b'"taro@example.jp"',
    "list value": b'{"email": ["taro@example.jp"]}',
    "object value": b'{"name": {"last": "\\u5c71\\u7530"}}',
    "lone surrogate": b'{"name": "\\ud800"}',
    "nul": b'{"customer_code": "a\\u0000b"}',
    "huge number": b'{"tel": ' + b"9" * 5000 + b"}",
    "too large": b'{"email": "' + b"a" * 70_000 + b'@example.jp"}',
    "empty object": b"{}",
}
PATHS = ["/lookup/members", "/lookup/orders", "/default/admin_relation_member_search.html",
         "/default/admin_relation_order_search.html"]


@pytest.mark.parametrize("name", list(BODIES))
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_odd_json_bodies_are_a_4xx_json_error(client, auth, name, method):
    """Deeply nested, non-UTF-8, non-object or non-text JSON: 400 with a Japanese message in a JSON
    error object, even when the client asked for no particular format."""
    auth.login()
    for path in PATHS:
        r = client.open(path, method=method, data=BODIES[name], content_type="application/json")
        assert 400 <= r.status_code < 500, (path, r.status_code)
        error = r.get_json()["error"]
        assert error["status"] == r.status_code and error["message"]
        assert "Traceback" not in r.get_data(as_text=True)


def test_the_nesting_error_says_what_is_wrong(client, auth):
    """10,000 levels of [[[…]]]: the message says the nesting is too deep."""
    auth.login()
    r = client.post("/lookup/members", data=NESTED_ARRAY, content_type="application/json")
    assert r.status_code == 400 and "入れ子が深すぎます" in r.get_json()["error"]["message"]
    assert r.get_json()["error"]["param"] == "body"


def test_html_clients_get_the_error_page_for_a_bad_form_body(client, auth):
    """A browser posting a form with bad bytes gets the Japanese page with the message, 400."""
    auth.login()
    r = client.post("/lookup/members", data=b"email=%ff%fe", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and "文字コード" in r.get_data(as_text=True)

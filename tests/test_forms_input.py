"""Odd input to the public form (no login needed) is a 4xx with a Japanese message, never a 500,
and whatever valid the customer sent is kept."""
import json

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.forms.models import FormSubmission
from plugin.outbox import OutboxMessage
from tests.forms_support import VALID, make_contact_form

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture
def contact(app):
    """The 'contact' form of the default shop (tests.forms_support)."""
    return make_contact_form()


def _multipart(*parts):
    """A multipart body built by hand (bytes parts), so it can hold what a test client would refuse."""
    body = b"".join(b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (n, v) for n, v in parts)
    return body + b"--B--\r\n"


def _stored():
    return db.session.scalars(select(FormSubmission)).all()


def test_deeply_nested_json_is_a_400_json_error(client, contact):
    """100,000 nested arrays (a 500 before) → 400 with a Japanese JSON error object; nothing stored."""
    for doc in ("[" * 100_000 + "]" * 100_000, '{"name": ' + "[" * 50_000 + "]" * 50_000 + "}"):
        res = client.post("/forms/contact", data=doc, content_type=JSON)
        assert res.status_code == 400
        assert res.get_json() == {"error": "JSONの入れ子が深すぎます。項目の値は文字列で送ってください。", "status": 400}
    assert _stored() == []


VALID_FORM = b"name=%E5%B1%B1%E7%94%B0&email=taro%40example.jp&message=%E5%88%B0%E7%9D%80%E6%97%A5"


@pytest.mark.parametrize("body, content_type, status, words", [
    ("hello", "text/plain", 415, "application/json"),
    ("<a/>", "application/xml", 415, "multipart/form-data"),
    (b"name=x&email=taro%40example.jp&message=x", None, 415, "Content-Type なし"),
    (b"name=%FF%FE&email=taro%40example.jp&message=x", FORM, 400, "UTF-8"),
    (b"name=\xff\xfe&email=taro%40example.jp&message=x", FORM, 400, "UTF-8"),
    (_multipart((b"name", b"\xff\xfe"), (b"email", b"taro@example.jp"), (b"message", b"x")),
     "multipart/form-data; boundary=B", 400, "UTF-8"),
    (b"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nTaro", "multipart/form-data; boundary=B", 400,
     "形式"),
    (b"name=x", "multipart/form-data", 400, "形式"),
    ("&".join(f"f{i}=x" for i in range(500)), FORM, 413, "項目が多すぎます"),
    (_multipart(*[(b"f%d" % i, b"x") for i in range(500)]), "multipart/form-data; boundary=B", 413, "項目が多すぎる"),
    (_multipart((b"message", b"x" * 600_000)), "multipart/form-data; boundary=B", 413, "長すぎます"),
    ('{"name": NaN, "email": "taro@example.jp", "message": "x"}', JSON, 400, "JSON"),
    ('{"name": 1' + "0" * 5000 + "}", JSON, 400, "JSON"),
    ('["name", "email"]', JSON, 400, "オブジェクト"),
    (b'{"name": "\xff"}', JSON, 400, "UTF-8"),
])
def test_odd_bodies_are_a_4xx_with_a_japanese_message(client, contact, body, content_type, status, words):
    """Wrong content types, invalid UTF-8, broken multipart, many or huge fields: the named 4xx, never a 500."""
    for accept in ("application/json", "text/html"):
        res = client.post("/forms/contact", data=body, content_type=content_type, headers={"Accept": accept})
        assert res.status_code == status
        # JSON was posted or asked for → a JSON error object; else the Japanese error page.
        json_answer = accept == "application/json" or content_type == JSON
        message = res.get_json()["error"] if json_answer else res.get_data(as_text=True)
        assert words in message
    assert _stored() == []


@pytest.mark.parametrize("changes, field", [
    ({"name": {"first": "太郎"}}, "name"),
    ({"message": ["a", ["b"]]}, "message"),
    ({"attachments": [{"filename": {"x": 1}, "content": "AA=="}]}, "attachment"),
    ({"attachments": "not a list"}, "attachment"),
    ({f"extra{i}": "x" for i in range(50)}, "extra"),
    ({"\u0000": "x"}, "extra"),
    ({"category": {"a": 1}}, "category"),
])
def test_values_of_the_wrong_kind_are_a_422_naming_the_field(client, contact, changes, field):
    """Objects where text belongs, malformed attachments, too many or unusable field names: 422 on that field."""
    res = client.post("/forms/contact", json={**VALID, **changes})
    assert res.status_code == 422 and field in res.get_json()["fields"]
    assert _stored() == []


def test_half_of_an_emoji_is_kept_as_a_replacement_character(client, contact):
    """A lone surrogate (a script cut an emoji in two) is stored as U+FFFD and the shop still gets its mail."""
    body = '{"name": "山田 太郎", "email": "taro@example.jp", "message": "到着日は？\\ud83d よろしく"}'
    assert client.post("/forms/contact", data=body, content_type=JSON).status_code == 201
    [sub] = _stored()
    assert sub.values["message"] == "到着日は？\ufffd よろしく" and sub.mail_error is None
    assert [row.kind for row in db.session.scalars(select(OutboxMessage))] == ["form_shop", "form_ack"]


def test_valid_bodies_in_every_encoding_a_client_sends_are_accepted(client, contact):
    """UTF-8 form posts, multipart, JSON with a BOM or in UTF-16, and names like `item[color]` go through."""
    assert client.post("/forms/contact", data=VALID_FORM, content_type=FORM).status_code == 303
    multipart = _multipart((b"name", "山田".encode()), (b"email", b"taro@example.jp"),
                           (b"message", "到着日".encode()), ("ご用件(必須)".encode(), "返品".encode()))
    assert client.post("/forms/contact", data=multipart, content_type="multipart/form-data; boundary=B").status_code == 303
    doc = json.dumps({**VALID, "item[color]": "緑"}, ensure_ascii=False)
    assert client.post("/forms/contact", data=b"\xef\xbb\xbf" + doc.encode(), content_type=JSON).status_code == 201
    assert client.post("/forms/contact", data=doc.encode("utf-16"), content_type=JSON).status_code == 201
    stored = _stored()
    assert [s.values["name"] for s in stored] == ["山田", "山田", "山田 太郎", "山田 太郎"]
    assert stored[1].values["ご用件(必須)"] == "返品" and stored[3].values["item[color]"] == "緑"

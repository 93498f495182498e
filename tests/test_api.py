"""POST /api/v1/members and /api/v1/orders: Bearer tokens, bulk upserts, per-item errors, limits."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from lookups.models import Member, Order
from plugin import clock
from plugin.extensions import db
from plugin.models import ApiToken, AuditLog
from plugin.tokens import create_token
from tests import factories


@pytest.fixture
def token(app):
    """A fresh API token's plain value."""
    return create_token("shop-system")


def post(client, path, body, token=None, raw=None, **headers):
    """POST JSON (or raw bytes) with an optional Bearer token."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body)
    return client.post(path, data=data, headers=headers, content_type="application/json")


def member(code):
    """The member with that customer code."""
    db.session.expire_all()
    return db.session.scalar(select(Member).where(Member.customer_code == code))


def test_token_printed_by_the_cli_authenticates(client, runner):
    """`mallbridge tokens create` prints a token that the API accepts."""
    printed = runner.invoke(args=["tokens", "create", "--name", "EC-CUBE"]).output.strip()
    r = post(client, "/api/v1/members", [{"customer_code": "M1"}], token=printed)
    assert r.status_code == 200 and r.get_json()["inserted"] == 1


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwdw=="])
def test_missing_or_wrong_token_is_401_json(client, token, header):
    """No token, an empty one, a wrong one or another scheme: 401 with a JSON error, nothing stored."""
    headers = {"Authorization": header} if header else {}
    r = post(client, "/api/v1/members", [{"customer_code": "M1"}], **headers)
    assert r.status_code == 401
    assert r.get_json()["error"]["status"] == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert member("M1") is None


def test_revoked_token_is_refused(client, token):
    """A revoked token stops working at once."""
    row = db.session.scalar(select(ApiToken))
    row.revoked_at = clock.now()
    db.session.commit()
    assert post(client, "/api/v1/members", [{"customer_code": "M1"}], token=token).status_code == 401


def test_members_are_inserted_then_updated_and_found_by_lookup(client, token):
    """Upsert by customer code; `email` string or `emails` list; lookups find the stored e-mails."""
    body = [{"customer_code": "M1", "name": "山田 太郎", "emails": ["Taro@Example.jp", "t2@example.jp"],
             "tel": "090-1234-5678", "registered_at": "2024-05-01T12:00:00+09:00"},
            {"customer_code": "M2", "email": "hanako@example.jp"}]
    r = post(client, "/api/v1/members", body, token=token)
    assert r.status_code == 200
    assert r.get_json() == {"inserted": 2, "updated": 0, "failed": 0, "errors": []}
    assert member("M1").registered_at == dt.datetime(2024, 5, 1, 3, 0)
    r = post(client, "/api/v1/members", {"items": [{"customer_code": "M1", "note": "VIP"}]}, token=token)
    assert r.get_json() == {"inserted": 0, "updated": 1, "failed": 0, "errors": []}
    m = member("M1")
    assert m.note == "VIP" and m.name == "山田 太郎" and len(m.emails) == 2
    r = client.get("/lookup/members?email=taro@example.jp", headers={"Authorization": f"Bearer {token}",
                                                                     "Accept": "application/json"})
    assert [x["customer_code"] for x in r.get_json()["members"]] == ["M1"]


def test_orders_with_items_and_per_item_errors_give_207(client, token):
    """Good items are stored, bad ones come back by index and field; some stored means 207."""
    body = [{"order_number": "R-1", "mall": "rakuten", "customer_code": "M1", "total": 1980,
             "ordered_at": "2024/05/01 09:00", "items": [{"sku": "tea", "name": "緑茶", "quantity": 2, "price": 990}]},
            {"order_number": "R-2", "total": "-5", "mall": "amazon", "items": [{"sku": "x", "colour": "red"}]},
            "not an object",
            {"total": 100, "shipment": "x"}]
    r = post(client, "/api/v1/orders", body, token=token)
    assert r.status_code == 207
    data = r.get_json()
    assert (data["inserted"], data["updated"], data["failed"]) == (1, 0, 3)
    errors = {e["index"]: e for e in data["errors"]}
    assert errors[1]["key"] == "R-2" and set(errors[1]["errors"]) == {"total", "mall", "items"}
    assert errors[2]["key"] is None and "_" in errors[2]["errors"]
    assert errors[3]["errors"]["order_number"] == "必須です" and "shipment" in errors[3]["errors"]
    order = db.session.scalar(select(Order).where(Order.order_number == "R-1"))
    assert (order.total, order.mall, [(i.sku, i.quantity, i.price) for i in order.items]) == (
        1980, "rakuten", [("tea", 2, 990)])


def test_all_items_failing_is_422_and_stores_nothing(client, token):
    """When no item could be stored the answer is 422."""
    r = post(client, "/api/v1/members", [{"customer_code": "M1", "email": "bad"}, {"name": "x"}], token=token)
    assert r.status_code == 422
    assert [e["index"] for e in r.get_json()["errors"]] == [0, 1]
    assert member("M1") is None


def test_unknown_shop_is_a_per_item_error(client, token):
    """An item naming a shop that does not exist fails alone; a known shop code is used."""
    factories.make_shop("tea")
    r = post(client, "/api/v1/members", [{"shop": "tea", "customer_code": "M1"},
                                         {"shop": "nope", "customer_code": "M2"}], token=token)
    assert r.status_code == 207
    assert "nope" in r.get_json()["errors"][0]["errors"]["shop"]
    assert member("M1").shop.code == "tea"


def test_too_many_items_is_413(app, client, token):
    """More than API_MAX_ITEMS items: 413 with a JSON error, nothing stored."""
    app.config["API_MAX_ITEMS"] = 3
    r = post(client, "/api/v1/members", [{"customer_code": f"M{i}"} for i in range(4)], token=token)
    assert r.status_code == 413 and r.get_json()["error"]["limit"] == 3
    assert member("M0") is None


def test_body_over_the_byte_limit_is_413(app, client, token):
    """A body bigger than API_MAX_BYTES: 413 with a JSON error."""
    app.config["API_MAX_BYTES"] = 100
    r = post(client, "/api/v1/members", [{"customer_code": "M1", "note": "x" * 200}], token=token)
    assert r.status_code == 413 and r.get_json()["error"]["status"] == 413


@pytest.mark.parametrize("raw, status", [
    (b"{not json", 400),
    (b"", 422),
    (b'{"customer_code": "M1"}', 422),
    (b'"text"', 422),
    (b"[" * 100000, 400),
    (b"\xff\xfe\x00", 400),
])
def test_malformed_bodies_get_json_errors_never_500(client, token, raw, status):
    """Not JSON, not an array, absurdly nested or undecodable: a JSON error, never a 500."""
    r = post(client, "/api/v1/members", None, token=token, raw=raw)
    assert r.status_code == status
    assert r.get_json()["error"]["status"] == status


def test_wrong_value_types_are_item_errors(client, token):
    """Objects, floats and booleans where text or numbers belong are reported per field."""
    body = [{"customer_code": {"a": 1}}, {"customer_code": "M2", "total": 1.5},
            {"customer_code": "M3", "name": True, "registered_at": 20240501, "emails": "a@example.jp\x00"}]
    r = post(client, "/api/v1/members", body, token=token)
    assert r.status_code == 422
    errors = {e["index"]: e["errors"] for e in r.get_json()["errors"]}
    assert "customer_code" in errors[0] and "total" in errors[1]
    assert set(errors[2]) == {"name", "registered_at", "email"}


def test_each_call_is_audit_logged_with_the_token_name(client, token):
    """The audit log names the token and the counts."""
    post(client, "/api/v1/orders", [{"order_number": "1"}, {"order_number": "2", "total": "x"}], token=token)
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "api.orders"))
    assert row.actor == "token:shop-system" and row.result_count == 1
    assert row.params == {"items": 2} and "failed=1" in row.detail


def test_lookup_output_can_be_posted_back(client, token):
    """Read-only keys of our own JSON (id, url, latest_orders, tels) are accepted as they come."""
    post(client, "/api/v1/members", [{"customer_code": "M1", "email": "a@example.jp"}], token=token)
    r = client.get("/lookup/members?customer_code=M1", headers={"Authorization": f"Bearer {token}",
                                                                "Accept": "application/json"})
    item = r.get_json()["members"][0]
    item["name"] = "更新"
    r = post(client, "/api/v1/members", [item], token=token)
    assert r.status_code == 200, r.get_json()
    assert member("M1").name == "更新"


def test_get_is_405_json(client, token):
    """Only POST exists on the bulk endpoints."""
    r = client.get("/api/v1/members", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 405 and r.get_json()["error"]["status"] == 405

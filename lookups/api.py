"""Bulk upsert API for shop systems: POST /api/v1/members and /api/v1/orders (Bearer token).

Body: a JSON array of records (or {"items": [...]}) with the CSV column names as keys. Answer:
{"inserted": n, "updated": n, "failed": n, "errors": [{"index", "key", "errors": {field: reason}}]}
with 200 when every item was stored, 207 when some were stored and some not, 422 when none was.
"""
import json

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import OperationalError

from lookups import records, upsert
from plugin import audit
from plugin.errors import error_response
from plugin.tokens import bearer_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/members")
def members():
    """Upsert members by (shop, customer_code)."""
    return bulk_upsert("members")


@bp.post("/orders")
def orders():
    """Upsert orders by (shop, order_number)."""
    return bulk_upsert("orders")


def bulk_upsert(kind):
    """Authenticate, check size and shape, validate every item, store the good ones."""
    token = bearer_token()
    if token is None:
        response, status = error_response(401, "API トークンが必要です（Authorization: Bearer <token>）。")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mallbridge"'
        return response, status
    max_bytes = current_app.config["API_MAX_BYTES"]
    if (request.content_length or 0) > max_bytes:
        return error_response(413, f"リクエストが大きすぎます（{max_bytes} バイトまで）。", limit=max_bytes)
    data = request.get_data(cache=False)
    if len(data) > max_bytes:  # chunked uploads carry no Content-Length
        return error_response(413, f"リクエストが大きすぎます（{max_bytes} バイトまで）。", limit=max_bytes)
    items, problem = _items(data)
    if problem:
        return error_response(*problem)
    max_items = current_app.config["API_MAX_ITEMS"]
    if len(items) > max_items:
        return error_response(413, f"1回に送れるのは {max_items} 件までです（{len(items)} 件あります）。",
                              limit=max_items)
    result = _store(kind, items)
    if result is None:
        return error_response(503, "データベースに接続できません。しばらくしてからもう一度送ってください。")
    audit.record(f"api.{kind}", {"items": len(items)}, result["inserted"] + result["updated"],
                 actor=f"token:{token.name}",
                 detail=f"inserted={result['inserted']} updated={result['updated']} failed={result['failed']}")
    status = 200 if not result["errors"] else 207 if result["inserted"] + result["updated"] else 422
    return jsonify(result), status


def _items(data):
    """(list of items, None) or (None, (status, message)) for a body that is not a JSON array."""
    try:
        body = json.loads(data) if data.strip() else None
    except (ValueError, RecursionError) as exc:
        return None, (400, f"JSON として読めません: {exc}"[:300])
    if isinstance(body, dict) and set(body) == {"items"}:
        body = body["items"]
    if not isinstance(body, list):
        return None, (422, 'JSON の配列（または {"items": [...]}）を送ってください。')
    return body, None


def _store(kind, items):
    """Validate and upsert; the response body as a dict, or None when the database is unreachable."""
    key_field = records.KEY_FIELD[kind]
    errors, good = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "key": None, "errors": {"_": "オブジェクト（{...}）で指定してください"}})
            continue
        values, problems = records.clean(kind, item)
        if problems:
            errors.append({"index": index, "key": _key(item.get(key_field)), "errors": problems})
        else:
            good.append((index, values))
    try:
        outcome = upsert.write_batch(kind, good, upsert.ShopCodes()) if good else upsert.Outcome()
    except OperationalError:
        return None
    for index, problems in outcome.failures:
        errors.append({"index": index, "key": _key(items[index].get(key_field)), "errors": problems})
    errors.sort(key=lambda e: e["index"])
    return {"inserted": outcome.inserted, "updated": outcome.updated, "failed": len(errors), "errors": errors}


def _key(value):
    """The item's key as sent, if it is a plain value (echoed back so the caller can match it)."""
    return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None

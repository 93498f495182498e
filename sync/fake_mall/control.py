"""The fake mall's control API (JSON under /_control): set up worlds, inspect replies, inject faults."""
from flask import Blueprint, jsonify, request

from sync.fake_mall.rakuten_api import render
from sync.fake_mall.seed import seed
from sync.fake_mall.state import load_private_key
from sync.fake_mall.web import state
from sync.fake_mall.world import (
    BadInput,
    add_inquiry,
    add_rakuten_message,
    add_topic,
    add_yahoo_message,
    delete_rakuten_message,
    when,
)
from sync.fake_mall.yahoo_api import render_topic

bp = Blueprint("fake_control", __name__, url_prefix="/_control")
FAULT_KINDS = ("status", "timeout", "truncated", "garbage")


@bp.errorhandler(BadInput)
@bp.errorhandler(ValueError)
@bp.errorhandler(TypeError)
@bp.errorhandler(AttributeError)
@bp.errorhandler(KeyError)
def _bad(exc):
    # Control input of the wrong type ("days_ago": "lots") is the caller's mistake: 400, not 500.
    return jsonify(error=str(exc) if isinstance(exc, BadInput) else f"bad input: {exc.__class__.__name__}: {exc}"), 400


def body():
    """The JSON request body as a dict (empty when absent); BadInput when it is not an object."""
    data = request.get_json(silent=True)
    if data is None and request.data:
        raise BadInput("the body must be JSON")
    if data is not None and not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    return data or {}


def summary(st):
    """What the fake mall holds, with the base URLs to configure."""
    root = request.host_url.rstrip("/")
    return {
        "bases": bases(root),
        "rakuten_shops": [{"shop_id": s.shop_id, "service_secret": s.service_secret, "license_key": s.license_key,
                           "expires_at": s.expires_at} for s in st.shops.values()],
        "yahoo_sellers": [{"seller_id": s.seller_id, "client_id": s.client_id, "key_version": s.key_version,
                           "refresh_tokens": list(s.refresh_tokens)} for s in st.sellers.values()],
        "inquiries": len(st.inquiries), "topics": len(st.topics), "posted": len(st.posted),
        "faults": st.faults, "rate_limit": st.rate_limit, "now": st.now(),
        "calls": {f"{m}:{a}": n for (m, a), n in st.calls.items()},
    }


def bases(root):
    """The MALLBRIDGE_* base URLs for a fake mall served at `root`."""
    return {"MALLBRIDGE_RAKUTEN_API_BASE": root + "/rakuten/es/1.0",
            "MALLBRIDGE_YAHOO_API_BASE": root + "/yahoo/ShoppingWebService/V1",
            "MALLBRIDGE_YAHOO_AUTH_BASE": root + "/yahoo/yconnect/v2"}


@bp.get("")
@bp.get("/")
def show():
    st = state()
    with st.lock:
        return jsonify(summary(st))


@bp.post("/reset")
def reset():
    st = state()
    data = body()
    with st.lock:
        st.reset()
        if data.get("seed"):
            seed(st)
        return jsonify(summary(st))


@bp.post("/config")
def config():
    st = state()
    data = body()
    with st.lock:
        for mall, limit in (data.get("rate_limit") or {}).items():
            if mall not in st.rate_limit:
                raise BadInput("rate_limit keys: rakuten, yahoo")
            st.rate_limit[mall] = float(limit) if limit else None
        if "advance_seconds" in data:  # move the fake clock (token and key expiry without waiting)
            st.offset += float(data["advance_seconds"])
        return jsonify(summary(st))


@bp.post("/rakuten/shops")
def rakuten_shop():
    st = state()
    data = body()
    with st.lock:
        for key in ("shop_id", "service_secret", "license_key"):
            if not data.get(key):
                raise BadInput(f"{key} is required")
        expires = when(st, data["expires_at"]).timestamp() if data.get("expires_at") else None
        shop = st.add_shop(data["shop_id"], data["service_secret"], data["license_key"], expires)
        return jsonify(shop_id=shop.shop_id, expires_at=shop.expires_at), 201


@bp.post("/rakuten/shops/<int:shop_id>/key")
def rakuten_key(shop_id):
    """Set the key's expiry (`expires_at` ISO / `expires_in_days`) and/or issue a new key (old one dies)."""
    st = state()
    data = body()
    with st.lock:
        shop = st.shops.get(shop_id)
        if shop is None:
            raise BadInput(f"unknown shop {shop_id}")
        if data.get("license_key"):
            shop.license_key = data["license_key"]
            shop.expires_at = st.now() + 90 * 86400
        if data.get("expires_at"):
            shop.expires_at = when(st, data["expires_at"]).timestamp()
        if data.get("expires_in_days") is not None:
            shop.expires_at = st.now() + float(data["expires_in_days"]) * 86400
        return jsonify(shop_id=shop.shop_id, license_key=shop.license_key, expires_at=shop.expires_at)


@bp.post("/rakuten/inquiries")
def rakuten_inquiry():
    st = state()
    data = body()
    with st.lock:
        return jsonify(render(add_inquiry(st, data))), 201


@bp.get("/rakuten/inquiries/<number>")
def rakuten_inquiry_show(number):
    st = state()
    with st.lock:
        if number not in st.inquiries:
            raise BadInput(f"unknown inquiry {number}")
        return jsonify(render(st.inquiries[number]))


@bp.post("/rakuten/inquiries/<number>/messages")
def rakuten_message(number):
    st = state()
    data = body()
    with st.lock:
        reply = add_rakuten_message(st, number, data)
        return jsonify(id=reply["id"], inquiryNumber=number), 201


@bp.post("/rakuten/inquiries/<number>/delete")
def rakuten_delete(number):
    st = state()
    data = body()
    with st.lock:
        if number not in st.inquiries:
            raise BadInput(f"unknown inquiry {number}")
        delete_rakuten_message(st.inquiries[number], data.get("message_id", "q"))
        return jsonify(render(st.inquiries[number]))


@bp.post("/yahoo/sellers")
def yahoo_seller():
    st = state()
    data = body()
    with st.lock:
        for key in ("seller_id", "client_id", "client_secret", "refresh_token"):
            if not data.get(key):
                raise BadInput(f"{key} is required")
        key = load_private_key(data["private_key_pem"]) if data.get("private_key_pem") else None
        seller = st.add_seller(data["seller_id"], data["client_id"], data["client_secret"], data["refresh_token"],
                               data.get("key_version", 1), key, data.get("allowed_ips"))
        return jsonify(seller_id=seller.seller_id, key_version=seller.key_version,
                       public_key_pem=seller.public_key_pem), 201


@bp.get("/yahoo/sellers/<seller_id>/public-key")
def yahoo_public_key(seller_id):
    st = state()
    with st.lock:
        if seller_id not in st.sellers:
            raise BadInput(f"unknown seller {seller_id}")
        return st.sellers[seller_id].public_key_pem, 200, {"Content-Type": "application/x-pem-file"}


@bp.post("/yahoo/sellers/<seller_id>/tokens")
def yahoo_tokens(seller_id):
    """Expire access/refresh tokens (`{"expire_access": true, "expire_refresh": true}`) or add a refresh token."""
    st = state()
    data = body()
    with st.lock:
        seller = st.sellers.get(seller_id)
        if seller is None:
            raise BadInput(f"unknown seller {seller_id}")
        st.expire_tokens(seller_id, bool(data.get("expire_access", True)), bool(data.get("expire_refresh")))
        if data.get("refresh_token"):
            seller.refresh_tokens[data["refresh_token"]] = st.now()
        if "allowed_ips" in data:
            seller.allowed_ips = data["allowed_ips"]
        return jsonify(seller_id=seller_id)


@bp.post("/yahoo/topics")
def yahoo_topic():
    st = state()
    data = body()
    with st.lock:
        topic = add_topic(st, data)
        return jsonify(render_topic(topic) | {"topicId": topic["topicId"]}), 201


@bp.post("/yahoo/topics/<topic_id>/messages")
def yahoo_message(topic_id):
    st = state()
    data = body()
    with st.lock:
        message = add_yahoo_message(st, topic_id, data)
        return jsonify(messageId=message["messageId"], topicId=topic_id), 201


@bp.get("/replies")
def replies():
    """Replies posted through the APIs (what mallbridge sent), optionally `?mall=rakuten|yahoo`."""
    st = state()
    mall = request.args.get("mall")
    with st.lock:
        return jsonify([p for p in st.posted if mall in (None, p["mall"])])


@bp.post("/faults")
def faults():
    """Queue a fault: kind status|timeout|truncated|garbage, count, mall, path, status, delay, retry_after."""
    st = state()
    data = body()
    kind = data.get("kind", "status")
    if kind not in FAULT_KINDS:
        raise BadInput(f"kind must be one of {', '.join(FAULT_KINDS)}")
    if data.get("mall") not in (None, "rakuten", "yahoo"):
        raise BadInput("mall must be rakuten or yahoo")
    with st.lock:
        fault = st.add_fault(kind, data.get("count", 1), data.get("mall"), data.get("path"), data.get("status"),
                             data.get("delay"), data.get("retry_after"), data.get("body"))
        return jsonify(fault), 201


@bp.delete("/faults")
def clear_faults():
    st = state()
    with st.lock:
        st.faults.clear()
        return jsonify(faults=[])

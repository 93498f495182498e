"""Fake Rakuten InquiryManagementAPI + license-key expiry, per docs/mall-apis.md §1 (limits, error bodies)."""
import base64
import binascii
import datetime as dt
import math
import re
import secrets

from flask import Blueprint, request

from sync.fake_mall.web import ApiError, before_api, ie001, make, rakuten_error, rms_error, state
from sync.malls.fields import JST
from sync.malls.rakuten.client import FILE_TYPES, URL_DOMAINS

bp = Blueprint("fake_rakuten", __name__, url_prefix="/rakuten/es/1.0")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
NUMBER_RE = re.compile(r"^[0-9a-zA-Z-]+$")
URL_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"']+")
MAX_UPLOAD = 5 * 1024 * 1024


@bp.before_request
def _gate():
    before_api("rakuten", request.headers.get("Authorization", "-"))


def authenticate():
    """The shop whose ESA credentials are valid and unexpired, else 401 GA0001."""
    header = request.headers.get("Authorization", "")
    st = state()
    try:
        secret, _, key = base64.b64decode(header[4:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        secret = key = None
    for shop in st.shops.values():
        if (header.startswith("ESA ") and shop.service_secret == secret and shop.license_key == key
                and shop.expires_at > st.now()):
            return shop
    raise rms_error(401, "GA0001", "Un-Authorised")


def iso(when):
    """A datetime as Rakuten writes it: yyyy-MM-ddTHH:mm:ss+09:00."""
    return when.astimezone(JST).isoformat(timespec="seconds") if when else None


def render(inq):
    """The public JSON of a stored inquiry (internal keys start with '_')."""
    data = {k: v for k, v in inq.items() if not k.startswith("_")}
    data["regDate"], data["lastUpdateDate"] = iso(inq["_reg"]), iso(inq["_updated"])
    data["completedDate"] = iso(inq["_completed"])
    data["replies"] = [{k: v for k, v in r.items() if not k.startswith("_")} | {"regDate": iso(r["_reg"])}
                       for r in inq["_replies"]]
    return data


def _date_param(name):
    value = request.args.get(name, "")
    if not DATE_RE.match(value):
        raise ie001(**{name: 'must match "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}$"'})
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=JST)
    except ValueError:
        raise ie001(**{name: "invalid date"}) from None


def _window():
    start, end = _date_param("fromDate"), _date_param("toDate")
    if start > end:
        raise ie001(fromDate="date time range is invalid.")
    if end - start > dt.timedelta(days=31):
        raise ie001(fromDate="date time range should be within 31 days.")
    return start, end


def _int_param(name, default, low, high, message):
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,6}", raw):
        raise ie001(**{name: "must be a number"})
    value = int(raw)
    if value < low or value > high:
        if name == "page":
            raise rakuten_error(400, "IE001", "400 Bad Request")
        raise ie001(**{name: message})
    return value


def _matching(shop):
    start, end = _window()
    no_reply = request.args.get("noMerchantReply", "").lower() == "true"
    found = [i for i in state().inquiries.values()
             if i["shopId"] == shop.shop_id and start <= i["_reg"] <= end
             and not (no_reply and any(r["replyFrom"] == "merchant" for r in i["_replies"]))]
    return sorted(found, key=lambda i: (i["_reg"], i["inquiryNumber"]), reverse=True)


@bp.get("/inquirymng-api/inquiries/count")
def count():
    with state().lock:
        return make({"result": {"count": len(_matching(authenticate()))}})


@bp.get("/inquirymng-api/inquiries")
def inquiries():
    with state().lock:
        shop = authenticate()
        limit = _int_param("limit", 10, 1, 100, "should be less than equal 100")
        page = _int_param("page", 1, 1, 10000, "")
        if limit * (page - 1) + limit > 10000:
            raise rakuten_error(400, "IE000", "400 Bad Request")
        found = _matching(shop)
        if len(found) > 10000:
            raise rakuten_error(400, "IE000", "400 Bad Request")
        rows = found[limit * (page - 1): limit * page]
        return make({"totalCount": len(found), "totalPageCount": math.ceil(len(found) / limit), "page": page,
                     "list": [render(i) for i in rows]})


def _own_inquiry(shop, number):
    inq = state().inquiries.get(number)
    if inq is None or inq["shopId"] != shop.shop_id:
        raise rakuten_error(404, "IE004", "no matching data")
    return inq


@bp.get("/inquirymng-api/inquiry/<number>")
def inquiry(number):
    with state().lock:
        return make({"result": render(_own_inquiry(authenticate(), number))})


def check_reply(body, shop):
    """The reply's (inquiry, text, attachments) or an IE001 naming the offending field."""
    if not isinstance(body, dict):
        raise ie001(body="must be a JSON object")
    number, text = str(body.get("inquiryNumber") or ""), body.get("message")
    if not number:
        raise ie001(inquiryNumber="must not be blank")
    if body.get("shopId") in (None, ""):
        raise ie001(shopId="must not be null")
    if str(body["shopId"]) != str(shop.shop_id):
        raise ie001(shopId="does not match the authenticated shop")
    if not isinstance(text, str) or not text.strip():
        raise ie001(message="must not be blank")
    if len(text) > 2000:
        raise ie001(message="size must be between 1 and 2000")
    if any(len(line) > 300 for line in text.replace("\r\n", "\n").split("\n")):
        raise ie001(message="size of each line must be 300 or less")
    for url in URL_RE.findall(text):
        host = re.match(r"https://([^/:?#]+)", url)
        host = host.group(1).lower() if host else ""
        if not any(host == d or host.endswith("." + d) for d in URL_DOMAINS):
            raise ie001(message=f"URL not allowed: {url}")
    attachments = body.get("attachments") or []
    if not isinstance(attachments, list) or len(attachments) > 1:
        raise ie001(attachments="size must be between 0 and 1")
    for a in attachments:
        if not isinstance(a, dict):
            raise ie001(attachments="must be a list of {label, path}")
        label, path = str(a.get("label") or ""), str(a.get("path") or "")
        if not 1 <= len(label) <= 100:
            raise ie001(**{"attachments[0].label": "size must be between 1 and 100"})
        if label.rsplit(".", 1)[-1].lower() not in FILE_TYPES:
            raise ie001(**{"attachments[0].label": "extension must be png, jpeg, jpg, gif or pdf"})
        if not path or len(path) > 1000 or path not in state().uploads:
            raise ie001(**{"attachments[0].path": "not found"})
    return _own_inquiry(shop, number), text, [{"label": a["label"], "path": a["path"]} for a in attachments]


@bp.post("/inquirymng-api/inquiry/reply")
def reply():
    st = state()
    with st.lock:
        shop = authenticate()
        inq, text, attachments = check_reply(request.get_json(silent=True), shop)
        now = dt.datetime.fromtimestamp(st.now(), JST).replace(microsecond=0)
        entry = {"id": len(inq["_replies"]), "message": text, "_reg": now, "replyFrom": "merchant",
                 "isRead": False, "attachments": attachments, "isMessageDeleted": False}
        inq["_replies"].append(entry)
        inq["_updated"] = now
        st.posted.append({"mall": "rakuten", "account": str(shop.shop_id), "inquiry": inq["inquiryNumber"],
                          "message": text, "attachments": attachments, "at": iso(now)})
        return make({"result": {"message": text, "regDate": iso(now), "replyFrom": "merchant", "isRead": False,
                                "attachments": attachments}}, 201)


@bp.post("/inquirymng-api/attachment")
def upload():
    st = state()
    with st.lock:
        shop = authenticate()
        if request.content_length and request.content_length > MAX_UPLOAD + 64 * 1024:
            raise rms_error(413, "GF0003", "Request entity too large")
        files = request.files.getlist("file")
        if not files:
            raise ie001(file="attachment file is empty.")
        file = files[-1]  # the API keeps only the last file of a request
        content = file.read()
        name = file.filename or ""
        if len(content) > MAX_UPLOAD:
            raise rms_error(413, "GF0003", "Request entity too large")
        if not content:
            raise ie001(file="attachment file is empty.")
        if len(name) > 100:
            raise ie001(file="too long attachment file name.")
        if name.rsplit(".", 1)[-1].lower() not in FILE_TYPES:
            raise ie001(file="extension must be png, jpeg, jpg, gif or pdf")
        now = dt.datetime.fromtimestamp(st.now(), JST)
        path = f"{now:%Y/%m/%d}/{shop.shop_id}/{now:%H%M%S}_{secrets.token_hex(16)}"
        st.uploads[path] = {"label": name, "content": content, "shop_id": shop.shop_id,
                            "content_type": FILE_TYPES[name.rsplit('.', 1)[-1].lower()]}
        return make({"result": {"label": name, "path": path}}, 201)


@bp.get("/inquirymng-api/attachment")
def download():
    st = state()
    with st.lock:
        shop = authenticate()
        path, label = request.args.get("path"), request.args.get("label")
        if not path or not label:
            raise ie001(**{"path" if not path else "label": "must not be blank"})
        item = st.uploads.get(path)
        if item is None or item["shop_id"] != shop.shop_id or "[" in label or "]" in label:
            raise rakuten_error(404, "IE004", "no matching data")
        return make(item["content"], 200, {"Content-Disposition": f'attachment; filename="{path.rsplit("/")[-1]}"'},
                    item["content_type"])


def _batch(apply):
    st = state()
    with st.lock:
        shop = authenticate()
        body = request.get_json(silent=True)
        numbers = body.get("inquiryNumbers") if isinstance(body, dict) else None
        if not isinstance(numbers, list) or not 1 <= len(numbers) <= 20:
            raise ie001(inquiryNumbers="size must be between 1 and 20")
        for n in numbers:
            if not isinstance(n, str) or not n.strip():
                raise ie001(**{"inquiryNumbers[]": "must not be blank"})
            if not NUMBER_RE.match(n):
                raise ie001(**{"inquiryNumbers[]": 'must match "^[0-9a-zA-Z-]+$"'})
        ok, errors = [], []
        for n in numbers:
            inq = st.inquiries.get(n)
            if inq is None or inq["shopId"] != shop.shop_id:
                errors.append({"inquiryNumber": n, "errorMessage": "not found."})
            elif not apply(inq, st):
                errors.append({"inquiryNumber": n, "errorMessage": "already set value as specified"})
            else:
                ok.append(n)
        return make({"result": {"ok": ok, "error": errors}})


def _set(inq, key, value, st):
    if inq[key] == value:
        return False
    inq[key] = value
    if key == "isCompleted":
        inq["_completed"] = dt.datetime.fromtimestamp(st.now(), JST).replace(microsecond=0) if value else None
    return True


@bp.patch("/inquirymng-api/inquiries/read")
def read():
    return _batch(lambda inq, st: _set(inq, "readByMerchant", True, st))


@bp.patch("/inquirymng-api/inquiries/complete")
def complete():
    return _batch(lambda inq, st: _set(inq, "isCompleted", True, st))


@bp.patch("/inquirymng-api/inquiries/incomplete")
def incomplete():
    return _batch(lambda inq, st: _set(inq, "isCompleted", False, st))


@bp.route("/license-management/license-key/expiry-date", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def license_expiry():
    st = state()
    with st.lock:
        if request.method != "GET":
            raise rms_error(405, "GA0003", "Method Not Allowed")
        shop = authenticate()
        key = request.args.get("licenseKey")
        if not key:
            raise rms_error(400, "DR0005", "licenseKey is required")
        if key != shop.license_key:
            raise rms_error(400, "DR0005", "licenseKey is invalid")
        when = dt.datetime.fromtimestamp(shop.expires_at, JST)
        return make({"expiryDate": when.strftime("%Y-%m-%dT%H:%M:%S")})


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest):
    raise ApiError(404, {"errors": [{"code": "GA0004", "message": "Not Found"}]})

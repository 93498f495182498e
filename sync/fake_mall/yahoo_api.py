"""Fake Yahoo! Shopping store Q&A (externalTalk*) and YConnect v2 token endpoint, per docs/mall-apis.md §2."""
import base64
import binascii
import datetime as dt
import secrets

from cryptography.hazmat.primitives.asymmetric import padding
from flask import Blueprint, g, request

from sync.fake_mall.web import ApiError, before_api, make, state, yahoo_error
from sync.malls.yahoo.client import COMPLETE_REASONS, FILE_TYPES

api = Blueprint("fake_yahoo", __name__, url_prefix="/yahoo/ShoppingWebService/V1")
auth = Blueprint("fake_yconnect", __name__, url_prefix="/yahoo/yconnect/v2")
EXPIRED_CHALLENGE = 'Bearer realm="yahooapis.jp", error="invalid_token", error_description="expired token"'
SIGNATURE_SKEW = 600  # seconds a signature's timestamp may differ from the mall's clock


@auth.before_request
def _token_gate():
    # Faults reach the token endpoint only when they name its path ("/token").
    before_api("yahoo", request.headers.get("Authorization", "-"), explicit_only=True)


@auth.post("/token")
def token():
    st = state()
    with st.lock:
        try:
            client_id, _, secret = base64.b64decode(
                request.headers.get("Authorization", "")[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = secret = None
        seller = next((s for s in st.sellers.values() if s.client_id == client_id), None)
        if seller is None or seller.client_secret != secret:
            return make({"error": "invalid_client", "error_description": "Client authentication failed."}, 401)
        grant = request.form.get("grant_type")
        if grant != "refresh_token":
            return make({"error": "unsupported_grant_type", "error_description": f"{grant} is not supported"}, 400)
        issued = seller.refresh_tokens.get(request.form.get("refresh_token", ""))
        if issued is None or issued + 2_419_200 < st.now():
            return make({"error": "invalid_grant",
                         "error_description": "The refresh token is expired or invalid."}, 400)
        return make({"access_token": st.issue_access_token(seller.seller_id), "token_type": "Bearer",
                     "expires_in": 3600})


@api.before_request
def _gate():
    before_api("yahoo", request.headers.get("Authorization", "-"))
    st = state()
    with st.lock:
        g.seller = authenticate(st)


def authenticate(st):
    """Source IP, bearer token, public-key signature and sellerId, in the order Yahoo checks them."""
    bearer = request.headers.get("Authorization", "")
    owner, expires = st.access_tokens.get(bearer[7:], (None, 0)) if bearer.startswith("Bearer ") else (None, 0)
    seller = st.sellers.get(owner)
    if seller is not None and seller.allowed_ips is not None and request.remote_addr not in seller.allowed_ips:
        raise yahoo_error(403, "Access denied: source IP address is not allowed.", "px-04306")
    if seller is None or expires <= st.now():
        raise yahoo_error(401, "Invalid access token.", headers={"WWW-Authenticate": EXPIRED_CHALLENGE})
    if not _signature_ok(st, seller):
        raise yahoo_error(401, "AccessToken has been expired. This API session is shorter than another API.",
                          "px-04102")
    seller_id = request.args.get("sellerId")
    if seller_id is None:
        seller_id = json_body().get("sellerId")
    if not seller_id or not isinstance(seller_id, str):
        raise yahoo_error(400, "sellerId is required.")
    if seller_id != seller.seller_id:
        raise yahoo_error(403, "Seller is not allowed.", "px-14304")
    return seller


def json_body():
    """The JSON body when it is an object, else {} (the views then report the missing fields)."""
    data = request.get_json(silent=True) if request.is_json else None
    return data if isinstance(data, dict) else {}


def _signature_ok(st, seller):
    signature = request.headers.get("X-sws-signature")
    if not signature or request.headers.get("X-sws-signature-version") != seller.key_version:
        return False
    try:
        plain = seller.private_key.decrypt(base64.b64decode(signature, validate=True), padding.PKCS1v15()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    seller_id, _, stamp = plain.rpartition(":")
    return seller_id == seller.seller_id and stamp.isdigit() and abs(int(stamp) - st.now()) <= SIGNATURE_SKEW


@api.after_request
def _authorized(response):
    if getattr(g, "seller", None) is not None:
        response.headers["X-SWS-Authorize-Status"] = "authorized"
    return response


def headline(topic):
    """The list row of a stored topic."""
    msgs = topic["messages"]
    users = [m["postdate"] for m in msgs if m["postUserType"] == "user"]
    sellers = [m["postdate"] for m in msgs if m["postUserType"] == "seller"]
    return {"topicId": topic["topicId"], "isUnread": topic["isSellerUnRead"],
            "isNoAnswer": bool(msgs) and msgs[-1]["postUserType"] == "user", "isCompleted": topic["isComplete"],
            "completeConditionId": topic["completeConditionId"] or 0, "completeConditionShortName":
            COMPLETE_REASONS.get(topic["completeConditionId"]), "userPostTime": max(users) if users else None,
            "sellerPostTime": max(sellers) if sellers else None, "qaType": topic["qaType"],
            "isPrivate": topic["isPrivate"], "category": topic["categoryid"], "title": topic["title"],
            "body": msgs[0]["body"] if msgs else "", "messageCount": len(msgs),
            "userMaskedId": topic["userMaskedIdx"], "itemCode": topic["itemcode"], "orderId": topic["orderid"],
            "firstPoster": msgs[0]["postUserType"] if msgs else "user", "serviceType": "shopping", "memo": None}


def _filtered(seller):
    args = request.args
    rows = [headline(t) for t in state().topics.values() if t["sellerId"] == seller.seller_id]
    wanted = [w.strip() for w in (args.get("requestFilter") or args.get("filter") or "").split(",") if w.strip()]
    answered = lambda h: h["sellerPostTime"] is not None
    tests = {"answered": answered, "asnwered": answered,  # the doc's typo is accepted too
             "unanswered": lambda h: h["isNoAnswer"] and not h["isCompleted"], "completed": lambda h: h["isCompleted"]}
    if any(w not in tests for w in wanted):
        raise yahoo_error(400, "Invalid parameter: requestFilter")
    if wanted:
        rows = [h for h in rows if any(tests[w](h) for w in wanted)]
    date_type = args.get("dateType")
    if date_type:
        start, end = args.get("startDate", ""), args.get("endDate", "")
        if date_type not in ("userPostTime", "sellerPostTime") or not start.isdigit() or not end.isdigit():
            raise yahoo_error(400, "Invalid parameter: dateType requires startDate and endDate.")
        rows = [h for h in rows if h[date_type] is not None and int(start) <= h[date_type] <= int(end)]
    for key in ("qaType", "category"):
        if args.get(key):
            rows = [h for h in rows if str(h[key]) == args[key]]
    if args.get("isPrivate") in ("true", "false"):
        rows = [h for h in rows if h["isPrivate"] == (args["isPrivate"] == "true")]
    sort = args.get("sort", "userPostTime")
    if sort not in ("userPostTime", "sellerPostTime"):
        raise yahoo_error(400, "Invalid parameter: sort")
    rows.sort(key=lambda h: (h[sort] or 0, h["topicId"]), reverse=args.get("sortOrder", "desc") != "asc")
    return rows


def _int_arg(name, default):
    raw = request.args.get(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise yahoo_error(400, f"Invalid parameter: {name}")
    return int(raw)


@api.get("/externalTalkList")
def talk_list():
    with state().lock:
        start = _int_arg("start", 1)
        legacy = request.args.get("results", "")  # older doc spelling
        result = _int_arg("result", int(legacy) if legacy.isdigit() else 20)
        if result > 20:
            raise yahoo_error(400, "Invalid parameter: result must be 20 or less.")
        rows = _filtered(g.seller)
        page = rows[start - 1: start - 1 + result]
        unanswered = sum(1 for h in rows if h["isNoAnswer"] and not h["isCompleted"])
        return make({"summary": {"filter": request.args.get("requestFilter") or "all", "unansweredCount": unanswered,
                                 "topic": {"start": start, "end": start + len(page) - 1, "count": len(rows)}},
                     "headlines": page})


def _topic():
    topic = state().topics.get(request.args.get("topicId", ""))
    if topic is None or topic["sellerId"] != g.seller.seller_id:
        raise yahoo_error(404, "Topic not found.")
    return topic


def render_topic(topic):
    """externalTalkDetail's body for a stored topic."""
    fields = {k: v for k, v in topic.items() if k not in ("messages", "sellerId", "topicId", "apiReply")}
    messages = [m | {"postdate": str(m["postdate"])} for m in topic["messages"]]
    return {"topic": fields | {"accessUserType": "seller"}, "messages": messages}


@api.get("/externalTalkDetail")
def talk_detail():
    with state().lock:
        return make(render_topic(_topic()))


@api.post("/externalTalkAdd")
def talk_add():
    st = state()
    with st.lock:
        topic, body = _topic(), json_body()
        text = body.get("body")
        if not isinstance(text, str) or not text.strip() or len(text) > 2000:
            raise yahoo_error(400, "Invalid parameter: body must be 1 to 2000 characters.")
        files, wanted = [], body.get("fileList") or []
        if not isinstance(wanted, list) or not all(isinstance(f, dict) for f in wanted):
            raise yahoo_error(400, "Invalid parameter: fileList")
        for f in wanted:
            item = st.files.get(str(f.get("filePath")))
            if item is None or item["topic_id"] != topic["topicId"] or item["posted"]:
                raise yahoo_error(400, "Invalid parameter: fileList.filePath")
            item["posted"] = True
            files.append({"fileName": item["name"], "objectKey": f["filePath"], "fileExt": item["ext"],
                          "thumbnailUrl": None, "fileSize": len(item["content"])})
        now = int(st.now())
        message = {"messageId": len(topic["messages"]) + 1, "postUserType": "seller", "bid": None, "postdate": now,
                   "body": text, "fileList": files}
        topic["messages"].append(message)
        topic["apiReply"], topic["isUserUnRead"] = True, True
        st.posted.append({"mall": "yahoo", "account": g.seller.seller_id, "inquiry": topic["topicId"],
                          "message": text, "attachments": files, "at": str(now)})
        return make({"topicid": topic["topicId"], "messageid": message["messageId"], "postdate": str(now)})


@api.put("/externalTalkRead")
def talk_read():
    st = state()
    with st.lock:
        topic = _topic()
        topic["isSellerUnRead"], topic["sellerLastReadTime"] = False, str(int(st.now()))
        return make({"status": "ok"})


@api.put("/externalTalkComplete")
def talk_complete():
    with state().lock:
        topic, body = _topic(), json_body()
        reason = body.get("completeConditionId") or 1
        if not str(reason).isdigit() or int(reason) not in COMPLETE_REASONS:
            raise yahoo_error(400, "Invalid parameter: completeConditionId")
        if int(reason) == 1 and not topic.get("apiReply"):
            raise yahoo_error(400, "completeConditionId 1 requires a store reply posted via the API.")
        topic["isComplete"], topic["completeConditionId"] = True, int(reason)
        return make({"status": "ok"})


@api.put("/externalTalkPrivate")
def talk_private():
    with state().lock:
        _topic()["isPrivate"] = True
        return make({"status": "ok"})


@api.post("/externalTalkFileAdd")
def file_add():
    st = state()
    with st.lock:
        topic, file = _topic(), request.files.get("file")
        if not topic["isPrivate"] or 45 <= int(topic["categoryid"] or 0) <= 60:
            raise yahoo_error(400, "File upload is allowed only for private Yahoo!ショッピング topics.")
        name = file.filename if file else ""
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        content = file.read() if file else b""
        if ext not in FILE_TYPES or not content:
            raise yahoo_error(400, "Invalid file: JPEG, PNG, GIF or PDF only.")
        stamp = dt.datetime.fromtimestamp(st.now(), dt.UTC).strftime("%Y%m%d%H%M%S")
        key = f"{g.seller.seller_id}/{topic['topicId']}/{stamp}_{secrets.token_hex(6)}_SELLER.{ext}"
        st.files[key] = {"name": name, "content": content, "ext": ext, "topic_id": topic["topicId"], "posted": False,
                         "content_type": FILE_TYPES[ext]}
        return make({"objectKey": key, "fileName": name, "fileExt": ext, "fileSize": len(content)})


@api.get("/externalTalkFileDownload")
def file_download():
    with state().lock:
        item = state().files.get(request.args.get("key", ""))
        if item is None or not item["topic_id"] in {t for t, v in state().topics.items()
                                                    if v["sellerId"] == g.seller.seller_id}:
            raise yahoo_error(404, "File not found.")
        return make(item["content"], 200, content_type=item["content_type"])


@api.delete("/externalTalkFileDelete")
def file_delete():
    with state().lock:
        item = state().files.get(request.args.get("key", ""))
        if item is None or item["posted"]:
            return make({"status": "ng"})
        del state().files[request.args["key"]]
        return make({"status": "ok"})


@api.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
def unknown(rest):
    raise ApiError(404, response=yahoo_error(404, "Unknown URL.", "px-04400").response)

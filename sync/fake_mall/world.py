"""Creating inquiries, topics and customer messages in the fake mall (control API and seeding)."""
import base64
import datetime as dt
import secrets

from sync.malls.fields import JST, parse_mall_time

RAKUTEN_TYPES = ("店舗問い合わせ", "商品問い合わせ", "受注問い合わせ", "店舗からの問い合わせ")


class BadInput(ValueError):
    """Control-API input that cannot be used; the message says which field."""


def when(st, value=None, days_ago=None):
    """An aware JST datetime from an ISO string / UNIX seconds, `days_ago`, or the fake now."""
    if value not in (None, ""):
        try:
            return parse_mall_time(value).astimezone(JST).replace(microsecond=0)
        except (TypeError, ValueError):
            raise BadInput(f"not a date-time: {value!r}") from None
    moment = dt.datetime.fromtimestamp(st.now(), JST).replace(microsecond=0)
    return moment - dt.timedelta(days=float(days_ago or 0))


def store_files(st, files, shop_id):
    """Rakuten attachments from [{label, content_base64 | text}] stored as uploads; → [{label, path}]."""
    result = []
    for f in files or []:
        label = str(f.get("label") or f.get("name") or "file.png")
        content = base64.b64decode(f["content_base64"]) if f.get("content_base64") else str(
            f.get("text", "fake file")).encode()
        path = f"{dt.date.today():%Y/%m/%d}/{shop_id}/000000_{secrets.token_hex(16)}"
        st.uploads[path] = {"label": label, "content": content, "shop_id": int(shop_id),
                            "content_type": f.get("content_type") or "application/octet-stream"}
        result.append({"label": label, "path": path})
    return result


def add_inquiry(st, data):
    """A new customer inquiry on a Rakuten shop; returns the stored inquiry."""
    shop_id = int(data.get("shop_id") or next(iter(st.shops), 0))
    if shop_id not in st.shops:
        raise BadInput(f"unknown Rakuten shop_id {shop_id}")
    kind = data.get("type") or "商品問い合わせ"
    if kind not in RAKUTEN_TYPES:
        raise BadInput(f"type must be one of {', '.join(RAKUTEN_TYPES)}")
    reg = when(st, data.get("reg_date"), data.get("days_ago"))
    number = data.get("inquiry_number") or f"{shop_id}-{reg:%Y%m%d}-{st.next_seq()}"
    if number in st.inquiries:
        raise BadInput(f"inquiry {number} exists")
    inq = {
        "inquiryNumber": number, "shopId": shop_id, "userName": data.get("user_name", "楽天太郎"),
        "userMaskEmail": data.get("user_mask_email", secrets.token_hex(8) + "s9@pc.fw.rakuten.ne.jp"),
        "message": data.get("message", "問い合わせ本文"), "itemUrl": data.get("item_url"),
        "itemName": data.get("item_name"), "itemNumber": data.get("item_number"), "isCompleted": False,
        "orderNumber": data.get("order_number"), "readByMerchant": False,
        "attachments": store_files(st, data.get("attachments"), shop_id), "category": data.get("category", ""),
        "type": kind, "isMessageDeleted": False, "socialGiftUserType": data.get("social_gift_user_type"),
        "_reg": reg, "_updated": reg, "_completed": None, "_replies": [],
    }
    st.inquiries[number] = inq
    return inq


def add_rakuten_message(st, number, data):
    """A follow-up on a Rakuten inquiry, by the customer ("user") or made on RMS ("merchant")."""
    inq = st.inquiries.get(number)
    if inq is None:
        raise BadInput(f"unknown inquiry {number}")
    sender = data.get("from", "user")
    if sender not in ("user", "merchant"):
        raise BadInput("from must be user or merchant")
    reg = when(st, data.get("reg_date"), data.get("days_ago"))
    reply = {"id": len(inq["_replies"]), "message": data.get("message", "追加のメッセージ"), "_reg": reg,
             "replyFrom": sender, "isRead": False,
             "attachments": store_files(st, data.get("attachments"), inq["shopId"]),
             "isMessageDeleted": False}
    inq["_replies"].append(reply)
    inq["_updated"] = max(inq["_updated"], reg)
    if sender == "user":
        inq["readByMerchant"] = False
    return reply


def delete_rakuten_message(inq, message_id):
    """What Rakuten does when it removes a message: flag it, blank text and attachments."""
    target = inq if message_id in ("q", None) else next(
        (r for r in inq["_replies"] if str(r["id"]) == str(message_id)), None)
    if target is None:
        raise BadInput(f"unknown message {message_id}")
    target.update({"isMessageDeleted": True, "message": "", "attachments": []})


def add_topic(st, data):
    """A new customer question on a Yahoo! store; returns the stored topic."""
    seller_id = data.get("seller_id") or next(iter(st.sellers), None)
    if seller_id not in st.sellers:
        raise BadInput(f"unknown Yahoo seller_id {seller_id}")
    topic_id = data.get("topic_id") or secrets.token_hex(16)
    posted = int(when(st, data.get("post_time"), data.get("days_ago")).timestamp())
    topic = {
        "topicId": topic_id, "sellerId": seller_id, "isSellerUnRead": True, "isUserUnRead": False,
        "sellerLastReadTime": None, "userLastReadTime": str(posted), "isPrivate": bool(data.get("is_private", True)),
        "isComplete": False, "completeConditionId": None, "isMail": False,
        "userMaskedIdx": data.get("user_masked_id", "ab***"), "itemcode": data.get("item_code"),
        "orderid": data.get("order_id"), "categoryid": int(data.get("category", 11)),
        "categoryName": [data.get("category_name", "商品の質問")], "title": data.get("title", "商品について"),
        "isAucChild": False, "qaType": data.get("qa_type", "order" if data.get("order_id") else "item"),
        "messages": [], "apiReply": False,
    }
    st.topics[topic_id] = topic
    add_yahoo_message(st, topic_id, {"body": data.get("body", "質問本文"), "post_time": posted,
                                     "files": data.get("files")})
    return topic


def add_yahoo_message(st, topic_id, data):
    """A follow-up on a Yahoo! topic by the customer ("user") or the store on Store Creator ("seller")."""
    topic = st.topics.get(topic_id)
    if topic is None:
        raise BadInput(f"unknown topic {topic_id}")
    sender = data.get("from", "user")
    if sender not in ("user", "seller"):
        raise BadInput("from must be user or seller")
    posted = int(when(st, data.get("post_time"), data.get("days_ago")).timestamp())
    files = []
    for f in data.get("files") or []:
        name = str(f.get("name") or "photo.jpg")
        key = f"{topic['sellerId']}/{topic_id}/{posted}_{secrets.token_hex(4)}_{sender.upper()}.{name.rsplit('.')[-1]}"
        content = base64.b64decode(f["content_base64"]) if f.get("content_base64") else b"fake file"
        st.files[key] = {"name": name, "content": content, "ext": name.rsplit(".")[-1], "topic_id": topic_id,
                         "posted": True, "content_type": f.get("content_type") or "image/jpeg"}
        files.append({"fileName": name, "objectKey": key, "fileExt": name.rsplit(".")[-1], "thumbnailUrl": None,
                      "fileSize": len(content)})
    message = {"messageId": len(topic["messages"]) + 1, "postUserType": sender, "bid": None, "postdate": posted,
               "body": data.get("body", "追加の質問"), "fileList": files}
    topic["messages"].append(message)
    if sender == "user":
        topic["isSellerUnRead"] = True
    return message

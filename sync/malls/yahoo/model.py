"""Yahoo! Shopping store Q&A (externalTalk*) data: dataclasses and tolerant parsing."""
from dataclasses import dataclass, field

from sync.malls.errors import MalformedResponse
from sync.malls.fields import Fields, clean_line

MALL = "yahoo"


@dataclass(frozen=True)
class YahooFile:
    """A file on a message, or one uploaded for a post (object_key is the mall's handle)."""

    file_name: str
    object_key: str
    file_ext: str = None
    file_size: int = None
    thumbnail_url: str = None


@dataclass
class Headline:
    """One row of externalTalkList."""

    topic_id: str
    title: str = None
    body: str = None
    user_post_time: object = None  # aware datetime of the customer's latest post
    seller_post_time: object = None
    is_unread: bool = None
    is_no_answer: bool = None
    is_completed: bool = False
    complete_condition_id: int = None
    qa_type: str = None
    is_private: bool = None
    category: int = None
    message_count: int = None
    user_masked_id: str = None
    item_code: str = None
    order_id: str = None
    first_poster: str = None
    service_type: str = None


@dataclass
class TopicPage:
    """One page of externalTalkList: the window (start, end) of `count` topics, newest first."""

    start: int
    end: int
    count: int  # len(headlines) when the mall sent no summary (then count_known is False)
    unanswered_count: int
    headlines: list
    count_known: bool = True


@dataclass(frozen=True)
class YahooMessage:
    """One message of a topic; id is the per-topic sequence ("1", "2", …)."""

    id: str
    sender: str  # "user" | "seller"
    text: str
    posted_at: object
    files: tuple = ()


@dataclass
class Topic:
    """externalTalkDetail: the topic fields and its messages, oldest first."""

    topic_id: str
    title: str = None
    qa_type: str = None
    category_id: int = None
    category_name: str = None
    item_code: str = None
    order_id: str = None
    user_masked_id: str = None
    is_private: bool = None
    is_complete: bool = False
    complete_condition_id: int = None
    is_seller_unread: bool = None
    is_user_unread: bool = None
    seller_last_read: object = None
    user_last_read: object = None
    is_mail: bool = False
    messages: tuple = ()
    raw: dict = field(default=None, repr=False, compare=False)


@dataclass
class PostResult:
    """What externalTalkAdd returns: the new message's id and time."""

    topic_id: str
    message_id: str
    posted_at: object


def _soft_int(f, *keys):
    # Informational numbers (category, reason, size) never block a sync: a non-number reads as unknown.
    try:
        return f.integer(*keys)
    except MalformedResponse:
        return None


def _file(item, what):
    f = Fields(item, MALL, what)
    return YahooFile(f.line("fileName", default=""), f.text("objectKey", "filePath", default=""),
                     f.line("fileExt"), _soft_int(f, "fileSize"), f.text("thumbnailUrl"))


def parse_headline(data, what="headline"):
    """A Headline from one list row."""
    f = Fields(data, MALL, what)
    return Headline(
        topic_id=f.text("topicId", "topicid", required=True), title=f.line("title"), body=f.text("body"),
        user_post_time=f.datetime("userPostTime"), seller_post_time=f.datetime("sellerPostTime"),
        is_unread=f.boolean("isUnread"), is_no_answer=f.boolean("isNoAnswer"),
        is_completed=f.boolean("isCompleted", default=False),
        complete_condition_id=_soft_int(f, "completeConditionId"), qa_type=f.line("qaType"),
        is_private=f.boolean("isPrivate"), category=_soft_int(f, "category"),
        message_count=f.integer("messageCount"), user_masked_id=f.line("userMaskedId", "userMaskedIdx"),
        item_code=f.line("itemCode", "itemcode"), order_id=f.line("orderId", "orderid"),
        first_poster=f.line("firstPoster"), service_type=f.line("serviceType"),
    )


def parse_page(data):
    """A TopicPage from {summary, headlines}."""
    f = Fields(data, MALL, "list")
    summary = Fields(f.raw("summary") or {}, MALL, "list.summary")
    window = Fields(summary.raw("topic") or {}, MALL, "list.summary.topic")
    headlines = [parse_headline(h, f"headlines[{i}]") for i, h in enumerate(f.items("headlines"))]
    count = window.integer("count")
    return TopicPage(window.integer("start", default=1), window.integer("end", default=len(headlines)),
                     len(headlines) if count is None else count, summary.integer("unansweredCount", default=0),
                     headlines, count is not None)


def parse_message(data, what, position=None):
    """A YahooMessage from one element of messages[]; a missing id falls back to position + 1."""
    f = Fields(data, MALL, what)
    sender = (f.text("postUserType", default="user") or "user").lower()
    fallback = None if position is None else position + 1
    return YahooMessage(str(f.integer("messageId", "messageid", required=fallback is None, default=fallback)),
                        "seller" if sender == "seller" else "user", f.text("body", default="") or "",
                        f.datetime("postdate", "postDate"),
                        tuple(_file(x, f"{what}.fileList[{i}]") for i, x in enumerate(f.items("fileList"))))


def _category_name(value):
    # A list of names (a path) or one name; it ends up in mail headers, so one clean line.
    names = value if isinstance(value, list) else [value]
    texts = [clean_line(str(v)) for v in names if isinstance(v, (str, int)) and not isinstance(v, bool)]
    return " / ".join(t for t in texts if t) or None


def parse_topic(data, topic_id):
    """A Topic from {topic, messages}."""
    f = Fields(data, MALL, "detail")
    if f.raw("topic") is None:
        raise MalformedResponse("detail has no topic", mall=MALL)
    t = Fields(f.raw("topic"), MALL, "detail.topic")
    messages = [parse_message(m, f"messages[{i}]", i) for i, m in enumerate(f.items("messages"))]
    messages.sort(key=lambda m: int(m.id))
    return Topic(
        topic_id=t.text("topicId", "topicid", default=topic_id), title=t.line("title"), qa_type=t.line("qaType"),
        category_id=_soft_int(t, "categoryid", "categoryId", "category"),
        category_name=_category_name(t.raw("categoryName")),
        item_code=t.line("itemcode", "itemCode"), order_id=t.line("orderid", "orderId"),
        user_masked_id=t.line("userMaskedIdx", "userMaskedId"), is_private=t.boolean("isPrivate"),
        is_complete=t.boolean("isComplete", "isCompleted", default=False),
        complete_condition_id=_soft_int(t, "completeConditionId"),
        is_seller_unread=t.boolean("isSellerUnRead"), is_user_unread=t.boolean("isUserUnRead"),
        seller_last_read=t.datetime("sellerLastReadTime"), user_last_read=t.datetime("userLastReadTime"),
        is_mail=t.boolean("isMail", default=False), messages=tuple(messages), raw=data,
    )


def parse_post(data, topic_id):
    """A PostResult from {topicid, messageid, postdate} (lowercase keys; camelCase accepted)."""
    f = Fields(data, MALL, "post")
    if f.raw("messageid", "messageId") is None:
        # Some API generations wrap results ({"ResultSet": {"Result": {…}}}): read the innermost.
        inner = {k: find_key(data, k) for k in ("topicid", "topicId", "messageid", "messageId", "postdate", "postDate")}
        f = Fields({k: v for k, v in inner.items() if v is not None}, MALL, "post")
    return PostResult(f.text("topicid", "topicId", default=topic_id),
                      f.text("messageid", "messageId", required=True), f.datetime("postdate", "postDate"))


def find_key(data, key):
    """The first value of `key` anywhere in nested dicts/lists (upload responses vary in nesting)."""
    if isinstance(data, dict):
        if data.get(key) is not None:
            return data[key]
        values = data.values()
    elif isinstance(data, list):
        values = data
    else:
        return None
    for value in values:
        found = find_key(value, key)
        if found is not None:
            return found
    return None

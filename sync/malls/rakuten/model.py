"""Rakuten R-Messe data: dataclasses and tolerant parsing of the InquiryManagementAPI JSON."""
import re
from dataclasses import dataclass, field

from sync.malls.errors import MalformedResponse
from sync.malls.fields import Fields

MALL = "rakuten"
INQUIRY_NUMBER = re.compile(r"^[0-9A-Za-z-]{1,40}$")
# The first customer message has no id in the API; this one is ours and stable.
FIRST_MESSAGE_ID = "q"


@dataclass(frozen=True)
class Attachment:
    """A file on an inquiry or reply: `label` is the file name, `path` the mall's key."""

    label: str
    path: str


@dataclass(frozen=True)
class Message:
    """One message of an inquiry: the customer's first message (id "q") or a reply (id "0", "1", …)."""

    id: str
    sender: str  # "user" | "merchant"
    text: str
    posted_at: object  # aware datetime or None
    is_read: bool = None  # whether the other party has read it
    attachments: tuple = ()
    deleted: bool = False


@dataclass
class Inquiry:
    """An R-Messe inquiry with its messages, as inquiry.get / inquiries.get return it."""

    number: str
    shop_id: str
    user_name: str = None
    user_mask_email: str = None
    message: str = ""
    reg_date: object = None
    last_update: object = None
    type: str = None
    category: str = None
    item_url: str = None
    item_name: str = None
    item_number: str = None
    order_number: str = None
    is_completed: bool = False
    completed_date: object = None
    read_by_merchant: bool = None
    deleted: bool = False
    social_gift_user_type: str = None
    attachments: tuple = ()
    replies: tuple = ()
    raw: dict = field(default=None, repr=False, compare=False)

    @property
    def messages(self):
        """All messages oldest first: the first customer message, then every reply."""
        first = Message(FIRST_MESSAGE_ID, "user", self.message, self.reg_date, self.read_by_merchant,
                        self.attachments, self.deleted)
        return (first,) + tuple(self.replies)


@dataclass
class InquiryPage:
    """One page of inquiries.get."""

    total_count: int
    total_pages: int
    page: int
    inquiries: list


@dataclass
class BatchResult:
    """Per-item outcome of read/complete/incomplete: ok numbers and (number, errorMessage) pairs."""

    ok: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def parse_attachments(items, what):
    """A tuple of Attachment from a list of {label, path}."""
    result = []
    for i, item in enumerate(items):
        f = Fields(item, MALL, f"{what}[{i}]")
        result.append(Attachment(f.line("label", default=""), f.text("path", default="")))
    return tuple(result)


def parse_reply(data, what="reply", position=None):
    """One element of replies[]; a missing id falls back to the position (ids are 0, 1, … in order)."""
    f = Fields(data, MALL, what)
    deleted = f.boolean("isMessageDeleted", default=False)
    return Message(
        id=str(f.integer("id", required=position is None, default=position)),
        # Compared case-insensitively: a shop reply taken for the customer's would be mailed back in.
        sender="merchant" if (f.text("replyFrom", default="user") or "").strip().lower() == "merchant" else "user",
        text="" if deleted else (f.text("message", default="") or ""),
        posted_at=f.datetime("regDate"),
        is_read=f.boolean("isRead"),
        attachments=() if deleted else parse_attachments(f.items("attachments"), what + ".attachments"),
        deleted=deleted,
    )


def parse_inquiry(data):
    """An Inquiry from the inquiry object; MalformedResponse if it is not one."""
    f = Fields(data, MALL, "inquiry")
    number = f.text("inquiryNumber", required=True).strip()
    if not INQUIRY_NUMBER.match(number):
        raise MalformedResponse(f"inquiry.inquiryNumber {number!r:.60} is not a valid number", mall=MALL)
    deleted = f.boolean("isMessageDeleted", default=False)
    replies = [parse_reply(r, f"inquiry {number} replies[{i}]", i) for i, r in enumerate(f.items("replies"))]
    replies.sort(key=lambda m: int(m.id))
    return Inquiry(
        number=number,
        shop_id=f.text("shopId", default=None) or number.split("-")[0],
        user_name=f.line("userName"),
        user_mask_email=f.line("userMaskEmail"),
        message="" if deleted else (f.text("message", default="") or ""),
        reg_date=f.datetime("regDate"),
        last_update=f.datetime("lastUpdateDate"),
        type=f.line("type"),
        category=f.line("category"),
        item_url=f.line("itemUrl"),
        item_name=f.line("itemName"),
        item_number=f.line("itemNumber"),
        order_number=f.line("orderNumber"),
        is_completed=f.boolean("isCompleted", default=False),
        completed_date=f.datetime("completedDate"),
        read_by_merchant=f.boolean("readByMerchant"),
        deleted=deleted,
        social_gift_user_type=f.line("socialGiftUserType"),
        attachments=() if deleted else parse_attachments(f.items("attachments"), f"inquiry {number} attachments"),
        replies=tuple(replies),
        raw=data,
    )


def parse_page(data):
    """An InquiryPage from the list object."""
    f = Fields(data, MALL, "inquiries")
    inquiries = [parse_inquiry(item) for item in f.items("list")]
    total = f.integer("totalCount", default=len(inquiries))
    pages = f.integer("totalPageCount")
    if pages is None:
        # Without a page count, assume full pages of this size: paging on beats stopping short.
        pages = -(-total // len(inquiries)) if inquiries else 0
    return InquiryPage(total_count=total, total_pages=pages, page=f.integer("page", default=1), inquiries=inquiries)


def parse_batch(data):
    """A BatchResult from {"result": {"ok": […], "error": [{inquiryNumber, errorMessage}]}}."""
    result = Fields(Fields(data, MALL, "batch").raw("result") or {}, MALL, "batch.result")
    ok = [str(n) for n in result.items("ok")]
    errors = []
    for i, item in enumerate(result.items("error")):
        e = Fields(item, MALL, f"batch.error[{i}]")
        errors.append((e.text("inquiryNumber", default=""), e.text("errorMessage", default="")))
    return BatchResult(ok, errors)

"""One mail per mall message (design.md "Mail into the inbox"): deterministic Message-IDs,
threading, the signed reply address, X-Mallbridge headers and a body shop staff can act on.

Flask-free apart from reading REPLY_DOMAIN/SECRET_KEY through `current_app` in the two small
address helpers; the poller hands in a neutral `MallMessage`, so this module does not care
which client produced it.
"""
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass, field

from flask import current_app
from itsdangerous import Signer

from plugin import clock, compose, outbox
from sync.models import MALL_LABELS

# Back-office and storefront links. Kept here so a mall changing a URL is a one-line fix.
# Neither mall documents these URLs; where each pattern comes from (checked 2026-11):
# RMS order detail: the pattern shop tools open for one order — a userscript matching
# order-rp.rms.rakuten.co.jp/order-rb/individual-order-detail-sc/*, several order tools (Ruby, PHP/Laravel,
# JS) building …/init?orderNumber=<number>, one noting it was checked on the live screen.
RAKUTEN_ORDER_URL = "https://order-rp.rms.rakuten.co.jp/order-rb/individual-order-detail-sc/init?orderNumber={order}"
# R-Messe inquiry page: R-Messe lives on rmesse.rms.rakuten.co.jp; browser extensions for R-Messe
# match its inquiry pages as /inquiry/*, a helpdesk ingest builds /inquiry/<inquiryNumber>, and
# Rakuten's own notification mails link to /inquiry/… (practitioner sources, not official).
RAKUTEN_INQUIRY_URL = "https://rmesse.rms.rakuten.co.jp/inquiry/{inquiry}"
RAKUTEN_ITEM_BASE = "https://item.rakuten.co.jp"
# Store Creator Pro is https://pro.store.yahoo.co.jp/pro.<store account> (Yahoo!'s own FAQ); the store
# account is the API's sellerId. Order detail …/order/manage/detail/<orderId>: used by two independent
# order tools (Ruby, JS).
YAHOO_ORDER_URL = "https://pro.store.yahoo.co.jp/pro.{seller}/order/manage/detail/{order}"
# Store Q&A (問い合わせ管理) detail: BEST GUESS. No public source shows this page's URL; only the
# Store Creator Pro base above is confirmed. Check it against a live store and fix it here.
YAHOO_TALK_URL = "https://pro.store.yahoo.co.jp/pro.{seller}/talk/detail?topicId={inquiry}"
# Storefront item page: store.shopping.yahoo.co.jp/<store account>/<item code>.html (public store pages).
YAHOO_ITEM_URL = "https://store.shopping.yahoo.co.jp/{seller}/{item}.html"

MALL_CODES = {"rakuten": "r", "yahoo": "y"}
_TOKEN = re.compile(r"^r\+([ry])(\d{1,9})\.([0-9a-f]{12})\.([0-9a-f]{16})@(.+)$")
SHOP_MARK = "【店舗の返信】"
RULE = "─" * 30


@dataclass(frozen=True)
class MallFile:
    """An attachment as the mall lists it; `data` is filled by the poller (None = not fetched)."""

    name: str
    key: str = ""
    size: int | None = None
    content_type: str = "application/octet-stream"
    data: bytes | None = None
    note: str | None = None  # why it is not attached (too large, download failed …)


@dataclass(frozen=True)
class MallMessage:
    """One message of one inquiry, whichever mall it came from."""

    mall: str
    inquiry_id: str
    message_id: str
    sender: str  # customer | shop
    text: str
    posted_at: object = None  # aware datetime (or naive UTC)
    customer_name: str | None = None
    customer_address: str | None = None  # Rakuten's masked relay address
    customer_identity: str = ""
    inquiry_type: str | None = None
    category: str | None = None
    title: str | None = None
    item_name: str | None = None
    item_url: str | None = None
    item_code: str | None = None
    order_number: str | None = None
    deleted: bool = False
    attachments: tuple = field(default_factory=tuple)


# --- identities ----------------------------------------------------------------------------

def mail_message_id(mall, mall_shop_id, inquiry_id, message_id, domain=None):
    """`<mall.shopId.inquiryId.messageId@REPLY_DOMAIN>`: the same message always gets the same ID."""
    domain = domain or current_app.config["REPLY_DOMAIN"]
    return compose.make_msgid(f"{mall}.{mall_shop_id}.{inquiry_id}.{message_id}", domain)


def customer_key(mall, account_id, identity):
    """A short, stable, lowercase key for one customer of one account (no personal data in it)."""
    digest = hashlib.sha256(f"{mall}:{account_id}:{identity}".encode("utf-8")).hexdigest()
    return digest[:12]


def _signer():
    return Signer(current_app.config["SECRET_KEY"], salt="mallbridge.reply-address",
                  digest_method=hashlib.sha256)


def _signature(payload):
    # Lowercase hex of the itsdangerous signature: helpdesks may lower-case addresses.
    return hashlib.sha256(_signer().get_signature(payload)).hexdigest()[:16]


def reply_address(mall, account_id, key, domain=None):
    """`r+<token>@REPLY_DOMAIN` naming mall, account and customer, signed so it cannot be forged."""
    domain = domain or current_app.config["REPLY_DOMAIN"]
    payload = f"{MALL_CODES[mall]}{int(account_id)}.{key}"
    return f"r+{payload}.{_signature(payload)}@{domain}"


def read_reply_address(addr):
    """(mall, account_id, customer_key) from a signed reply address, or None if forged or foreign."""
    match = _TOKEN.match((addr or "").strip().lower())
    if not match:
        return None
    code, account_id, key, sig, domain = match.groups()
    if domain != current_app.config["REPLY_DOMAIN"].lower():
        return None
    if not hmac.compare_digest(sig, _signature(f"{code}{account_id}.{key}")):
        return None
    mall = next(m for m, c in MALL_CODES.items() if c == code)
    return mall, int(account_id), key


# --- subject, links, body ------------------------------------------------------------------

def base_subject(shop_id, msg):
    """The thread's subject from the shop's `mall_subject` template, e.g. `【楽天】商品問い合わせ 有機緑茶 100g`."""
    context = {"mall": {"label": MALL_LABELS.get(msg.mall, msg.mall), "name": msg.mall},
               "inquiry": {"type": msg.inquiry_type or "問い合わせ", "title": msg.title or "",
                           "item_name": msg.item_name or "", "id": msg.inquiry_id}}
    try:
        from plugin import mail_templates

        subject, _ = mail_templates.render(shop_id, "mall_subject", context)
    except Exception:  # noqa: BLE001 - a broken shop template must not stop mail; use the default
        subject = ""
    if not compose.clean_header(subject):
        label = context["mall"]["label"]
        subject = f"【{label}】{context['inquiry']['type']} {msg.title or msg.item_name or ''}"
    return compose.clean_header(subject)


def links(account, msg):
    """Back-office links (order, inquiry) and the item's store page, where the mall has them."""
    from urllib.parse import quote

    def _q(value):
        # Values come from the mall: a stray space, "/" or "?" must not change which page opens.
        return quote(str(value).strip(), safe="")

    out = {}
    if msg.mall == "rakuten":
        out["inquiry"] = RAKUTEN_INQUIRY_URL.format(inquiry=_q(msg.inquiry_id))
        if msg.order_number:
            out["order"] = RAKUTEN_ORDER_URL.format(order=_q(msg.order_number))
        if msg.item_url:
            url = msg.item_url.strip()
            out["item"] = url if url.startswith("http") else RAKUTEN_ITEM_BASE + "/" + url.lstrip("/")
    else:
        seller = _q(account.seller_id or "")
        out["inquiry"] = YAHOO_TALK_URL.format(seller=seller, inquiry=_q(msg.inquiry_id))
        if msg.order_number:
            out["order"] = YAHOO_ORDER_URL.format(seller=seller, order=_q(msg.order_number))
        if msg.item_code:
            out["item"] = YAHOO_ITEM_URL.format(seller=seller, item=_q(msg.item_code))
    return out


def _when(value):
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(clock.JST).strftime("%Y-%m-%d %H:%M")


def body(account, msg):
    """The text body: facts first, then the message exactly as written, then attachment notes."""
    label = MALL_LABELS.get(msg.mall, msg.mall)
    link = links(account, msg)
    kind = " / ".join(x for x in (msg.inquiry_type, msg.category) if x) or "-"
    lines = []
    if msg.sender == "shop":
        lines.append(f"{SHOP_MARK}店舗が{label}の管理画面から送信したメッセージです。")
    lines += [f"モール: {label}", f"店舗: {account.shop.name} ({account.label})", f"種別: {kind}",
              f"問い合わせ番号: {msg.inquiry_id}"]
    if msg.title:
        lines.append(f"件名: {compose.clean_header(msg.title)}")
    if msg.order_number:
        lines.append(f"注文番号: {msg.order_number}  {link['order']}")
    if msg.item_name or link.get("item"):
        lines.append(f"商品: {compose.clean_header(msg.item_name) or msg.item_code or ''}  {link.get('item', '')}".rstrip())
    who = "店舗" if msg.sender == "shop" else f"{compose.clean_header(msg.customer_name) or 'お客様'} 様"
    lines += [f"差出人: {who}", f"日時: {_when(msg.posted_at)}", f"モールで開く: {link['inquiry']}", RULE]
    text = msg.text
    if msg.deleted:
        text = "（このメッセージはモールにより削除されたため、本文を取得できません）"
    lines += [text or "（本文なし）", RULE]
    for item in msg.attachments:
        if item.data is None:
            lines.append(f"添付ファイル「{compose.clean_header(item.name)}」: {item.note or '添付していません'}"
                         f"（モールで確認: {link['inquiry']}）")
    lines.append("このメールに返信すると、モールのお客様に返信として送られます（スレッド内で返信してください）。")
    from sync import complete  # the signed completion link (issue 7)

    done = complete.mail_line(account.id, msg.inquiry_id)
    if done:
        lines.append(done)
    return "\n".join(lines)


def build(account, msg, *, to, subject, first_id=None, chain=(), from_mode="relay"):
    """The EmailMessage for one mall message (threaded under `first_id` when it is a follow-up)."""
    domain = current_app.config["REPLY_DOMAIN"]
    own_id = mail_message_id(msg.mall, account.external_id, msg.inquiry_id, msg.message_id, domain)
    key = customer_key(msg.mall, account.id, msg.customer_identity or msg.inquiry_id)
    signed = reply_address(msg.mall, account.id, key, domain)
    if msg.sender == "shop":
        sender = (account.shop.email or outbox.system_sender(), account.shop.name)
        subject = SHOP_MARK + subject
    else:
        name = msg.customer_name or ("Yahoo!のお客様" if msg.mall == "yahoo" else "楽天のお客様")
        sender = (signed, name)
        if from_mode == "customer" and msg.customer_address and "@" in msg.customer_address:
            sender = (msg.customer_address, name)
    if first_id and first_id != own_id:
        subject = "Re: " + subject
    headers = {"X-Mallbridge-Mall": msg.mall, "X-Mallbridge-Shop": account.shop.code,
               "X-Mallbridge-Inquiry": msg.inquiry_id, "X-Mallbridge-Order": msg.order_number,
               "X-Mallbridge-Sender": msg.sender}
    if first_id and first_id != own_id:
        headers.update(compose.thread_headers(first_id, chain))
    files = [compose.Attachment(f.data, f.name, f.content_type) for f in msg.attachments if f.data is not None]
    try:
        return compose.build_message(sender=[sender], to=to, subject=subject, body=body(account, msg),
                                     reply_to=signed, message_id=own_id, date=clock.utc(msg.posted_at),
                                     headers=headers, attachments=files)
    except compose.ComposeError:
        # A malformed relay address from the mall must not block the message: use ours.
        return compose.build_message(sender=[(signed, sender[1])], to=to, subject=subject,
                                     body=body(account, msg), reply_to=signed, message_id=own_id,
                                     date=clock.utc(msg.posted_at), headers=headers, attachments=files)


"""One mail per mall message (docs/architecture.md "Mail into the inbox"): threading under the inquiry's
first message, the signed reply address as sender, X-Mallbridge headers and a body shop staff
can act on.

The poller hands in a neutral `MallMessage`, so this module does not care which mall produced
it: identities come from sync.identity, back-office links and labels from the mall's adapter.
"""
import datetime as dt
from collections.abc import Sequence
from email.message import EmailMessage

from flask import current_app

from plugin import clock, compose, mail_templates, outbox
from plugin.extensions import db
from plugin.models import Shop
from sync import identity, malls
from sync.messages import MallMessage
from sync.models import MallAccount
from sync.replies import complete

SHOP_MARK = "【店舗の返信】"
RULE = "─" * 30


def base_subject(shop_id: int, msg: MallMessage) -> str:
    """The thread's subject from the shop's `mall_subject` template, with the inquiry number,
    e.g. `【楽天】商品問い合わせ 有機緑茶 100g [391234-20261128-1w]`.

    Many inquiries share their words (every Rakuten 店舗問い合わせ reads 「【楽天】店舗問い合わせ」)
    and threaders that group by subject would merge them: a shop template that leaves the number
    out gets it appended."""
    shop = db.session.get(Shop, shop_id)
    context = mail_templates.blank_context(
        mall={"label": malls.label(msg.mall), "name": msg.mall},
        inquiry={"type": msg.inquiry_type or "問い合わせ", "title": msg.title or "",
                 "item_name": msg.item_name or "", "id": msg.inquiry_id},
        shop={"name": shop.name, "code": shop.code} if shop else {},
        customer={"name": msg.customer_name or ""}, order={"number": msg.order_number or ""})
    try:
        subject, _ = mail_templates.render(shop_id, "mall_subject", context)
    except Exception:  # noqa: BLE001 - a broken shop template must not stop mail; use the default
        subject = ""
    if not compose.clean_header(subject):
        label = context["mall"]["label"]
        subject = f"【{label}】{context['inquiry']['type']} {msg.title or msg.item_name or ''}"
    number = compose.clean_header(msg.inquiry_id)
    if number and number not in subject:
        subject = f"{subject} [{number}]"
    return compose.clean_header(subject)


def links(account: MallAccount, msg: MallMessage) -> dict[str, str]:
    """Back-office links (order, inquiry) and the item's store page, where the mall has them."""
    return malls.get(msg.mall).links(account, msg)


def _when(value):
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(clock.JST).strftime("%Y-%m-%d %H:%M")


def body(account: MallAccount, msg: MallMessage) -> str:
    """The text body: facts first, then the message exactly as written, then attachment notes."""
    label = malls.label(msg.mall)
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
    done = complete.mail_line(account.id, msg.inquiry_id)
    if done:
        lines.append(done)
    return "\n".join(lines)


def build(account: MallAccount, msg: MallMessage, *, to: str, subject: str, first_id: str | None = None,
          chain: Sequence[str] = (), from_mode: str = "relay") -> EmailMessage:
    """The EmailMessage for one mall message (threaded under `first_id` when it is a follow-up)."""
    domain = current_app.config["REPLY_DOMAIN"]
    own_id = identity.message_id_of(account.external_id, msg, domain)
    signed = identity.reply_address(msg.mall, account.id, identity.customer_of(account.id, msg), domain)
    if msg.sender == "shop":
        sender = (account.shop.email or outbox.system_sender(), account.shop.name)
        subject = SHOP_MARK + subject
    else:
        name = msg.customer_name or malls.get(msg.mall).customer_name
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


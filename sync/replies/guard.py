"""Who may answer as the shop, and what is never answered: the checks smtp-in makes at RCPT and
DATA and intake makes again on the stored mail.

- Only the helpdesk: a reply is taken only when its envelope sender or its From is one of the
  active helpdesk environment's reply senders (`helpdesk set --reply-from`). With none
  configured, nothing is taken (the dashboard says so).
- Relay addresses expire: `replies.address_days` after the last message of the customer's
  inquiries, an address no longer posts.
- Loops: auto-replies, list mail and our own mail coming back are never posted nor answered.
"""
import datetime as dt
import re

from sqlalchemy import func, select

from plugin import clock, helpdesk
from plugin.extensions import db
from sync import identity
from sync.models import InboundMessage, MallAccount, MallInquiry
from sync.replies import options
from sync.replies.models import ReplyJob

_ROBOTS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)([+-].*)?$", re.IGNORECASE)
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster)$", re.IGNORECASE)
NO_SENDERS = ("返信の差出人が設定されていないため、ヘルプデスクからの返信を受け付けていません。"
              "管理 › ヘルプデスク環境の「返信の差出人」に、ヘルプデスクが返信に使うアドレスか @ドメイン を設定してください。")


def bare(address):
    """The address without angle brackets and spaces ("" for the null sender)."""
    return (address or "").strip().strip("<>").strip()


def reply_senders():
    """The active environment's reply senders (addresses and @domains)."""
    return helpdesk.active_environment().reply_from


def sender_allowed(*addresses):
    """True when one of the addresses is a reply sender of the active helpdesk environment."""
    env = helpdesk.active_environment()
    return any(env.accepts_reply_from(bare(a)) for a in addresses if bare(a))


def account_for_recipient(address):
    """The enabled MallAccount a signed reply address names, else None (forged, foreign, disabled)."""
    found = identity.read_reply_address(address)
    if found is None:
        return None
    account = db.session.get(MallAccount, found.account_id)
    if account is None or not account.enabled or account.mall != found.mall:
        return None
    return account


def last_activity(account_id, customer_key):
    """When the customer's inquiries on this account last had a message (ours included), or None."""
    inquiries = select(MallInquiry.inquiry_id).where(MallInquiry.account_id == account_id,
                                                     MallInquiry.customer == customer_key)
    message = db.session.scalar(select(func.max(func.coalesce(InboundMessage.posted_at, InboundMessage.created_at)))
                                .where(InboundMessage.account_id == account_id,
                                       InboundMessage.inquiry_id.in_(inquiries)))
    posted = db.session.scalar(select(func.max(ReplyJob.posted_at)).where(
        ReplyJob.account_id == account_id, ReplyJob.inquiry_id.in_(inquiries)))
    times = [t for t in (message, posted) if t is not None]
    return max(times) if times else None


def address_expired(address):
    """True when the reply address's customer had no message for `replies.address_days` days."""
    found = identity.read_reply_address(address)
    if found is None:
        return False
    last = last_activity(found.account_id, found.customer_key)
    return last is not None and clock.now() - last > dt.timedelta(days=options.get("address_days"))


def expired_problem():
    """The Japanese reason for an expired reply address."""
    days = options.get("address_days")
    return (f"この返信用アドレスは、問い合わせの最後のメッセージから{days}日を過ぎたため使えなくなりました。"
            "お客様への連絡は、モールの管理画面（R-Messe・ストアクリエイターPro）から行ってください。")


def loop_reason(parsed, mail_from):
    """Why this mail is an auto-reply or a loop (never to be posted or answered), else None."""
    h = parsed.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "auto_reply", "list", "junk"):
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress", "list-id", "x-loop"):
        if h.get(name, "").strip():
            return f"{name}: {h[name].strip()[:100]}"
    if h.get("return-path", "").replace(" ", "") == "<>":
        return "Return-Path: <>"
    if h.get("x-mallbridge-mall"):
        return "mallbridge's own mail came back"
    if identity.is_own_message_id(parsed.message_id):
        return f"own Message-ID {parsed.message_id}"
    if mail_from is not None and bare(mail_from) == "":
        return "null envelope sender (delivery status notification)"
    if parsed.sender and _ROBOTS.match(parsed.sender.split("@")[0]):
        return f"sender {parsed.sender}"
    # Envelope senders like bounce-123@… are normal VERP return paths of mail services, so
    # only the RFC 5321 robot names count there.
    if mail_from and _DAEMONS.match(bare(mail_from).split("@")[0]):
        return f"envelope sender {mail_from}"
    return None

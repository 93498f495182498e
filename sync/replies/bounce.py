"""The bounce mail: tells the agent, in Japanese and inside the ticket's thread, why a reply was
not posted and what to fix. Marked Auto-Submitted so helpdesks do not answer it, sent only to
an address that is one of the helpdesk's reply senders (never back to a forged From, never to
our own reply domain), and limited per sender so a misconfigured helpdesk cannot start a storm.
"""
import datetime as dt
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import func, select

from plugin import clock, compose, outbox
from plugin.extensions import db
from sync import malls
from sync.models import MallAccount
from sync.replies import guard, parse
from sync.replies.models import ReplyMail

BOUNCES_PER_SENDER_HOUR = 10
QUOTED_CHARS = 3000  # of the received text, quoted back so the agent can copy it
MAX_REFERENCES = 20


def recipient(row: ReplyMail) -> str | None:
    """Where the bounce goes: the From, else the envelope sender, whichever is a reply sender."""
    domain = "@" + current_app.config["REPLY_DOMAIN"].lower()
    for address in (row.sender, row.mail_from):
        address = guard.bare(address)
        if "@" in address and not address.lower().endswith(domain) and guard.sender_allowed(address):
            return address
    return None


def bounce(row: ReplyMail, problems: list[str], chain: list[str] | None = None) -> None:
    """Mark the mail bounced and queue the Japanese bounce to its sender (not committed).

    `chain` is the reply's References header (read from the stored mail when not given)."""
    row.state, row.problem = "bounced", "\n".join(problems)
    to = recipient(row)
    if to is None:
        row.problem += "\n（差出人がヘルプデスクの「返信の差出人」ではないため、差し戻しメールは送っていません）"
        return
    since = clock.now() - dt.timedelta(hours=1)
    recent = db.session.scalar(select(func.count(ReplyMail.id)).where(
        ReplyMail.sender == row.sender, ReplyMail.state == "bounced", ReplyMail.processed_at >= since,
        ReplyMail.id != row.id))
    if recent >= BOUNCES_PER_SENDER_HOUR:
        row.problem += "\n（差し戻しが多すぎるため、差し戻しメールは送っていません）"
        return
    if chain is None:
        chain = parse.parse_head(row.raw).chain
    mail = bounce_message(row, problems, to, chain)
    account = db.session.get(MallAccount, row.account_id) if row.account_id else None
    outbox.enqueue(mail, kind="reply_bounce", shop_id=account.shop_id if account else None,
                   dedupe_key=f"reply-bounce:{row.id}")


def thread_headers(message_id: str | None, chain: list[str]) -> dict:
    """In-Reply-To = the reply's Message-ID; References = the reply's References + its Message-ID,
    so the bounce sits in the ticket's thread even in a view that shows only the inbox's mail."""
    if not message_id:
        return {}
    refs = [r for r in chain if r != message_id] + [message_id]
    if len(refs) > MAX_REFERENCES:  # keep the thread's root and the newest (RFC 5322 3.6.4)
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
    return {"In-Reply-To": message_id, "References": " ".join(refs)}


def bounce_message(row: ReplyMail, problems: list[str], to: str, chain: list[str] = ()) -> EmailMessage:
    """The Japanese mail that tells the agent why the reply was not posted and what to fix."""
    account = db.session.get(MallAccount, row.account_id) if row.account_id else None
    mall = malls.label(account.mall) if account else "モール"
    text = row.text or "（本文なし）"
    if len(text) > QUOTED_CHARS:
        text = text[:QUOTED_CHARS] + f"\n…（以下{len(text) - QUOTED_CHARS:,}文字を省略）"
    lines = [f"この返信は{mall}のお客様に送っていません。次の点を直して、もう一度同じスレッドで返信してください。", ""]
    lines += [f"・{p}" for p in problems]
    lines += ["", "─" * 30, "受け取った返信（引用部分を除いた本文）:", "", text]
    headers = {"Auto-Submitted": "auto-replied", "X-Mallbridge-Bounce": str(row.id),
               **thread_headers(row.message_id, list(chain))}
    return compose.build_message(sender=[outbox.system_sender("mallbridge 返信エラー")], to=[to],
                                 subject=f"【返信できませんでした】{row.subject or ''}".strip(),
                                 body="\n".join(lines), headers=headers,
                                 message_id=compose.make_msgid(f"reply-bounce.{row.id}", current_app.config["REPLY_DOMAIN"]))

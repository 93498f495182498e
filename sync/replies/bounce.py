"""The bounce mail: tells the agent, in Japanese and inside the ticket's thread, why a reply was
not posted and what to fix. Marked Auto-Submitted so helpdesks do not answer it, never sent to
our own reply domain, and limited per sender so a misconfigured helpdesk cannot start a storm.
"""
import datetime as dt
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import func, select

from plugin import clock, compose, outbox
from plugin.extensions import db
from sync import malls
from sync.models import MallAccount
from sync.replies.models import ReplyMail

BOUNCES_PER_SENDER_HOUR = 10


def bounce(row: ReplyMail, problems: list[str]) -> None:
    """Mark the mail bounced and queue the Japanese bounce to its sender (not committed)."""
    row.state, row.problem = "bounced", "\n".join(problems)
    to = row.sender if row.sender and "@" in row.sender else None
    domain = current_app.config["REPLY_DOMAIN"].lower()
    if to and to.lower().endswith("@" + domain):
        to = None  # never mail our own reply domain: that would loop back into smtp-in
    if to is None and row.mail_from and "@" in row.mail_from and not row.mail_from.lower().endswith("@" + domain):
        to = row.mail_from.strip("<>")
    if to is None:
        row.problem += "\n（差出人が不明なため、差し戻しメールは送っていません）"
        return
    since = clock.now() - dt.timedelta(hours=1)
    recent = db.session.scalar(select(func.count(ReplyMail.id)).where(
        ReplyMail.sender == row.sender, ReplyMail.state == "bounced", ReplyMail.processed_at >= since,
        ReplyMail.id != row.id))
    if recent >= BOUNCES_PER_SENDER_HOUR:
        row.problem += "\n（差し戻しが多すぎるため、差し戻しメールは送っていません）"
        return
    mail = bounce_message(row, problems, to)
    account = db.session.get(MallAccount, row.account_id) if row.account_id else None
    outbox.enqueue(mail, kind="reply_bounce", shop_id=account.shop_id if account else None,
                   dedupe_key=f"reply-bounce:{row.id}")


def bounce_message(row: ReplyMail, problems: list[str], to: str) -> EmailMessage:
    """The Japanese mail that tells the agent why the reply was not posted and what to fix."""
    account = db.session.get(MallAccount, row.account_id) if row.account_id else None
    mall = malls.label(account.mall) if account else "モール"
    lines = [f"この返信は{mall}のお客様に送っていません。次の点を直して、もう一度同じスレッドで返信してください。", ""]
    lines += [f"・{p}" for p in problems]
    lines += ["", "─" * 30, "受け取った返信（引用部分を除いた本文）:", "", row.text or "（本文なし）"]
    headers = {"Auto-Submitted": "auto-replied", "X-Mallbridge-Bounce": str(row.id)}
    if row.message_id:
        headers.update(compose.thread_headers(row.message_id))
    return compose.build_message(sender=[outbox.system_sender("mallbridge 返信エラー")], to=[to],
                                 subject=f"【返信できませんでした】{row.subject or ''}".strip(),
                                 body="\n".join(lines), headers=headers,
                                 message_id=compose.make_msgid(f"reply-bounce.{row.id}", current_app.config["REPLY_DOMAIN"]))

"""Reply intake: a stored ReplyMail → a queued mall write, a bounce to the agent, or a silent drop.

Order of the checks: loops first (an auto-reply must never be answered, not even with a
bounce), then the signed recipient, the per-account rate limit, which inquiry the reply
belongs to, and the mall's rules. Whatever happens is written on the ReplyMail row, which
the admin page shows; the raw mail stays there, so nothing is lost.
"""
import datetime as dt
import logging
import re

from sqlalchemy import func, select

from plugin import clock, compose
from plugin.extensions import db
from sync import identity
from sync.models import InboundMessage, MallAccount, MallInquiry
from sync.replies import bounce, options, parse, queue
from sync.replies.models import ReplyJob, ReplyMail
from sync.replies.parse import Parsed

log = logging.getLogger(f"mallbridge.{__name__}")
_ROBOTS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply)([+-].*)?$", re.IGNORECASE)
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster)$", re.IGNORECASE)


class Rejected(Exception):
    """A rule was broken: the sender gets `problems` (Japanese) in a bounce."""

    def __init__(self, *problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def account_for_recipient(address: str) -> MallAccount | None:
    """The enabled MallAccount a signed reply address names, else None (forged, foreign, disabled)."""
    found = identity.read_reply_address(address)
    if found is None:
        return None
    account = db.session.get(MallAccount, found.account_id)
    if account is None or not account.enabled or account.mall != found.mall:
        return None
    return account


def store(raw: bytes, *, rcpt: str, mail_from: str | None = None, peer: str | None = None) -> int:
    """Write the raw mail before anything else (committed); returns the row id."""
    row = ReplyMail(raw=raw, size=len(raw), rcpt=rcpt[:512], mail_from=(mail_from or "")[:512] or None,
                    peer=(peer or "")[:255] or None, state="received", received_at=clock.now())
    db.session.add(row)
    db.session.commit()
    return row.id


def loop_reason(parsed: Parsed, mail_from: str | None) -> str | None:
    """Why this mail is an auto-reply or a loop (never to be posted or answered), else None."""
    h = parsed.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "auto_reply", "list", "junk"):
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond"):
        if h.get(name):
            return f"{name}: {h[name]}"
    if h.get("x-mallbridge-mall"):
        return "mallbridge's own mail came back"
    if identity.is_own_message_id(parsed.message_id):
        return f"own Message-ID {parsed.message_id}"
    if mail_from is not None and mail_from.strip() in ("", "<>"):
        return "null envelope sender (delivery status notification)"
    if parsed.sender and _ROBOTS.match(parsed.sender.split("@")[0]):
        return f"sender {parsed.sender}"
    # Envelope senders like bounce-123@… are normal VERP return paths of mail services, so
    # only the RFC 5321 robot names count there.
    if mail_from and _DAEMONS.match(mail_from.strip("<>").split("@")[0]):
        return f"envelope sender {mail_from}"
    return None


def _completed(account_id, inquiry_id):
    return db.session.scalar(select(ReplyJob.id).where(
        ReplyJob.account_id == account_id, ReplyJob.inquiry_id == inquiry_id, ReplyJob.kind == "complete",
        ReplyJob.state.in_(("queued", "posting", "posted", "failed"))).limit(1)) is not None


def find_inquiry(account: MallAccount, key: str, refs: list[str]) -> MallInquiry:
    """The MallInquiry a reply answers: from our Message-IDs in In-Reply-To/References, else the
    customer's only open inquiry; Rejected (with how to reply in the thread) otherwise."""
    if refs:
        inquiry = db.session.scalar(select(MallInquiry).where(MallInquiry.first_message_id.in_(refs)).limit(1))
        if inquiry is None:
            hit = db.session.execute(select(InboundMessage.account_id, InboundMessage.inquiry_id)
                                     .where(InboundMessage.mail_message_id.in_(refs)).limit(1)).first()
            if hit is not None:
                inquiry = db.session.scalar(select(MallInquiry).where(
                    MallInquiry.account_id == hit[0], MallInquiry.inquiry_id == hit[1]))
        if inquiry is not None:
            if inquiry.account_id != account.id or (inquiry.customer and inquiry.customer != key):
                raise Rejected("返信先のアドレスとスレッドの問い合わせが一致しません。別のお客様のスレッドに返信していないか確認し、"
                               "受信箱に届いたメールのスレッド内でそのまま返信してください。")
            return inquiry
    open_ = [i for i in db.session.scalars(select(MallInquiry).where(
        MallInquiry.account_id == account.id, MallInquiry.customer == key).order_by(MallInquiry.id))
        if not _completed(account.id, i.inquiry_id)]
    if len(open_) == 1:
        return open_[0]
    how = ("受信箱に届いたモールのメールを開き、そのスレッドの中で返信してください"
           "（新規メールや件名・スレッドを変えた返信では、どの問い合わせへの返信か分かりません）。")
    if not open_:
        raise Rejected("このお客様の未完了の問い合わせが見つからないため、どの問い合わせへの返信か分かりません。" + how)
    raise Rejected(f"このお客様には未完了の問い合わせが{len(open_)}件あるため、どの問い合わせへの返信か分かりません。" + how)


def _rate_limited(account_id):
    since = clock.now() - dt.timedelta(hours=1)
    count = db.session.scalar(select(func.count(ReplyJob.id)).where(
        ReplyJob.account_id == account_id, ReplyJob.kind == "reply", ReplyJob.created_at >= since))
    limit = options.get("max_per_hour")
    return count >= limit, limit


def process(mail_id: int) -> str | None:
    """Run intake on one stored mail (committed); returns its new state."""
    row = db.session.get(ReplyMail, mail_id)
    if row is None or row.state != "received":
        return row.state if row else None
    parsed = parse.parse_bytes(row.raw, options.quote_markers())
    row.sender, row.subject = (parsed.sender or "")[:254] or None, compose.clean_header(parsed.subject)
    row.message_id, row.text = parsed.message_id[:255] or None, parsed.text
    row.processed_at = clock.now()
    reason = loop_reason(parsed, row.mail_from)
    if reason:
        row.state, row.problem = "dropped", f"自動応答またはループのため破棄しました（{reason}）。"
        log.info("reply mail %s dropped: %s", row.id, reason)
        db.session.commit()
        return row.state
    if _duplicate(row):
        # The helpdesk re-sent a mail we had stored (e.g. the connection dropped before our 250).
        row.state, row.problem = "dropped", "同じメール（Message-ID）を受信済みのため、二重に送らないよう破棄しました。"
        db.session.commit()
        return row.state
    try:
        job = _accept(row, parsed)
    except Rejected as exc:
        bounce.bounce(row, exc.problems)
    else:
        row.state, row.problem = "accepted", None
        log.info("reply mail %s → job %s (%s %s)", row.id, job.id, job.kind, job.inquiry_id)
    db.session.commit()
    return row.state


def _duplicate(row):
    if not row.message_id:
        return False
    return db.session.scalar(select(ReplyMail.id).where(
        ReplyMail.message_id == row.message_id, ReplyMail.rcpt == row.rcpt, ReplyMail.id != row.id,
        ReplyMail.state.in_(("accepted", "bounced"))).limit(1)) is not None


def _accept(row: ReplyMail, parsed: Parsed) -> ReplyJob:
    account = account_for_recipient(row.rcpt)
    if account is None:
        raise Rejected("返信先のモールアカウントが無効になっているか、返信用アドレスが正しくありません。")
    row.account_id = account.id
    inquiry = find_inquiry(account, identity.read_reply_address(row.rcpt).customer_key, parsed.references)
    row.inquiry_id = inquiry.inquiry_id
    if not parsed.text.strip() and not parsed.files:
        if parsed.complete:
            return queue.enqueue_complete(account.id, inquiry.inquiry_id, actor=row.sender, mail_id=row.id)
        raise Rejected("返信本文が空です。引用部分の上に返信を書いてください。")
    limited, limit = _rate_limited(account.id)
    if limited:
        raise Rejected(f"このモールアカウントへの返信が1時間に{limit}件を超えたため、送信を止めました。"
                       "誤送信やメールのループでないか確認し、しばらくしてからもう一度返信してください。")
    result = account.adapter.check_reply(parsed.text, parsed.files)
    if result.problems:
        raise Rejected(*result.problems)
    return queue.enqueue_reply(account.id, inquiry.inquiry_id, result.text, result.files,
                                     complete_after=parsed.complete, mail_id=row.id, actor=row.sender)


def process_pending(older_than_seconds: int = 300, limit: int = 100) -> int:
    """Intake for mails left `received` (smtp-in crashed after storing); returns how many."""
    cutoff = clock.now() - dt.timedelta(seconds=older_than_seconds)
    ids = list(db.session.scalars(select(ReplyMail.id).where(ReplyMail.state == "received",
                                                             ReplyMail.processed_at.is_(None),
                                                             ReplyMail.received_at <= cutoff)
                                  .order_by(ReplyMail.id).limit(limit)))
    for mail_id in ids:
        try:
            process(mail_id)
        except Exception:  # one broken mail must not block the rest
            log.exception("reply mail %s: intake failed", mail_id)
            db.session.rollback()
            note_failure(mail_id)
    return len(ids)


def note_failure(mail_id: int) -> None:
    """Mark a mail whose intake crashed, so the admin sees it and the sweep does not loop on it."""
    row = db.session.get(ReplyMail, mail_id)
    if row is not None and row.state == "received":
        row.processed_at = clock.now()
        row.problem = "取り込み中に内部エラーが発生しました。管理画面から再処理してください。"
        db.session.commit()

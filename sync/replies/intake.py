"""Reply intake: a stored ReplyMail → a queued mall write, a bounce to the agent, or a silent drop.

Three steps, so no database write lock is ever held while a mail is parsed or checked:
1. claim: one committed UPDATE counts the attempt and leases the row (a crash counts too);
2. decide: parse and check outside any transaction (reads only): loops and the sender first (an
   auto-reply or a stranger is never answered, not even with a bounce), then the limits, the
   signed recipient and its expiry, the inquiry, the rate limit, the mall's rules, duplicates;
3. record: one short transaction writes the outcome, only if the claim is still ours.
A mail whose intake failed MAX_ATTEMPTS times (crashes included) is quarantined: the admin sees
it on 管理 › モールへの返信 and may requeue or discard it; the sweep never picks it up again.
"""
import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select, update

from plugin import clock, compose
from plugin.extensions import db
from sync import identity
from sync.models import InboundMessage, MallAccount, MallInquiry
from sync.replies import bounce, guard, options, parse, queue
from sync.replies.claims import MAX_ATTEMPTS, Claim, claim, note_failure, quarantine_exhausted
from sync.replies.guard import account_for_recipient
from sync.replies.models import ReplyJob, ReplyMail

log = logging.getLogger(f"mallbridge.{__name__}")
SWEEP_GRACE_SECONDS = 30  # smtp-in takes a fresh mail in itself; the sweep is for what it left
DUPLICATE_MINUTES = 10
MAX_REPLY_CHARS = 20_000  # ten times any mall's limit: longer is a mistake, not a reply
MAX_PROBLEMS = 10


class Rejected(Exception):
    """A rule was broken: the sender gets `problems` (Japanese) in a bounce."""

    def __init__(self, *problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass
class Outcome:
    """What intake decided; written by record()."""

    state: str
    problems: list = field(default_factory=list)
    parsed: parse.Parsed | None = None
    account_id: int | None = None
    inquiry_id: str | None = None
    job: dict | None = None  # keyword arguments of the job to queue


def process(mail_id: int) -> str | None:
    """Run intake on one stored mail; returns its state afterwards (committed)."""
    held = claim(mail_id)
    if held is None:
        quarantine_exhausted()
        return db.session.scalar(select(ReplyMail.state).where(ReplyMail.id == mail_id))
    try:
        return record(held, decide(held))
    except Exception as exc:
        db.session.rollback()
        note_failure(held, exc)
        raise


def decide(held: Claim) -> Outcome:
    """Parse and check the mail; reads only, and the parsing runs outside any transaction."""
    markers = options.quote_markers()
    db.session.rollback()  # end the read transaction before the CPU work
    parsed = parse.parse_bytes(held.raw, markers)
    reason = guard.loop_reason(parsed, held.mail_from)
    if reason:
        log.info("reply mail %s dropped: %s", held.id, reason)
        return Outcome("dropped", [f"自動応答またはループのため破棄しました（{reason}）。"], parsed)
    if not guard.sender_allowed(held.mail_from, parsed.sender):
        return Outcome("dropped", ["差出人がヘルプデスクの「返信の差出人」に含まれていないため、送信せず破棄しました。"], parsed)
    if _duplicate_message_id(held.id, parsed.message_id, held.rcpt):
        # The helpdesk re-sent a mail we had stored (e.g. the connection dropped before our 250).
        return Outcome("dropped", ["同じメール（Message-ID）を受信済みのため、二重に送らないよう破棄しました。"], parsed)
    outcome = Outcome("accepted", parsed=parsed)
    try:
        outcome.job = _accept(held, parsed, outcome)
    except Rejected as exc:
        outcome.state, outcome.problems = "bounced", exc.problems
    if outcome.job and outcome.job.get("duplicate_of"):
        outcome.state = "dropped"
        outcome.problems = [(f"同じ本文の返信を{DUPLICATE_MINUTES}分以内に受け付け済み（返信 #{outcome.job['duplicate_of']}）"
                             "のため、二重に送らないよう破棄しました。")]
        outcome.job = None
    db.session.rollback()
    return outcome


def _accept(held: Claim, parsed: parse.Parsed, outcome: Outcome) -> dict:
    if parsed.problems:
        raise Rejected(*parsed.problems)
    account = account_for_recipient(held.rcpt)
    if account is None:
        raise Rejected("返信先のモールアカウントが無効になっているか、返信用アドレスが正しくありません。")
    outcome.account_id = account.id
    if guard.address_expired(held.rcpt):
        raise Rejected(guard.expired_problem())
    inquiry = find_inquiry(account, identity.read_reply_address(held.rcpt).customer_key, parsed.references)
    outcome.inquiry_id = inquiry.inquiry_id
    if not parsed.text.strip() and not parsed.files:
        if parsed.complete:
            return {"kind": "complete"}
        raise Rejected("返信本文が空です。引用部分の上に返信を書いてください。")
    if len(parsed.text) > MAX_REPLY_CHARS:
        raise Rejected(f"返信本文が長すぎます（{len(parsed.text):,}文字）。モールに送れる返信は2000文字程度までです。")
    limited, limit = _rate_limited(account.id)
    if limited:
        raise Rejected(f"このモールアカウントへの返信が1時間に{limit}件を超えたため、送信を止めました。"
                       "誤送信やメールのループでないか確認し、しばらくしてからもう一度返信してください。")
    adapter = account.adapter
    db.session.rollback()  # the mall's rules are CPU work: no transaction stays open during them
    result = adapter.check_reply(parsed.text, parsed.files)
    if result.problems:
        extra = len(result.problems) - MAX_PROBLEMS
        raise Rejected(*result.problems[:MAX_PROBLEMS], *([f"ほか{extra}件の問題があります。"] if extra > 0 else []))
    return {"kind": "reply", "text": result.text, "files": result.files,
            "duplicate_of": _same_text(outcome.account_id, outcome.inquiry_id, result.text, result.files)}


def record(held: Claim, outcome: Outcome) -> str:
    """Write the outcome in one short transaction, if the claim is still ours; returns the state."""
    now = clock.now()
    owned = db.session.execute(
        update(ReplyMail).where(ReplyMail.id == held.id, ReplyMail.state == "received",
                                ReplyMail.attempts == held.attempts)
        .values(state=outcome.state, lease_until=None, processed_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if not owned:  # an admin discarded it, or a slower claim of ours expired and another took it
        db.session.rollback()
        return db.session.scalar(select(ReplyMail.state).where(ReplyMail.id == held.id))
    db.session.expire_all()
    row = db.session.get(ReplyMail, held.id)
    parsed = outcome.parsed
    row.sender, row.subject = (parsed.sender or "")[:254] or None, compose.clean_header(parsed.subject)
    row.message_id, row.text = parsed.message_id[:255] or None, parsed.text
    row.account_id, row.inquiry_id = outcome.account_id, outcome.inquiry_id
    row.problem = "\n".join(outcome.problems) or None
    if outcome.state == "bounced":
        bounce.bounce(row, outcome.problems, chain=parsed.chain)
    elif outcome.job:
        job = _enqueue(row, outcome, parsed)
        log.info("reply mail %s → job %s (%s %s)", row.id, job.id, job.kind, job.inquiry_id)
    db.session.commit()
    return outcome.state


def _enqueue(row, outcome, parsed):
    spec = outcome.job
    if spec["kind"] == "complete":
        return queue.enqueue_complete(outcome.account_id, outcome.inquiry_id, actor=row.sender, mail_id=row.id)
    return queue.enqueue_reply(outcome.account_id, outcome.inquiry_id, spec["text"], spec["files"],
                               complete_after=parsed.complete, mail_id=row.id, actor=row.sender)


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


def _duplicate_message_id(mail_id, message_id, rcpt):
    if not message_id:
        return False
    return db.session.scalar(select(ReplyMail.id).where(
        ReplyMail.message_id == message_id[:255], ReplyMail.rcpt == rcpt, ReplyMail.id != mail_id,
        ReplyMail.state.in_(("accepted", "bounced"))).limit(1)) is not None


def _same_text(account_id, inquiry_id, text, files):
    """The mail id of a reply with the same text and files queued for this inquiry within
    DUPLICATE_MINUTES (a helpdesk that re-sends under a new Message-ID), else None."""
    since = clock.now() - dt.timedelta(minutes=DUPLICATE_MINUTES)
    packed = queue.pack_files(files)
    for job in db.session.scalars(select(ReplyJob).where(
            ReplyJob.account_id == account_id, ReplyJob.inquiry_id == str(inquiry_id), ReplyJob.kind == "reply",
            ReplyJob.created_at >= since, ReplyJob.state != "discarded", ReplyJob.text == text)):
        if job.files == packed:
            return job.reply_mail_id or job.id
    return None


def process_pending(limit: int = 20, should_stop=lambda: False) -> int:
    """Intake for mails smtp-in stored but did not finish (crash, error); returns how many were tried.
    One broken mail never blocks the others: each is its own claim, and a failure is counted."""
    quarantine_exhausted()
    now = clock.now()
    ids = list(db.session.scalars(select(ReplyMail.id).where(
        ReplyMail.state == "received", ReplyMail.attempts < MAX_ATTEMPTS,
        ReplyMail.received_at <= now - dt.timedelta(seconds=SWEEP_GRACE_SECONDS),
        or_(ReplyMail.lease_until.is_(None), ReplyMail.lease_until < now)).order_by(ReplyMail.id).limit(limit)))
    db.session.rollback()
    tried = 0
    for mail_id in ids:
        if should_stop():
            break
        tried += 1
        try:
            process(mail_id)
        except Exception:  # counted on the row by process(); the next mail goes on
            log.exception("reply mail %s: intake failed", mail_id)
            db.session.rollback()
    return tried

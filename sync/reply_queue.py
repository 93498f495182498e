"""The queue of mall writes (reply, complete, read), run by `sync run` like the outbox worker.

queued → posting (leased) → posted; a temporary mall error → failed, retried on the outbox's
schedule; a permanent one or an exhausted schedule → dead (admin may requeue). Jobs of one
inquiry run in order: a job waits while an older one of the same inquiry is unfinished, so
`#完了` never completes before its reply is posted.
"""
import base64
import datetime as dt
import json
import logging

from sqlalchemy import delete, select, update

from plugin import clock
from plugin.extensions import db
from plugin.outbox import options as outbox_options
from plugin.outbox.retry import next_attempt
from sync.errors import MallAuthError, MallError
from sync.models import MallAccount
from sync.reply_models import DUE_STATES, OPEN_STATES, ReplyJob
from sync.reply_parse import File

log = logging.getLogger(f"mallbridge.{__name__}")
LEASE_SECONDS = 600
MAX_ERROR = 2000


def pack_files(files):
    """Attachments → bytes for ReplyJob.files (None when there are none)."""
    if not files:
        return None
    items = [{"name": f.name, "type": f.content_type, "data": base64.b64encode(f.data).decode("ascii")} for f in files]
    return json.dumps(items).encode("utf-8")


def unpack_files(blob):
    """ReplyJob.files → a list of reply_parse.File."""
    if not blob:
        return []
    return [File(i["name"], i["type"], base64.b64decode(i["data"])) for i in json.loads(blob.decode("utf-8"))]


def _add(**values):
    now = clock.now()
    job = ReplyJob(state="queued", attempts=0, next_attempt_at=now, created_at=now, updated_at=now, **values)
    db.session.add(job)
    db.session.flush()
    return job


def enqueue_reply(account_id, inquiry_id, text, files=(), *, complete_after=False, mail_id=None, actor=None):
    """Queue a reply (text already checked by sync.reply_rules); flushed, not committed."""
    return _add(kind="reply", account_id=account_id, inquiry_id=str(inquiry_id), text=text,
                files=pack_files(files), complete_after=bool(complete_after), reply_mail_id=mail_id, actor=actor)


def enqueue_complete(account_id, inquiry_id, *, reason=None, actor=None, mail_id=None):
    """Queue a completion (Yahoo! reason 1–5, None = the mall's default); flushed, not committed."""
    return _add(kind="complete", account_id=account_id, inquiry_id=str(inquiry_id), reason=reason, actor=actor,
                reply_mail_id=mail_id)


def enqueue_read(account_id, inquiry_id, dedupe_key):
    """Queue a read mark once per dedupe_key; returns the job (existing or new), not committed."""
    existing = db.session.scalar(select(ReplyJob).where(ReplyJob.dedupe_key == dedupe_key))
    return existing or _add(kind="read", account_id=account_id, inquiry_id=str(inquiry_id), dedupe_key=dedupe_key)


def open_job(account_id, inquiry_id, kind):
    """The unfinished or posted job of this kind for the inquiry, newest first, if any."""
    return db.session.scalar(select(ReplyJob).where(
        ReplyJob.account_id == account_id, ReplyJob.inquiry_id == str(inquiry_id), ReplyJob.kind == kind,
        ReplyJob.state.in_(OPEN_STATES + ("posted",))).order_by(ReplyJob.id.desc()).limit(1))


def latest_job(account_id, inquiry_id, kind):
    """The newest job of this kind for the inquiry in any state but discarded (for status pages)."""
    return db.session.scalar(select(ReplyJob).where(
        ReplyJob.account_id == account_id, ReplyJob.inquiry_id == str(inquiry_id), ReplyJob.kind == kind,
        ReplyJob.state != "discarded").order_by(ReplyJob.id.desc()).limit(1))


def requeue(job_id):
    """dead / failed / discarded → queued with a fresh retry budget; True if it changed."""
    return _transition(job_id, ("dead", "failed", "discarded"), state="queued", attempts=0, lease_until=None,
                       next_attempt_at=clock.now())


def discard(job_id):
    """Give up on a job that has not been posted; True if it changed."""
    return _transition(job_id, ("queued", "failed", "dead"), state="discarded", next_attempt_at=None,
                       lease_until=None)


def _transition(job_id, from_states, **values):
    stmt = (update(ReplyJob).where(ReplyJob.id == job_id, ReplyJob.state.in_(from_states))
            .values(updated_at=clock.now(), **values).execution_options(synchronize_session=False))
    changed = db.session.execute(stmt).rowcount == 1
    db.session.expire_all()
    return changed


def recover_stale():
    """Jobs left in posting past their lease (a crashed runner) become failed; the next attempt
    first checks on the mall whether the reply went through, so it is not posted twice."""
    now = clock.now()
    result = db.session.execute(update(ReplyJob).where(ReplyJob.state == "posting", ReplyJob.lease_until < now)
                                .values(state="failed", lease_until=None, next_attempt_at=now, updated_at=now,
                                        attempts=ReplyJob.attempts + 1,
                                        last_error="送信処理が中断されました。モール側を確認して再試行します。")
                                .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount


def due_jobs(now=None, limit=20):
    """Due jobs in id order, skipping those behind an unfinished older job of the same inquiry."""
    now = now or clock.now()
    rows = list(db.session.scalars(select(ReplyJob).where(
        ReplyJob.state.in_(DUE_STATES), ReplyJob.next_attempt_at <= now).order_by(ReplyJob.id).limit(limit * 5)))
    picked = []
    for job in rows:
        older = db.session.scalar(select(ReplyJob.id).where(
            ReplyJob.account_id == job.account_id, ReplyJob.inquiry_id == job.inquiry_id, ReplyJob.id < job.id,
            ReplyJob.state.in_(OPEN_STATES)).limit(1))
        if older is None:
            picked.append(job.id)
        if len(picked) >= limit:
            break
    return picked


def claim(job_id):
    """queued/failed → posting with a lease; True when this runner got it (committed)."""
    now = clock.now()
    stmt = (update(ReplyJob).where(ReplyJob.id == job_id, ReplyJob.state.in_(DUE_STATES))
            .values(state="posting", lease_until=now + dt.timedelta(seconds=LEASE_SECONDS), updated_at=now)
            .execution_options(synchronize_session=False))
    got = db.session.execute(stmt).rowcount == 1
    db.session.commit()
    return got


def finish(job, message_id=None, note=None):
    """Mark a job posted (and queue the completion an agent asked for with `#完了`)."""
    now = clock.now()
    job.state, job.posted_at, job.lease_until, job.next_attempt_at = "posted", now, None, None
    job.posted_message_id, job.last_error = message_id, note
    if job.kind == "reply" and job.complete_after and open_job(job.account_id, job.inquiry_id, "complete") is None:
        enqueue_complete(job.account_id, job.inquiry_id, actor=job.actor, mail_id=job.reply_mail_id)


def fail(job, exc):
    """Record a failed attempt: failed with a retry time, or dead. Returns True when dead."""
    job.attempts += 1
    job.lease_until = None
    job.last_error = (getattr(exc, "explanation_ja", None) or str(exc))[:MAX_ERROR]
    temporary = isinstance(exc, MallAuthError) or (isinstance(exc, MallError) and exc.retryable)
    when = next_attempt(clock.now(), job.attempts, outbox_options.schedule()) if temporary else None
    if when is None:
        job.state, job.next_attempt_at = "dead", None
        return True
    job.state, job.next_attempt_at = "failed", when
    return False


def run_pass(limit=20):
    """One pass: recover leases, sweep read marks and stray mails, then run due jobs. Returns a
    dict of counts for the CLI."""
    from sync import reply_post, replies

    counts = {"recovered": recover_stale(), "intake": replies.process_pending(), "reads": reply_post.sweep_reads()}
    posted = failed = 0
    clients = {}
    try:
        for job_id in due_jobs(limit=limit):
            if not claim(job_id):
                continue
            ok = reply_post.run_job(job_id, clients)
            posted += ok
            failed += not ok
    finally:
        for client in clients.values():
            client.close()
    counts.update(posted=posted, failed=failed)
    return counts


def purge_own_reply(account_id, inquiry_id, text):
    """Forget the OwnReply of a reply that was never posted, so it cannot hide a later shop reply."""
    from sync.models import OwnReply
    from sync.own_replies import text_hash

    row = db.session.scalar(select(OwnReply.id).where(
        OwnReply.account_id == account_id, OwnReply.inquiry_id == str(inquiry_id),
        OwnReply.body_hash == text_hash(text), OwnReply.matched_message_id.is_(None)).limit(1))
    if row is not None:
        db.session.execute(delete(OwnReply).where(OwnReply.id == row))


def account_of(job):
    """The job's account (None when it was deleted)."""
    return db.session.get(MallAccount, job.account_id)

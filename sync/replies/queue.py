"""The queue of mall writes (reply, complete, read), run by `sync run` (sync.replies.post).

The state machine is the queue core the outbox shares (plugin.queue): queued → posting (leased)
→ posted; a temporary mall error → failed, retried on the `replies.backoff_minutes` schedule; a
permanent one or an exhausted schedule → dead (admin may requeue). Jobs of one inquiry run in
order: a job waits while an older one of the same inquiry is unfinished, so `#完了` never
completes before its reply is posted.
"""
import base64
import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from plugin.queue import LEASE_SECONDS, Queue
from sync.malls.errors import MallAuthError
from sync.replies import options
from sync.replies.models import OPEN_STATES, ReplyJob
from sync.replies.parse import File

MAX_ERROR = 2000
QUEUE = Queue(ReplyJob, working="posting", done="posted", done_at="posted_at")


def pack_files(files: Sequence[File]) -> bytes | None:
    """Attachments → bytes for ReplyJob.files (None when there are none)."""
    if not files:
        return None
    items = [{"name": f.name, "type": f.content_type, "data": base64.b64encode(f.data).decode("ascii")} for f in files]
    return json.dumps(items).encode("utf-8")


def unpack_files(blob: bytes | None) -> list[File]:
    """ReplyJob.files → a list of sync.replies.parse.File."""
    if not blob:
        return []
    return [File(i["name"], i["type"], base64.b64decode(i["data"])) for i in json.loads(blob.decode("utf-8"))]


def _add(**values) -> ReplyJob:
    now = clock.now()
    job = ReplyJob(state="queued", attempts=0, next_attempt_at=now, created_at=now, updated_at=now, **values)
    db.session.add(job)
    db.session.flush()
    return job


def enqueue_reply(account_id: int, inquiry_id: str, text: str, files: Sequence[File] = (), *,
                  complete_after: bool = False, mail_id: int | None = None, actor: str | None = None) -> ReplyJob:
    """Queue a reply (text already checked by the mall's rules); flushed, not committed."""
    return _add(kind="reply", account_id=account_id, inquiry_id=str(inquiry_id), text=text,
                files=pack_files(files), complete_after=bool(complete_after), reply_mail_id=mail_id, actor=actor)


def enqueue_complete(account_id: int, inquiry_id: str, *, reason: int | None = None, actor: str | None = None,
                     mail_id: int | None = None) -> ReplyJob:
    """Queue a completion (Yahoo! reason 1–5, None = the mall's default); flushed, not committed."""
    return _add(kind="complete", account_id=account_id, inquiry_id=str(inquiry_id), reason=reason, actor=actor,
                reply_mail_id=mail_id)


def enqueue_read(account_id: int, inquiry_id: str, dedupe_key: str) -> ReplyJob:
    """Queue a read mark once per dedupe_key; returns the job (existing or new), not committed."""
    existing = db.session.scalar(select(ReplyJob).where(ReplyJob.dedupe_key == dedupe_key))
    return existing or _add(kind="read", account_id=account_id, inquiry_id=str(inquiry_id), dedupe_key=dedupe_key)


def open_job(account_id: int, inquiry_id: str, kind: str) -> ReplyJob | None:
    """The unfinished or posted job of this kind for the inquiry, newest first, if any."""
    return db.session.scalar(select(ReplyJob).where(
        ReplyJob.account_id == account_id, ReplyJob.inquiry_id == str(inquiry_id), ReplyJob.kind == kind,
        ReplyJob.state.in_((*OPEN_STATES, "posted"))).order_by(ReplyJob.id.desc()).limit(1))


def latest_job(account_id: int, inquiry_id: str, kind: str) -> ReplyJob | None:
    """The newest job of this kind for the inquiry in any state but discarded (for status pages)."""
    return db.session.scalar(select(ReplyJob).where(
        ReplyJob.account_id == account_id, ReplyJob.inquiry_id == str(inquiry_id), ReplyJob.kind == kind,
        ReplyJob.state != "discarded").order_by(ReplyJob.id.desc()).limit(1))


def requeue(job_id: int) -> bool:
    """dead / failed / discarded → queued with a fresh retry budget; True if it changed."""
    return QUEUE.requeue(job_id)


def discard(job_id: int) -> bool:
    """Give up on a job that has not been posted; True if it changed."""
    return QUEUE.discard(job_id)


def recover_stale() -> int:
    """Jobs left in posting past their lease (a crashed runner: a live one renews it, see
    plugin.queue.LEASE_SECONDS) become failed (committed); the next attempt first checks on the
    mall whether the reply went through, so it is not posted twice."""
    ids = QUEUE.recover(state="failed", next_attempt_at=clock.now(), attempts=ReplyJob.attempts + 1,
                        last_error="送信処理が中断されました。モール側を確認して再試行します。")
    db.session.commit()
    return len(ids)


def due_jobs(now: dt.datetime | None = None, limit: int = 20) -> list[int]:
    """Due jobs in id order, skipping those behind an unfinished older job of the same inquiry."""
    now = now or clock.now()
    rows = list(db.session.scalars(select(ReplyJob).where(QUEUE.due(now)).order_by(ReplyJob.id).limit(limit * 5)))
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


def claim(job_id: int) -> bool:
    """queued/failed → posting with a lease; True when this runner got it (committed)."""
    got = bool(QUEUE.claim([job_id], LEASE_SECONDS))
    db.session.commit()
    return got


def finish(job: ReplyJob, message_id: str | None = None, note: str | None = None) -> None:
    """Mark a job posted (and queue the completion an agent asked for with `#完了`)."""
    QUEUE.finish(job, clock.now(), note)
    job.posted_message_id = message_id
    if job.kind == "reply" and job.complete_after and open_job(job.account_id, job.inquiry_id, "complete") is None:
        enqueue_complete(job.account_id, job.inquiry_id, actor=job.actor, mail_id=job.reply_mail_id)


def fail(job: ReplyJob, exc: Exception) -> bool:
    """Record a failed attempt: failed with a retry time, or dead. Returns True when dead.

    Expired credentials count as temporary here: once an admin renews them, the write goes out."""
    error = (getattr(exc, "explanation_ja", None) or str(exc))[:MAX_ERROR]
    failure = "temporary" if isinstance(exc, MallAuthError) else exc
    return QUEUE.fail(job, clock.now(), error, options.schedule(), failure) == "dead"


def dead_letter(job: ReplyJob, exc: BaseException) -> None:
    """A bug while running the job: park it as dead with the error."""
    QUEUE.dead_letter(job, clock.now(), exc)

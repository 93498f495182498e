"""The reply side of `sync run`: post queued replies, completions and read marks to the malls.

`run_pass()` is one pass: recover leases of a crashed runner, take in mails smtp-in stored but
could not process, queue read marks, then run the due jobs, each in its own transaction. A job
that fails temporarily is retried on its schedule; a bug in one job dead-letters that job only.

Before a reply goes out, an OwnReply row is committed (sync.own_replies), so a poll that sees
the new shop message does not mail it back into the inbox as a shop reply. A mall that returns
no id for a posted reply (Rakuten) is asked for a fresh detail to learn it. A retry first looks
on the mall for the reply, so a crash between posting and recording never posts it twice.
"""
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import String, and_, cast, exists, literal, select

from plugin import clock
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import accounts, own_replies
from sync.malls.base import Client
from sync.malls.errors import MallError, PermanentMallError
from sync.models import InboundMessage, MallAccount
from sync.own_replies import text_hash
from sync.replies import bounce, intake, options, queue
from sync.replies.models import ReplyJob, ReplyMail

log = logging.getLogger(f"mallbridge.{__name__}")
READ_SWEEP = 100


def run_pass(limit: int = 20, should_stop: Callable[[], bool] = lambda: False,
             hold: Callable[[Sequence[int]], None] = lambda job_ids: None) -> dict[str, int]:
    """One pass: recover leases, sweep read marks and stray mails, then run due jobs. Returns a
    dict of counts for the CLI. `should_stop` is asked between items, so a stopping worker
    finishes the item in hand and leaves the rest for the next process; `hold` is told the job in
    hand (the caller's heartbeat renews its lease)."""
    counts = {"recovered": queue.recover_stale(), "intake": intake.process_pending(should_stop=should_stop),
              "reads": sweep_reads()}
    posted = failed = 0
    clients: dict[int, Client] = {}
    try:
        for job_id in queue.due_jobs(limit=limit):
            if should_stop():
                break
            if not queue.claim(job_id):
                continue
            hold((job_id,))
            try:
                ok = run_job(job_id, clients)
            finally:
                hold(())
            posted += ok
            failed += not ok
    finally:
        for client in clients.values():
            client.close()
    counts.update(posted=posted, failed=failed)
    return counts


def run_job(job_id: int, clients: dict[int, Client]) -> bool:
    """Run one claimed job (committed); True when it was posted."""
    job = db.session.get(ReplyJob, job_id)
    account = db.session.get(MallAccount, job.account_id)
    try:
        if account is None or not account.enabled:
            raise PermanentMallError("account disabled", reason="モールアカウントが無効になっています。"
                                     "アカウントを有効にしてから再送してください。")
        client = clients.get(account.id)
        if client is None:
            client = clients[account.id] = accounts.client_for(account)
        if job.kind == "reply":
            _reply(job, account, client)
        elif job.kind == "complete":
            account.adapter.complete(client, job.inquiry_id, job.reason)
            queue.finish(job)
        else:
            account.adapter.mark_read(client, job.inquiry_id)
            queue.finish(job)
        accounts.keep_client_state(account, client)
        db.session.commit()
        return True
    except MallError as exc:
        db.session.rollback()
        job = db.session.get(ReplyJob, job_id)
        dead = queue.fail(job, exc)
        if dead and job.kind == "reply":
            own_replies.forget(job.account_id, job.inquiry_id, job.text)
            _tell_sender(job)
        log.warning("reply job %s (%s %s): %s%s", job.id, job.kind, job.inquiry_id, exc, " → dead" if dead else "")
    except Exception as exc:  # a bug in one job must not stop the runner
        log.exception("reply job %s: unexpected error, moving it to dead", job_id)
        db.session.rollback()
        queue.dead_letter(db.session.get(ReplyJob, job_id), exc)
    db.session.commit()
    return False


def _find_posted(messages, job: ReplyJob):
    """The newest shop message with the job's text (hash-compared as the poller does)."""
    digest = text_hash(job.text)
    for message in reversed(messages):
        if text_hash(message.text) == digest:
            return message
    return None


def _reply(job: ReplyJob, account: MallAccount, client: Client) -> None:
    adapter = account.adapter
    if job.attempts > 0:
        # The last attempt may have reached the mall before it failed (timeout, crash).
        found = _find_posted(adapter.shop_messages(client, job.inquiry_id).messages, job)
        if found is not None and found.posted_at is not None and clock.utc(found.posted_at) >= job.created_at:
            queue.finish(job, str(found.id), "前回の試行でモールに届いていました。")
            return
    if not own_replies.pending(job.account_id, job.inquiry_id, job.text):
        own_replies.record(job.account_id, job.inquiry_id, job.text)
        db.session.commit()  # visible to the poller before the mall shows the reply
    posted_id = adapter.post_reply(client, job.inquiry_id, job.text, queue.unpack_files(job.files))
    if not adapter.posts_return_id:
        found = _find_posted(adapter.shop_messages(client, job.inquiry_id).messages, job)
        posted_id = str(found.id) if found is not None and found.id is not None else None
    queue.finish(job, posted_id)


def _tell_sender(job: ReplyJob) -> None:
    """A reply the mall refused for good: bounce it to the agent like an intake rule."""
    mail = db.session.get(ReplyMail, job.reply_mail_id) if job.reply_mail_id else None
    if mail is None or mail.state != "accepted":
        return
    try:
        bounce.bounce(mail, [f"モールが返信を受け付けませんでした: {job.last_error}"])
    except Exception:  # the job's own state matters more than the notice
        log.exception("reply job %s: could not queue the bounce", job.id)


def sweep_reads() -> int:
    """With the mark-read setting on: queue a read mark for every delivered customer message."""
    if not options.get("mark_read"):
        return 0
    key = literal("read:") + cast(InboundMessage.id, String)
    rows = db.session.execute(
        select(InboundMessage.id, InboundMessage.account_id, InboundMessage.inquiry_id)
        .join(OutboxMessage, OutboxMessage.id == InboundMessage.outbox_id)
        .where(InboundMessage.sender_kind == "customer", OutboxMessage.state == "sent",
               ~exists().where(and_(ReplyJob.kind == "read", ReplyJob.dedupe_key == key)))
        .order_by(InboundMessage.id).limit(READ_SWEEP)).all()
    for message_id, account_id, inquiry_id in rows:
        queue.enqueue_read(account_id, inquiry_id, f"read:{message_id}")
    db.session.commit()
    return len(rows)

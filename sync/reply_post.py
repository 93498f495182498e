"""One mall write of the reply queue: post a reply (with its attachment), complete, mark read.

Before a reply goes out, an OwnReply row is committed (sync.own_replies.record), so a
poll that sees the new shop message does not mail it back into the inbox as a shop reply.
After posting, Rakuten's inquiry is re-fetched to learn the new reply's id (the reply API
returns none); Yahoo!'s post returns it. A retry first looks on the mall for the reply, so
a crash between posting and recording never posts it twice.
"""
import logging

from sqlalchemy import String, and_, cast, exists, literal, select

from plugin import clock
from plugin.extensions import db
from sync import accounts, reply_options, reply_queue
from sync.errors import Conflict, InvalidRequest, MallError, PermanentMallError
from sync.models import InboundMessage, OwnReply
from sync.own_replies import record as record_own_reply, text_hash
from sync.reply_models import ReplyJob

log = logging.getLogger(f"mallbridge.{__name__}")
READ_SWEEP = 100


def run_job(job_id, clients):
    """Run one claimed job (committed); True when it was posted."""
    job = db.session.get(ReplyJob, job_id)
    account = reply_queue.account_of(job)
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
            _complete(job, account, client)
        else:
            _read(job, account, client)
            reply_queue.finish(job)
        accounts.keep_client_state(account, client)
        db.session.commit()
        return True
    except MallError as exc:
        db.session.rollback()
        job = db.session.get(ReplyJob, job_id)
        dead = reply_queue.fail(job, exc)
        if dead and job.kind == "reply":
            reply_queue.purge_own_reply(job.account_id, job.inquiry_id, job.text)
            _tell_sender(job)
        log.warning("reply job %s (%s %s): %s%s", job.id, job.kind, job.inquiry_id, exc, " → dead" if dead else "")
    except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the runner
        log.exception("reply job %s: unexpected error, moving it to dead", job_id)
        db.session.rollback()
        job = db.session.get(ReplyJob, job_id)
        job.state, job.lease_until, job.next_attempt_at = "dead", None, None
        job.last_error = f"内部エラー: {type(exc).__name__}: {exc}"[:reply_queue.MAX_ERROR]
    db.session.commit()
    return False


def _own_reply_pending(job):
    return db.session.scalar(select(OwnReply.id).where(
        OwnReply.account_id == job.account_id, OwnReply.inquiry_id == job.inquiry_id,
        OwnReply.body_hash == text_hash(job.text), OwnReply.matched_message_id.is_(None)).limit(1)) is not None


def _shop_messages(account, client, inquiry_id):
    """The shop's messages of an inquiry as (id, text, is_private) from a fresh detail."""
    if account.mall == "rakuten":
        inquiry = client.detail(inquiry_id)
        return [m for m in inquiry.messages if m.sender == "merchant"], None
    topic = client.detail(inquiry_id)
    return [m for m in topic.messages if m.sender == "seller"], topic.is_private


def _find_posted(messages, job):
    """The newest shop message with the job's text (hash-compared as the poller does)."""
    digest = text_hash(job.text)
    for message in reversed(messages):
        if text_hash(message.text) == digest:
            return message
    return None


def _reply(job, account, client):
    files = reply_queue.unpack_files(job.files)
    if job.attempts > 0:
        # The last attempt may have reached the mall before it failed (timeout, crash).
        found = _find_posted(_shop_messages(account, client, job.inquiry_id)[0], job)
        if found is not None and found.posted_at is not None and clock.utc(found.posted_at) >= job.created_at:
            reply_queue.finish(job, str(found.id), "前回の試行でモールに届いていました。")
            return
    if not _own_reply_pending(job):
        record_own_reply(job.account_id, job.inquiry_id, job.text)
        db.session.commit()  # visible to the poller before the mall shows the reply
    if account.mall == "rakuten":
        attachment = client.upload(files[0].name, files[0].data, files[0].content_type) if files else None
        try:
            client.reply(job.inquiry_id, job.text, attachment)
        except Conflict:
            pass  # 409 "duplicate data, not registered": the same reply is already there
        found = _find_posted(_shop_messages(account, client, job.inquiry_id)[0], job)
        reply_queue.finish(job, str(found.id) if found is not None and found.id is not None else None)
        return
    uploaded = []
    if files:
        _messages, private = _shop_messages(account, client, job.inquiry_id)
        if private is False:
            raise InvalidRequest("topic not private", mall="yahoo", code="file", reason=(
                "Yahoo!ショッピングでは非公開の質問にしかファイルを添付できません。添付を外して返信し直すか、"
                "ストアクリエイターProで対応してください。"))
        uploaded = [client.upload(job.inquiry_id, f.name, f.data, f.content_type) for f in files]
    result = client.post(job.inquiry_id, job.text, uploaded)
    reply_queue.finish(job, str(result.message_id) if result.message_id is not None else None)


def _complete(job, account, client):
    if account.mall == "rakuten":
        result = client.complete([job.inquiry_id])
        errors = [e for e in result.errors if "already" not in str(e[1] if isinstance(e, tuple) else e)]
        if errors and job.inquiry_id not in result.ok:
            raise PermanentMallError("complete refused", mall="rakuten", reason=f"楽天が完了にできませんでした: {errors}")
    else:
        client.complete(job.inquiry_id, job.reason)
    reply_queue.finish(job)


def _read(job, account, client):
    if account.mall == "rakuten":
        client.mark_read([job.inquiry_id])  # "already set" is fine: per-item errors are ignored
    else:
        client.mark_read(job.inquiry_id)


def _tell_sender(job):
    """A reply the mall refused for good: bounce it to the agent like an intake rule."""
    from sync import reply_bounce
    from sync.reply_models import ReplyMail

    mail = db.session.get(ReplyMail, job.reply_mail_id) if job.reply_mail_id else None
    if mail is None or mail.state != "accepted":
        return
    try:
        reply_bounce.bounce(mail, [f"モールが返信を受け付けませんでした: {job.last_error}"])
    except Exception:  # noqa: BLE001 - the job's own state matters more than the notice
        log.exception("reply job %s: could not queue the bounce", job.id)


def sweep_reads():
    """With the mark-read setting on: queue a read mark for every delivered customer message."""
    if not reply_options.get("mark_read"):
        return 0
    from plugin.outbox import OutboxMessage

    key = literal("read:") + cast(InboundMessage.id, String)
    rows = db.session.execute(
        select(InboundMessage.id, InboundMessage.account_id, InboundMessage.inquiry_id)
        .join(OutboxMessage, OutboxMessage.id == InboundMessage.outbox_id)
        .where(InboundMessage.sender_kind == "customer", OutboxMessage.state == "sent",
               ~exists().where(and_(ReplyJob.kind == "read", ReplyJob.dedupe_key == key)))
        .order_by(InboundMessage.id).limit(READ_SWEEP)).all()
    for message_id, account_id, inquiry_id in rows:
        reply_queue.enqueue_read(account_id, inquiry_id, f"read:{message_id}")
    db.session.commit()
    return len(rows)


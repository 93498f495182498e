"""Outbox state changes: enqueue, claim, lease recovery, admin actions, retention purge.

The state machine itself is the shared queue core (plugin.queue, bound to the outbox as
`models.QUEUE`); this module adds what only the outbox has: rendering a message into a row,
releasing a staged backfill, per-recipient progress kept on requeue, lease recoveries counted
towards dead, attempt history rows and the retention purge. Nothing here commits except
claim/save/recover/purge, which the worker runs in their own transactions.
"""
import datetime as dt
import functools
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr

from flask import current_app
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from plugin import clock
from plugin.extensions import db
from plugin.outbox.models import QUEUE, Claimed, OutboxAttempt, OutboxMessage

MAX_RECOVERIES = 3


class OutboxError(ValueError):
    """A message cannot be enqueued, or an action does not fit the row's state."""


def _addresses(values):
    found = []
    for _name, addr in getaddresses([str(v) for v in values if v is not None]):
        addr = addr.strip()
        if addr and addr not in found:
            found.append(addr)
    return found


def _check_address(addr):
    if "@" not in addr or any(c in addr for c in "\r\n\0 <>,"):
        raise OutboxError(f"invalid envelope address: {addr!r}")
    return addr


def _decoded_subject(msg):
    value = msg.get("Subject")
    if value is None:
        return None
    if hasattr(value, "name"):  # a header object (policy.default, plugin.compose) is decoded already: once
        return str(value)
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError):
        return str(value)


def system_sender(name: str | None = None) -> str | tuple[str, str]:
    """mallbridge's own address on the reply domain (reminders, bounces, test mails), with a display name."""
    address = f"mallbridge@{current_app.config['REPLY_DOMAIN']}"
    return (address, name) if name else address


def enqueue(msg: Message, *, recipients: list[str] | None = None, staged: bool = False, kind: str = "mail",
            shop_id: int | None = None, dedupe_key: str | None = None, sender: str | None = None) -> OutboxMessage:
    """Store `msg` for delivery and return its OutboxMessage (flushed, not committed).

    Recipients default to To+Cc+Bcc; Bcc is removed from the stored MIME but kept in the
    envelope. A Message-ID (and Date) is added when missing. With a dedupe_key that is already
    stored, the existing row is returned instead, so callers can enqueue idempotently."""
    if dedupe_key is not None:
        existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    if recipients is None:
        recipients = _addresses(msg.get_all("To", []) + msg.get_all("Cc", []) + msg.get_all("Bcc", []))
    recipients = [_check_address(str(r).strip()) for r in recipients]
    recipients = list(dict.fromkeys(recipients))
    if not recipients:
        raise OutboxError("the message has no recipients")
    if sender is None:
        sender = parseaddr(str(msg.get("Sender") or msg.get("From") or ""))[1] or system_sender()
    _check_address(sender)
    extra = []
    message_id = str(msg.get("Message-ID") or "").strip()
    if not message_id:
        message_id = make_msgid(domain=current_app.config["REPLY_DOMAIN"])
        extra.append(f"Message-ID: {message_id}")
    elif len(message_id) > 255:
        raise OutboxError("Message-ID is longer than 255 characters")
    elif db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == message_id)):
        # A clear error instead of an IntegrityError at commit; use dedupe_key to be idempotent.
        raise OutboxError(f"a message with Message-ID {message_id} is already in the outbox")
    if not msg.get("Date"):
        extra.append(f"Date: {format_datetime(clock.to_jst(clock.now()))}")
    now = clock.now()
    row = OutboxMessage(
        state="staged" if staged else "queued", kind=kind, shop_id=shop_id, message_id=message_id,
        sender=sender, recipients=recipients, subject=_decoded_subject(msg), raw=_render(msg, extra),
        attempts=0, recoveries=0, next_attempt_at=now, created_at=now, updated_at=now, dedupe_key=dedupe_key)
    db.session.add(row)
    db.session.flush()
    return row


def _render(msg, extra_headers):
    """The message as SMTP bytes without its Bcc header and with `extra_headers` added.

    Edits the serialised header block instead of a deep copy of the message (7x faster), and
    leaves the caller's message object untouched."""
    data = msg.as_bytes(policy=policy.SMTP)
    head, sep, body = data.partition(b"\r\n\r\n")
    kept, skipping = [], False
    for line in head.split(b"\r\n"):
        if line[:1] not in (b" ", b"\t"):  # a new field; otherwise a folded continuation line
            skipping = line[:4].lower() == b"bcc:"
        if not skipping:
            kept.append(line)
    kept.extend(h.encode("ascii") for h in extra_headers)
    return b"\r\n".join(kept) + (sep or b"\r\n\r\n") + body


def release(ids: list[int] | None = None) -> int:
    """staged → queued for the given ids, or for every staged row; returns how many."""
    return QUEUE.transition(ids, ("staged",), state="queued", next_attempt_at=clock.now())


def requeue(id: int) -> bool:
    """dead / failed / discarded → queued with a fresh retry budget; True if it changed.

    Recipients refused permanently are tried again (the admin may have fixed the cause);
    recipients that already got the message are not."""
    row = db.session.get(OutboxMessage, id)
    if row is None:
        return False
    states = {r: s for r, s in (row.rcpt_state or {}).items() if s == "sent"}
    return QUEUE.requeue(id, recoveries=0, rcpt_state=states or None)


def discard(id: int) -> bool:
    """Give up on a message that has not been sent; True if it changed."""
    return QUEUE.discard(id)


def claim_rows(batch: int, lease_seconds: float) -> list[Claimed]:
    """Mark up to `batch` due rows as sending (leased) and return them as Claimed snapshots in id
    order, committed. One UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING."""
    due = QUEUE.due_ids(clock.now(), batch, OutboxMessage.next_attempt_at, OutboxMessage.id)
    rows = [Claimed(**row._mapping) for row in QUEUE.claim(due, lease_seconds, Claimed.COLUMNS)]
    db.session.commit()
    return sorted(rows, key=lambda r: r.id)


@functools.cache
def _result_statements():
    # Built once: constructing and cache-keying a fresh statement per message cost more than
    # the SQLite write itself in the benchmark.
    save = (update(OutboxMessage).where(OutboxMessage.id == bindparam("oid"))
            .values({name: bindparam(name) for name in Claimed.CHANGED}))
    return save, insert(OutboxAttempt)


def save_result(row: Claimed, autocommit: Connection | None = None) -> None:
    """Write a delivered Claimed row back (its changes and new attempts) and commit.

    With an AUTOCOMMIT connection, a result without attempt rows (a clean success) is one
    self-committing UPDATE: one round trip instead of BEGIN, UPDATE, COMMIT."""
    save, add_attempt = _result_statements()
    if autocommit is not None and not row.new_attempts:
        autocommit.execute(save, dict(row.changes(), oid=row.id))
        return
    conn = db.session.connection()
    conn.execute(save, dict(row.changes(), oid=row.id))
    if row.new_attempts:
        conn.execute(add_attempt, [dict(a, outbox_id=row.id) for a in row.new_attempts])
    db.session.commit()


def unclaim(ids: list[int]) -> None:
    """Give claimed rows back untouched (shutdown, outage) so another pass sends them."""
    if ids:
        QUEUE.transition(ids, ("sending",), state="queued", lease_until=None)
        db.session.commit()


def recover_stale() -> tuple[int, int]:
    """Rows left in sending past their lease (a crashed worker) go back to queued; after
    MAX_RECOVERIES they go to dead, since the message itself may be what kills the worker.
    Returns (requeued, dead), committed."""
    now = clock.now()
    dead_ids = QUEUE.recover(OutboxMessage.recoveries >= MAX_RECOVERIES, state="dead",
                             recoveries=OutboxMessage.recoveries + 1,
                             last_error="送信処理が繰り返し中断されたため停止しました")
    back_ids = QUEUE.recover(state="queued", next_attempt_at=now, recoveries=OutboxMessage.recoveries + 1)
    for oid in dead_ids:
        db.session.add(OutboxAttempt(outbox_id=oid, at=now, outcome="recovered", text="lease expired; gave up"))
    for oid in back_ids:
        db.session.add(OutboxAttempt(outbox_id=oid, at=now, outcome="recovered", text="lease expired; queued again"))
    db.session.commit()
    return len(back_ids), len(dead_ids)


def purge(retention_days: int, limit: int = 1000) -> int:
    """Delete sent and discarded rows older than retention_days (in batches); returns count."""
    cutoff = clock.now() - dt.timedelta(days=retention_days)
    total = 0
    while True:
        ids = db.session.scalars(select(OutboxMessage.id).where(
            OutboxMessage.state.in_(("sent", "discarded")), OutboxMessage.updated_at < cutoff).limit(limit)).all()
        if not ids:
            return total
        db.session.execute(delete(OutboxAttempt).where(OutboxAttempt.outbox_id.in_(ids)))
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids))
                           .execution_options(synchronize_session=False))
        db.session.commit()
        total += len(ids)

"""The queue core shared by mallbridge's two DB queues: the outbox (mail to send) and the reply
queue (writes to the malls).

Both are the same state machine on a table: queued → <working> (leased) → <done>, `failed`
(retry at next_attempt_at), `dead` (gave up; an admin may requeue) and `discarded`. Only the
names of the working and done states differ (sending/sent, posting/posted) and are kept as
stored. This module holds what they share: the row mixin of the common columns, the state
changes as single conditional UPDATEs (… WHERE state IN …, so an admin action cannot race a
worker: a row the worker has just claimed is simply not matched), claiming with a lease, lease
recovery, the admin actions, what a worker does with a row it holds, and the retry schedule
setting each queue declares.

Leases are short (LEASE_SECONDS) and renewed by the worker's heartbeat (plugin.worker.Heartbeat,
`renew()`) while the worker lives, so a row outlives its lease only when its worker died: the
next worker takes it over within seconds instead of waiting out a long lease.
"""
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Connection, DateTime, Integer, Select, String, Text, and_, func, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from plugin import clock, settings
from plugin.extensions import db
from plugin.retry import DEFAULT_SCHEDULE, Failure, next_attempt, parse_schedule

log = logging.getLogger(f"mallbridge.{__name__}")
DUE_STATES = ("queued", "failed")
REQUEUE_FROM = ("dead", "failed", "discarded")
MAX_ERROR = 2000
# How long a claimed row stays reserved without a heartbeat. The holder renews it every
# HEARTBEAT_SECONDS, so a live worker never loses a row however slow its SMTP server or mall is;
# only a killed worker's rows run out, and 30 s lets the next worker deliver them well within a
# minute of the crash. Three heartbeats per lease leave room for a slow database before a live
# worker's row could be taken (which would send it twice: at least once, never lost).
LEASE_SECONDS = 30
HEARTBEAT_SECONDS = LEASE_SECONDS / 3


class QueueRow:
    """Columns every queue row has: its state, the attempts used, when it is due, its lease."""

    STATE_LABELS: ClassVar[dict[str, str]] = {}

    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=clock.now, onupdate=clock.now, nullable=False)

    @property
    def state_label(self) -> str:
        """Japanese name of the state for the admin UI."""
        return self.STATE_LABELS.get(self.state, self.state)


@dataclass(frozen=True)
class Queue:
    """One table's queue: its row class and the names of its working and done states."""

    model: type
    working: str  # e.g. "sending": claimed by a worker, leased until lease_until
    done: str  # e.g. "sent"
    done_at: str  # the column stamped when a row is done, e.g. "sent_at"
    discard_from: tuple[str, ...] = ("queued", "failed", "dead")

    # --- state changes (conditional UPDATEs; not committed) ---------------------------------

    def transition(self, ids: Iterable[int] | None, from_states: Sequence[str], **values: Any) -> int:
        """Move the rows (all when ids is None) that are in one of `from_states`; returns how many."""
        model = self.model
        stmt = update(model).where(model.state.in_(from_states))
        if ids is not None:
            stmt = stmt.where(model.id.in_(list(ids)))
        values.setdefault("updated_at", clock.now())
        result = db.session.execute(stmt.values(**values).execution_options(synchronize_session=False))
        db.session.expire_all()
        return result.rowcount

    def requeue(self, row_id: int, **values: Any) -> bool:
        """dead / failed / discarded → queued with a fresh retry budget (Mailman's unshunt)."""
        return self.transition([row_id], REQUEUE_FROM, state="queued", attempts=0, lease_until=None,
                               next_attempt_at=clock.now(), **values) == 1

    def discard(self, row_id: int) -> bool:
        """Give up on a row that is not done and not being worked on; True if it changed."""
        return self.transition([row_id], self.discard_from, state="discarded", next_attempt_at=None,
                               lease_until=None) == 1

    # --- the worker's side ------------------------------------------------------------------

    def due(self, now: dt.datetime):
        """The SQL condition of a row a worker may claim now."""
        model = self.model
        return and_(model.state.in_(DUE_STATES), or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now))

    def due_ids(self, now: dt.datetime, limit: int, *order_by: Any) -> Select:
        """A locking select of due row ids; concurrent workers on PostgreSQL skip each other's rows."""
        return (select(self.model.id).where(self.due(now)).order_by(*(order_by or (self.model.id,))).limit(limit)
                .with_for_update(skip_locked=True))

    def claim(self, ids: Select | Sequence[int], lease_seconds: float = LEASE_SECONDS,
              columns: Sequence[str] = ("id",)) -> list:
        """Mark still-due rows (a list of ids or a select of them) as worked on with a lease, in one
        UPDATE … RETURNING (atomic on SQLite too); returns `columns` of the claimed rows. Not committed."""
        model, now = self.model, clock.now()
        id_filter = model.id.in_(ids.scalar_subquery() if isinstance(ids, Select) else list(ids))
        stmt = (update(model).where(id_filter, model.state.in_(DUE_STATES))
                .values(state=self.working, lease_until=now + dt.timedelta(seconds=lease_seconds), updated_at=now)
                .returning(*(getattr(model, c) for c in columns)).execution_options(synchronize_session=False))
        return db.session.execute(stmt).all()

    def renew(self, connection: Connection, ids: Iterable[int], lease_seconds: float = LEASE_SECONDS) -> int:
        """Extend the lease of rows this worker still works on (a heartbeat, on its own connection,
        committed); rows already done or taken back are not touched. Returns how many."""
        ids = list(ids)
        if not ids:
            return 0
        model, now = self.model, clock.now()
        stmt = (update(model).where(model.id.in_(ids), model.state == self.working)
                .values(lease_until=now + dt.timedelta(seconds=lease_seconds)))
        with connection.begin():
            return connection.execute(stmt).rowcount

    def next_expiry(self) -> dt.datetime | None:
        """When the earliest lease of a row in the working state runs out (None: no such row)."""
        model = self.model
        return db.session.scalar(select(func.min(model.lease_until)).where(model.state == self.working))

    def recover(self, *where: Any, **values: Any) -> list[int]:
        """Rows left in the working state past their lease (a crashed worker), narrowed by `where`,
        get `values`; returns their ids. Not committed."""
        model, now = self.model, clock.now()
        values.setdefault("updated_at", now)
        stmt = (update(model).where(model.state == self.working, model.lease_until < now, *where)
                .values(lease_until=None, **values).returning(model.id).execution_options(synchronize_session=False))
        return list(db.session.scalars(stmt).all())

    # --- a row the worker holds (ORM rows and plain snapshots alike) ------------------------

    def finish(self, row: Any, now: dt.datetime, note: str | None = None) -> str:
        """Mark a row done; `note` stays visible as its last_error (e.g. refused recipients)."""
        row.state, row.lease_until, row.next_attempt_at = self.done, None, None
        row.last_error, row.updated_at = note, now
        setattr(row, self.done_at, now)
        return row.state

    def fail(self, row: Any, now: dt.datetime, error: str, schedule: Sequence[int],
             failure: Failure = "temporary") -> str:
        """Record a failed attempt: `failed` with a retry time from the schedule, or `dead` when the
        failure is permanent or the schedule is used up. Returns the new state."""
        row.attempts = (row.attempts or 0) + 1
        row.lease_until, row.last_error, row.updated_at = None, error, now
        when = next_attempt(now, row.attempts, schedule, failure)
        row.state, row.next_attempt_at = ("failed", when) if when is not None else ("dead", None)
        return row.state

    def dead_letter(self, row: Any, now: dt.datetime, exc: BaseException) -> str:
        """A bug in handling this row: park it as dead with the error (Mailman's shunt queue)."""
        row.state, row.lease_until, row.next_attempt_at, row.updated_at = "dead", None, None, now
        row.last_error = f"内部エラー: {type(exc).__name__}: {exc}"[:MAX_ERROR]
        return row.last_error


def _check_schedule(value: str) -> str | None:
    try:
        parse_schedule(value)
    except ValueError as exc:
        return str(exc)
    return None


def schedule_setting(key: str, label: str, help: str) -> settings.Declaration:
    """The declaration of a queue's retry schedule (minutes, comma-separated, at least four)."""
    return settings.setting(key, type="str", default=", ".join(str(m) for m in DEFAULT_SCHEDULE),
                            validate=_check_schedule, label=label, help=help)


def read_schedule(key: str) -> tuple[int, ...]:
    """A queue's retry schedule in minutes; a broken stored value falls back to the default."""
    try:
        return parse_schedule(settings.get(key) or DEFAULT_SCHEDULE)
    except ValueError:
        log.warning("%s is invalid; using the default schedule", key)
        return DEFAULT_SCHEDULE

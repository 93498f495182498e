"""Outbox rows: one rendered message per row, one history row per delivery attempt, the plain
`Claimed` snapshot a worker delivers, and the outbox's queue (plugin.queue) over them."""
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock
from plugin.extensions import db
from plugin.queue import Queue, QueueRow

# docs/architecture.md "Outbox states": staged → queued → sending → sent, plus failed / dead / discarded.
STATES = ("staged", "queued", "sending", "sent", "failed", "dead", "discarded")
STATE_LABELS = {
    "staged": "保留中（承認待ち）",
    "queued": "送信待ち",
    "sending": "送信中",
    "sent": "送信済み",
    "failed": "再送待ち",
    "dead": "送信失敗",
    "discarded": "破棄",
}
OUTCOME_LABELS = {
    "sent": "送信成功",
    "partial": "一部の宛先が拒否",
    "temporary": "一時的なエラー",
    "permanent": "恒久的なエラー",
    "recovered": "中断から復旧",
    "error": "内部エラー",
}

# Per-recipient progress kept in OutboxMessage.rcpt_state (None = every recipient pending).
RCPT_PENDING, RCPT_SENT, RCPT_REFUSED = "pending", "sent", "refused"


def pending_of(recipients, rcpt_state):
    """The recipients still pending according to a rcpt_state mapping."""
    states = rcpt_state or {}
    return [r for r in recipients if states.get(r, RCPT_PENDING) == RCPT_PENDING]


class OutboxMessage(QueueRow, db.Model):
    """One rendered mail; state, attempts, due time and lease come from QueueRow."""

    __tablename__ = "outbox_message"
    # The worker's claim query filters on state and orders by next_attempt_at.
    __table_args__ = (Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),)

    STATE_LABELS = STATE_LABELS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="mail")
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id", ondelete="SET NULL"))
    # Fixed at creation: a re-send after a crash carries the same ID, so the helpdesk can
    # recognise the duplicate and threads stay intact.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipients = mapped_column(JSON, nullable=False)
    rcpt_state = mapped_column(JSON)
    subject: Mapped[str | None] = mapped_column(Text)
    raw = mapped_column(LargeBinary, nullable=False)
    # Lease recoveries: a row that keeps killing its worker goes dead after a few (plugin.outbox.store).
    recoveries: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Lets a caller make its enqueue idempotent (e.g. one mail per mall message).
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    history = relationship("OutboxAttempt", order_by="OutboxAttempt.id", back_populates="message",
                           cascade="all, delete-orphan", passive_deletes=True)

    def pending_recipients(self):
        """Envelope recipients that have not been delivered or permanently refused yet."""
        return pending_of(self.recipients, self.rcpt_state)


class OutboxAttempt(db.Model):
    """One delivery attempt of a message as the admin's history shows it."""

    __tablename__ = "outbox_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True)
    at = mapped_column(DateTime, default=clock.now, nullable=False)
    # sent | partial | temporary | permanent | unreachable | recovered | error
    outcome: Mapped[str] = mapped_column(String(16))
    code: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    details = mapped_column(JSON)  # {rcpt: [code, text]} for refused recipients

    message = relationship(OutboxMessage, back_populates="history")


@dataclass
class Claimed:
    """A claimed row as plain data: what delivery reads, changes (CHANGED) and records (new_attempts).

    The worker delivers these instead of ORM rows: no identity map, one UPDATE per result."""

    CHANGED = ("state", "sent_at", "lease_until", "next_attempt_at", "last_error", "updated_at", "attempts",
               "rcpt_state")
    COLUMNS = ("id", "sender", "recipients", "rcpt_state", "raw", "attempts", "last_error")

    id: int
    sender: str
    recipients: list[str]
    rcpt_state: dict[str, str] | None
    raw: bytes
    attempts: int
    last_error: str | None
    state: str = "sending"
    sent_at: dt.datetime | None = None
    lease_until: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    new_attempts: list[dict] = field(default_factory=list)

    def pending_recipients(self) -> list[str]:
        """Recipients not yet delivered or permanently refused."""
        return pending_of(self.recipients, self.rcpt_state)

    def changes(self) -> dict:
        """Column values to write back."""
        return {name: getattr(self, name) for name in self.CHANGED}


# The outbox's state machine; "staged" rows (a first backfill waiting for an admin) may be discarded too.
QUEUE = Queue(OutboxMessage, working="sending", done="sent", done_at="sent_at",
              discard_from=("staged", "queued", "failed", "dead"))

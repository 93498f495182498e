"""Outbox rows: one rendered message per row, and one history row per delivery attempt."""
from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock
from plugin.extensions import db

# design.md "Outbox states": staged → queued → sending → sent, plus failed / dead / discarded.
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
DUE_STATES = ("queued", "failed")
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


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    # The worker's claim query filters on state and orders by next_attempt_at.
    __table_args__ = (Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
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
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    recoveries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at = mapped_column(DateTime)
    lease_until = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(DateTime, default=clock.now, nullable=False)
    sent_at = mapped_column(DateTime)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now, nullable=False)
    # Lets a caller make its enqueue idempotent (e.g. one mail per mall message).
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    history = relationship("OutboxAttempt", order_by="OutboxAttempt.id", back_populates="message",
                           cascade="all, delete-orphan", passive_deletes=True)

    @property
    def state_label(self):
        """Japanese name of the state for the admin UI."""
        return STATE_LABELS.get(self.state, self.state)

    def pending_recipients(self):
        """Envelope recipients that have not been delivered or permanently refused yet."""
        return pending_of(self.recipients, self.rcpt_state)


class OutboxAttempt(db.Model):
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

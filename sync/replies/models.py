"""Rows of the reply path: every mail smtp-in accepted, and the queue of mall writes.

`ReplyMail` is written before smtp-in answers 250, so a reply survives a mall outage or a
crash; `ReplyJob` is one write to a mall (post a reply, complete, mark read) run by
`sync run` on the queue core the outbox uses too (plugin.queue): queued → posting → posted,
failed (retry at next_attempt_at), dead (gave up; admin may requeue) and discarded.
"""
import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock
from plugin.extensions import db
from plugin.queue import QueueRow

# received: stored, not taken in yet; accepted: turned into a job; bounced: a rule was broken
# and the sender was told; dropped: auto-reply, loop, duplicate or not from the helpdesk, nobody
# is told; quarantined: intake failed MAX_ATTEMPTS times (sync.replies.claims), waiting for the
# admin; discarded: the admin gave up on it.
MAIL_STATES = ("received", "accepted", "bounced", "dropped", "quarantined", "discarded")
MAIL_STATE_LABELS = {"received": "未処理", "accepted": "受付済み", "bounced": "差し戻し", "dropped": "送らずに破棄",
                     "quarantined": "隔離（処理失敗）", "discarded": "破棄（管理者）"}
JOB_STATES = ("queued", "posting", "posted", "failed", "dead", "discarded")
JOB_STATE_LABELS = {"queued": "送信待ち", "posting": "送信中", "posted": "送信済み", "failed": "再送待ち",
                    "dead": "送信失敗", "discarded": "破棄"}
JOB_KINDS = {"reply": "返信", "complete": "完了", "read": "既読"}
OPEN_STATES = ("queued", "posting", "failed")


class ReplyMail(db.Model):
    """One mail received by smtp-in, raw, with what intake made of it."""

    __tablename__ = "reply_mail"
    __table_args__ = (Index("ix_reply_mail_state_received_at", "state", "received_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="received")
    received_at = mapped_column(DateTime, default=clock.now, nullable=False)
    peer: Mapped[str | None] = mapped_column(String(255))
    mail_from: Mapped[str | None] = mapped_column(String(512))
    rcpt: Mapped[str] = mapped_column(String(512))
    raw = mapped_column(LargeBinary, nullable=False, deferred=True)  # up to the SMTP size limit: load on demand
    size: Mapped[int] = mapped_column(Integer, default=0)
    # Filled by intake (sync.replies.intake).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("mall_account.id", ondelete="SET NULL"), index=True)
    inquiry_id: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str | None] = mapped_column(Text)
    problem: Mapped[str | None] = mapped_column(Text)  # Japanese, shown to the admin and in the bounce
    processed_at = mapped_column(DateTime)
    # Intake attempts so far (counted before the work, so a crash counts) and the current claim.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until = mapped_column(DateTime)

    account = relationship("MallAccount")

    @property
    def state_label(self):
        """Japanese name of the state."""
        return MAIL_STATE_LABELS.get(self.state, self.state)


class ReplyJob(QueueRow, db.Model):
    """One write to a mall: a reply (with at most the mall's attachments), a completion or a read mark;
    state, attempts, due time and lease come from QueueRow."""

    __tablename__ = "reply_job"
    __table_args__ = (Index("ix_reply_job_state_next_attempt_at", "state", "next_attempt_at"),
                      Index("ix_reply_job_account_id_inquiry_id", "account_id", "inquiry_id"))
    STATE_LABELS = JOB_STATE_LABELS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply | complete | read
    account_id: Mapped[int] = mapped_column(ForeignKey("mall_account.id", ondelete="CASCADE"))
    inquiry_id: Mapped[str] = mapped_column(String(64))
    reply_mail_id: Mapped[int | None] = mapped_column(ForeignKey("reply_mail.id", ondelete="SET NULL"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    complete_after: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[int | None] = mapped_column(Integer)  # Yahoo! completeConditionId
    files = mapped_column(LargeBinary)  # attachments, see sync.replies.queue.pack_files
    actor: Mapped[str | None] = mapped_column(String(254))
    # Makes an enqueue idempotent (e.g. one read mark per delivered message).
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    posted_message_id: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    account = relationship("MallAccount")
    mail = relationship(ReplyMail)

    @property
    def kind_label(self):
        """Japanese name of the kind."""
        return JOB_KINDS.get(self.kind, self.kind)

"""The address-book push's state in the database, shared by every mallbridge process.

- `HelpdeskRateLimit`: the API calls made with one token in the last minute (one row per token,
  keyed by a fingerprint, never the token itself), so every process counts against one limit.
- `PushState`: one row per address book (the target): cursors of the three kinds of work, the
  lease of the process doing it, the pause reason and the last error shown on the dashboard.
- `PushedContact`: one row per contact pushed into a book: which member or mall customer, under
  which `system_id1`, with which content hash. A crash between the request and this row's commit
  is recovered by the `pending` state (see plugin.helpdesk.push).
"""
from sqlalchemy import DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin import clock
from plugin.extensions import db


class HelpdeskRateLimit(db.Model):
    """Calls of one API token in the last minute (JSON list of UNIX times) and a server-set block."""

    __tablename__ = "helpdesk_rate_limit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_fp: Mapped[str] = mapped_column(String(32), unique=True)
    calls: Mapped[str] = mapped_column(Text, default="[]")
    blocked_until: Mapped[float | None] = mapped_column(Float)
    server_limit: Mapped[int | None] = mapped_column(Integer)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)


class PushState(db.Model):
    """Progress of the push into one address book (`target` = API host + book ID)."""

    __tablename__ = "helpdesk_push_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(255), unique=True)
    # New mall inquiries: every MallInquiry.id above this one is still to be looked at.
    inquiry_cursor: Mapped[int] = mapped_column(Integer, default=0)
    # Changed members: rows updated after (changed_since, changed_member_id) are still to be looked
    # at (a keyset: one import writes thousands of rows with the same timestamp), checked at most
    # every half minute (changed_checked_at). New orders: every order above changed_order_id.
    changed_since = mapped_column(DateTime)
    changed_member_id: Mapped[int] = mapped_column(Integer, default=0)
    changed_order_id: Mapped[int] = mapped_column(Integer, default=0)
    changed_checked_at = mapped_column(DateTime)
    # The backlog sweep: members by id, then mall inquiries by id; restarted after sweep_done_at.
    member_cursor: Mapped[int] = mapped_column(Integer, default=0)
    mall_cursor: Mapped[int] = mapped_column(Integer, default=0)
    sweep_started_at = mapped_column(DateTime)
    sweep_done_at = mapped_column(DateTime)
    # Only one process pushes into a book at a time; the lease runs out if it dies.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until = mapped_column(DateTime)
    # "auth" (401) or "book" (unknown address book): nothing is sent until the cause is fixed.
    paused_reason: Mapped[str | None] = mapped_column(String(16))
    paused_token_fp: Mapped[str | None] = mapped_column(String(32))
    book_checked_at = mapped_column(DateTime)
    next_pass_at = mapped_column(DateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_pass_at = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_ja: Mapped[str | None] = mapped_column(Text)
    last_error_at = mapped_column(DateTime)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)


class PushedContact(db.Model):
    """One contact of a book: `subject` is `m:<member id>` or `c:<account id>:<customer key>`."""

    __tablename__ = "helpdesk_contact"
    __table_args__ = (
        UniqueConstraint("target", "subject"),
        Index("ix_helpdesk_contact_target_status", "target", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(96))
    system_id1: Mapped[str] = mapped_column(String(128))
    # pending (request may have been sent) | ok | refused (the helpdesk said no) | superseded
    status: Mapped[str] = mapped_column(String(16), default="pending")
    content_hash: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    # Server errors (5xx) in a row for this very contact: after a few it is reported as refused,
    # so one contact the helpdesk chokes on cannot hold up every contact behind it.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    pushed_at = mapped_column(DateTime)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)

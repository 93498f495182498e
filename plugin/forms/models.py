"""Inquiry forms, their submissions (stored before any mail is built) and the forms' rate counters."""
from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock
from plugin.extensions import db


class InquiryForm(db.Model):
    __tablename__ = "inquiry_form"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    title: Mapped[str] = mapped_column(String(200))
    # [{name, label, required, enabled}] over the fixed field types of plugin.forms.fields.
    fields = mapped_column(JSON)
    # Addresses as normalised comma-separated lists; empty BCC = the active helpdesk
    # environment's forwarding address, looked up at submission time.
    to_addresses: Mapped[str] = mapped_column(Text)
    bcc_addresses: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(String(254))
    allowed_origins: Mapped[str | None] = mapped_column(Text)
    ack_template: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(DateTime, default=clock.now)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)

    shop = relationship("Shop", lazy="joined")

    @property
    def to_list(self):
        return split_stored(self.to_addresses)

    @property
    def bcc_list(self):
        return split_stored(self.bcc_addresses)

    @property
    def origin_list(self):
        return split_stored(self.allowed_origins)


class FormSubmission(db.Model):
    __tablename__ = "form_submission"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("inquiry_form.id", ondelete="CASCADE"), index=True)
    values = mapped_column(JSON)
    attachments = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    origin: Mapped[str | None] = mapped_column(String(200))
    spam: Mapped[bool] = mapped_column(Boolean, default=False)
    outbox_ids = mapped_column(JSON)
    mail_error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(DateTime, default=clock.now, index=True)

    form = relationship("InquiryForm", lazy="joined")


class RateCounter(db.Model):
    """One fixed-window counter (plugin.forms.counters): shared by every worker and process."""

    __tablename__ = "rate_counter"
    # e.g. "LIMITER/ip/127.0.0.1/5/1/minute"; addresses only as hashes (plugin.forms.throttle).
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    # UNIX seconds when the window ends; expired rows are reused or pruned.
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def split_stored(value):
    """A stored comma/space separated list as a Python list."""
    return [part for part in (value or "").replace(",", " ").split() if part]

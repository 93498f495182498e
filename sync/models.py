"""Mall side rows: accounts, cursors, one row per mall message, routing rules, reminders.

Secrets (Rakuten serviceSecret/licenseKey, Yahoo! client secret, tokens, public key) are stored
as plugin.crypto tokens in `*_enc` columns and read through the properties below, so no code
path sees the ciphertext by accident and `mallbridge secrets rotate` re-encrypts them.
"""
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock, crypto
from plugin.extensions import db
from sync import malls
from sync.malls.base import MallAdapter

SECRET_FIELDS = ("service_secret", "license_key", "client_secret", "refresh_token", "access_token",
                 "public_key")


class MallAccount(db.Model):
    """One shop's account at one mall, with its credentials and its sync status."""

    __tablename__ = "mall_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"), index=True)
    mall: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Rakuten: numeric shop ID, serviceSecret + licenseKey (ESA), key expiry (stored UTC).
    rakuten_shop_id: Mapped[str | None] = mapped_column(String(32))
    service_secret_enc: Mapped[str | None] = mapped_column(Text)
    license_key_enc: Mapped[str | None] = mapped_column(Text)
    license_expires_at = mapped_column(DateTime)
    # Yahoo!: seller ID, app credentials, refresh token (4 weeks) and a cached access token.
    seller_id: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(255))
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_issued_at = mapped_column(DateTime)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at = mapped_column(DateTime)
    public_key_enc: Mapped[str | None] = mapped_column(Text)
    key_version: Mapped[str | None] = mapped_column(String(16))
    # Status shown on the dashboard and the sync-status page.
    last_poll_at = mapped_column(DateTime)
    last_success_at = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_ja: Mapped[str | None] = mapped_column(Text)
    last_error_at = mapped_column(DateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at = mapped_column(DateTime)
    # "auth" while the mall rejects the credentials: polling waits for a renewal.
    paused_reason: Mapped[str | None] = mapped_column(String(32))
    backfill_total: Mapped[int | None] = mapped_column(Integer)
    backfill_done: Mapped[int | None] = mapped_column(Integer)
    backfilled_at = mapped_column(DateTime)
    # The `sync run` process polling the account right now and until when (sync.leases).
    lease_owner: Mapped[str | None] = mapped_column(String(96))
    lease_until = mapped_column(DateTime)
    created_at = mapped_column(DateTime, default=clock.now)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)

    shop = relationship("Shop")

    @property
    def adapter(self) -> MallAdapter:
        """The adapter of this account's mall (sync.malls)."""
        return malls.get(self.mall)

    @property
    def external_id(self) -> str | None:
        """The mall's own ID of the store (Rakuten shop ID or Yahoo! seller ID)."""
        return getattr(self, self.adapter.external_id_field)

    @property
    def label(self) -> str:
        """e.g. `楽天 999999` for lists."""
        return f"{malls.label(self.mall)} {self.external_id or ''}".strip()


def _secret_property(name):
    column = name + "_enc"

    def getter(self):
        token = getattr(self, column)
        return crypto.decrypt(token) if token else None

    def setter(self, value):
        setattr(self, column, crypto.encrypt(value) if value else None)

    return property(getter, setter, doc=f"The decrypted {name} (write-only in the UI).")


for _name in SECRET_FIELDS:
    setattr(MallAccount, _name, _secret_property(_name))
    crypto.register_secret_column(MallAccount, _name + "_enc")


class SyncCursor(db.Model):
    """How far an account has been scanned; moved in the transaction that enqueues the mail."""

    __tablename__ = "sync_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mall_account.id", ondelete="CASCADE"), unique=True)
    # Rakuten: end (UTC) of the last window scanned without a failure.
    scanned_until = mapped_column(DateTime)
    # Yahoo!: newest userPostTime (UNIX seconds) seen by a complete pass.
    newest_post_time: Mapped[int | None] = mapped_column(Integer)
    deep_scan_at = mapped_column(DateTime)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)


class MallInquiry(db.Model):
    """One inquiry/topic as last seen: change marker, thread root and the inbox it goes to."""

    __tablename__ = "mall_inquiry"
    __table_args__ = (UniqueConstraint("account_id", "inquiry_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mall_account.id", ondelete="CASCADE"))
    inquiry_id: Mapped[str] = mapped_column(String(64))
    # lastUpdateDate (Rakuten) or postTime/messageCount (Yahoo!): unchanged → no detail fetch.
    change_marker: Mapped[str | None] = mapped_column(String(64))
    first_message_id: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(Text)
    inbox: Mapped[str | None] = mapped_column(String(254))
    customer: Mapped[str | None] = mapped_column(String(254))
    # What the first message said about the customer: the helpdesk's address book (and the
    # lookups) tie the inquiry to an order, a member or at least a name through these.
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_address: Mapped[str | None] = mapped_column(String(254), index=True)
    order_number: Mapped[str | None] = mapped_column(String(64), index=True)
    # The mall's own word for the inquiry (楽天: 商品問い合わせ, 店舗問い合わせ …): agents read it on the
    # lookup page whatever subject template the shop uses.
    inquiry_type: Mapped[str | None] = mapped_column(String(64))
    started_at = mapped_column(DateTime, index=True)
    created_at = mapped_column(DateTime, default=clock.now)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)


class InboundMessage(db.Model):
    """One mall message; the unique key makes a re-poll or a crash unable to send it twice."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("mall", "account_id", "inquiry_id", "message_id"),
        Index("ix_inbound_message_account_id_created_at", "account_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mall: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("mall_account.id", ondelete="CASCADE"))
    inquiry_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    mail_message_id: Mapped[str] = mapped_column(String(255))
    first_message_id: Mapped[str] = mapped_column(String(255))
    sender_kind: Mapped[str] = mapped_column(String(16))  # customer | shop
    posted_at = mapped_column(DateTime)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_reason: Mapped[str | None] = mapped_column(String(255))
    # No foreign key: the outbox purges old rows, and this row must outlive them.
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    created_at = mapped_column(DateTime, default=clock.now)


class OwnReply(db.Model):
    """A reply mallbridge posted to a mall: when the poller sees it come back, no mail is made."""

    __tablename__ = "mall_own_reply"
    __table_args__ = (Index("ix_mall_own_reply_account_id_inquiry_id", "account_id", "inquiry_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mall_account.id", ondelete="CASCADE"))
    inquiry_id: Mapped[str] = mapped_column(String(64))
    body_hash: Mapped[str] = mapped_column(String(64))
    matched_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at = mapped_column(DateTime, default=clock.now)


class RoutingRule(db.Model):
    """Which inbox a mall message goes to; empty conditions match anything; first match wins."""

    __tablename__ = "routing_rule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"))
    mall: Mapped[str | None] = mapped_column(String(16))
    keyword: Mapped[str | None] = mapped_column(String(200))
    inquiry_type: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(254))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at = mapped_column(DateTime, default=clock.now)

    shop = relationship("Shop")


class ReminderSent(db.Model):
    """An expiry reminder already mailed (account, what, which expiry, how many days before)."""

    __tablename__ = "reminder_sent"
    __table_args__ = (UniqueConstraint("account_id", "kind", "expires_at", "days_before"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("mall_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # license_key | refresh_token
    expires_at = mapped_column(DateTime, nullable=False)
    days_before: Mapped[int] = mapped_column(Integer)
    sent_at = mapped_column(DateTime, default=clock.now)

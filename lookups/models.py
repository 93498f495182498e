"""Members and orders, with normalised e-mail, phone and name columns so every lookup is an index seek."""
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock
from plugin.extensions import db
from plugin.normalize import normalize_name
from sync.models import MallInquiry

MALLS = ("own", "rakuten", "yahoo")
MALL_LABELS = {"own": "自社サイト", "rakuten": "楽天市場", "yahoo": "Yahoo!ショッピング"}


class Member(db.Model):
    __tablename__ = "member"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_code"),
        # Name searches match a prefix: PostgreSQL needs the pattern operator class for LIKE 'x%'
        # under a non-C collation; SQLite seeks the plain index with a range (lookups.keys).
        Index("ix_member_name_norm", "name_norm", postgresql_ops={"name_norm": "text_pattern_ops"}),
        Index("ix_member_kana_norm", "kana_norm", postgresql_ops={"kana_norm": "text_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    customer_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    name_kana: Mapped[str | None] = mapped_column(String(200))
    # normalize_name() of name and name_kana, written with them (importer, API, ORM events below).
    name_norm: Mapped[str | None] = mapped_column(String(200))
    kana_norm: Mapped[str | None] = mapped_column(String(200))
    tel: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(500))
    registered_at = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(DateTime, default=clock.now)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)

    shop = relationship("Shop", lazy="joined")
    emails = relationship("MemberEmail", cascade="all, delete-orphan", order_by="MemberEmail.position")
    phones = relationship("MemberPhone", cascade="all, delete-orphan", order_by="MemberPhone.position")


class MemberEmail(db.Model):
    __tablename__ = "member_email"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(254))
    email_norm: Mapped[str] = mapped_column(String(254), index=True)


class MemberPhone(db.Model):
    __tablename__ = "member_phone"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    tel: Mapped[str] = mapped_column(String(40))
    tel_norm: Mapped[str] = mapped_column(String(32), index=True)


class Order(db.Model):
    __tablename__ = "shop_order"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_number"),
        Index("ix_shop_order_shop_id_customer_code", "shop_id", "customer_code"),
        Index("ix_shop_order_name_norm", "name_norm", postgresql_ops={"name_norm": "text_pattern_ops"}),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    order_number: Mapped[str] = mapped_column(String(64))
    mall: Mapped[str] = mapped_column(String(16), default="own")
    customer_code: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    name_norm: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    email_norm: Mapped[str | None] = mapped_column(String(254), index=True)
    tel: Mapped[str | None] = mapped_column(String(40))
    tel_norm: Mapped[str | None] = mapped_column(String(32), index=True)
    ordered_at = mapped_column(DateTime)
    status: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int | None] = mapped_column(BigInteger)
    shipping_name: Mapped[str | None] = mapped_column(String(200))
    shipping_address: Mapped[str | None] = mapped_column(String(500))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    created_at = mapped_column(DateTime, default=clock.now)
    updated_at = mapped_column(DateTime, default=clock.now, onupdate=clock.now)

    shop = relationship("Shop", lazy="joined")
    items = relationship("OrderItem", cascade="all, delete-orphan", order_by="OrderItem.position")

    @property
    def mall_label(self):
        return MALL_LABELS.get(self.mall, self.mall)


class OrderItem(db.Model):
    __tablename__ = "order_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("shop_order.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    sku: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    price: Mapped[int | None] = mapped_column(BigInteger)


# A lookup by relay address finds the customer's inquiries by (account, customer key); the sync
# package owns the table, the lookups own this index (created by migration 0015).
Index("ix_mall_inquiry_account_id_customer", MallInquiry.account_id, MallInquiry.customer)


@event.listens_for(Member, "before_insert")
@event.listens_for(Member, "before_update")
def _member_names(mapper, connection, member):
    """Rows written through the ORM (demo data, admin tools) get their search columns too."""
    member.name_norm, member.kana_norm = normalize_name(member.name), normalize_name(member.name_kana)


@event.listens_for(Order, "before_insert")
@event.listens_for(Order, "before_update")
def _order_name(mapper, connection, order):
    """See _member_names."""
    order.name_norm = normalize_name(order.name)

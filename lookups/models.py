"""Members and orders, with normalised e-mail and phone columns so every lookup is an index seek."""
from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin import clock
from plugin.extensions import db

MALLS = ("own", "rakuten", "yahoo")
MALL_LABELS = {"own": "自社サイト", "rakuten": "楽天市場", "yahoo": "Yahoo!ショッピング"}


class Member(db.Model):
    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("shop_id", "customer_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    customer_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    name_kana: Mapped[str | None] = mapped_column(String(200))
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
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id"))
    order_number: Mapped[str] = mapped_column(String(64))
    mall: Mapped[str] = mapped_column(String(16), default="own")
    customer_code: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
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

"""make_*(**overrides) factories: each adds, commits and returns a row."""
import datetime as dt

from sqlalchemy import select

from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from plugin.extensions import db
from plugin.models import Shop, User
from plugin.normalize import normalize_email, normalize_tel


def default_shop():
    """The shop every fresh install has (code 'default')."""
    return db.session.scalar(select(Shop).where(Shop.code == "default"))


def make_shop(code="tea", name="緑茶本舗", **kw):
    """A shop."""
    shop = Shop(code=code, name=name, **kw)
    db.session.add(shop)
    db.session.commit()
    return shop


def make_user(email="agent@example.jp", password="agent-password-1", role="agent", **kw):
    """A staff user with a hashed password."""
    user = User(email=email, role=role, name=kw.pop("name", email.split("@")[0]), **kw)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_member(customer_code="M0001", emails=("taro@example.jp",), phones=("090-1234-5678",), shop=None, **kw):
    """A member with e-mails and phones (normalised as the importer does)."""
    kw.setdefault("name", "山田 太郎")
    kw.setdefault("name_kana", "ヤマダ タロウ")
    kw.setdefault("registered_at", dt.datetime(2024, 4, 1, 1, 0))
    member = Member(shop=shop or default_shop(), customer_code=customer_code, tel=phones[0] if phones else None, **kw)
    member.emails = [MemberEmail(email=e, email_norm=normalize_email(e), position=i) for i, e in enumerate(emails)]
    member.phones = [MemberPhone(tel=p, tel_norm=normalize_tel(p), position=i) for i, p in enumerate(phones)]
    db.session.add(member)
    db.session.commit()
    return member


def make_order(order_number="1001", customer_code="M0001", email="taro@example.jp", shop=None, items=None, **kw):
    """An order with item rows."""
    kw.setdefault("mall", "own")
    kw.setdefault("ordered_at", dt.datetime(2026, 11, 1, 3, 0))
    kw.setdefault("status", "発送済み")
    kw.setdefault("total", 3240)
    kw.setdefault("tel", "090-1234-5678")
    order = Order(shop=shop or default_shop(), order_number=order_number, customer_code=customer_code,
                  email=email, email_norm=normalize_email(email), tel_norm=normalize_tel(kw.get("tel")), **kw)
    items = items if items is not None else [{"sku": "tea-100", "name": "有機緑茶 100g", "quantity": 2, "price": 1620}]
    order.items = [OrderItem(position=i, **item) for i, item in enumerate(items)]
    db.session.add(order)
    db.session.commit()
    return order

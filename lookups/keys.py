"""The search keys: how each lookup parameter finds members and orders. No Flask here.

A key is a small record of index seeks, written once with placeholders: the search core
(lookups.search) unions the seeks of every key a query names into one statement, so a new key
(an order number, a name, a relay address) is one more entry in KEYS and nothing else changes.
Every seek must stay an index seek, so a lookup costs the same at 10k and at 1M members.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Boolean, ColumnElement, Select, and_, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from lookups import relay
from lookups.models import Member, MemberEmail, MemberPhone, Order
from lookups.params import LookupQuery
from plugin.models import Shop

# The shop filter's placeholder; every key's seeks may use it when the lookup names a shop.
SHOP_ID = bindparam("shop_id")


@dataclass(frozen=True)
class SearchKey:
    """One lookup parameter: the seeks that find members and orders by it.

    `members(shop)` and `orders(shop)` build selects of member ids and order ids (placeholders
    only; `shop` says whether the lookup is limited to one shop, bound as SHOP_ID). `values(q)`
    gives the placeholders' values. With `member_orders`, an order lookup also lists every order
    of the members this key finds (placed under another address or phone). `inquiries` (relay and
    masked addresses) finds the mall inquiries of a customer and their orders; `when(q)` replaces
    the default test (the query names the parameter `name`).
    """
    name: str
    members: Callable[[bool], list[Select[Any]]]
    orders: Callable[[bool], list[Select[Any]]]
    values: Callable[[LookupQuery], dict[str, Any]]
    member_orders: bool = False
    inquiries: relay.Seeks | None = None
    when: Callable[[LookupQuery], bool] | None = None

    def given(self, q: LookupQuery) -> bool:
        """True when the lookup names this key."""
        return self.when(q) if self.when else bool(getattr(q, self.name))


def _members_via_orders(condition) -> Select[Any]:
    """Members whose orders match (e.g. a Rakuten relay address only the order carries)."""
    return (select(Member.id)
            .join(Order, (Order.shop_id == Member.shop_id) & (Order.customer_code == Member.customer_code))
            .where(condition))


_EMAIL = bindparam("email_norm")
EMAIL = SearchKey(
    "email",
    members=lambda shop: [select(MemberEmail.member_id).where(MemberEmail.email_norm == _EMAIL),
                          _members_via_orders(Order.email_norm == _EMAIL)],
    orders=lambda shop: [select(Order.id).where(Order.email_norm == _EMAIL)],
    values=lambda q: {"email_norm": q.email_norm},
    member_orders=True,
    when=lambda q: bool(q.email) and q.relay is None,  # a valid relay address is the RELAY key instead
)

_TEL = bindparam("tel_norm")
TEL = SearchKey(
    "tel",
    members=lambda shop: [select(MemberPhone.member_id).where(MemberPhone.tel_norm == _TEL),
                          _members_via_orders(Order.tel_norm == _TEL)],
    orders=lambda shop: [select(Order.id).where(Order.tel_norm == _TEL)],
    values=lambda q: {"tel_norm": q.tel_norm},
    member_orders=True,
)


_CODE = bindparam("customer_code")


def _by_code(model, shop: bool) -> Select[Any]:
    """Rows of `model` with the customer code: the only index is (shop_id, customer_code), so
    without a shop filter the seek is made once per shop (shops are few) instead of a scan."""
    if shop:
        return select(model.id).where(model.shop_id == SHOP_ID, model.customer_code == _CODE)
    return select(model.id).join(Shop, Shop.id == model.shop_id).where(model.customer_code == _CODE)


CUSTOMER_CODE = SearchKey(
    "customer_code",
    members=lambda shop: [_by_code(Member, shop)],
    orders=lambda shop: [_by_code(Order, shop)],
    values=lambda q: {"customer_code": q.customer_code},
)

_NUMBER = bindparam("order_number")


def _by_number(shop: bool) -> Select[Any]:
    """Orders with the number: one seek on (shop_id, order_number) per shop, as _by_code."""
    if shop:
        return select(Order.id).where(Order.shop_id == SHOP_ID, Order.order_number == _NUMBER)
    return select(Order.id).join(Shop, Shop.id == Order.shop_id).where(Order.order_number == _NUMBER)


ORDER_NUMBER = SearchKey(
    "order_number",
    members=lambda shop: [select(Member.id).join(Order, (Order.shop_id == Member.shop_id)
                                                 & (Order.customer_code == Member.customer_code))
                          .where(Order.id.in_(_by_number(shop)))],
    orders=lambda shop: [_by_number(shop)],
    values=lambda q: {"order_number": q.order_number},
)

NAME_LIMIT = 50
_NAME_LO, _NAME_HI, _NAME_LIKE = bindparam("name_lo"), bindparam("name_hi"), bindparam("name_like")


class _StartsWith(ColumnElement[bool]):
    """`column` starts with the looked-up name, written so that each database seeks its index."""
    type = Boolean()
    inherit_cache = True
    _traverse_internals: ClassVar = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column) -> None:
        self.column = column


@compiles(_StartsWith)
def _range(element, compiler, **kw):
    # SQLite's LIKE ignores case and so skips a plain index; a range on the binary order does not.
    return compiler.process(and_(element.column >= _NAME_LO, element.column < _NAME_HI), **kw)


@compiles(_StartsWith, "postgresql")
def _like(element, compiler, **kw):
    # LIKE 'x%' on a text_pattern_ops index is an index range under any collation.
    return compiler.process(element.column.like(_NAME_LIKE, escape="\\"), **kw)


def _first(column) -> Select[Any]:
    """Ids of the first NAME_LIMIT + 1 rows whose `column` starts with the name (index order)."""
    model = column.class_
    stmt = select(model.id).where(_StartsWith(column)).order_by(column, model.id).limit(NAME_LIMIT + 1)
    return select(stmt.subquery().c.id)


def _name_values(q: LookupQuery) -> dict[str, Any]:
    prefix = q.name_norm
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"name_lo": prefix, "name_hi": prefix + "\U0010ffff", "name_like": escaped + "%"}


NAME = SearchKey(
    "name",
    members=lambda shop: [_first(Member.name_norm), _first(Member.kana_norm),
                          _members_via_orders(Order.id.in_(_first(Order.name_norm)))],
    orders=lambda shop: [_first(Order.name_norm)],
    values=_name_values,
    member_orders=True,
)

RELAY = SearchKey(
    "relay",
    members=lambda shop: [relay.BY_RELAY.member_ids()],
    orders=lambda shop: [relay.BY_RELAY.order_ids()],
    values=relay.relay_values,
    member_orders=True,
    inquiries=relay.BY_RELAY,
    when=lambda q: q.relay is not None,
)

# In the `customer` from_mode the ticket's address is Rakuten's masked address: the EMAIL key finds
# the orders that carry it; this one adds the inquiries written from it and the orders they name.
MASKED = SearchKey(
    "masked",
    members=lambda shop: [relay.BY_MASKED.member_ids()],
    orders=lambda shop: [relay.BY_MASKED.order_ids()],
    values=relay.masked_values,
    member_orders=True,
    inquiries=relay.BY_MASKED,
    when=relay.is_masked,
)

KEYS: tuple[SearchKey, ...] = (EMAIL, TEL, CUSTOMER_CODE, ORDER_NUMBER, NAME, RELAY, MASKED)


def given(q: LookupQuery) -> tuple[SearchKey, ...]:
    """The keys this lookup names, in KEYS order (which also names the statement's shape)."""
    return tuple(k for k in KEYS if k.given(q))

"""The search keys: how each lookup parameter finds members and orders. No Flask here.

A key is a small record of index seeks, written once with placeholders: the search core
(lookups.search) unions the seeks of every key a query names into one statement, so a new key
(an order number, a name, a relay address) is one more entry in KEYS and nothing else changes.
Every seek must stay an index seek, so a lookup costs the same at 10k and at 1M members.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select

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
    of the members this key finds (placed under another address or phone).
    """
    name: str
    members: Callable[[bool], list[Select[Any]]]
    orders: Callable[[bool], list[Select[Any]]]
    values: Callable[[LookupQuery], dict[str, Any]]
    member_orders: bool = False

    def given(self, q: LookupQuery) -> bool:
        """True when the lookup names this key."""
        return bool(getattr(q, self.name))


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

KEYS: tuple[SearchKey, ...] = (EMAIL, TEL, CUSTOMER_CODE)


def given(q: LookupQuery) -> tuple[SearchKey, ...]:
    """The keys this lookup names, in KEYS order (which also names the statement's shape)."""
    return tuple(k for k in KEYS if k.given(q))

"""What a lookup found, as plain typed records: the search core returns them, the templates, the
JSON answer and the audit log read them. No Flask, no ORM session behind them.

The attribute names are those of the models (lookups.models), so a template shows a found member
and a member page alike; `emails` and `tels` are plain lists, as in the JSON answer.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from lookups.models import MALL_LABELS

Kind = Literal["members", "orders"]


@dataclass(frozen=True, slots=True)
class ShopInfo:
    """The storefront a member or order belongs to."""
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """One line of an order."""
    sku: str | None
    name: str | None
    quantity: int
    price: int | None


@dataclass(slots=True)
class OrderInfo:
    """An order; `items` is None when the lookup did not ask for them (a member's latest orders)."""
    id: int
    shop: ShopInfo
    order_number: str
    mall: str
    customer_code: str | None
    name: str | None
    email: str | None
    tel: str | None
    ordered_at: dt.datetime | None
    status: str | None
    total: int | None
    shipping_name: str | None
    shipping_address: str | None
    tracking_number: str | None
    items: list[ItemInfo] | None = None

    @property
    def mall_label(self) -> str:
        """The mall's Japanese name (自社サイト, 楽天市場, …)."""
        return MALL_LABELS.get(self.mall, self.mall)


@dataclass(slots=True)
class MemberInfo:
    """A member with every e-mail and phone and the newest orders (newest first)."""
    id: int
    shop: ShopInfo
    customer_code: str
    name: str | None
    name_kana: str | None
    tel: str | None
    postal_code: str | None
    address: str | None
    registered_at: dt.datetime | None
    note: str | None
    emails: list[str] = field(default_factory=list)
    tels: list[str] = field(default_factory=list)
    latest_orders: list[OrderInfo] = field(default_factory=list)


INQUIRY_STATES = {"open": "未完了", "completing": "完了処理中", "completed": "完了"}


@dataclass(slots=True)
class InquiryInfo:
    """A mall inquiry of the looked-up customer (lookups by relay or masked address).

    `state`: open, completing (an agent's completion is on its way to the mall) or completed;
    `links`: the mall back office's pages of the inquiry and of its order (the mall adapter's links);
    `inquiry_type`: the mall's word for it (商品問い合わせ …), stored when it was polled;
    `order`: the order it names (Rakuten order number, Yahoo! order ID) with items, when known.
    """
    id: int
    shop: ShopInfo
    mall: str
    mall_label: str
    account_id: int
    inquiry_id: str
    subject: str | None
    inquiry_type: str | None
    customer_name: str | None
    customer_address: str | None
    order_number: str | None
    started_at: dt.datetime | None
    state: str
    links: dict[str, str] = field(default_factory=dict)
    order: OrderInfo | None = None  # the order it names, with its items, when mallbridge has it

    @property
    def state_label(self) -> str:
        """The state in Japanese (未完了, 完了処理中, 完了)."""
        return INQUIRY_STATES.get(self.state, self.state)


@dataclass(slots=True)
class SearchResult:
    """One lookup's answer: the members (each with its latest orders) or the orders found.

    `truncated` says a limit cut the list. `inquiries` holds the mall inquiries of the customer a
    relay (or masked) address names, newest first; empty for every other lookup.
    """
    kind: Kind
    members: list[MemberInfo] = field(default_factory=list)
    orders: list[OrderInfo] = field(default_factory=list)
    truncated: bool = False
    inquiries: list[InquiryInfo] = field(default_factory=list)

    @property
    def inquiry_orders(self) -> list[InquiryInfo]:
        """The newest inquiry naming each known order, newest first (the order shown once)."""
        seen: set[int] = set()
        found = []
        for inquiry in self.inquiries:
            if inquiry.order is not None and inquiry.order.id not in seen:
                seen.add(inquiry.order.id)
                found.append(inquiry)
        return found

    @property
    def count(self) -> int:
        """How many results of the asked kind (what the audit log records)."""
        return len(self.members) if self.kind == "members" else len(self.orders)

"""JSON shapes of found members and orders: the same keys as the CSV columns (design.md)."""
from collections.abc import Callable
from typing import Any

from flask import url_for

from lookups.results import InquiryInfo, MemberInfo, OrderInfo
from plugin.clock import to_jst


def iso(value):
    """Stored naive UTC as ISO 8601 in JST (+09:00), or None."""
    value = to_jst(value)
    return value.isoformat() if value else None


def _by_id(endpoint: str, arg: str) -> Callable[[int], str]:
    """url_for(endpoint, <arg>=id, _external=True) for many ids at the cost of one call (the detail
    routes end in the id); a lookup lists up to a few hundred members and orders."""
    probe = url_for(endpoint, **{arg: 0}, _external=True)
    if not probe.endswith("/0"):
        return lambda i: url_for(endpoint, **{arg: i}, _external=True)
    prefix = probe[:-1]
    return lambda i: f"{prefix}{i}"


class Links:
    """The detail-page URLs of one answer."""

    def __init__(self) -> None:
        self.member = _by_id("pages.member", "member_id")
        self.order = _by_id("pages.order", "order_id")


def member_json(member: MemberInfo, links: Links) -> dict[str, Any]:
    """A member as the lookup API returns it, with its latest orders (without items)."""
    return {
        "id": member.id,
        "shop": member.shop.code,
        "customer_code": member.customer_code,
        "name": member.name,
        "name_kana": member.name_kana,
        "emails": member.emails,
        "tel": member.tel,
        "tels": member.tels,
        "postal_code": member.postal_code,
        "address": member.address,
        "registered_at": iso(member.registered_at),
        "note": member.note,
        "url": links.member(member.id),
        "latest_orders": [order_json(o, links) for o in member.latest_orders],
    }


def order_json(order: OrderInfo, links: Links) -> dict[str, Any]:
    """An order as the lookup API returns it; `items` only when the lookup fetched them."""
    data = {
        "id": order.id,
        "shop": order.shop.code,
        "order_number": order.order_number,
        "mall": order.mall,
        "customer_code": order.customer_code,
        "name": order.name,
        "email": order.email,
        "tel": order.tel,
        "ordered_at": iso(order.ordered_at),
        "status": order.status,
        "total": order.total,
        "shipping_name": order.shipping_name,
        "shipping_address": order.shipping_address,
        "tracking_number": order.tracking_number,
        "url": links.order(order.id),
    }
    if order.items is not None:
        data["items"] = [{"sku": i.sku, "name": i.name, "quantity": i.quantity, "price": i.price} for i in order.items]
    return data


def inquiry_json(inquiry: InquiryInfo, links: Links) -> dict[str, Any]:
    """A mall inquiry of the looked-up customer: mall, shop, number, type, state, date, back-office links,
    and the order it names (with items) when mallbridge has it."""
    return {
        "mall": inquiry.mall,
        "mall_label": inquiry.mall_label,
        "shop": inquiry.shop.code,
        "account_id": inquiry.account_id,
        "inquiry_id": inquiry.inquiry_id,
        "subject": inquiry.subject,
        "type": inquiry.inquiry_type,
        "state": inquiry.state,
        "state_label": inquiry.state_label,
        "started_at": iso(inquiry.started_at),
        "customer_name": inquiry.customer_name,
        "customer_address": inquiry.customer_address,
        "order_number": inquiry.order_number,
        "url": inquiry.links.get("inquiry"),
        "order_url": inquiry.links.get("order"),
        "order": order_json(inquiry.order, links) if inquiry.order else None,
    }

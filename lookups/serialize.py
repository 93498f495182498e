"""JSON shapes of members and orders: the same keys as the CSV columns (design.md)."""
from flask import url_for

from plugin.clock import to_jst


def iso(value):
    """Stored naive UTC as ISO 8601 in JST (+09:00), or None."""
    value = to_jst(value)
    return value.isoformat() if value else None


def member_json(member, orders=None):
    """A member as the lookup API returns it."""
    data = {
        "id": member.id,
        "shop": member.shop.code,
        "customer_code": member.customer_code,
        "name": member.name,
        "name_kana": member.name_kana,
        "emails": [e.email for e in member.emails],
        "tel": member.tel,
        "tels": [p.tel for p in member.phones],
        "postal_code": member.postal_code,
        "address": member.address,
        "registered_at": iso(member.registered_at),
        "note": member.note,
        "url": url_for("pages.member", member_id=member.id, _external=True),
    }
    if orders is not None:
        data["latest_orders"] = [order_json(o, items=False) for o in orders]
    return data


def order_json(order, items=True):
    """An order as the lookup API returns it."""
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
        "url": url_for("pages.order", order_id=order.id, _external=True),
    }
    if items:
        data["items"] = [{"sku": i.sku, "name": i.name, "quantity": i.quantity, "price": i.price} for i in order.items]
    return data

"""The search core: a validated LookupQuery in, a SearchResult out, in one statement. No Flask here.

A member lookup is one statement: the members the keys find (a UNION of index seeks, see
lookups.keys), each with its e-mails and phones, joined to the newest orders of every member found
(a window over the orders of those members only). An order lookup is one statement too: the
orders found, newest first, with their items. Every lookup is audited: on PostgreSQL the audit row
is inserted by the same statement (a data-modifying WITH), elsewhere right after it on the same
connection. Statements are built once per shape (which keys, shop filter or not) and take their
values as placeholders.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select, union
from sqlalchemy.dialects.postgresql import aggregate_order_by

from lookups import keys
from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from lookups.params import LookupQuery
from lookups.results import ItemInfo, Kind, MemberInfo, OrderInfo, SearchResult, ShopInfo
from plugin import clock
from plugin.models import AuditLog, Shop

MEMBER_LIMIT = 200
LATEST_ORDERS = 5
MAX_SHOP_CODE = 64

_MEMBER_COLUMNS = ("id", "shop_id", "customer_code", "name", "name_kana", "tel", "postal_code", "address",
                   "registered_at", "note")
_ORDER_COLUMNS = ("id", "shop_id", "order_number", "mall", "customer_code", "name", "email", "tel", "ordered_at",
                  "status", "total", "shipping_name", "shipping_address", "tracking_number")
_AUDIT_COLUMNS = ("at", "user_id", "actor", "action", "params", "ip", "detail")
_AUDIT_INSERT = insert(AuditLog.__table__)
_statements: dict[tuple, Select[Any]] = {}


class UnknownShop(LookupError):
    """The `shop` parameter names no shop."""


def shop_id_for(conn: Connection, code: str | None) -> int | None:
    """Shop id for a shop code; None when no filter is asked; UnknownShop when it does not exist."""
    if not code:
        return None
    if len(code) > MAX_SHOP_CODE or "\x00" in code:
        raise UnknownShop(code[:MAX_SHOP_CODE])  # no shop has such a code, and PostgreSQL refuses NUL
    shop_id = conn.scalar(select(Shop.id).where(Shop.code == code))
    if shop_id is None:
        raise UnknownShop(code)
    return shop_id


def search(conn: Connection, kind: Kind, q: LookupQuery, order_limit: int = 50,
           audit: dict[str, Any] | None = None) -> SearchResult:
    """Members (with their latest orders) or orders matching the lookup; UnknownShop for a bad shop.

    `audit` holds the audit row's values (actor, user_id, action, params, ip, detail); the row is
    written with the number of results, committed when `conn` autocommits.
    """
    shop_id = shop_id_for(conn, q.shop)
    given = keys.given(q)
    # One round trip for search and audit row where the database can insert inside a query.
    inline = audit is not None and conn.dialect.name == "postgresql"
    values: dict[str, Any] = {"shop_id": shop_id}
    for key in given:
        values.update(key.values(q))
    if inline:
        values.update({f"audit_{c}": audit.get(c) for c in _AUDIT_COLUMNS}, audit_at=clock.now())
    shape = (kind, tuple(k.name for k in given), shop_id is not None, conn.dialect.name, inline)
    stmt = _statements.get(shape)
    if stmt is None:
        build = _members_statement if kind == "members" else _orders_statement
        stmt = _statements[shape] = build(given, shop_id is not None, conn.dialect.name, inline)
    if kind == "members":
        members = _members(conn.execute(stmt, {**values, "latest": LATEST_ORDERS}))
        result = SearchResult("members", members=members, truncated=len(members) >= MEMBER_LIMIT)
    else:
        orders = _orders(conn.execute(stmt, {**values, "order_limit": order_limit + 1, "shown": order_limit}))
        result = SearchResult("orders", orders=orders[:order_limit], truncated=len(orders) > order_limit)
    if audit is not None and not inline:
        conn.execute(_AUDIT_INSERT, {**audit, "result_count": result.count})
    return result


def member_page(conn: Connection, member_id: int, latest: int) -> MemberInfo | None:
    """One member with its `latest` newest orders (the member page), or None."""
    shape = ("member_page", conn.dialect.name)
    stmt = _statements.get(shape)
    if stmt is None:
        ids = select(Member.id).where(Member.id == bindparam("member_id"))
        stmt = _statements[shape] = _member_rows(ids, False, conn.dialect.name, audited=False)
    found = _members(conn.execute(stmt, {"member_id": member_id, "latest": latest, "shop_id": None}))
    return found[0] if found else None


def _ids(selects: Sequence[Select[Any]]):
    return selects[0] if len(selects) == 1 else union(*selects)


def _member_ids(given: Iterable[keys.SearchKey], shop: bool):
    """Ids of the members any given key finds: one subquery, a UNION of index seeks."""
    return _ids([s for key in given for s in key.members(shop)])


def _members_statement(given, shop: bool, dialect: str, audited: bool) -> Select[Any]:
    return _member_rows(_member_ids(given, shop), shop, dialect, audited)


def _with_audit(stmt: Select[Any], count) -> Select[Any]:
    """`stmt` that also inserts the lookup's audit row, `count` being its result count (PostgreSQL)."""
    columns = AuditLog.__table__.c
    row = select(*(bindparam(f"audit_{c}", type_=columns[c].type) for c in _AUDIT_COLUMNS), count)
    return stmt.add_cte(insert(AuditLog.__table__).from_select([*_AUDIT_COLUMNS, "result_count"], row).cte("audit"))


def _listed(column, owner, position, member_id, dialect: str):
    """Every value of `column` for one member in stored order, as one column (see `_list`)."""
    if dialect == "postgresql":
        return select(func.array_agg(aggregate_order_by(column, position, owner.id))).where(
            owner.member_id == member_id).scalar_subquery()
    # Elsewhere (SQLite) a JSON array built from an ordered subquery.
    ordered = select(column.label("v")).where(owner.member_id == member_id).order_by(position, owner.id).subquery()
    return select(func.json_group_array(ordered.c.v)).scalar_subquery()


def _list(value: Any) -> list[str]:
    """A `_listed` column as a list: PostgreSQL arrays arrive as lists, JSON arrays as text."""
    if value is None:
        return []
    return value if isinstance(value, list) else json.loads(value)


def _member_rows(ids, shop: bool, dialect: str, audited: bool) -> Select[Any]:
    """The members whose ids `ids` selects, joined to each one's newest orders (`latest` of them)."""
    found = (select(*(Member.__table__.c[c] for c in _MEMBER_COLUMNS),
                    _listed(MemberEmail.email, MemberEmail, MemberEmail.position, Member.id, dialect).label("emails"),
                    _listed(MemberPhone.tel, MemberPhone, MemberPhone.position, Member.id, dialect).label("tels"))
             .where(Member.id.in_(ids)))
    if shop:
        found = found.where(Member.shop_id == keys.SHOP_ID)
    found = found.order_by(Member.shop_id, Member.customer_code).limit(MEMBER_LIMIT).cte("found")
    # Ranked among that member's orders only: the window never reads the orders of anyone else.
    ranked = (select(*(Order.__table__.c[c] for c in _ORDER_COLUMNS),
                     func.row_number().over(partition_by=(Order.shop_id, Order.customer_code),
                                            order_by=(Order.ordered_at.desc(), Order.id.desc())).label("rn"))
              .join(found, (Order.shop_id == found.c.shop_id) & (Order.customer_code == found.c.customer_code))
              .subquery("latest"))
    latest = (ranked.c.shop_id == found.c.shop_id) & (ranked.c.customer_code == found.c.customer_code) & (
        ranked.c.rn <= bindparam("latest"))
    stmt = (select(*found.c, Shop.code.label("shop_code"), Shop.name.label("shop_name"),
                   *(ranked.c[c].label(f"o_{c}") for c in _ORDER_COLUMNS))
            .join(Shop, Shop.id == found.c.shop_id)
            .outerjoin(ranked, latest)
            .order_by(found.c.shop_id, found.c.customer_code, ranked.c.rn))
    return _with_audit(stmt, select(func.count()).select_from(found).scalar_subquery()) if audited else stmt


def _orders_statement(given, shop: bool, dialect: str, audited: bool) -> Select[Any]:
    """Orders the keys find directly, and every order of the members some keys find; with items."""
    selects = [s for key in given for s in key.orders(shop)]
    expanding = [key for key in given if key.member_orders]
    if expanding:
        owners = select(Member.shop_id, Member.customer_code).where(Member.id.in_(_member_ids(expanding, shop)))
        if shop:
            owners = owners.where(Member.shop_id == keys.SHOP_ID)
        owners = owners.limit(MEMBER_LIMIT).cte("owners")
        selects.append(select(Order.id).join(owners, (Order.shop_id == owners.c.shop_id)
                                             & (Order.customer_code == owners.c.customer_code)))
    found = (select(*(Order.__table__.c[c] for c in _ORDER_COLUMNS), Shop.code.label("shop_code"),
                    Shop.name.label("shop_name"))
             .join(Shop, Shop.id == Order.shop_id)
             .where(Order.id.in_(_ids(selects))))
    if shop:
        found = found.where(Order.shop_id == keys.SHOP_ID)
    found = found.order_by(Order.ordered_at.desc(), Order.id.desc()).limit(bindparam("order_limit")).cte("found")
    stmt = (select(*found.c, OrderItem.id.label("i_id"), OrderItem.sku.label("i_sku"), OrderItem.name.label("i_name"),
                   OrderItem.quantity.label("i_quantity"), OrderItem.price.label("i_price"))
            .outerjoin(OrderItem, OrderItem.order_id == found.c.id)
            .order_by(found.c.ordered_at.desc(), found.c.id.desc(), OrderItem.position, OrderItem.id))
    if not audited:
        return stmt
    # `found` holds one order more than is shown (to tell a cut list); the audit counts those shown.
    shown = func.least(select(func.count()).select_from(found).scalar_subquery(), bindparam("shown"))
    return _with_audit(stmt, shown)


def _shop(row, shops: dict[int, ShopInfo]) -> ShopInfo:
    shop = shops.get(row.shop_id)
    if shop is None:
        shop = shops[row.shop_id] = ShopInfo(row.shop_id, row.shop_code, row.shop_name)
    return shop


def _members(rows) -> list[MemberInfo]:
    """MemberInfo per member from the joined rows (one row per latest order, at least one per member)."""
    members: list[MemberInfo] = []
    shops: dict[int, ShopInfo] = {}
    current = None
    for row in rows:
        if current is None or current.id != row.id:
            current = MemberInfo(row.id, _shop(row, shops), row.customer_code, row.name, row.name_kana, row.tel,
                                 row.postal_code, row.address, row.registered_at, row.note, _list(row.emails),
                                 _list(row.tels))
            members.append(current)
        if row.o_id is not None:
            current.latest_orders.append(OrderInfo(
                row.o_id, current.shop, row.o_order_number, row.o_mall, row.o_customer_code, row.o_name, row.o_email,
                row.o_tel, row.o_ordered_at, row.o_status, row.o_total, row.o_shipping_name, row.o_shipping_address,
                row.o_tracking_number))
    return members


def _orders(rows) -> list[OrderInfo]:
    """OrderInfo per order from the joined rows (one row per item, at least one per order)."""
    orders: list[OrderInfo] = []
    shops: dict[int, ShopInfo] = {}
    current = None
    for row in rows:
        if current is None or current.id != row.id:
            current = OrderInfo(row.id, _shop(row, shops), row.order_number, row.mall, row.customer_code, row.name,
                                row.email, row.tel, row.ordered_at, row.status, row.total, row.shipping_name,
                                row.shipping_address, row.tracking_number, items=[])
            orders.append(current)
        if row.i_id is not None:
            current.items.append(ItemInfo(row.i_sku, row.i_name, row.i_quantity, row.i_price))
    return orders

"""The SQL of a lookup: one statement per shape, one JSON document per member or order. No Flask here.

Each member comes back as one JSON object holding its e-mails, phones and newest orders; each
order as one holding its items. One column instead of thirty: the driver describes and converts
one value per row, which is most of what a wide joined row cost. The search keys (lookups.keys)
supply the index seeks; everything here only shapes what they find. PostgreSQL and SQLite spell
the JSON functions differently; `_object` and `_array` are the only places that know it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, literal_column, select, union
from sqlalchemy.dialects.postgresql import aggregate_order_by

from lookups import keys, relay
from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from plugin.models import AuditLog, Shop
from sync.replies.models import ReplyJob

MEMBER_LIMIT = 200
INQUIRY_LIMIT = relay.INQUIRY_LIMIT
# A completion the agent asked for: posted (完了) or still on its way to the mall (完了処理中).
COMPLETION_STATES = ("queued", "posting", "posted", "failed")
AUDIT_COLUMNS = ("at", "user_id", "actor", "action", "params", "ip", "detail")
_MEMBER_FIELDS = ("id", "customer_code", "name", "name_kana", "tel", "postal_code", "address", "registered_at", "note")
_ORDER_FIELDS = ("id", "order_number", "mall", "customer_code", "name", "email", "tel", "ordered_at", "status", "total",
                 "shipping_name", "shipping_address", "tracking_number")


def _object(dialect: str, fields: dict[str, Any]) -> ColumnElement[Any]:
    """One JSON object of SQL values."""
    build = func.json_build_object if dialect == "postgresql" else func.json_object
    return build(*(x for name, value in fields.items() for x in (literal_column(f"'{name}'"), value)))


def _array(dialect: str, rows: Select[Any], order: Callable[[Any], Sequence[Any]], objects: bool = False):
    """The `v` column of `rows` as one JSON array in `order` (never NULL); `objects` if v is a JSON object."""
    sub = rows.subquery()
    if dialect == "postgresql":
        agg = func.json_agg(aggregate_order_by(sub.c.v, *order(sub.c)))
        return func.coalesce(select(agg).scalar_subquery(), literal_column("'[]'::json"))
    # SQLite keeps the ordered subquery's order; json() keeps values JSON (not quoted text)
    # when they pass through a subquery.
    return func.json(select(func.json_group_array(func.json(sub.c.v) if objects else sub.c.v)).scalar_subquery())


def _ids(selects: Sequence[Select[Any]]):
    return selects[0] if len(selects) == 1 else union(*selects)


def member_ids(given: Iterable[keys.SearchKey], shop: bool):
    """Ids of the members any given key finds: one subquery, a UNION of index seeks."""
    return _ids([s for key in given for s in key.members(shop)])


def inquiry_seeks(given: Iterable[keys.SearchKey]):
    """The inquiry seeks of the keys (relay and masked addresses: at most one per lookup), or None."""
    return next((key.inquiries for key in given if key.inquiries), None)


def inquiries(found, dialect: str):
    """The inquiries of the CTE `found` (lookups.relay.Seeks) as one JSON array, newest first (at most
    INQUIRY_LIMIT), each with its account's mall and store IDs (back-office links), shop and completion."""
    completion = (select(ReplyJob.state)
                  .where(ReplyJob.account_id == found.c.account_id, ReplyJob.inquiry_id == found.c.inquiry_id,
                         ReplyJob.kind == literal_column("'complete'"),
                         # Literals, not an expanding IN: PostgreSQL runs the compiled text as it is.
                         ReplyJob.state.in_([literal_column(f"'{state}'") for state in COMPLETION_STATES]))
                  .order_by(ReplyJob.id.desc()).limit(1).correlate(found).scalar_subquery())
    rows = (select(_object(dialect, {
        **{f: found.c[f] for f in (*relay.INQUIRY_FIELDS, "mall", "rakuten_shop_id", "seller_id")},
        "shop_id": Shop.id, "shop_code": Shop.code, "shop_name": Shop.name, "completion": completion}).label("v"),
        found.c.started_at, found.c.id)
        .select_from(found).join(Shop, Shop.id == found.c.shop_id)
        .order_by(found.c.started_at.desc(), found.c.id.desc()).limit(INQUIRY_LIMIT))
    return _array(dialect, rows, lambda c: (c.started_at.desc(), c.id.desc()), objects=True)


def _with_inquiries(dialect: str, rows: Select[Any], order, found, **more) -> Select[Any]:
    """One row, one document `{"inquiries": […], "found": […], **more}`: the lookup by a customer's relay
    address stays one statement, its members or orders in the order `rows` has (`order` on its columns)."""
    return select(_object(dialect, {"inquiries": inquiries(found, dialect),
                                    "found": _array(dialect, rows, order, objects=True), **more}).label("d"))


def members(given: Sequence[keys.SearchKey], shop: bool, dialect: str, audited: bool) -> Select[Any]:
    """The members the keys find (at most MEMBER_LIMIT), in shop and customer-code order."""
    # A name prefix may fit thousands: one more than is shown tells the list was cut.
    limit = keys.NAME_LIMIT + 1 if keys.NAME in given else MEMBER_LIMIT
    return member_documents(member_ids(given, shop), shop, dialect, audited, inquiry_seeks(given), limit)


def member_documents(ids, shop: bool, dialect: str, audited: bool, seeks=None,
                     limit: int = MEMBER_LIMIT) -> Select[Any]:
    """One JSON document `m` per member whose id `ids` selects, with its `latest` newest orders; with
    inquiry `seeks`, a single document holding those inquiries and the members (_with_inquiries)."""
    found = select(Member).where(Member.id.in_(ids))
    if shop:
        found = found.where(Member.shop_id == keys.SHOP_ID)
    found = found.order_by(Member.shop_id, Member.customer_code).limit(limit).cte("found")
    emails = (select(MemberEmail.email.label("v"), MemberEmail.position, MemberEmail.id)
              .where(MemberEmail.member_id == found.c.id).order_by(MemberEmail.position, MemberEmail.id)
              .correlate(found))
    tels = (select(MemberPhone.tel.label("v"), MemberPhone.position, MemberPhone.id)
            .where(MemberPhone.member_id == found.c.id).order_by(MemberPhone.position, MemberPhone.id)
            .correlate(found))
    # The member's own newest orders: an index seek on (shop_id, customer_code) per member.
    latest = (select(_object(dialect, {f: Order.__table__.c[f] for f in _ORDER_FIELDS}).label("v"), Order.ordered_at,
                     Order.id)
              .where(Order.shop_id == found.c.shop_id, Order.customer_code == found.c.customer_code)
              .order_by(Order.ordered_at.desc(), Order.id.desc()).limit(bindparam("latest")).correlate(found))
    document = _object(dialect, {
        **{f: found.c[f] for f in _MEMBER_FIELDS}, "shop_id": Shop.id, "shop_code": Shop.code, "shop_name": Shop.name,
        "emails": _array(dialect, emails, lambda c: (c.position, c.id)),
        "tels": _array(dialect, tels, lambda c: (c.position, c.id)),
        "orders": _array(dialect, latest, lambda c: (c.ordered_at.desc(), c.id.desc()), objects=True)})
    if seeks is not None:
        rows = (select(document.label("v"), found.c.shop_id, found.c.customer_code).select_from(found)
                .join(Shop, Shop.id == found.c.shop_id).order_by(found.c.shop_id, found.c.customer_code))
        # The member page of a mall customer shows the inquiries' orders with their items too.
        named, named_doc = _order_documents(seeks.order_ids(), False, dialect, INQUIRY_LIMIT, "inquiry_orders")
        stmt = _with_inquiries(dialect, rows, lambda c: (c.shop_id, c.customer_code), seeks.found,
                               orders=_array(dialect, _order_rows(named, named_doc), _newest, objects=True))
    else:
        stmt = (select(document.label("m")).select_from(found).join(Shop, Shop.id == found.c.shop_id)
                .order_by(found.c.shop_id, found.c.customer_code))
    count = select(func.count()).select_from(found).scalar_subquery()
    if limit != MEMBER_LIMIT:
        count = func.least(count, limit - 1)  # the audit counts those shown
    return with_audit(stmt, count) if audited else stmt


def orders(given: Sequence[keys.SearchKey], shop: bool, dialect: str, audited: bool) -> Select[Any]:
    """One JSON document `o` per order the keys find (and per order of members some keys find), newest
    first, at most `order_limit`, with its items."""
    selects = [s for key in given for s in key.orders(shop)]
    expanding = [key for key in given if key.member_orders]
    if expanding:
        owners = select(Member.shop_id, Member.customer_code).where(Member.id.in_(member_ids(expanding, shop)))
        if shop:
            owners = owners.where(Member.shop_id == keys.SHOP_ID)
        owners = owners.limit(MEMBER_LIMIT).cte("owners")
        selects.append(select(Order.id).join(owners, (Order.shop_id == owners.c.shop_id)
                                             & (Order.customer_code == owners.c.customer_code)))
    found, document = _order_documents(_ids(selects), shop, dialect, bindparam("order_limit"), "found")
    seeks = inquiry_seeks(given)
    if seeks is not None:
        stmt = _with_inquiries(dialect, _order_rows(found, document), _newest, seeks.found)
    else:
        stmt = (select(document.label("o")).select_from(found).join(Shop, Shop.id == found.c.shop_id)
                .order_by(found.c.ordered_at.desc(), found.c.id.desc()))
    if not audited:
        return stmt
    # `found` holds one order more than is shown (to tell a cut list); the audit counts those shown.
    return with_audit(stmt, func.least(select(func.count()).select_from(found).scalar_subquery(), bindparam("shown")))


def _order_documents(ids, shop: bool, dialect: str, limit, name: str):
    """(CTE `name` of the newest orders `ids` selects, at most `limit`; one JSON document per order with its items)."""
    found = select(Order).where(Order.id.in_(ids))
    if shop:
        found = found.where(Order.shop_id == keys.SHOP_ID)
    found = found.order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit).cte(name)
    items = (select(_object(dialect, {f: OrderItem.__table__.c[f] for f in ("sku", "name", "quantity", "price")})
                    .label("v"), OrderItem.position, OrderItem.id)
             .where(OrderItem.order_id == found.c.id).order_by(OrderItem.position, OrderItem.id).correlate(found))
    document = _object(dialect, {
        **{f: found.c[f] for f in _ORDER_FIELDS}, "shop_id": Shop.id, "shop_code": Shop.code, "shop_name": Shop.name,
        "items": _array(dialect, items, lambda c: (c.position, c.id), objects=True)})
    return found, document


def _order_rows(found, document) -> Select[Any]:
    """The order documents `v` newest first, with the columns they are sorted by (for _array)."""
    return (select(document.label("v"), found.c.ordered_at, found.c.id).select_from(found)
            .join(Shop, Shop.id == found.c.shop_id).order_by(found.c.ordered_at.desc(), found.c.id.desc()))


def _newest(c):
    return c.ordered_at.desc(), c.id.desc()


def with_audit(stmt: Select[Any], count) -> Select[Any]:
    """`stmt` that also inserts the lookup's audit row, `count` being its result count (PostgreSQL:
    a data-modifying WITH runs once, whether or not the query reads it)."""
    columns = AuditLog.__table__.c
    # The lookup's transaction (this one statement) commits without waiting for a WAL flush: that
    # wait, not CPU, was half of a lookup's time under load (bench/README.md). set_config(…, true)
    # lasts until the end of this transaction only, so every other commit stays durable. A crash of
    # the PostgreSQL server itself may lose the last fraction of a second of lookup audit rows
    # (3 × wal_writer_delay at most); a crash of mallbridge loses none.
    unhurried = func.set_config("synchronous_commit", "off", True) == "off"
    row = select(*(bindparam(f"audit_{c}", type_=columns[c].type) for c in AUDIT_COLUMNS), count).where(unhurried)
    return stmt.add_cte(insert(AuditLog.__table__).from_select([*AUDIT_COLUMNS, "result_count"], row).cte("audit"))

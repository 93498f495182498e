"""The search core: a validated LookupQuery in, a SearchResult out, in one statement. No Flask here.

A member lookup is one statement (lookups.statements): the members the keys find, each with its
e-mails, phones and newest orders. An order lookup is one statement too: the orders found,
newest first, with their items. Every lookup is audited: on PostgreSQL the audit row is inserted
by the same statement, elsewhere right after it on the same connection. Statements are built once
per shape (which keys, shop filter or not) and take their values as placeholders.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Compiled, Connection, Engine, Select, bindparam, insert, select

from lookups import keys, relay, statements
from lookups.models import Member
from lookups.params import LookupQuery
from lookups.results import InquiryInfo, ItemInfo, Kind, MemberInfo, OrderInfo, SearchResult, ShopInfo
from plugin import clock
from plugin.models import AuditLog, Shop

MEMBER_LIMIT = statements.MEMBER_LIMIT
LATEST_ORDERS = 5
MAX_SHOP_CODE = 64
_AUDIT_INSERT = insert(AuditLog.__table__)
_statements: dict[tuple, tuple[Select[Any], Compiled]] = {}


class UnknownShop(LookupError):
    """The `shop` parameter names no shop."""


@contextlib.contextmanager
def connection(engine: Engine) -> Iterator[Connection]:
    """A pooled connection whose statements commit one by one: a lookup reads, then its audit row is
    committed before anything is shown, with no BEGIN/COMMIT round trips around them."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


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
    values: dict[str, Any] = {"shop_id": shop_id, "latest": LATEST_ORDERS, "order_limit": order_limit + 1,
                              "shown": order_limit}
    for key in given:
        values.update(key.values(q))
    if inline:
        values.update({f"audit_{c}": audit.get(c) for c in statements.AUDIT_COLUMNS}, audit_at=clock.now())
        values["audit_params"] = json.dumps(audit.get("params"))  # a JSON value, bound as its text
    shape = (kind, tuple(k.name for k in given), shop_id is not None, inline)
    documents = _documents(conn, shape, lambda: (statements.members if kind == "members" else statements.orders)(
        given, shop_id is not None, conn.dialect.name, inline), values)
    inquiries: list[InquiryInfo] = []
    shops: dict[int, ShopInfo] = {}
    if any(key.inquiries for key in given):
        # One document: the customer's inquiries and the members or orders found (statements._with_inquiries).
        whole = _loaded(documents[0])
        documents = whole["found"]
        named = [_order(d, _shop(d, shops), items=True)
                 for d in (whole["orders"] if kind == "members" else map(_loaded, documents))]
        inquiries = [relay.inquiry_info(d, _shop(d, shops), _when, named) for d in whole["inquiries"]]
    # A name prefix may fit thousands: at most NAME_LIMIT of each kind are shown.
    member_limit = keys.NAME_LIMIT if keys.NAME in given else MEMBER_LIMIT
    if kind == "members":
        members = _members(documents)
        truncated = len(members) > member_limit if member_limit != MEMBER_LIMIT else len(members) >= MEMBER_LIMIT
        result = SearchResult("members", members=members[:member_limit], truncated=truncated, inquiries=inquiries)
    else:
        orders = [_order(d, _shop(d, shops), items=True) for d in map(_loaded, documents)]
        result = SearchResult("orders", orders=orders[:order_limit], truncated=len(orders) > order_limit,
                              inquiries=inquiries)
    if audit is not None and not inline:
        conn.execute(_AUDIT_INSERT, {**audit, "result_count": result.count})
    return result


def member_page(conn: Connection, member_id: int, latest: int) -> MemberInfo | None:
    """One member with its `latest` newest orders (the member page), or None."""
    documents = _documents(conn, ("member_page",), lambda: statements.member_documents(
        select(Member.id).where(Member.id == bindparam("member_id")), False, conn.dialect.name, audited=False),
        {"member_id": member_id, "latest": latest, "shop_id": None})
    found = _members(documents)
    return found[0] if found else None


def _documents(conn: Connection, shape: tuple, build, values: dict[str, Any]) -> list[Any]:
    """The one column of every row of the statement of this shape (built and compiled once)."""
    key = (*shape, conn.dialect.name)
    cached = _statements.get(key)
    if cached is None:
        stmt = build()
        cached = _statements[key] = (stmt, stmt.compile(dialect=conn.dialect))
    stmt, compiled = cached
    if conn.dialect.driver != "psycopg":
        return conn.execute(stmt, values).scalars().all()
    # The compiled SQL runs on the driver's own cursor: for one JSON column per row, SQLAlchemy's
    # result layer cost about as much CPU as everything else the query needs (0.1 of 0.25 ms).
    # The values need no conversion on the way in: psycopg adapts each of them (JSON goes as text).
    cursor = conn.connection.cursor()
    try:
        cursor.execute(compiled.string, compiled.construct_params(values))
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()


def _loaded(document: Any) -> dict[str, Any]:
    """A JSON document as a dict: PostgreSQL's driver parses json, SQLite hands over text."""
    return document if isinstance(document, dict) else json.loads(document)


def _when(value: str | None) -> dt.datetime | None:
    """A timestamp as JSON gives it (ISO 8601 from PostgreSQL, SQLite's stored text) as naive UTC."""
    return dt.datetime.fromisoformat(value) if value else None


def _shop(d: dict[str, Any], shops: dict[int, ShopInfo]) -> ShopInfo:
    shop = shops.get(d["shop_id"])
    if shop is None:
        shop = shops[d["shop_id"]] = ShopInfo(d["shop_id"], d["shop_code"], d["shop_name"])
    return shop


def _order(d: dict[str, Any], shop: ShopInfo, items: bool) -> OrderInfo:
    return OrderInfo(d["id"], shop, d["order_number"], d["mall"], d["customer_code"], d["name"], d["email"],
                     d["tel"], _when(d["ordered_at"]), d["status"], d["total"], d["shipping_name"],
                     d["shipping_address"], d["tracking_number"],
                     [ItemInfo(i["sku"], i["name"], i["quantity"], i["price"]) for i in d["items"]] if items else None)


def _members(documents) -> list[MemberInfo]:
    shops: dict[int, ShopInfo] = {}
    found = []
    for d in map(_loaded, documents):
        shop = _shop(d, shops)
        found.append(MemberInfo(d["id"], shop, d["customer_code"], d["name"], d["name_kana"], d["tel"],
                                d["postal_code"], d["address"], _when(d["registered_at"]), d["note"], d["emails"],
                                d["tels"], [_order(o, shop, items=False) for o in d["orders"]]))
    return found

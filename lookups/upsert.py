"""Batch upserts of cleaned member/order records (lookups.records): a handful of bulk statements per
batch and one transaction, so a million rows take minutes and no row is ever half-written. No Flask.
"""
import logging
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from lookups import unchanged
from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from lookups.records import KEY_FIELD
from plugin import clock
from plugin.extensions import db
from plugin.models import Shop

log = logging.getLogger(f"mallbridge.{__name__}")
DEFAULT_SHOP = "default"
DB_REFUSED = "データベースに保存できませんでした（値を確認してください）"


def _emails(values):
    return [{"email": e, "email_norm": n} for e, n in values]


def _phones(values):
    return [{"tel": t, "tel_norm": n} for t, n in values]


def _items(values):
    return [dict(item) for item in values]


# kind -> (parent table, child tables as (values key, table, foreign key column, row builder))
TABLES = {
    "members": (Member.__table__, [("emails", MemberEmail.__table__, "member_id", _emails),
                                   ("phones", MemberPhone.__table__, "member_id", _phones)]),
    "orders": (Order.__table__, [("items", OrderItem.__table__, "order_id", _items)]),
}
INSERT_DEFAULTS = {"orders": {"mall": "own"}}


@dataclass
class Outcome:
    """What one batch did; failures are (ref, {field: reason}) in input order."""
    inserted: int = 0
    updated: int = 0  # rows that already existed, changed or not
    unchanged: int = 0  # of those, rows identical to what is stored (not rewritten)
    failures: list = field(default_factory=list)

    def add(self, other):
        """Fold another outcome into this one."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failures.extend(other.failures)


class ShopCodes:
    """Shop code -> id, asked once per code for a whole import."""

    def __init__(self, default_code=None):
        self.default_code = default_code or DEFAULT_SHOP
        self._ids = {}

    def id_for(self, code):
        """The shop's id, or None when no shop has that code."""
        code = code or self.default_code
        if code not in self._ids:
            self._ids[code] = db.session.scalar(select(Shop.id).where(Shop.code == code))
        return self._ids[code]


def write_batch(kind, rows, shops):
    """Upsert rows [(ref, values)] in one transaction; if the database refuses, retry row by row."""
    try:
        outcome = _write(kind, rows, shops)
        db.session.commit()
        return outcome
    except (IntegrityError, DataError) as exc:
        # A value the checks in records.py let through, or a concurrent import of the same key:
        # undo the batch, then find the guilty rows one by one so the good rows still land.
        db.session.rollback()
        if len(rows) == 1:
            log.warning("%s row %s refused by the database: %s", kind, rows[0][0], exc.orig)
            return Outcome(failures=[(rows[0][0], {"_": DB_REFUSED})])
        outcome = Outcome()
        for row in rows:
            outcome.add(write_batch(kind, [row], shops))
        return outcome


def refresh_statistics(kind):
    """ANALYZE the tables an import of `kind` wrote, so the query planner knows their new size.

    A large import outruns autovacuum, and until it comes by the planner believes the tables
    (nearly) empty: lookups scanned for seconds instead of seeking. A failure is only logged:
    the rows are stored, the statistics wait for autovacuum.
    """
    table, children = TABLES[kind]
    names = [table.name, *(child.name for _, child, _, _ in children)]
    try:
        # SQLite analyses one table per statement.
        for stmt in [f"ANALYZE {', '.join(names)}"] if _postgres() else [f"ANALYZE {n}" for n in names]:
            db.session.execute(text(stmt))
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("could not refresh planner statistics of %s: %s", ", ".join(names), exc)


def _write(kind, rows, shops):
    table, children = TABLES[kind]
    key_col = KEY_FIELD[kind]
    outcome = Outcome()
    merged = {}  # (shop_id, code) -> [ref, values]; a key repeated in a batch: the later row wins
    for ref, values in rows:
        values = dict(values)
        code = values.pop("shop", None)
        shop_id = shops.id_for(code)
        if shop_id is None:
            outcome.failures.append((ref, {"shop": f"店舗コード「{code or shops.default_code}」の店舗はありません"}))
            continue
        key = (shop_id, values[key_col])
        if key in merged:
            merged[key][1].update(values)
            outcome.updated += 1
        else:
            merged[key] = [ref, values]
    if not merged:
        return outcome
    stored = _existing_rows(table, key_col, merged)
    existing = {key: row["id"] for key, row in stored.items()}
    now = clock.now()
    ids = dict(existing)
    new_keys = [k for k in merged if k not in existing]
    new_keys_set = set(new_keys)
    if new_keys:
        columns = [c.name for c in table.columns if c.name not in ("id", "created_at", "updated_at")]
        defaults = INSERT_DEFAULTS.get(kind, {})
        params = []
        for key in new_keys:
            values = merged[key][1]
            row = {c: values.get(c) if values.get(c) is not None else defaults.get(c) for c in columns}
            row.update(shop_id=key[0], created_at=now, updated_at=now)
            params.append(row)
        for row_id, shop_id, code in _insert(table, params, ("id", "shop_id", key_col)):
            ids[(shop_id, code)] = row_id
        outcome.inserted += len(new_keys)
    outcome.updated += len(existing)
    changed = unchanged.changed_keys(children, merged, stored)
    outcome.unchanged += len(existing) - len(changed)
    existing = {k: v for k, v in existing.items() if k in changed}
    _update_existing(table, key_col, merged, existing, now)
    old_ids = set(existing.values())
    for attr, child, fk, build in children:
        touched = [(ids[k], v[attr]) for k, (_, v) in merged.items() if attr in v and k in ids
                   and (k in changed or k in new_keys_set)]
        stale = [row_id for row_id, _ in touched if row_id in old_ids]
        if stale and _postgres():
            db.session.execute(text(f"DELETE FROM {child.name} WHERE {fk} IN "
                                    "(SELECT unnest(CAST(:ids AS integer[])))"), {"ids": stale})
        elif stale:
            db.session.execute(delete(child).where(child.c[fk].in_(stale)))
        params = [{fk: row_id, "position": pos, **item}
                  for row_id, items in touched for pos, item in enumerate(build(items))]
        if params:
            _insert(child, params)
    return outcome


def _existing_rows(table, key_col, merged):
    """(shop_id, code) -> the stored row (column -> value) of those that exist: one indexed query per shop.

    Whole rows, not only ids: the unchanged-row check compares them without reading them again."""
    by_shop = {}
    for shop_id, code in merged:
        by_shop.setdefault(shop_id, []).append(code)
    found = {}
    for shop_id, codes in by_shop.items():
        if _postgres():
            # Joining an array keeps the plan an index probe per key even while the table's
            # statistics still describe it as empty (a fresh import outruns autovacuum's ANALYZE).
            stmt = text(f"SELECT t.* FROM unnest(CAST(:codes AS varchar[])) AS k(code) "
                        f"JOIN {table.name} AS t ON t.shop_id = :shop_id AND t.{key_col} = k.code")
            rows = db.session.execute(stmt, {"codes": codes, "shop_id": shop_id}).mappings()
        else:
            rows = db.session.execute(select(table).where(table.c.shop_id == shop_id,
                                                          table.c[key_col].in_(codes))).mappings()
        found.update({(shop_id, row[key_col]): dict(row) for row in rows})
    return found


def _update_existing(table, key_col, merged, existing, now):
    """UPDATE only the columns each record names, one executemany per distinct set of columns."""
    # The key is equal by construction; leaving it out of SET spares PostgreSQL a unique-index check.
    columns = {c.name for c in table.columns} - {"id", "shop_id", key_col, "created_at", "updated_at"}
    groups = {}
    for key, row_id in existing.items():
        values = merged[key][1]
        names = tuple(sorted(c for c in values if c in columns))
        params = {"b_id": row_id, "b_updated_at": now, **{"b_" + c: values[c] for c in names}}
        groups.setdefault(names, []).append(params)
    for names, params in groups.items():
        if _postgres():
            _pg_update(table, names, params)
            continue
        stmt = (update(table).where(table.c.id == bindparam("b_id"))
                .values({c: bindparam("b_" + c) for c in (*names, "updated_at")}))
        db.session.execute(stmt, params)


# PostgreSQL: one statement per batch that takes each column as an array (unnest). A multi-row
# VALUES list of the same rows costs more to build and parse than the database needs to store them.
def _postgres():
    return db.session.get_bind().dialect.name == "postgresql"


def _arrays(table, names, rows, prefix=""):
    """SQL `unnest(CAST(:a0 AS type[]), …)` and its parameters, one array per column."""
    dialect = db.session.get_bind().dialect
    casts = [f"CAST(:a{i} AS {table.c[n].type.compile(dialect=dialect)}[])" for i, n in enumerate(names)]
    params = {f"a{i}": [row[prefix + n] for row in rows] for i, n in enumerate(names)}
    return f"unnest({', '.join(casts)})", params


def _quoted(names):
    quote = db.session.get_bind().dialect.identifier_preparer.quote
    return ", ".join(quote(n) for n in names)


def _insert(table, rows, returning=()):
    """INSERT many rows (all with the same keys); the RETURNING rows when asked."""
    if _postgres():
        names = list(rows[0])
        source, params = _arrays(table, names, rows)
        sql = f"INSERT INTO {table.name} ({_quoted(names)}) SELECT * FROM {source}"
        if returning:
            sql += f" RETURNING {_quoted(returning)}"
        return db.session.execute(text(sql), params)
    stmt = insert(table)
    if returning:
        stmt = stmt.returning(*(table.c[n] for n in returning))
    return db.session.execute(stmt, rows)


def _pg_update(table, names, rows):
    names = ("id", *names, "updated_at")
    source, params = _arrays(table, names, rows, prefix="b_")
    quote = db.session.get_bind().dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(n)} = v.{quote(n)}" for n in names[1:])
    db.session.execute(text(f"UPDATE {table.name} AS t SET {sets} FROM {source} AS v({_quoted(names)}) "
                            "WHERE t.id = v.id"), params)

"""Which existing rows of an import batch really change: a nightly re-import of a full member
list mostly repeats what is stored, and rewriting identical rows (and their e-mails, phones and
items) cost minutes per million rows on PostgreSQL. No Flask.
"""
from sqlalchemy import select

from plugin.extensions import db

# Child columns that are bookkeeping, not data the import supplies.
_CHILD_META = {"id", "position"}


def changed_keys(table, children, merged, existing):
    """The keys of `existing` whose named columns or child lists differ from what is stored.

    `merged` maps (shop_id, code) -> [ref, values]; `existing` maps the same keys -> row id;
    `children` is upsert.TABLES' list of (values key, child table, foreign key, row builder).
    Only the columns a record names are compared, as only those would be written.
    """
    if not existing:
        return set()
    by_id = {row_id: key for key, row_id in existing.items()}
    current = _rows(table, table.c.id, list(by_id))
    kids = {attr: _child_lists(child, fk, list(by_id)) for attr, child, fk, _ in children
            if any(attr in merged[k][1] for k in existing)}
    changed = set()
    for row_id, key in by_id.items():
        values, stored = merged[key][1], current.get(row_id, {})
        if _differs(values, stored, children, kids.get, row_id):
            changed.add(key)
    return changed


def _differs(values, stored, children, kids, row_id):
    for attr, _, _, build in children:
        if attr in values:
            wanted = [_plain(item) for item in build(values[attr])]
            rows = kids(attr).get(row_id, [])
            if len(rows) != len(wanted) or any({k: r.get(k) for k in w} != w for r, w in zip(rows, wanted)):
                return True
    names = {c for c in values if c not in {attr for attr, *_ in children}}
    return any(c in stored and stored[c] != values[c] for c in names)


def _plain(item):
    return {k: v for k, v in dict(item).items() if k not in _CHILD_META}


def _rows(table, id_col, ids):
    """id -> {column: value} for the given ids (batches are ≤ a few thousand rows)."""
    out = {}
    for chunk in _chunks(ids):
        for row in db.session.execute(select(table).where(id_col.in_(chunk))).mappings():
            out[row["id"]] = dict(row)
    return out


def _child_lists(child, fk, ids):
    """parent id -> its child rows in position order."""
    out = {}
    for chunk in _chunks(ids):
        stmt = select(child).where(child.c[fk].in_(chunk)).order_by(child.c[fk], child.c.position)
        for row in db.session.execute(stmt).mappings():
            out.setdefault(row[fk], []).append(dict(row))
    return out


def _chunks(ids, size=900):
    # SQLite's default limit on bound parameters is far above this, older builds stop at 999.
    for start in range(0, len(ids), size):
        yield ids[start:start + size]

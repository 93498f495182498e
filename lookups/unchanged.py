"""Which existing rows of an import batch really change: a nightly re-import of a full member
list mostly repeats what is stored, and rewriting identical rows (and their e-mails, phones and
items) cost minutes per million rows on PostgreSQL. No Flask.
"""
from sqlalchemy import select

from plugin.extensions import db


def changed_keys(children, merged, stored):
    """The keys of `stored` whose named columns or child lists differ from what is stored.

    `merged` maps (shop_id, code) -> [ref, values]; `stored` maps the existing keys -> their
    stored row (column -> value); `children` is upsert.TABLES' list of (values key, child table,
    foreign key, row builder). Only the columns a record names are compared, as only those
    would be written.
    """
    if not stored:
        return set()
    ids = [row["id"] for row in stored.values()]
    kids = {attr: _child_lists(child, fk, ids) for attr, child, fk, _ in children
            if any(attr in merged[k][1] for k in stored)}
    return {key for key, row in stored.items() if _differs(merged[key][1], row, children, kids.get)}


def _differs(values, stored, children, kids):
    for attr, _, _, build in children:
        if attr in values:
            # The built child rows carry only data columns (no id or position): compare those.
            wanted = build(values[attr])
            rows = kids(attr).get(stored["id"], [])
            if len(rows) != len(wanted) or any({k: r.get(k) for k in w} != w for r, w in zip(rows, wanted)):
                return True
    names = {c for c in values if c not in {attr for attr, *_ in children}}
    return any(c in stored and stored[c] != values[c] for c in names)


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

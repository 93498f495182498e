"""Bulk-load N members and 3N orders into a fresh PostgreSQL database with COPY (`--loader copy`).

The schema comes from `mallbridge db upgrade`, so the benchmark measures the real tables and
indexes. Secondary indexes and foreign keys are dropped for the load and rebuilt from their own
definitions afterwards: building a B-tree once is many times faster than growing it row by row.
"""
import os
import subprocess
import sys
import time
from contextlib import ExitStack

import psycopg
from cryptography.fernet import Fernet

from bench.lookup import data

CHUNK = 20_000


def admin_url(url):
    """The maintenance database on the same server (for CREATE/DROP DATABASE)."""
    return url.rsplit("/", 1)[0] + "/postgres"


def recreate_database(url):
    """Drop and create the database named at the end of `url`."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def app_env(url):
    """Environment for mallbridge processes (CLI, gunicorn) against `url`, outside demo mode."""
    env = dict(os.environ, MALLBRIDGE_DATABASE_URL=url, MALLBRIDGE_SECRET_KEY="bench-secret-not-for-production-use",
               MALLBRIDGE_ENCRYPTION_KEY=Fernet.generate_key().decode())
    env.pop("MALLBRIDGE_DEMO", None)
    return env


def mallbridge(url, *args, capture=False, stdin=None):
    """Run the mallbridge CLI against `url`."""
    exe = os.path.join(os.path.dirname(sys.executable), "mallbridge")
    res = subprocess.run([exe, *args], env=app_env(url), check=True, text=True, input=stdin,
                         stdout=subprocess.PIPE if capture else None)
    return res.stdout


def member_rows(n):
    """Tab-separated COPY lines for member, member_email, member_phone."""
    m, e, p = [], [], []
    email_id = 0
    for r in data.members(n):
        i, tel = r.i, data.tel_of(r.i)
        m.append(f"{i}\t1\t{data.code_of(i)}\t{r.name}\t{r.kana}\t{tel}\t{r.postal}\t{r.address}\t{r.registered}"
                 f"\t\\N\t{r.registered}\t{r.registered}\n")
        for position, email in enumerate(r.emails):
            email_id += 1
            e.append(f"{email_id}\t{i}\t{position}\t{email}\t{email}\n")
        p.append(f"{i}\t{i}\t0\t{tel}\t{tel}\n")
        if len(m) >= CHUNK:
            yield m, e, p
            m, e, p = [], [], []
    if m:
        yield m, e, p


def order_rows(n_members, n_orders):
    """COPY lines for shop_order and order_item: about three orders per member, one or two items each."""
    o, it = [], []
    item_id = 0
    for r in data.orders(n_members, n_orders):
        k, tel = r.k, data.tel_of(r.member)
        for pos, (sku, item, price) in enumerate(r.items):
            item_id += 1
            it.append(f"{item_id}\t{k}\t{pos}\t{sku}\t{item}\t1\t{price}\n")
        o.append(f"{k}\t1\t{r.number}\t{r.mall}\t{data.code_of(r.member)}\t{r.name}\t{r.email}\t{r.email}\t{tel}"
                 f"\t{tel}\t{r.ordered}\t{data.STATUS[r.mall]}\t{r.total}\t{r.name}\t東京都\t{k:012d}\t{r.ordered}"
                 f"\t{r.ordered}\n")
        if len(o) >= CHUNK:
            yield o, it
            o, it = [], []
    if o:
        yield o, it


COLUMNS = {
    "member": "id, shop_id, customer_code, name, name_kana, tel, postal_code, address, registered_at, note,"
              " created_at, updated_at",
    "member_email": "id, member_id, position, email, email_norm",
    "member_phone": "id, member_id, position, tel, tel_norm",
    "shop_order": "id, shop_id, order_number, mall, customer_code, name, email, email_norm, tel, tel_norm,"
                  " ordered_at, status, total, shipping_name, shipping_address, tracking_number, created_at,"
                  " updated_at",
    "order_item": "id, order_id, position, sku, name, quantity, price",
}


def _copy_all(url, tables, chunks):
    """Stream each chunk's lines into the matching tables, one connection (and COPY) per table."""
    # A connection runs one COPY at a time; parallel connections keep one pass over the generator.
    with ExitStack() as stack:
        copies = []
        for table in tables:
            conn = stack.enter_context(psycopg.connect(url))
            conn.execute("SET synchronous_commit = off")
            copies.append(stack.enter_context(conn.cursor().copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN")))
        for chunk in chunks:
            for copy, lines in zip(copies, chunk):
                copy.write("".join(lines))


def _secondary(conn, tables):
    """(drop, create) statements for non-unique indexes and foreign keys of `tables`."""
    drops, creates = [], []
    for name, table, definition in conn.execute(
            "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname='public' "
            "AND tablename = ANY(%s) AND indexdef NOT LIKE 'CREATE UNIQUE%%'", [list(tables)]):
        drops.append(f'DROP INDEX "{name}"')
        creates.append(definition)
    for name, table, definition in conn.execute(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype='f' AND conrelid::regclass::text = ANY(%s)", [list(tables)]):
        drops.insert(0, f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        creates.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return drops, creates


def load(url, members, orders, log=print):
    """Fresh database at `url` with `members` members and `orders` orders; returns seconds taken."""
    started = time.monotonic()
    recreate_database(url)
    mallbridge(url, "db", "upgrade", "heads")
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        drops, creates = _secondary(conn, list(COLUMNS))
        for stmt in drops:
            conn.execute(stmt)
        conn.commit()
        _copy_all(url, ["member", "member_email", "member_phone"], member_rows(members))
        log(f"  members copied ({time.monotonic() - started:.0f} s)")
        _copy_all(url, ["shop_order", "order_item"], order_rows(members, orders))
        log(f"  orders copied ({time.monotonic() - started:.0f} s)")
        for stmt in creates:
            conn.execute(stmt)
        for table in COLUMNS:
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        log(f"  indexes and foreign keys rebuilt ({time.monotonic() - started:.0f} s)")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # visibility map + statistics, as a settled production DB has
    return time.monotonic() - started

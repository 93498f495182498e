"""Fill a fresh PostgreSQL database the way a shop does: CSV files through `mallbridge import`.

The records are those of bench/lookup/data.py, written as UTF-8 CSV with the documented column
names, then `mallbridge import members` and `mallbridge import orders` run as child processes.
Autovacuum is switched off for the imported tables while the benchmark runs on them, so the
figures "right after the import" show what the import itself leaves behind (its own ANALYZE),
not a race with the autovacuum daemon; `settle()` switches it back on and runs VACUUM ANALYZE.
"""
import csv
import os
import tempfile
import time

import psycopg

from bench.lookup import data, load

TABLES = ("member", "member_email", "member_phone", "shop_order", "order_item")
MEMBER_COLUMNS = ["customer_code", "name", "name_kana", "email", "tel", "postal_code", "address", "registered_at"]
ORDER_COLUMNS = ["order_number", "mall", "customer_code", "name", "email", "tel", "ordered_at", "status", "total",
                 "items", "shipping_name", "shipping_address", "tracking_number"]


def write_members(path, n):
    """members.csv for members 1..n."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(MEMBER_COLUMNS)
        for r in data.members(n):
            out.writerow([data.code_of(r.i), r.name, r.kana, ";".join(r.emails), data.tel_of(r.i), r.postal,
                          r.address, r.registered])


def write_orders(path, n_members, n_orders):
    """orders.csv for orders 1..n_orders."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(ORDER_COLUMNS)
        for r in data.orders(n_members, n_orders):
            items = "|".join(f"{sku}:{name}:1:{price}" for sku, name, price in r.items)
            out.writerow([r.number, r.mall, data.code_of(r.member), r.name, r.email, data.tel_of(r.member), r.ordered,
                          data.STATUS[r.mall], r.total, items, r.name, "東京都", f"{r.k:012d}"])


def autovacuum(url, enabled):
    """Switch autovacuum (and so its automatic ANALYZE) on or off for the imported tables."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = {'on' if enabled else 'off'})")


def fill(url, members, orders):
    """Fresh database at `url`, filled through `mallbridge import`; returns seconds per step."""
    seconds = {}
    load.recreate_database(url)
    load.mallbridge(url, "db", "upgrade", "heads")
    autovacuum(url, False)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for kind, writer, n in (("members", lambda p: write_members(p, members), members),
                                ("orders", lambda p: write_orders(p, members, orders), orders)):
            path = os.path.join(tmp, f"{kind}.csv")
            writer(path)
            started = time.monotonic()
            load.mallbridge(url, "import", kind, path)
            seconds[f"import {n:,} {kind}"] = time.monotonic() - started
            print(f"  {kind}: {n:,} imported in {seconds[f'import {n:,} {kind}']:.0f} s", flush=True)
    return seconds


def settle(url):
    """What a settled production database has: autovacuum on, visibility map and statistics fresh."""
    autovacuum(url, True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")

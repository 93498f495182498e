"""In-process CPU per lookup request: e-mail lookups through app.test_client(), JSON and HTML.

    .venv/bin/python -m bench.lookup.cpu [--url postgresql://…/mb_perfbench] [--n 500] [--profile json]

Seeds a few thousand members (once per database), then times N lookups with a Bearer token
(process CPU time, so other processes on a shared machine distort it least). `--baseline`
also times the lookup with the removed per-request costs put back (the limiter hook on every
request, the ORM audit insert, statements built per request), alternating batches in the same
process so noise from other processes hits both alike.
"""
import argparse
import cProfile
import pstats
import random
import time

from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import func, select

from lookups import queries
from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from plugin.normalize import normalize_email, normalize_tel
from plugin import audit, create_app
from plugin.extensions import db
from plugin.forms import limiter
from plugin.models import AuditLog, Shop
from plugin.tokens import create_token


def seed(members):
    """A default shop with `members` members, one e-mail/phone each, two orders each."""
    shop = db.session.scalar(select(Shop).where(Shop.code == "default"))
    if shop is None:
        shop = Shop(code="default", name="本店")
        db.session.add(shop)
        db.session.flush()
    if db.session.scalar(select(func.count(Member.id))) >= members:
        return
    for i in range(members):
        email, tel = f"user{i}@example.jp", f"090-{i // 10000:04d}-{i % 10000:04d}"
        m = Member(shop=shop, customer_code=f"M{i:07d}", name="山田 太郎", name_kana="ヤマダ タロウ", tel=tel)
        m.emails = [MemberEmail(email=email, email_norm=normalize_email(email), position=0)]
        m.phones = [MemberPhone(tel=tel, tel_norm=normalize_tel(tel), position=0)]
        db.session.add(m)
        for j in range(2):
            o = Order(shop=shop, order_number=f"{i}-{j}", customer_code=m.customer_code, mall="own",
                      email=email, email_norm=normalize_email(email), tel=tel, tel_norm=normalize_tel(tel),
                      status="発送済み", total=3240)
            o.items = [OrderItem(position=0, sku="tea-100", name="有機緑茶 100g", quantity=2, price=1620)]
            db.session.add(o)
        if i % 1000 == 999:
            db.session.commit()
    db.session.commit()


def run(client, token, n, members, fmt):
    """CPU seconds per request for n lookups of random existing members."""
    rnd = random.Random(1)
    headers = {"Authorization": f"Bearer {token}"}
    if fmt == "json":
        headers["Accept"] = "application/json"
    started = time.process_time()
    for _ in range(n):
        resp = client.get(f"/lookup/members?email=user{rnd.randrange(members)}@example.jp", headers=headers)
        assert resp.status_code == 200, resp.status_code
        resp.close()
    return (time.process_time() - started) / n


def _orm_audit_record(action, query=None, result_count=None, actor=None, detail=None, commit=True):
    """The audit insert as it was before the Core insert (for --baseline)."""
    from flask import request

    db.session.add(AuditLog(actor=actor or "anonymous", action=action, params=query, result_count=result_count,
                            ip=request.remote_addr, detail=detail))
    db.session.commit()


class _NoCache(dict):
    """A statement cache that never keeps anything: every lookup builds its statement again."""

    def __setitem__(self, key, value):
        pass


def _uncached_latest_orders(member, limit=queries.LATEST_ORDERS):
    """latest_orders building its statement per call, as before the statement cache."""
    stmt = (select(Order).where(Order.shop_id == member.shop_id, Order.customer_code == member.customer_code)
            .order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


class Baseline:
    """Puts the removed per-request costs back while active."""

    def __init__(self, app):
        self.app, self.saved = app, (audit.record, queries._statements, queries.latest_orders)

    def __enter__(self):
        self.app.before_request_funcs.setdefault(None, []).append(limiter._check_request_limit)
        audit.record, queries._statements, queries.latest_orders = (_orm_audit_record, _NoCache(),
                                                                    _uncached_latest_orders)

    def __exit__(self, *exc):
        self.app.before_request_funcs[None].remove(limiter._check_request_limit)
        audit.record, queries._statements, queries.latest_orders = self.saved


def compare(app, client, token, args, fmt, batches=10):
    """(current, baseline) CPU ms per request, alternating batches of n/batches lookups."""
    now = base = 0.0
    size = max(1, args.n // batches)
    for _ in range(batches):
        now += run(client, token, size, args.members, fmt)
        with Baseline(app):
            base += run(client, token, size, args.members, fmt)
    return now / batches * 1000, base / batches * 1000


def ensure_database(url):
    """Create the PostgreSQL database of `url` when it does not exist yet (SQLite creates itself)."""
    if not url.startswith("postgresql"):
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    server = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def main(sort="cumulative", filt=(45,)):
    """Seed, warm up, time (optionally profile) the lookups."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/mb_perfbench")
    ap.add_argument("--members", type=int, default=3000)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--profile", choices=["json", "html"])
    ap.add_argument("--baseline", action="store_true")
    args = ap.parse_args()
    ensure_database(args.url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench",
                      "ENCRYPTION_KEY": Fernet.generate_key().decode(),
                      "SERVER_NAME": "mallbridge.test"})
    with app.app_context():
        upgrade(revision="head")
        seed(args.members)
        token = create_token("bench")
        db.session.remove()
    client = app.test_client()
    run(client, token, 50, args.members, "json")
    if args.profile:
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        run(client, token, args.n, args.members, args.profile)
        prof.disable()
        pstats.Stats(prof).sort_stats(sort).print_stats(*filt)
        return
    for fmt in ("json", "html"):
        if args.baseline:
            now, base = compare(app, client, token, args, fmt)
            print(f"{fmt}: {now:.2f} ms CPU/request, baseline {base:.2f} ms, ratio {now / base:.2f}")
            continue
        print(f"{fmt}: {run(client, token, args.n, args.members, fmt) * 1000:.2f} ms CPU/request")


if __name__ == "__main__":
    main()

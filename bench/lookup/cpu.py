"""In-process CPU per lookup request, without gunicorn, wrk or the network in the way.

    .venv/bin/python -m bench.lookup.cpu [--url postgresql://…/mb_perfbench] [--n 1500] [--profile json]

Seeds a few thousand members (once per database), then calls the WSGI app directly: the bare
Flask app of bench/lookup/bare.py, and JSON and HTML e-mail lookups through the staff session and
with a Bearer token, in alternating rounds. It prints the process CPU per request and the CPU the
PostgreSQL backends spent (from /proc), the figures a shared machine distorts least.
`--profile json` prints a cProfile (CPU clock) of N session lookups instead.
"""
import argparse
import cProfile
import io
import pstats
import random
import re
import statistics
import sys
import time

from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import func, select

from bench.lookup import bare
from bench.lookup.run import cpu_seconds
from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from plugin import create_app
from plugin.extensions import db
from plugin.models import Shop, User
from plugin.normalize import normalize_email, normalize_tel
from plugin.tokens import create_token

STAFF = ("cpu-bench@example.jp", "cpu-bench-password")
AGENT = "mallbridge-bench"


def seed(members):
    """A default shop with `members` members, one e-mail/phone each, two orders each; a staff user."""
    shop = db.session.scalar(select(Shop).where(Shop.code == "default"))
    if shop is None:
        shop = Shop(code="default", name="本店")
        db.session.add(shop)
        db.session.flush()
    if db.session.scalar(select(User).where(User.email == STAFF[0])) is None:
        user = User(email=STAFF[0], role="agent")
        user.set_password(STAFF[1])
        db.session.add(user)
    if db.session.scalar(select(func.count(Member.id))) >= members:
        db.session.commit()
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


def session_cookie(app):
    """Log the bench user in through the real form; the Cookie header value of the session."""
    client = app.test_client()
    page = client.get("/login", headers={"User-Agent": AGENT}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"email": STAFF[0], "password": STAFF[1], "csrf_token": token},
                       headers={"User-Agent": AGENT})
    assert resp.status_code == 302, resp.status_code
    return next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")).split(";")[0]


def environ(query, headers):
    """A WSGI environ as gunicorn builds it for GET /lookup/members?<query>."""
    env = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/lookup/members", "QUERY_STRING": query,
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
           "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
           "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
           "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": AGENT}
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def backend_pids(app):
    """PostgreSQL backends serving this app's database (none on SQLite)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            return []
        with db.engine.connect() as conn:
            return list(conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                             "AND pid <> pg_backend_pid()").scalars())


def run(wsgi, headers, n, members, pids=()):
    """(app CPU ms, database CPU ms) per request for n lookups of random existing members."""
    rnd, statuses = random.Random(1), []
    db_before, started = cpu_seconds(pids), time.process_time()
    for _ in range(n):
        body = wsgi(environ(f"email=user{rnd.randrange(members)}@example.jp", headers),
                    lambda status, hdrs, exc=None: statuses.append(status))
        for _chunk in body:
            pass
        getattr(body, "close", lambda: None)()
    app_ms = (time.process_time() - started) / n * 1000
    assert all(s.startswith("200") for s in statuses), statuses[:3]
    return app_ms, (cpu_seconds(pids) - db_before) / n * 1000


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


def main():
    """Seed, warm up, time (or profile) the lookups side by side with bare Flask."""
    ap = argparse.ArgumentParser(prog="python -m bench.lookup.cpu")
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/mb_perfbench")
    ap.add_argument("--members", type=int, default=3000)
    ap.add_argument("--n", type=int, default=1500, help="requests per target and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", choices=["json", "html"])
    args = ap.parse_args()
    ensure_database(args.url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench-secret-not-for-production-use",
                      "ENCRYPTION_KEY": Fernet.generate_key().decode(), "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        upgrade(revision="head")
        seed(args.members)
        token = create_token("bench")
        db.session.remove()
    cookie = session_cookie(app)
    targets = {"bare Flask (fixed JSON)": (bare.app, {})}
    for fmt, accept in (("JSON", "application/json"), ("HTML", "text/html")):
        targets[f"{fmt} lookup, session"] = (app, {"Accept": accept, "Cookie": cookie})
        targets[f"{fmt} lookup, token"] = (app, {"Accept": accept, "Authorization": f"Bearer {token}"})
    for wsgi, headers in targets.values():  # warm up: pools, prepared statements, caches
        run(wsgi, headers, 200, args.members)
    if args.profile:
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        run(app, targets[f"{args.profile.upper()} lookup, session"][1], args.n, args.members)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        return
    pids = backend_pids(app)
    rounds = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (wsgi, headers) in targets.items():
            rounds[name].append(run(wsgi, headers, args.n, args.members, pids if wsgi is app else ()))
    bare_ms = statistics.median(r[0] for r in rounds["bare Flask (fixed JSON)"])
    print("| request | app CPU ms | DB CPU ms | ÷ bare (app + DB) |\n|---|---|---|---|")
    for name, rs in rounds.items():
        app_ms, db_ms = statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)
        print(f"| {name} | {app_ms:.3f} | {db_ms:.3f} | {(app_ms + db_ms) / bare_ms:.1f} |")


if __name__ == "__main__":
    main()

"""In-process CPU per lookup request: e-mail lookups through app.test_client(), JSON and HTML.

    .venv/bin/python -m bench.lookup.cpu [--url postgresql://…/mb_perfbench] [--n 500] [--profile json]

Seeds a few thousand members (once per database), then times N lookups through the staff
session and with a Bearer token (process CPU time, so other processes on a shared machine
distort it least). `--profile json` prints a cProfile (CPU clock) of N session lookups.
"""
import argparse
import cProfile
import pstats
import random
import re
import time

from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import func, select

from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from plugin import create_app
from plugin.extensions import db
from plugin.models import Shop, User
from plugin.normalize import normalize_email, normalize_tel
from plugin.tokens import create_token

STAFF = ("cpu-bench@example.jp", "cpu-bench-password")


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


def login(client):
    """Log the bench user in through the real form (the session cookie stays in the client)."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"email": STAFF[0], "password": STAFF[1], "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def run(client, headers, n, members, fmt):
    """CPU seconds per request for n lookups of random existing members."""
    rnd = random.Random(1)
    headers = dict(headers, Accept="application/json" if fmt == "json" else "text/html")
    started = time.process_time()
    for _ in range(n):
        resp = client.get(f"/lookup/members?email=user{rnd.randrange(members)}@example.jp", headers=headers)
        assert resp.status_code == 200, resp.status_code
        resp.close()
    return (time.process_time() - started) / n


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
    args = ap.parse_args()
    ensure_database(args.url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench",
                      "ENCRYPTION_KEY": Fernet.generate_key().decode(),
                      "SERVER_NAME": "mallbridge.test", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        upgrade(revision="head")
        seed(args.members)
        token = create_token("bench")
        db.session.remove()
    session_client, token_client = app.test_client(), app.test_client()
    login(session_client)
    auths = {"session": (session_client, {}), "token": (token_client, {"Authorization": f"Bearer {token}"})}
    for client, headers in auths.values():
        run(client, headers, 50, args.members, "json")
    if args.profile:
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        run(session_client, {}, args.n, args.members, args.profile)
        prof.disable()
        pstats.Stats(prof).sort_stats(sort).print_stats(*filt)
        return
    for fmt in ("json", "html"):
        for name, (client, headers) in auths.items():
            print(f"{fmt} {name}: {run(client, headers, args.n, args.members, fmt) * 1000:.2f} ms CPU/request")


if __name__ == "__main__":
    main()

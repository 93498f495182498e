"""A lookup by relay address next to a lookup by e-mail: the same customers, the same database.

    .venv/bin/python -m bench.lookup.relay [--members 100000] [--rounds 5] [--n 300]

Loads `bench_lookup_relay_<size>` with COPY (bench/lookup/load.py: N members, 3N orders), adds a
Rakuten and a Yahoo! mall account and one inquiry per mall order (Rakuten: masked address and order
number; Yahoo!: order ID), as the poller stores them. Then, in alternating rounds, looks up the
buyers of random mall orders once by the member's e-mail and once by the inquiry's signed relay
address (`r+…@REPLY_DOMAIN`), both as the view does it (parse, resolve, search, audit row) and
through the WSGI app with an API token (JSON). Prints the medians side by side and their ratio.
"""
import argparse
import datetime as dt
import os
import random
import statistics
import time

from sqlalchemy import insert, text

from bench.lookup import data, load
from bench.lookup.run import size_label
from lookups import params, relay, search
from plugin import create_app
from plugin.extensions import db
from plugin.tokens import create_token
from sync import identity
from sync.models import MallAccount, MallInquiry

DOMAIN = "reply.bench.example"
SECRET = "relay-bench-secret-key-0123456789abcdef"  # 32 characters or more, as outside demo


def seed_inquiries(members, orders, chunk=5000):
    """Two mall accounts and one inquiry per mall order; returns [(member i, relay address, mall)]."""
    accounts = {"rakuten": MallAccount(shop_id=1, mall="rakuten", rakuten_shop_id="391234", enabled=True),
                "yahoo": MallAccount(shop_id=1, mall="yahoo", seller_id="mallbridge-demo", enabled=True)}
    db.session.add_all(accounts.values())
    db.session.commit()
    customers, rows = [], []
    for r in data.orders(members, orders):
        if r.mall not in accounts:
            continue
        account = accounts[r.mall]
        who = r.email if r.mall == "rakuten" else f"Q{r.k}"  # a Yahoo! topic is its own customer
        key = identity.customer_key(r.mall, account.id, who)
        rows.append({"account_id": account.id, "inquiry_id": f"Q{r.k}", "customer": key, "subject": f"【{r.mall}】商品問い合わせ",
                     "inbox": "inbox@example.jp", "customer_name": r.name,
                     "customer_address": r.email if r.mall == "rakuten" else None, "order_number": r.number,
                     "started_at": dt.datetime.fromisoformat(r.ordered)})
        customers.append((r.member, identity.reply_address(r.mall, account.id, key, DOMAIN), r.mall))
        if len(rows) >= chunk:
            db.session.execute(insert(MallInquiry), rows)
            rows = []
    if rows:
        db.session.execute(insert(MallInquiry), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE mall_inquiry, mall_account"))
    db.session.commit()
    return customers


def _core(app, conn, value):
    """One lookup as lookups.views.lookup does it, without Flask's request: parse, resolve, search + audit."""
    q = params.validate({"email": value})
    detail = relay.resolve(q, DOMAIN, app.config["SECRET_KEY"])
    entry = {"actor": "bench", "user_id": None, "action": "lookup.members", "params": q.as_dict(), "ip": "127.0.0.1",
             "detail": detail}
    return search.search(conn, "members", q, audit=entry)


def measure(url, members, orders, rounds, n):
    """{case: [ms per lookup, one value per round]} for the core path and the WSGI path."""
    load.load(url, members, orders)
    os.environ.update(load.app_env(url), MALLBRIDGE_REPLY_DOMAIN=DOMAIN, MALLBRIDGE_SECRET_KEY=SECRET)
    app = create_app()
    out = {k: [] for k in ("core e-mail", "core relay", "wsgi e-mail", "wsgi relay")}
    with app.app_context():
        customers = seed_inquiries(members, orders)
        token = create_token("relay-bench")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        client = app.test_client()
        rng = random.Random(3)
        with search.connection(db.engine) as conn:
            for _ in range(rounds):
                sample = [rng.choice(customers) for _ in range(n)]
                for case, values in (("e-mail", [data.email_of(i) for i, _, _ in sample]),
                                     ("relay", [address for _, address, _ in sample])):
                    started = time.perf_counter()
                    for value in values:
                        assert _core(app, conn, value).count or case == "e-mail"
                    out[f"core {case}"].append((time.perf_counter() - started) * 1000 / n)
                    started = time.perf_counter()
                    for value in values:
                        r = client.get("/lookup/members", query_string={"email": value}, headers=headers)
                        assert r.status_code == 200
                    out[f"wsgi {case}"].append((time.perf_counter() - started) * 1000 / n)
        db.engine.dispose()
    return out


def main(argv=None):
    """Load, measure, print a Markdown table."""
    p = argparse.ArgumentParser(prog="python -m bench.lookup.relay", description=__doc__.split("\n")[0])
    p.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"))
    p.add_argument("--members", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--n", type=int, default=300, help="lookups per case and round")
    args = p.parse_args(argv)
    url = f"{args.pg}/bench_lookup_relay_{size_label(args.members)}"
    out = measure(url, args.members, 3 * args.members, args.rounds, args.n)
    print(f"| path ({args.members:,} members, {3 * args.members:,} orders) | by e-mail ms | by relay address ms "
          "| relay ÷ e-mail |")
    print("|---|---|---|---|")
    for path in ("core", "wsgi"):
        mail, relay = statistics.median(out[f"{path} e-mail"]), statistics.median(out[f"{path} relay"])
        print(f"| {path} | {mail:.3f} | {relay:.3f} | {relay / mail:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

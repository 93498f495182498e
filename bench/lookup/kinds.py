"""Per-kind scaling check: every lookup kind, in-process and one at a time, at 1M vs 10k members.

wrk measures the e-mail lookup under load; this catches a lookup kind that quietly turned into a
scan (its time grows with the table), which a load test of e-mail alone would never show.
Usage: `python -m bench.lookup.kinds` after `python -m bench.lookup` has loaded the databases
(bench_lookup_1m and bench_lookup_10k).
"""
import argparse
import os
import statistics
import time

from bench.lookup import data, load
from bench.lookup.run import size_label

KINDS = ("email", "tel", "customer_code")


def _value(kind, i):
    return {"email": data.email_of(i), "tel": data.tel_of(i), "customer_code": data.code_of(i)}[kind]


def measure(url, members, n=200):
    """Median ms of a member and an order search per kind against the database at `url`."""
    os.environ.update(load.app_env(url))
    from lookups import params, search
    from plugin import create_app
    from plugin.extensions import db

    app = create_app()
    out = {}
    with app.app_context(), search.connection(db.engine) as conn:
        for kind in KINDS:
            for name in ("members", "orders"):
                times = []
                for k in range(n + 10):
                    q = params.validate({kind: _value(kind, 1 + (k * 7919) % members)})
                    started = time.perf_counter()
                    found = search.search(conn, name, q)
                    times.append((time.perf_counter() - started) * 1000)
                    # Every member exists; about 5 % of them have no orders.
                    assert found.count or name == "orders", f"{kind} lookup found nothing"
                out[f"{name} by {kind}"] = statistics.median(times[10:])
    with app.app_context():
        db.engine.dispose()
    return out


def main(argv=None):
    """Print a table of median times at both sizes and their ratio."""
    p = argparse.ArgumentParser(prog="python -m bench.lookup.kinds")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"))
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--small", type=int, default=10_000)
    args = p.parse_args(argv)
    big = measure(f"{args.pg}/bench_lookup_{size_label(args.members)}", args.members)
    small = measure(f"{args.pg}/bench_lookup_{size_label(args.small)}", args.small)
    print(f"| lookup | {args.small:,} members ms | {args.members:,} members ms | ratio |")
    print("|---|---|---|---|")
    for key in big:
        print(f"| {key} | {small[key]:.2f} | {big[key]:.2f} | {big[key] / small[key]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

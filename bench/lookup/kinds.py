"""Per-kind scaling check: every lookup kind, in-process and one at a time, at 1M vs 10k members.

wrk measures the e-mail lookup under load; this catches a lookup kind that quietly turned into a
scan (its time grows with the table), which a load test of e-mail alone would never show.
Usage: `python -m bench.lookup.kinds` after `python -m bench.lookup` has loaded the databases.
"""
import argparse
import os
import statistics
import time

from bench.lookup import load

KINDS = ("email", "tel", "customer_code")


def _value(kind, i):
    return {"email": load.email_of(i), "tel": load._tel(i), "customer_code": f"{i:08d}"}[kind]


def measure(url, members, n=200):
    """Median ms of find_members and find_orders per kind against the database at `url`."""
    os.environ.update(load.app_env(url))
    from lookups import params, queries
    from plugin import create_app
    from plugin.extensions import db

    app = create_app()
    out = {}
    with app.app_context():
        for kind in KINDS:
            for name, fn in (("members", queries.find_members), ("orders", queries.find_orders)):
                times = []
                for k in range(n + 10):
                    q = params.validate({kind: _value(kind, 1 + (k * 7919) % members)})
                    started = time.perf_counter()
                    found = fn(q)
                    times.append((time.perf_counter() - started) * 1000)
                    assert found, f"{kind} lookup found nothing"
                    db.session.rollback()
                out[f"{name} by {kind}"] = statistics.median(times[10:])
        db.engine.dispose()
    return out


def main(argv=None):
    """Print a table of median times at both sizes and their ratio."""
    p = argparse.ArgumentParser(prog="python -m bench.lookup.kinds")
    p.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"))
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--small", type=int, default=10_000)
    args = p.parse_args(argv)
    big = measure(f"{args.pg}/mb_bench", args.members)
    small = measure(f"{args.pg}/mb_bench_small", args.small)
    print(f"| lookup | {args.small:,} members ms | {args.members:,} members ms | ratio |")
    print("|---|---|---|---|")
    for key in big:
        print(f"| {key} | {small[key]:.2f} | {big[key]:.2f} | {big[key] / small[key]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Sync benchmark (issue 6): the fake mall → poller → outbox → a local aiosmtpd sink.

    .venv/bin/python -m bench.sync [--messages 100000] [--latency 50] [--database-url URL]

1. Backfill: N customer inquiries spread over the last 89 days in the fake mall (pacing off, no
   rate limit); `mallbridge sync run --once` stages them, `mallbridge outbox release --all`
   releases them and `mallbridge outbox run --once` delivers them. Rates and peak RSS of both
   children (target ≤ 200 MB).
2. Latency: a fresh database, the default settings (poll interval, pacing) and the fake mall's
   default rate limit; `sync run` and `outbox run` as long-running children; inquiries added one
   at a time with 1–3 s gaps (--gap); time from adding to arrival in the sink. Target p95 ≤ poll + 5 s.

The fake mall and the sink run as threads of this process; the measured processes are children.
"""
import argparse
import random
import signal
import statistics
import sys
import tempfile
import time

from bench.sync.harness import ROOT, child_env, prepare_db, reap, run_timed, scalar, spawn, start_mall, start_sink

DAYS = 89  # inside the default 90-day backfill


def fill(mall, n, days):
    """n Rakuten inquiries, oldest first, spread over `days` days (the fake mall's own world functions)."""
    from sync.fake_mall.world import add_inquiry

    started = time.perf_counter()
    with mall.state.lock:
        for i in range(n):
            add_inquiry(mall.state, {"days_ago": days * (n - i) / n, "user_name": f"顧客 {i}",
                                     "item_name": "有機緑茶 100g", "category": "再入荷・在庫",
                                     "message": f"有機緑茶 100g の再入荷予定はありますか？（{i}）\n"
                                                "来月の法事で使いたいので、10袋注文したいです。"})
    return time.perf_counter() - started


def backfill(args, key):
    """Phase 1; returns (lines of figures, ok)."""
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='bench-sync-')}/sync.db"
    mall = start_mall(rate_limit=None)
    controller, sink, port = start_sink()
    try:
        # All inside the default 90-day backfill: above ~10,000 per 30 days the Rakuten client
        # splits windows on IE000, as it must for a busy shop.
        days = DAYS
        prepare_db(url, mall, key, pacing_ms=0)
        fill_s = fill(mall, args.messages, days)
        env = child_env(url, mall, port, key)
        sync_s, sync_rss, sync_ru = run_timed(env, "sync", "run", "--once")
        inbound = scalar(url, "SELECT count(*) FROM outbox_message WHERE state = 'staged'")
        release_s, _, _ = run_timed(env, "outbox", "release", "--all")
        out_s, out_rss, out_ru = run_timed(env, "outbox", "run", "--once", "--batch", str(args.batch))
        sent = scalar(url, "SELECT count(*) FROM outbox_message WHERE state = 'sent'")
        received = sink.count
    finally:
        controller.stop()
        mall.stop()
    n = args.messages
    lines = [(f"backfill: {n} inquiries over {days} days (fake mall filled in {fill_s:.1f} s), "
             f"database {url.split(':')[0]}"),
             (f"  sync run --once : {sync_s:7.1f} s  {inbound / sync_s:7.0f} msg/s  peak RSS {sync_rss:6.1f} MB  "
             f"(staged {inbound})"),
             f"  outbox release  : {release_s:7.1f} s",
             (f"  outbox run      : {out_s:7.1f} s  {sent / out_s:7.0f} msg/s  peak RSS {out_rss:6.1f} MB  "
             f"(sent {sent}, sink received {received})"),
             (f"  end to end      : {sync_s + release_s + out_s:7.1f} s  "
             f"{received / (sync_s + release_s + out_s):7.0f} msg/s"),
             (f"  (wait4 ru_maxrss, which includes this benchmark process and its fake mall: sync {sync_ru:.1f} MB, "
             f"outbox {out_ru:.1f} MB)")]
    ok = inbound == n and sent == n and received == n and max(sync_rss, out_rss) <= 200
    return lines, ok


def latency(args, key):
    """Phase 2; returns (lines of figures, ok)."""
    from sync.fake_mall.world import add_inquiry
    from sync.options import SETTINGS

    poll = next(d.default for section in SETTINGS for d in section.settings if d.key == "sync.poll_seconds")
    url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-sync-lat-')}/sync.db"
    mall = start_mall(rate_limit=args.mall_rate_limit or None)
    controller, sink, port = start_sink(keep=True)
    procs = []
    added = {}
    try:
        prepare_db(url, mall, key, pacing_ms=args.pacing_ms)  # None: the default, 1 request/s per account
        env = child_env(url, mall, port, key)
        procs = [spawn(env, "sync", "run"), spawn(env, "outbox", "run")]
        deadline = time.monotonic() + 60
        while not scalar(url, "SELECT count(*) FROM mall_account WHERE last_success_at IS NOT NULL"):
            if time.monotonic() > deadline:
                raise SystemExit("the poller did not finish its first pass within 60 s")
            time.sleep(0.5)
        rng = random.Random(6)
        for i in range(args.latency):
            token = f"LAT-{i:03d}-{rng.randrange(10**6):06d}"
            with mall.state.lock:
                add_inquiry(mall.state, {"message": f"届くまでの時間を測っています。{token}"})
            added[token] = time.time()
            time.sleep(rng.uniform(*args.gap))
        deadline = time.monotonic() + poll + 60
        while sink.count < args.latency and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for proc in procs:
            proc.terminate()
        rss = [reap(proc)[1] for proc in procs]
        controller.stop()
        mall.stop()
    arrived = {}
    for when, text in sink.bodies():
        for token in added:
            if token in text:
                arrived.setdefault(token, when)
    delays = sorted(arrived[t] - added[t] for t in arrived)
    p95 = delays[max(0, round(0.95 * len(delays)) - 1)] if delays else float("nan")
    pacing = "default (1000 ms)" if args.pacing_ms is None else f"{args.pacing_ms} ms"
    lines = [(f"latency: {len(delays)} of {len(added)} arrived; poll interval {poll} s (default), "
             f"pacing {pacing}, gaps {args.gap[0]:g}–{args.gap[1]:g} s, outbox idle 1 s (default)"),
             f"  p50 {statistics.median(delays):.1f} s  p95 {p95:.1f} s  max {delays[-1]:.1f} s  "
             f"min {delays[0]:.1f} s" if delays else "  nothing arrived",
             f"  peak RSS: sync run {rss[0]:.1f} MB, outbox run {rss[1]:.1f} MB"]
    ok = len(delays) == len(added) and p95 <= poll + 5
    return lines, ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100000, help="inquiries in the backfill (0 = skip)")
    parser.add_argument("--latency", type=int, default=50, help="messages in the latency run (0 = skip)")
    parser.add_argument("--gap", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                        help="seconds between two latency messages (uniform)")
    parser.add_argument("--pacing-ms", type=int, default=None, help="latency run: sync.pacing_ms (default: unset)")
    parser.add_argument("--mall-rate-limit", type=float, default=10.0,
                        help="latency run: the fake mall's requests/s per account before 429 (0 = none; "
                             "10 is its default, Yahoo!'s documented cap)")
    parser.add_argument("--batch", type=int, default=50, help="outbox worker batch")
    parser.add_argument("--database-url", default=None, help="backfill database (default: a fresh SQLite file)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    # A terminated benchmark still stops its `sync run` / `outbox run` children (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    ok = True
    for enabled, phase in ((args.messages, backfill), (args.latency, latency)):
        if enabled:
            lines, passed = phase(args, key)
            print("\n".join(lines), flush=True)
            ok = ok and passed
    print("targets (all delivered, RSS ≤ 200 MB, latency p95 ≤ poll + 5 s):", "met" if ok else "NOT met")
    return 0 if ok else 1

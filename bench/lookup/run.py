"""E-mail lookup benchmark: 1M-member and 10k-member databases vs a bare Flask app, side by side.

Everything is served by gunicorn with the same settings (2 sync workers) and driven in
alternating rounds by wrk on loopback, so machine noise hits every target alike; the ratios of one
run are the result. Usage: `python -m bench.lookup [--members 1000000] [--skip-load] ...`.
"""
import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from urllib.parse import quote

import psycopg

from bench.lookup import data, imported, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lookup.lua")
SAMPLE = 20_000
TARGETS = {"p99_ms": 20.0, "rps_ratio": 0.25, "scale_ratio": 1.5}
STAFF = ("bench-agent@example.jp", "bench-password-1")
USER_AGENT = "mallbridge-bench"  # the same in lookup.lua
# Measured in this order in every round. The bare app, then two floors between bare Flask and a
# lookup (bench/lookup/floor.py: one SELECT 1 round trip; the member index seek alone), then the
# real lookup through the staff session and through an API token, at both sizes.
ORDER = ["bare", "floor_select1", "floor_query", "big_session", "big_token", "small_session"]


def parse_args(argv=None):
    """Command-line options (sizes, loader, wrk settings, database server)."""
    p = argparse.ArgumentParser(prog="python -m bench.lookup", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=1_000_000)
    p.add_argument("--small", type=int, default=10_000, help="members in the comparison database")
    p.add_argument("--orders-per-member", type=int, default=3)
    p.add_argument("--pg", default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
                   help="PostgreSQL server URL without database name")
    p.add_argument("--loader", choices=["import", "copy"], default="import",
                   help="fill the databases with `mallbridge import` (CSV) or with COPY (faster, already analysed)")
    p.add_argument("--skip-load", action="store_true", help="measure the databases as they are")
    p.add_argument("--no-settle", action="store_true",
                   help="after an import, measure only right after it (not again after VACUUM ANALYZE)")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=18700, help="first of five ports")
    p.add_argument("--json", help="also write the results to this file")
    return p.parse_args(argv)


def size_label(n):
    """1000000 -> '1m', 10000 -> '10k' (database names and table labels)."""
    for unit, div in (("m", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def machine(pg_url):
    """Where the figures come from: date, CPUs, CPU model, PostgreSQL version, load."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(pg_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "nproc": os.cpu_count(),
            "cpu": model, "postgres": pg, "python": platform.python_version(), "loadavg": loadavg()}


def loadavg():
    """The 1, 5 and 15 minute load averages as text."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def sample_file(members):
    """A temp file of URL-encoded e-mails of random existing members, for the wrk script."""
    rng = random.Random(7)
    fd, path = tempfile.mkstemp(prefix="bench-emails-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        for i in rng.sample(range(1, members + 1), min(SAMPLE, members)):
            f.write(quote(data.email_of(i), safe="") + "\n")
    return path


def serve(app_spec, port, env, workers):
    """Start gunicorn on loopback; returns the process once /healthz answers."""
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    proc = subprocess.Popen([gunicorn, "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                             "--log-level", "warning", app_spec], cwd=ROOT, env=env)
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"gunicorn {app_spec} on port {port} did not come up")


def _cookie(response, name="session"):
    """The value of one Set-Cookie of a response (the Secure flag keeps urllib's jar from sending it)."""
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith(name + "="):
            return header.split(";", 1)[0]
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(port):
    """Log the bench's staff account in through the real form; returns the Cookie header value.

    With the User-Agent wrk sends later (lookup.lua): Flask-Login ties a session to the browser's
    address and User-Agent, and a mismatch would rewrite the cookie on every request.
    """
    base = f"http://127.0.0.1:{port}"
    agent = {"User-Agent": USER_AGENT}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/login", headers=agent), timeout=10) as r:
        page, cookie = r.read().decode(), _cookie(r)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"email": STAFF[0], "password": STAFF[1], "csrf_token": token}).encode()
    req = urllib.request.Request(f"{base}/login", data=body, headers={"Cookie": cookie, **agent})
    try:
        urllib.request.build_opener(_NoRedirect).open(req, timeout=10)
    except urllib.error.HTTPError as exc:  # the 302 after a successful login
        if exc.code != 302:
            raise
        return _cookie(exc)
    raise RuntimeError("login did not redirect")


def check_lookup(port, headers, email):
    """One real lookup must find exactly the member, or the load test would measure 'not found'."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/lookup/members?email={quote(email)}",
                                 headers={"Accept": "application/json", "User-Agent": USER_AGENT, **headers})
    with urllib.request.urlopen(req, timeout=10) as r:
        members = json.load(r)["members"]
    if len(members) != 1:
        raise RuntimeError(f"lookup of {email} on port {port} found {len(members)} members")


def cpu_seconds(pids):
    """User + system CPU seconds used so far by these processes (from /proc)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def server_pids(proc, db_url=None):
    """(gunicorn worker pids, PostgreSQL backend pids serving its database)."""
    out = subprocess.run(["pgrep", "-P", str(proc.pid)], check=False, capture_output=True, text=True).stdout
    backends = []
    if db_url:
        with psycopg.connect(db_url) as conn:
            backends = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return [int(x) for x in out.split()], backends


def wrk(target, seconds, args, pids=((), ())):
    """Run wrk with the Lua script against one target; returns req/s, latencies and CPU per request.

    CPU per request (app workers, database backends) is what a shared, noisy machine cannot
    distort much: it says what the lookup costs, whoever else is using the cores.
    """
    env = dict(os.environ, BENCH_EMAILS=target["emails"], BENCH_TOKEN=target.get("token", ""),
               BENCH_COOKIE=target.get("cookie", ""), BENCH_EXTRA=target.get("extra", ""))
    before = [cpu_seconds(p) for p in pids]
    # A generous timeout: a lookup that takes seconds (a database without statistics) is a slow
    # answer to measure, not a connection error.
    out = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "60s",
                          "-s", LUA, f"http://127.0.0.1:{target['port']}"], env=env, check=True,
                         capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    raw = json.loads(line[6:])
    if raw["errors"] or raw["status_errors"] or not raw["requests"]:
        raise RuntimeError(f"wrk saw errors on port {target['port']}: {raw}\n{out}")
    app_cpu, db_cpu = (1000 * (cpu_seconds(p) - b) / raw["requests"] for p, b in zip(pids, before))
    return {"rps": raw["requests"] / (raw["duration_us"] / 1e6), "p50_ms": raw["p50_us"] / 1000,
            "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000, "mean_ms": raw["mean_us"] / 1000,
            "app_cpu_ms": app_cpu, "db_cpu_ms": db_cpu}


def summarize(runs):
    """Median of each figure over the rounds, per target, and the spread of req/s."""
    out = {}
    for name, rs in runs.items():
        out[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        out[name]["rps_min"], out[name]["rps_max"] = min(r["rps"] for r in rs), max(r["rps"] for r in rs)
    return out


def verdict(s):
    """Ratios and pass/fail against the issue's targets."""
    bare, floor = s["bare"], s["floor_select1"]
    ratios = {"scale_ratio": s["big_session"]["mean_ms"] / s["small_session"]["mean_ms"],
              "floor_select1_ratio": floor["rps"] / bare["rps"], "floor_query_ratio": s["floor_query"]["rps"] / bare["rps"]}
    ok = {"scale_ratio": ratios["scale_ratio"] <= TARGETS["scale_ratio"]}
    for auth in ("session", "token"):
        big = s[f"big_{auth}"]
        ratios[f"{auth}_rps_ratio"] = big["rps"] / bare["rps"]
        ratios[f"{auth}_floor_ratio"] = big["rps"] / floor["rps"]
        ratios[f"{auth}_p99_ms"] = big["p99_ms"]
        # The req/s ratio a machine of our own would show: both are CPU-bound.
        ratios[f"{auth}_cpu_ratio"] = bare["app_cpu_ms"] / (big["app_cpu_ms"] + big["db_cpu_ms"])
        ok[f"{auth}_rps_ratio"] = ratios[f"{auth}_rps_ratio"] >= TARGETS["rps_ratio"]
        ok[f"{auth}_p99_ms"] = big["p99_ms"] <= TARGETS["p99_ms"]
    return ratios, ok


def labels(args):
    """Row labels of the report."""
    big, small = size_label(args.members).upper(), size_label(args.small)
    return {"bare": "bare Flask (fixed JSON)", "floor_select1": "bare + one `SELECT 1` round trip",
            "floor_query": "bare + member index seek only", "big_session": f"lookup {big}, session login",
            "big_token": f"lookup {big}, API token", "small_session": f"lookup {small}, session login"}


def report(info, args, phase, s, ratios, ok, load_seconds, end_load):
    """The Markdown block that goes into bench/README.md."""
    lines = [(f"**{phase}.** Run {info['date']} on {info['nproc']} × {info['cpu']}, PostgreSQL {info['postgres']}, "
             f"Python {info['python']}; load average {info['loadavg']} at the start, {end_load} at the end."),
             (f"gunicorn {args.workers} sync workers; wrk -t{args.threads} -c{args.connections}, "
             f"{args.rounds} alternating rounds × {args.duration} s, medians shown (req/s range over the rounds)."), ""]
    if load_seconds:
        lines += [f"Load: {', '.join(f'{k} in {v:.0f} s' for k, v in load_seconds.items())}.", ""]
    lines += ["| target | req/s (range) | ÷ bare | p50 ms | p90 ms | p99 ms | app CPU ms/req | DB CPU ms/req |",
              "|---|---|---|---|---|---|---|---|"]
    for name, label in labels(args).items():
        r = s[name]
        lines.append(f"| {label} | {r['rps']:.0f} ({r['rps_min']:.0f}–{r['rps_max']:.0f}) | "
                     f"{r['rps'] / s['bare']['rps']:.2f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} "
                     f"| {r['app_cpu_ms']:.2f} | {r['db_cpu_ms']:.2f} |")
    mark = {True: "met", False: "MISSED"}
    lines.append("")
    for auth in ("session", "token"):
        lines += [(f"- {auth}: req/s ÷ bare {ratios[f'{auth}_rps_ratio']:.2f} (target ≥ {TARGETS['rps_ratio']}: "
                  f"{mark[ok[f'{auth}_rps_ratio']]}), ÷ `SELECT 1` floor {ratios[f'{auth}_floor_ratio']:.2f}; "
                  f"p99 {ratios[f'{auth}_p99_ms']:.1f} ms (target ≤ {TARGETS['p99_ms']:.0f}: "
                  f"{mark[ok[f'{auth}_p99_ms']]}); CPU per bare request ÷ CPU per lookup (app + DB) "
                  f"{ratios[f'{auth}_cpu_ratio']:.2f}")]
    lines += [(f"- mean time per lookup, {args.members:,} ÷ {args.small:,} members: {ratios['scale_ratio']:.2f} "
              f"(target ≤ {TARGETS['scale_ratio']}: {mark[ok['scale_ratio']]})"),
              (f"- floors: bare + one `SELECT 1` round trip reaches {ratios['floor_select1_ratio']:.2f} of bare, "
              f"bare + the member index seek alone {ratios['floor_query_ratio']:.2f}")]
    return "\n".join(lines)


def prepare(args, dbs):
    """Fill the databases unless --skip-load; returns seconds per step."""
    seconds = {}
    if args.skip_load:
        return seconds
    for url, n in dbs.values():
        orders = n * args.orders_per_member
        print(f"loading {n:,} members and {orders:,} orders into {url} ({args.loader})", flush=True)
        if args.loader == "copy":
            seconds[f"COPY {n:,}/{orders:,}"] = load.load(url, n, orders)
        else:
            seconds.update(imported.fill(url, n, orders))
    return seconds


def start(args, dbs):
    """Serve every target; returns (processes, targets)."""
    procs, targets = {}, {}
    for k, (name, (url, n)) in enumerate(dbs.items()):
        load.mallbridge(url, "users", "create", "--email", STAFF[0], "--role", "agent", "--password-stdin",
                        capture=True, stdin=STAFF[1] + "\n")
        token = load.mallbridge(url, "tokens", "create", "--name", f"bench {dt.date.today()}",
                                capture=True).strip().splitlines()[-1]
        port = args.port + k
        procs[name] = serve("wsgi:app", port, load.app_env(url), args.workers)
        emails = sample_file(n)
        cookie = login(port)
        for auth, extra in (("session", {"cookie": cookie}), ("token", {"token": token})):
            targets[f"{name}_{auth}"] = {"port": port, "emails": emails, "db": url, "proc": name, **extra}
        check_lookup(port, {"Cookie": cookie}, data.email_of(n // 2))
        check_lookup(port, {"Authorization": f"Bearer {token}"}, data.email_of(n // 2))
    # The bare app and the floors (bench/lookup/floor.py) on the big database's addresses.
    big_url, big_emails = dbs["big"][0], targets["big_session"]["emails"]
    for k, (name, spec, extra) in enumerate((("bare", "bench.lookup.bare:app", ""),
                                             ("floor", "bench.lookup.floor:app", "")), start=2):
        procs[name] = serve(spec, args.port + k, load.app_env(big_url), args.workers)
    targets["bare"] = {"port": args.port + 2, "emails": big_emails, "proc": "bare"}
    targets["floor_select1"] = {"port": args.port + 3, "emails": big_emails, "db": big_url, "proc": "floor"}
    targets["floor_query"] = {**targets["floor_select1"], "extra": "&query=1"}
    return procs, {name: targets[name] for name in ORDER if name in targets}


def measure(args, procs, targets):
    """Warm up, then alternating rounds over every target; returns the runs per target."""
    for target in targets.values():  # connection pools, imports, page cache
        wrk(target, 3, args)
    pids = {name: server_pids(procs[t["proc"]], t.get("db")) for name, t in targets.items()}
    runs = {name: [] for name in targets}
    for r in range(args.rounds):
        for name, target in targets.items():
            runs[name].append(wrk(target, args.duration, args, pids[name]))
            print(f"round {r + 1} {name}: {json.dumps({k: round(v, 2) for k, v in runs[name][-1].items()})}",
                  flush=True)
    return runs


def phase_run(args, dbs, phase, load_seconds):
    """Serve, measure and report one state of the databases."""
    info = machine(f"{args.pg}/postgres")
    procs, targets = {}, {}
    try:
        procs, targets = start(args, dbs)
        runs = measure(args, procs, targets)
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
        for path in {t["emails"] for t in targets.values()}:
            os.unlink(path)
    s = summarize(runs)
    ratios, ok = verdict(s)
    text = report(info, args, phase, s, ratios, ok, load_seconds, loadavg())
    print("\n" + text + "\n", flush=True)
    return {"phase": phase, "machine": info, "summary": s, "ratios": ratios, "ok": ok, "runs": runs}


def main(argv=None):
    """Load (unless --skip-load), serve, measure, print the report(s)."""
    args = parse_args(argv)
    dbs = {"big": (f"{args.pg}/bench_lookup_{size_label(args.members)}", args.members),
           "small": (f"{args.pg}/bench_lookup_{size_label(args.small)}", args.small)}
    load_seconds = prepare(args, dbs)
    results = []
    if args.skip_load:
        results.append(phase_run(args, dbs, "As loaded", {}))
    elif args.loader == "copy":
        results.append(phase_run(args, dbs, "COPY-loaded, VACUUM ANALYZE", load_seconds))
    else:
        results.append(phase_run(args, dbs, "Right after `mallbridge import` (autovacuum off)", load_seconds))
        if not args.no_settle:
            for url, _ in dbs.values():
                imported.settle(url)
            results.append(phase_run(args, dbs, "Settled (autovacuum on, VACUUM ANALYZE)", {}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "load_seconds": load_seconds}, f, indent=2)
    return 0 if all(all(r["ok"].values()) for r in results) else 1

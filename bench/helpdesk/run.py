"""Address-book push benchmark (issue 13): throughput at the helpdesk's limit, and with it lifted.

    .venv/bin/python -m bench.helpdesk [--minutes 3] [--members 100000] [--small 10000] [--skip-limited]

(a) At the limit: `python -m plugin.helpdesk.fake` (its real limit: 60 requests a minute per token,
    403 beyond) and TWO `mallbridge helpdesk push` processes on one SQLite database with a backlog
    larger than the run can push. From the fake's own log of request arrival times: contacts
    created in each whole minute (target ≥ 55), the most requests in any 60-second window
    (target ≤ 60) and the number of 403s (target 0).
(b) Limit lifted: the same fake app served by gunicorn (gthread, keep-alive; werkzeug's server
    closes every connection) with no limit, MALLBRIDGE_HELPDESK_RATE_LIMIT=0, and one push of
    every member to completion in a child process (`bench.helpdesk.child`) at --small and at
    --members members. Side by side in the same run, the floor: bare keep-alive POSTs of minimal
    contacts to the same server, with 1 and with 4 client threads (the push sends 4 at a time).
    Targets: ≥ 500 contacts/s at --members, peak RSS ≤ 200 MB, and RSS at --members within 10 %
    of RSS at --small (flat in N).
Exit status 1 when a target is missed.
"""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from bench.helpdesk.data import TOKEN, prepare

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_up(url, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url + "/_control/state", timeout=2).read()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake helpdesk at {url} did not start") from None
            time.sleep(0.1)  # waiting for the port to open


def _get(url):
    return json.loads(urllib.request.urlopen(url, timeout=60).read())


def _stop(proc, sig=signal.SIGTERM, timeout=90):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _env(url, api_base, key, rate_limit):
    return dict(os.environ, MALLBRIDGE_DATABASE_URL=url, MALLBRIDGE_SECRET_KEY="bench-secret-not-for-production-use",
                MALLBRIDGE_ENCRYPTION_KEY=key, MALLBRIDGE_HELPDESK_API_BASE=api_base,
                MALLBRIDGE_HELPDESK_RATE_LIMIT=str(rate_limit), PYTHONUNBUFFERED="1")


def limited(args, key):
    """(a): returns (report lines, ok)."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    fake = subprocess.Popen([sys.executable, "-m", "plugin.helpdesk.fake", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pushers = []
    try:
        _wait_up(base, fake)
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-helpdesk-')}/push.db"
        prepare(url, base + "/api/v2", key, int(args.minutes * 60 + 120), 60)
        env = _env(url, base + "/api/v2", key, 60)
        pushers = [subprocess.Popen([str(BIN / "mallbridge"), "helpdesk", "push"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        time.sleep(args.minutes * 60 + 10)  # the measured run itself
        for proc in pushers:
            _stop(proc)
        log = _get(base + "/_control/requests")
    finally:
        for proc in pushers:
            _stop(proc, signal.SIGKILL)
        _stop(fake, signal.SIGKILL)
    times = [t for t, *_ in log]
    created = [t for t, method, path, status in log if method == "POST" and status == 200]
    start = times[0]
    minutes = [sum(1 for t in created if start + 60 * m <= t < start + 60 * (m + 1)) for m in range(int(args.minutes))]
    window = max(sum(1 for u in times if t <= u < t + 60) for t in times)
    refused = sum(1 for *_, status in log if status == 403)
    ok = min(minutes) >= 55 and window <= 60 and refused == 0
    lines = [f"(a) two `helpdesk push` processes, fake helpdesk at 60 requests/min, {args.minutes:g} min:",
             f"    contacts created per minute: {', '.join(map(str, minutes))} (min {min(minutes)}; target ≥ 55)",
             f"    most requests in any 60 s window: {window} (target ≤ 60); 403 answers: {refused} (target 0)",
             f"    requests in all: {len(times)}"]
    return lines, ok


def _floor(base, n, threads):
    """Bare keep-alive POSTs of minimal contacts (book 2): requests per second."""
    def work(numbers):
        session = requests.Session()
        session.trust_env = False
        for i in numbers:
            body = json.dumps({"last_name": "床", "system_id1": f"F{i}", "emails": [{"email": f"f{i}@floor.example"}]})
            answer = session.post(f"{base}/api/v2/customer_groups/2/customers/create", data=body,
                                  headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            assert answer.status_code == 200, answer.text
    offset = threads * 10_000_000
    started, cpu = time.perf_counter(), _cpu()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, [range(offset + k, offset + n, threads) for k in range(threads)]))
    return n / (time.perf_counter() - started), 1000 * (_cpu() - cpu) / n


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def lifted_one(members, key, floor_n):
    """(b) at one size: push figures and the floors, each against a fresh fake."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    fake = subprocess.Popen([str(BIN / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "4", "-b",
                             f"127.0.0.1:{port}", "bench.helpdesk.fake_app:app"], cwd=ROOT,
                            env=dict(os.environ, BENCH_FAKE_LIMIT="0"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_up(base, fake)
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-helpdesk-')}/push.db"
        prepare(url, base + "/api/v2", key, members, 0)
        floor1, _ = _floor(base, floor_n, 1)
        floor4, floor_cpu = _floor(base, floor_n, 4)
        out = subprocess.run([sys.executable, "-m", "bench.helpdesk.child", url, base + "/api/v2", key], cwd=ROOT,
                             capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        in_book = _get(base + "/_control/state")["books"]["1"]["contacts"]
    finally:
        _stop(fake, signal.SIGKILL)
    figures.update(members=members, floor1=floor1, floor4=floor4, in_book=in_book, floor_cpu_ms=floor_cpu,
                   rate=figures["created"] / figures["seconds"])
    return figures


def lifted(args, key):
    """(b): returns (report lines, ok)."""
    rows = [lifted_one(n, key, args.floor) for n in (args.small, args.members)]
    small, large = rows
    lines = ["(b) limit lifted: one push to completion (4 requests in flight), fake helpdesk under gunicorn:",
             ("    | members | contacts/s | floor 1 thread req/s | floor 4 threads req/s | push ÷ floor(4) "
              "| client CPU ms/contact | floor client CPU ms/req | peak RSS MB | in book |"),
             "    |---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"    | {r['members']:,} | {r['rate']:.0f} | {r['floor1']:.0f} | {r['floor4']:.0f} | "
                     f"{r['rate'] / r['floor4']:.2f} | {1000 * r['cpu_seconds'] / max(r['created'], 1):.2f} | "
                     f"{r['floor_cpu_ms']:.2f} | {r['peak_rss_mb']:.0f} | {r['in_book']:,} |")
    flat = large["peak_rss_mb"] / small["peak_rss_mb"]
    ok = (large["rate"] >= 500 and large["peak_rss_mb"] <= 200 and flat <= 1.10
          and all(r["in_book"] == r["members"] and r["refused"] == 0 for r in rows))
    lines.append(f"    target: ≥ 500 contacts/s at {large['members']:,} ({large['rate']:.0f}); peak RSS ≤ 200 MB "
                 f"({large['peak_rss_mb']:.0f}); RSS {large['members']:,} ÷ {small['members']:,} = {flat:.2f} (≤ 1.10)")
    return lines, ok


def main(argv=None):
    """Run (a) and (b); exit status 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="length of (a)")
    parser.add_argument("--members", type=int, default=100_000, help="members pushed in (b)")
    parser.add_argument("--small", type=int, default=10_000, help="the smaller size of (b)")
    parser.add_argument("--floor", type=int, default=4000, help="bare POSTs per floor measurement")
    parser.add_argument("--skip-limited", action="store_true")
    parser.add_argument("--skip-lifted", action="store_true")
    args = parser.parse_args(argv)
    key = Fernet.generate_key().decode()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    ok = True
    for skip, part in ((args.skip_limited, limited), (args.skip_lifted, lifted)):
        if skip:
            continue
        lines, fine = part(args, key)
        print("\n".join(lines), flush=True)
        ok = ok and fine
    print(f"load average at end {os.getloadavg()[0]:.1f}; {'all targets met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1

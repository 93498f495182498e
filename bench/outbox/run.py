"""Outbox benchmark: N messages through `mallbridge outbox run --once` to a local aiosmtpd sink,
side by side in the same run with a raw smtplib loop on one connection sending the same bytes.

    .venv/bin/python -m bench.outbox [--messages 10000] [--batch 50] [--database-url URL]

Targets (issue 5): outbox ≥ 50 % of the raw loop and ≥ 200 msg/s; peak worker RSS ≤ 200 MB.
The sink runs in its own process so neither side shares a GIL with the server.
"""
import argparse
import os
import resource
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink():
    """aiosmtpd's Sink handler in a child process; returns (process, port)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                             "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.recv(100)
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the aiosmtpd sink did not start")


def sample_message(i):
    """A typical mall inquiry forwarded to the inbox: Japanese subject and body, ~1.5 KB."""
    msg = EmailMessage()
    msg["From"] = "山田 太郎 <r+abc123@reply.localhost>"
    msg["To"] = "inbox@relation.example"
    msg["Subject"] = f"【楽天】商品問い合わせ 有機緑茶 100g（{i}）"
    msg["Message-ID"] = f"<rakuten.1.{i}.1@reply.localhost>"
    msg.set_content(f"楽天市場からのお問い合わせです。\n\n受注番号: 123456-20261123-0000{i}\n\n"
                    + "お世話になっております。注文した緑茶の賞味期限を教えてください。\n" * 12)
    return msg


def raw_loop(port, n):
    """msg/s of a bare smtplib loop on one connection (the ceiling for any SMTP client)."""
    data = [sample_message(i).as_bytes(policy=policy.SMTP) for i in range(n)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for body in data:
            smtp.sendmail("r+abc123@reply.localhost", ["inbox@relation.example"], body)
    return n / (time.perf_counter() - started)


def prepare_outbox(url, n):
    """Migrate the database and enqueue n messages through the public enqueue API."""
    from flask_migrate import upgrade

    from plugin import create_app, outbox
    from plugin.extensions import db

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-not-for-production-use",
                      "ENCRYPTION_KEY": "x" * 43 + "="})
    with app.app_context():
        upgrade(revision="heads")
        started = time.perf_counter()
        for i in range(n):
            outbox.enqueue(sample_message(i), kind="bench")
            if i % 500 == 499:
                db.session.commit()
        db.session.commit()
        rate = n / (time.perf_counter() - started)
        db.engine.dispose()
    return rate


def run_worker(url, port, batch):
    """Run `mallbridge outbox run --once` as a child; returns (seconds, peak RSS in MB)."""
    env = dict(os.environ, MALLBRIDGE_DATABASE_URL=url, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{port}",
               MALLBRIDGE_SECRET_KEY="bench-secret-not-for-production-use", MALLBRIDGE_ENCRYPTION_KEY="x" * 43 + "=")
    exe = Path(sys.executable).with_name("mallbridge")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from plugin.cli import main; main()"]
    started = time.perf_counter()
    subprocess.run(cmd + ["outbox", "run", "--once", "--batch", str(batch)], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024


def count_sent(url):
    """{state: rows} after the run, and the seconds between the first and the last sent_at."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT state, count(*) FROM outbox_message GROUP BY state")).all())
        first, last = conn.execute(text("SELECT min(sent_at), max(sent_at) FROM outbox_message")).one()
    engine.dispose()
    if isinstance(first, str):  # SQLite returns text
        import datetime as dt
        first, last = dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    return counts, (last - first).total_seconds() if first and last else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from plugin.config import normalize_database_url

    tmp = tempfile.mkdtemp(prefix="bench-outbox-")
    url = normalize_database_url(args.database_url or f"sqlite:///{tmp}/outbox.db")
    sink, port = start_sink()
    try:
        raw_before = raw_loop(port, args.messages)
        enqueue_rate = prepare_outbox(url, args.messages)
        seconds, rss = run_worker(url, port, args.batch)
        # Measured again right after the worker, as the machine's load may have changed.
        raw_after = raw_loop(port, args.messages)
        raw = (raw_before + raw_after) / 2
    finally:
        sink.terminate()
        sink.wait(10)
    counts, span = count_sent(url)
    # The worker's wall time includes its start-up (imports, app, DB connect); the steady-state
    # rate is taken from the first to the last sent_at in the database.
    rate = args.messages / seconds
    steady = (args.messages - 1) / span if span else float("nan")
    db = url.split(":", 1)[0]
    print(f"database: {db}; messages: {args.messages}; batch: {args.batch}; states after run: {counts}")
    print(f"raw smtplib loop, one connection : {raw:8.0f} msg/s  (before {raw_before:.0f}, after {raw_after:.0f})")
    print(f"outbox worker (incl. start-up)   : {rate:8.0f} msg/s  ({rate / raw:.0%} of raw, {seconds:.1f} s)")
    print(f"outbox worker (steady state)     : {steady:8.0f} msg/s  ({steady / raw:.0%} of raw)")
    print(f"enqueue (API, commit per 500)    : {enqueue_rate:8.0f} msg/s")
    print(f"peak worker RSS                  : {rss:8.1f} MB")
    ok = counts == {"sent": args.messages} and steady >= 200 and steady >= raw / 2 and rss <= 200
    print("targets (steady state ≥200 msg/s and ≥50 % of raw, RSS ≤200 MB, all sent):", "met" if ok else "NOT met")
    return 0 if ok else 1

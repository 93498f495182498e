"""Scale-out benchmark (issue 14.11): 1 vs 2 `sync run` and 1 vs 2 `outbox run` on one PostgreSQL.

    .venv/bin/python -m bench.scale [--accounts 20] [--inquiries 500] [--server-url URL]

The fake mall (bench/scale/mall.py, a process of its own) holds ACCOUNTS Rakuten shops with
INQUIRIES customer inquiries each, all live (no staged backfill, pacing off, no mall rate limit).
Per round a fresh database: N `mallbridge sync run` processes poll every account (each account
under its lease) until every inquiry is a queued mail; then N `mallbridge outbox run` processes
deliver them to an aiosmtpd sink in this process that records each Message-ID. Rounds with N = 1
and N = 2 run side by side; the ratio is throughput(2) / throughput(1). Exit status 1 when a mail
arrived twice, an inquiry is missing or an account had a failed pass.
"""
import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.sync.harness import scalar

ROOT = Path(__file__).resolve().parents[2]
INBOX = "inbox@example.jp"
MSGID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
PATIENCE = 1800  # seconds a round may take before the benchmark gives up


class Sink:
    """aiosmtpd handler: every received Message-ID, counted."""

    def __init__(self):
        self.lock, self.ids = threading.Lock(), collections.Counter()

    async def handle_DATA(self, server, session, envelope):
        match = MSGID.search(envelope.original_content)
        with self.lock:
            self.ids[match.group(1) if match else None] += 1
        return "250 OK"

    def received(self):
        """(mails received, distinct Message-IDs)."""
        with self.lock:
            return sum(self.ids.values()), len(self.ids)


def _port():
    import socket  # only here: the one place a free port is needed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database(server_url, name, drop=False):
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def prepare(url, bases, key, accounts):
    """Migrate, point the inbox at the sink's address, add the accounts as live accounts."""
    from flask_migrate import upgrade

    from bench.scale.data import add_accounts
    from plugin import create_app, helpdesk, settings
    from plugin.extensions import db

    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret",
              "ENCRYPTION_KEY": key, "REPLY_DOMAIN": "reply.localhost"}
    config.update({k.removeprefix("MALLBRIDGE_"): v for k, v in bases.items()})
    app = create_app(config)
    with app.app_context():
        upgrade(revision="heads")
        helpdesk.update_environment("production", {"forward_to": INBOX}, actor="bench")
        settings.set_value("sync.pacing_ms", 0, actor="bench")
        for account in add_accounts(accounts):
            account.backfilled_at = account.created_at  # live mail: queued at once, not staged
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _spawn(env, n, *args):
    exe = Path(sys.executable).with_name("mallbridge")
    return [subprocess.Popen([str(exe), *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(n)]


def _stop(procs):
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_until(env, n, args, url, done_sql, total):
    """Start `n` workers `mallbridge ARGS…`, wait until `done_sql` counts `total` rows, stop them;
    the seconds it took."""
    started = time.monotonic()
    procs = _spawn(env, n, *args)
    try:
        while scalar(url, done_sql) < total:
            if time.monotonic() - started > PATIENCE or any(p.poll() is not None for p in procs):
                raise SystemExit("a round did not finish (a worker ended or it took too long)")
            time.sleep(0.2)  # polling the database, not waiting out a delay
        return time.monotonic() - started
    finally:
        _stop(procs)


def _steady(url, column):
    """Seconds from the first to the last row stamped in `column` (the workers' own pace)."""
    return scalar(url, f"SELECT EXTRACT(EPOCH FROM max({column}) - min({column})) FROM outbox_message")


def round_trip(args, workers, bases, key, sink):
    """One round with `workers` sync and then `workers` outbox processes; a dict of figures."""
    total = args.accounts * args.inquiries
    url = _database(args.server_url, f"mb_scale_{os.getpid()}_{workers}")
    try:
        prepare(url, bases, key, args.accounts)
        env = dict(os.environ, MALLBRIDGE_DATABASE_URL=url, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{sink.port}",
                   MALLBRIDGE_SECRET_KEY="bench-secret-not-for-production-use", MALLBRIDGE_ENCRYPTION_KEY=key,
                   MALLBRIDGE_REPLY_DOMAIN="reply.localhost", **bases)
        env.pop("MALLBRIDGE_DEMO", None)
        sync_s = _run_until(env, workers, ("sync", "run"), url, "SELECT count(*) FROM outbox_message", total)
        sync_steady = _steady(url, "created_at")
        failed = scalar(url, "SELECT count(*) FROM mall_account WHERE failures > 0 OR last_error IS NOT NULL")
        inbound = scalar(url, "SELECT count(*) FROM inbound_message")
        before = sink.handler.received()[0]
        out_s = _run_until(env, workers, ("outbox", "run", "--batch", str(args.batch)), url,
                           "SELECT count(*) FROM outbox_message WHERE state = 'sent'", total)
        out_steady = _steady(url, "sent_at")
        received = sink.handler.received()[0] - before
    finally:
        _database(args.server_url, f"mb_scale_{os.getpid()}_{workers}", drop=True)
    return {"sync_s": sync_s, "sync_steady": sync_steady, "failed": failed, "inbound": inbound,
            "out_s": out_s, "out_steady": out_steady, "received": received, "total": total}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--inquiries", type=int, default=500, help="per account")
    parser.add_argument("--batch", type=int, default=50, help="outbox run --batch")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server (its maintenance database); each round gets a fresh database")
    args = parser.parse_args(argv)
    from aiosmtpd.controller import Controller

    from sync.fake_mall.control import bases as mall_bases

    key = Fernet.generate_key().decode()
    port = _port()
    mall = subprocess.Popen([sys.executable, "-m", "bench.scale.mall", str(port), str(args.accounts),
                             str(args.inquiries)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    handler = Sink()
    sink = Controller(handler, hostname="127.0.0.1", port=_port())
    sink.start()
    try:
        if mall.stdout.readline().strip() != "ready":
            raise SystemExit("the fake mall did not start")
        bases = mall_bases(f"http://127.0.0.1:{port}")
        one = round_trip(args, 1, bases, key, sink)
        two = round_trip(args, 2, bases, key, sink)
    finally:
        sink.stop()
        mall.terminate()
        mall.wait()
    total = one["total"]
    twice = sum(1 for count in handler.ids.values() if count > 2)  # each mail is sent once per round
    print(f"scale: {args.accounts} accounts × {args.inquiries} inquiries = {total} mails per round, PostgreSQL, "
          f"load average {os.getloadavg()[0]:.1f}")
    for label, key_s, key_steady in (("sync run  ", "sync_s", "sync_steady"), ("outbox run", "out_s", "out_steady")):
        a, b = total / one[key_s], total / two[key_s]
        sa, sb = total / max(one[key_steady], 1e-3), total / max(two[key_steady], 1e-3)
        print(f"  {label}: 1 worker {one[key_s]:6.1f} s {a:6.0f} msg/s (steady {sa:6.0f}) | 2 workers "
              f"{two[key_s]:6.1f} s {b:6.0f} msg/s (steady {sb:6.0f}) | ratio {b / a:4.2f} (steady {sb / sa:4.2f})")
    print(f"  checks: inbound rows {one['inbound']}/{two['inbound']}, accounts with a failed pass "
          f"{one['failed']}/{two['failed']}, delivered {one['received']}/{two['received']}, "
          f"mails received more than once per round: {twice}")
    ok = (twice == 0 and one["failed"] == two["failed"] == 0 and one["inbound"] == two["inbound"] == total
          and one["received"] == two["received"] == total)
    return 0 if ok else 1

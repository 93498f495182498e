"""Pieces of the sync benchmark: a counting SMTP sink, the in-process fake mall, a configured
database, and `mallbridge` child processes that report their own peak RSS (bench/sync/peak.py)."""
import email
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INBOX = "inbox@example.jp"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingSink:
    """aiosmtpd handler: counts mails and their arrival times; keeps the bytes only when asked."""

    def __init__(self, keep=False):
        self.lock = threading.Lock()
        self.count, self.first, self.last, self.keep, self.kept = 0, None, None, keep, []

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        with self.lock:
            self.count += 1
            self.first = self.first or now
            self.last = now
            if self.keep:
                self.kept.append((now, envelope.content))
        return "250 OK"

    def bodies(self):
        """[(arrival time, decoded text body)] of the kept mails."""
        result = []
        for arrived, raw in list(self.kept):
            msg = email.message_from_bytes(raw, policy=policy.default)
            part = msg.get_body(("plain", "html"))
            result.append((arrived, part.get_content() if part is not None else ""))
        return result


def start_sink(keep=False):
    """A real aiosmtpd server on a free loopback port; returns (controller, handler, port)."""
    from aiosmtpd.controller import Controller

    port = free_port()
    handler = CountingSink(keep)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler, port


def start_mall(rate_limit=None):
    """The fake mall in a thread of this process, with the demo accounts; returns the server."""
    from sync.fake_mall.seed import add_demo_accounts
    from sync.fake_mall.server import FakeMallServer
    from sync.fake_mall.state import FakeMallState

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request costs the GIL
    state = FakeMallState(rate_limit=rate_limit)
    with state.lock:
        add_demo_accounts(state)
    return FakeMallServer(state).start()


def child_env(url, mall, smtp_port, key):
    """Environment of the `mallbridge` children: database, SMTP sink, fake mall, keys."""
    return dict(os.environ, MALLBRIDGE_DATABASE_URL=url, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
                MALLBRIDGE_SECRET_KEY="bench-secret-not-for-production-use", MALLBRIDGE_ENCRYPTION_KEY=key,
                MALLBRIDGE_REPLY_DOMAIN="reply.localhost", PYTHONUNBUFFERED="1", **mall.bases)


def prepare_db(url, mall, key, pacing_ms=None, backfill_days=None):
    """Migrate `url`, set the inbox forwarding address, add the demo Rakuten account."""
    from flask_migrate import upgrade

    from plugin import create_app, helpdesk, settings
    from plugin.extensions import db
    from sync import accounts
    from sync.fake_mall.seed import DEMO_RAKUTEN

    config = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-not-for-production-use",
              "ENCRYPTION_KEY": key, "REPLY_DOMAIN": "reply.localhost"}
    config.update({k.removeprefix("MALLBRIDGE_"): v for k, v in mall.bases.items()})
    app = create_app(config)
    with app.app_context():
        upgrade(revision="heads")
        helpdesk.update_environment("production", {"forward_to": INBOX}, actor="bench")
        if backfill_days is not None:
            settings.set_value("sync.backfill_days", backfill_days, actor="bench")
        if pacing_ms is not None:
            settings.set_value("sync.pacing_ms", pacing_ms, actor="bench")
        accounts.add("rakuten", "default", {"rakuten_shop_id": str(DEMO_RAKUTEN["shop_id"]),
                                            "service_secret": DEMO_RAKUTEN["service_secret"],
                                            "license_key": DEMO_RAKUTEN["license_key"]})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def mallbridge_cmd(*args):
    return [sys.executable, "-m", "bench.sync.peak"] + list(args)


def spawn(env, *args, quiet=True):
    """Start `mallbridge ARGS` as a child process that records its peak RSS when it exits."""
    fd, peak_file = tempfile.mkstemp(prefix="bench-sync-peak-")
    os.close(fd)
    proc = subprocess.Popen(mallbridge_cmd(*args), env=dict(env, BENCH_PEAK_FILE=peak_file), cwd=ROOT,
                            stdout=subprocess.DEVNULL if quiet else None, stderr=None)
    proc.peak_file = peak_file
    return proc


def reap(proc):
    """Wait for a child; returns (exit status, its peak RSS in MB, nan if it could not say)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.rusage_rss = usage.ru_maxrss / 1024  # what the bench used to report: max(this process, child)
    try:
        with open(proc.peak_file) as f:
            rss = int(f.read()) / 1024
    except ValueError:  # killed before its exit hook ran
        rss = float("nan")
    os.unlink(proc.peak_file)
    return proc.returncode, rss


def run_timed(env, *args):
    """Run `mallbridge ARGS` to completion; (seconds, peak RSS MB, wait4's ru_maxrss MB). Exits on failure."""
    started = time.perf_counter()
    proc = spawn(env, *args)
    code, rss = reap(proc)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"mallbridge {' '.join(args)} failed with status {code}")
    return seconds, rss, proc.rusage_rss


def scalar(url, sql):
    """One value from the bench database (a fresh connection each time)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()

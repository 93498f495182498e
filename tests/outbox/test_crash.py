"""Crash test (issue 5): `mallbridge outbox run` as a subprocess on PostgreSQL with 2,000 queued
messages, SIGKILLed several times and restarted. Every message must arrive at least once, with
no more duplicates than kills (at most the one message in flight per kill)."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from plugin import clock, settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from tests.conftest import PG_URL, TEST_KEY, TEST_SECRET
from tests.smtp_server import start_server

TOTAL = 2000
KILLS = 4
MSGID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)


class IdSink:
    """Records the Message-ID of every delivered message."""

    def __init__(self):
        self.ids = []
        self.sessions = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        match = MSGID.search(envelope.original_content)
        with self.lock:
            self.ids.append(match.group(1).decode() if match else None)
        return "250 OK"


def _queue_messages(n):
    now = clock.now()
    rows = []
    for i in range(n):
        mid = f"<crash.{i}@reply.localhost>"
        raw = (f"From: shop@example.jp\r\nTo: inbox@example.jp\r\nSubject: crash {i}\r\n"
               f"Message-ID: {mid}\r\n\r\nbody {i}\r\n").encode()
        rows.append({"state": "queued", "kind": "mail", "message_id": mid, "sender": "shop@example.jp",
                         "recipients": ["inbox@example.jp"], "subject": f"crash {i}", "raw": raw, "attempts": 0,
                         "recoveries": 0, "next_attempt_at": now, "created_at": now, "updated_at": now})
    db.session.execute(insert(OutboxMessage), rows)
    db.session.commit()


def _worker(env, log_file):
    exe = Path(sys.executable).with_name("mallbridge")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from plugin.cli import main; main()"]
    return subprocess.Popen(cmd + ["outbox", "run", "--batch", "20", "--idle-seconds", "0.2"],
                            env=env, stdout=log_file, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[2])


def _wait_for(predicate, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.05)  # polling a subprocess, not waiting out a backoff
    return predicate()


@pytest.mark.postgres_only
def test_sigkilled_worker_loses_nothing(app, tmp_path):
    """2,000 messages, SIGKILL several times mid-run: all arrive, duplicates ≤ kills."""
    if not PG_URL:
        pytest.skip("needs MALLBRIDGE_TEST_DATABASE_URL (PostgreSQL)")
    # A short lease, so the restarted worker takes over the killed one's rows within seconds.
    settings.set_value("outbox.lease_seconds", 1)
    _queue_messages(TOTAL)
    sink = IdSink()
    server = start_server(sink)
    env = dict(os.environ, MALLBRIDGE_DATABASE_URL=PG_URL, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{server.port}",
               MALLBRIDGE_SECRET_KEY=TEST_SECRET, MALLBRIDGE_ENCRYPTION_KEY=TEST_KEY)
    env.pop("MALLBRIDGE_DEMO", None)
    log_path = tmp_path / "worker.log"
    kills = 0
    try:
        with open(log_path, "ab") as log_file:
            step = TOTAL // (KILLS + 2)
            for k in range(KILLS):
                proc = _worker(env, log_file)
                target = len(sink.ids) + step
                arrived = _wait_for(lambda target=target: len(sink.ids) >= target, 30, proc)
                assert arrived and proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                kills += 1
            proc = _worker(env, log_file)
            done = _wait_for(lambda: len(set(sink.ids)) >= TOTAL, 45, proc)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0, log_path.read_text(errors="replace")[-3000:]
            assert done, f"{len(set(sink.ids))} of {TOTAL} arrived\n" + log_path.read_text(errors="replace")[-3000:]
    finally:
        server.stop()
    counts = Counter(sink.ids)
    assert set(counts) == {f"<crash.{i}@reply.localhost>" for i in range(TOTAL)}
    duplicates = sum(counts.values()) - TOTAL
    assert duplicates <= kills
    db.session.expire_all()
    states = dict(db.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
    assert states == {"sent": TOTAL}

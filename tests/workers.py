"""Real worker processes for the tests (`mallbridge outbox run`, `sync run`, `helpdesk push`, …):
started on the test's database, waited on by condition, stopped or killed, and always reaped.

Every test that starts one kills it in a `finally` (`reap`), so a failed assertion or a timeout
never leaves a worker polling the database of the next test."""
import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from plugin import clock
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[1]
MSGID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)
STOP_SECONDS = 5  # the contract: every worker ends within 5 s of SIGTERM
PATIENCE = 120  # how long a condition may take on a loaded machine before the test gives up


def env_for(app, **extra) -> dict:
    """The environment of a worker on the app's database (config from MALLBRIDGE_* variables)."""
    env = dict(os.environ, MALLBRIDGE_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               MALLBRIDGE_SECRET_KEY=app.config["SECRET_KEY"], MALLBRIDGE_ENCRYPTION_KEY=TEST_KEY)
    env.pop("MALLBRIDGE_DEMO", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start(env: dict, *args: str, log_path=None) -> subprocess.Popen:
    """`mallbridge ARGS…` as a child process; its output goes to `log_path` (or is dropped)."""
    exe = Path(sys.executable).with_name("mallbridge")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from plugin.cli import main; main()"]
    if not log_path:
        return subprocess.Popen(cmd + list(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                cwd=ROOT)
    with open(log_path, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd + list(args), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def tail(log_path, size=3000) -> str:
    """The end of a worker's log, for an assertion message."""
    try:
        return Path(log_path).read_text(errors="replace")[-size:]
    except (OSError, TypeError):
        return ""


def wait_for(condition, what: str, procs=(), timeout: float = PATIENCE, log_path=None) -> None:
    """Poll until condition() holds; fail when a child ended first or after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for proc in procs:
            if proc.poll() is not None and not condition():
                pytest.fail(f"a worker ended (status {proc.returncode}) before {what}\n{tail(log_path)}")
        time.sleep(0.05)  # polling a condition, not waiting out a delay
    if not condition():
        pytest.fail(f"timed out waiting for {what}\n{tail(log_path)}")


def catches_sigterm(proc: subprocess.Popen) -> bool:
    """True once the child has installed its SIGTERM handler (bit 15 of SigCgt in /proc)."""
    try:
        with open(f"/proc/{proc.pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def stops_on_sigterm(proc: subprocess.Popen, log_path=None) -> None:
    """SIGTERM, then the child must have exited (status 0) within STOP_SECONDS."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_SECONDS} s after SIGTERM\n{tail(log_path)}")
    assert proc.returncode == 0, tail(log_path)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL (a crash) and reap."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def reap(*procs: subprocess.Popen) -> None:
    """Kill whatever still runs and wait for it (for `finally`)."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
    for proc in procs:
        if proc is not None:
            proc.wait(timeout=30)


class IdSink:
    """An SMTP handler that records the Message-ID of every delivered mail; `delay` seconds per
    DATA keeps a worker busy in the middle of its batch."""

    def __init__(self, delay: float = 0.0):
        self.ids: list[str | None] = []
        self.sessions = 0  # counted by tests.smtp_server's controller
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow server, inside the SMTP session
        match = MSGID.search(envelope.original_content)
        with self.lock:
            self.ids.append(match.group(1).decode() if match else None)
        return "250 OK"

    def count(self) -> int:
        """Mails received so far (duplicates included)."""
        with self.lock:
            return len(self.ids)

    def distinct(self) -> int:
        """Different mails received so far."""
        with self.lock:
            return len(set(self.ids))


def queue_mails(n: int, prefix: str = "w") -> set[str]:
    """`n` small queued outbox rows in one INSERT (committed); returns their Message-IDs."""
    now, rows = clock.now(), []
    for i in range(n):
        mid = f"<{prefix}.{i}@reply.localhost>"
        raw = (f"From: shop@example.jp\r\nTo: inbox@example.jp\r\nSubject: {prefix} {i}\r\n"
               f"Message-ID: {mid}\r\n\r\nbody {i}\r\n").encode()
        rows.append({"state": "queued", "kind": "mail", "message_id": mid, "sender": "shop@example.jp",
                     "recipients": ["inbox@example.jp"], "subject": f"{prefix} {i}", "raw": raw, "attempts": 0,
                     "recoveries": 0, "next_attempt_at": now, "created_at": now, "updated_at": now})
    db.session.execute(insert(OutboxMessage), rows)
    db.session.commit()
    return {row["message_id"] for row in rows}


def outbox_states() -> dict[str, int]:
    """How many outbox rows are in each state (fresh from the database)."""
    db.session.expire_all()
    states = dict(db.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
    db.session.commit()  # no transaction left open beside the workers
    return states

"""Every worker stops within 5 s of SIGTERM (issue 14.1), tried on real processes: smtp-in with an
idle client connected and while it takes in a 1 MB reply, `sync run` and `outbox run` while idle."""
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import TEST_KEY
from tests.smtp_server import free_port
from tests.sync.helpers import AGENT, deliver_rakuten, mails, reply_to

STOP_SECONDS = 5


def _env(app):
    env = dict(os.environ, MALLBRIDGE_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               MALLBRIDGE_SECRET_KEY=app.config["SECRET_KEY"], MALLBRIDGE_ENCRYPTION_KEY=TEST_KEY,
               MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    env.pop("MALLBRIDGE_DEMO", None)
    return env


def _start(app, *args):
    exe = os.path.join(os.path.dirname(sys.executable), "mallbridge")
    return subprocess.Popen([exe, *args], env=_env(app), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(condition, proc, what):
    """Poll until condition() holds; fail (with the child's stderr) if the child died first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"the process ended before {what}: " + proc.communicate()[1].decode())
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _catches_sigterm(proc):
    """True once the child has installed its SIGTERM handler (bit 15 of SigCgt in /proc)."""
    try:
        with open(f"/proc/{proc.pid}/status") as status:
            caught = next(line for line in status if line.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def _stops_on_sigterm(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_SECONDS} s after SIGTERM")
    assert proc.returncode == 0, proc.communicate()[1].decode()


def _connects(port):
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
        return True
    except OSError:
        return False


def test_smtp_in_stops_with_an_idle_client_connected(sync_app):
    """A client that connected, said MAIL FROM and went quiet does not hold the stop up."""
    port = free_port()
    proc = _start(sync_app, "smtp-in", "--port", str(port))
    try:
        _wait_for(lambda: _connects(port) and _catches_sigterm(proc), proc, "smtp-in listens")
        idle = smtplib.SMTP("127.0.0.1", port, timeout=30)
        idle.ehlo()
        idle.mail(AGENT)
        _stops_on_sigterm(proc)
        idle.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_smtp_in_stops_while_taking_in_a_huge_reply(sync_app, mall):
    """SIGTERM right after a 1 MB one-line reply was stored: intake of it is bounded, so the
    process still stops in time, and the reply is not lost (stored, bounced)."""
    _account, original, _number = deliver_rakuten(mall)
    port = free_port()
    proc = _start(sync_app, "smtp-in", "--port", str(port))
    sender = None
    try:
        _wait_for(lambda: _connects(port) and _catches_sigterm(proc), proc, "smtp-in listens")

        def deliver():
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                    client.send_message(reply_to(original, "あ" * 1_000_000), from_addr=AGENT)
            except smtplib.SMTPException:
                pass  # the answer may be cut off by the stop; the stored mail is what counts

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        _wait_for(lambda: mails() != [], proc, "the reply is stored")
        _stops_on_sigterm(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
        if sender is not None:
            sender.join(timeout=60)
    assert len(mails()) == 1


@pytest.mark.parametrize("command", [("sync", "run"), ("outbox", "run")])
def test_workers_stop_on_sigterm(sync_app, command):
    """`sync run` and `outbox run` waiting for work stop within 5 s of SIGTERM, with exit status 0."""
    proc = _start(sync_app, *command)
    try:
        _wait_for(lambda: _catches_sigterm(proc), proc, "the worker runs")
        _stops_on_sigterm(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()

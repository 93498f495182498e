"""Every worker stops within 5 s of SIGTERM (issue 14.1), tried on real processes: smtp-in with an
idle client connected and while it takes in a 1 MB reply, `sync run` and `outbox run` while idle."""
import smtplib
import threading

import pytest

from tests import workers
from tests.smtp_server import free_port
from tests.sync.helpers import AGENT, deliver_rakuten, mails, reply_to


def _start(app, *args, log_path=None):
    env = workers.env_for(app, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    return workers.start(env, *args, log_path=log_path)


def _connects(port):
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
        return True
    except OSError:
        return False


def test_smtp_in_stops_with_an_idle_client_connected(sync_app, tmp_path):
    """A client that connected, said MAIL FROM and went quiet does not hold the stop up."""
    port = free_port()
    log, proc = tmp_path / "worker.log", None
    proc = _start(sync_app, "smtp-in", "--port", str(port), log_path=log)
    try:
        workers.wait_for(lambda: _connects(port) and workers.catches_sigterm(proc), "smtp-in listens", [proc], log_path=log)
        idle = smtplib.SMTP("127.0.0.1", port, timeout=30)
        idle.ehlo()
        idle.mail(AGENT)
        workers.stops_on_sigterm(proc, log)
        idle.close()
    finally:
        workers.reap(proc)


def test_smtp_in_stops_while_taking_in_a_huge_reply(sync_app, mall, tmp_path):
    """SIGTERM right after a 1 MB one-line reply was stored: intake of it is bounded, so the
    process still stops in time, and the reply is not lost (stored, bounced)."""
    _account, original, _number = deliver_rakuten(mall)
    port = free_port()
    log, proc = tmp_path / "worker.log", None
    proc = _start(sync_app, "smtp-in", "--port", str(port), log_path=log)
    sender = None
    try:
        workers.wait_for(lambda: _connects(port) and workers.catches_sigterm(proc), "smtp-in listens", [proc], log_path=log)

        def deliver():
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                    client.send_message(reply_to(original, "あ" * 1_000_000), from_addr=AGENT)
            except smtplib.SMTPException:
                pass  # the answer may be cut off by the stop; the stored mail is what counts

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        workers.wait_for(lambda: mails() != [], "the reply is stored", [proc], log_path=log)
        workers.stops_on_sigterm(proc, log)
    finally:
        workers.reap(proc)
        if sender is not None:
            sender.join(timeout=60)
    assert len(mails()) == 1


@pytest.mark.parametrize("command", [("sync", "run"), ("outbox", "run")])
def test_workers_stop_on_sigterm(sync_app, command, tmp_path):
    """`sync run` and `outbox run` waiting for work stop within 5 s of SIGTERM, with exit status 0."""
    log, proc = tmp_path / "worker.log", None
    proc = _start(sync_app, *command, log_path=log)
    try:
        workers.wait_for(lambda: workers.catches_sigterm(proc), "the worker runs", [proc], log_path=log)
        workers.stops_on_sigterm(proc, log)
    finally:
        workers.reap(proc)

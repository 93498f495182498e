"""The worker shape the three workers share (plugin.worker): the loop, --once, the stop flag,
periodic tasks on an injected clock, and outages logged once."""
import logging
import os
import signal
import threading

from sqlalchemy.exc import OperationalError

from plugin.worker import Heartbeat, Outage, Worker


class Script(Worker):
    """A worker whose passes follow a script: True = busy (go on at once), False = idle."""

    def __init__(self, passes, **kw):
        super().__init__(**kw)
        self.passes, self.calls = list(passes), []

    def iteration(self):
        self.calls.append("pass")
        busy = self.passes.pop(0) if self.passes else False
        if not self.passes and not self.once:
            self.stopping = True
        return busy

    def idle(self):
        self.calls.append("idle")

    def stopped(self):
        self.calls.append("stopped")


def _no_sleep(seconds):
    raise AssertionError("this worker must not sleep")


def test_once_runs_until_a_pass_finds_nothing():
    """--once goes on while passes are busy and stops at the first idle pass, without sleeping."""
    worker = Script([True, True, False, True], sleep=_no_sleep)
    worker.run(once=True)
    assert worker.calls == ["pass", "pass", "pass", "idle", "stopped"]


def test_sleeps_only_when_idle_and_in_steps_that_honour_the_stop_flag():
    """An idle pass sleeps its pause in steps of at most a second; the stop flag ends the sleep early."""
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            worker.stopping = True

    worker = Script([False, False], sleep=sleep)
    worker.idle_seconds = 2.5
    worker.run()
    assert sleeps == [1.0, 1.0, 0.5] and worker.calls[-1] == "stopped"


def test_periodic_tasks_follow_the_injected_clock():
    """due(name, every) is true on the first call and then once per interval of the injected clock."""
    now = [100.0]
    worker = Script([], clock=lambda: now[0])
    assert worker.due("purge", 60) and not worker.due("purge", 60)
    now[0] += 59.9
    assert not worker.due("purge", 60)
    now[0] += 0.1
    assert worker.due("purge", 60) and worker.due("recover", 0) and worker.due("recover", 0)


def test_sigterm_sets_the_stop_flag_and_handlers_are_restored():
    """SIGTERM and SIGINT only set the stop flag; restore_signals puts the old handlers back."""
    worker = Script([])
    before = signal.getsignal(signal.SIGTERM)
    previous = worker.install_signal_handlers()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert worker.stopping
    finally:
        worker.restore_signals(previous)
    assert signal.getsignal(signal.SIGTERM) == before


def test_stopped_runs_even_when_a_pass_raises():
    """The cleanup hook runs when the loop dies of an error."""
    class Broken(Script):
        def iteration(self):
            raise RuntimeError("boom")

    worker = Broken([])
    try:
        worker.run()
    except RuntimeError:
        pass
    assert worker.calls == ["stopped"]


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    """Many failures in a row are one outage: one error line, then one recovery line."""
    log = logging.getLogger("mallbridge.tests.worker")
    outage = Outage(log, "SMTP server")
    with caplog.at_level(logging.INFO, logger="mallbridge.tests.worker"):
        outage.ok()
        assert outage.failed(ConnectionRefusedError("refused"), "SMTP server unreachable")
        assert not outage.failed(ConnectionRefusedError("refused"), "SMTP server unreachable")
        assert outage.down
        outage.ok()
        outage.ok()
    assert caplog.text.count("SMTP server unreachable: refused") == 1
    assert caplog.text.count("SMTP server reachable again") == 1 and not outage.down


def test_a_heartbeat_renews_until_stopped_and_outlives_a_failed_renewal(caplog):
    """The heartbeat thread calls renew() again and again; a database error is logged once and the
    beat goes on; stop() ends it."""
    calls, beat = [], threading.Event()

    def renew():
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        if len(calls) >= 4:
            beat.set()
    heartbeat = Heartbeat(renew, 0.01, logging.getLogger("mallbridge.test")).start()
    try:
        assert beat.wait(timeout=60)
    finally:
        heartbeat.stop()
    count = len(calls)
    assert caplog.text.count("cannot renew leases") == 1 and "reachable again" in caplog.text
    assert not any(t.name == "lease-heartbeat" and t.is_alive() for t in threading.enumerate())
    assert len(calls) == count

"""The shape every mallbridge worker process shares, after Mailman's core/runner.py:
`mallbridge outbox run`, `mallbridge sync run` and `mallbridge smtp-in`.

`run()` repeats iteration() → periodic() and sleeps only when a pass found no work, until the
stop flag is set: by SIGTERM or SIGINT (the item in hand is finished first), or with `--once`
as soon as the worker's one unit of work is done. `sleep` and `clock` are injected, so tests
never wait. A dependency that is down (the database, the SMTP server, a mall) is logged once
when the outage starts and once when it ends (`Outage`), never once per item; a bug in one item
is logged with its traceback and that item is dead-lettered by the subclass, and the loop goes on.
A worker that holds leased rows renews their leases from a `Heartbeat` thread while it lives.
"""
import logging
import signal
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError


class Outage:
    """Logs an outage of one dependency once when it starts and once when it ends."""

    def __init__(self, log: logging.Logger, what: str):
        self.log, self.what = log, what
        self.error: str | None = None

    @property
    def down(self) -> bool:
        """True while the dependency is known to be unreachable."""
        return self.error is not None

    def failed(self, exc: BaseException, message: str, *, traceback: bool = False) -> bool:
        """Note a failure; logs `message` only at the start of an outage. True when it was logged."""
        first = self.error is None
        self.error = str(exc) or type(exc).__name__
        if first:
            self.log.error("%s: %s", message, exc, exc_info=exc if traceback else None)
        return first

    def ok(self) -> None:
        """Note a success; logs the end of an outage once."""
        if self.error is not None:
            self.log.warning("%s reachable again", self.what)
            self.error = None


class Heartbeat:
    """Calls `renew()` every `every` seconds from a thread of its own while the process lives.

    A worker renews the short leases of the rows it holds this way, also while its main thread is
    blocked on a slow SMTP server or mall; a killed process stops renewing, so its leases run out
    within seconds and another worker takes its rows over. A failing renewal is logged once."""

    def __init__(self, renew: Callable[[], object], every: float, log: logging.Logger):
        self.renew, self.every = renew, every
        self.outage = Outage(log, "database (lease renewal)")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Heartbeat":
        """Start beating (once)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.renew()
            except (SQLAlchemyError, OSError) as exc:  # the main thread goes on; the lease holds a while
                self.outage.failed(exc, "cannot renew leases")
            else:
                self.outage.ok()

    def stop(self) -> None:
        """Stop beating; waits briefly for a renewal in progress."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=2)


def stoppable(sleep: Callable[[float], None], should_stop: Callable[[], bool],
              stopped: type[Exception]) -> Callable[[float], None]:
    """`sleep` in steps of at most half a second that raises `stopped` once `should_stop()` holds:
    a long wait (a mall's Retry-After, the helpdesk's rate limit) never delays a stop signal."""
    def wait(seconds: float) -> None:
        left = seconds
        while left > 0 and not should_stop():
            sleep(min(0.5, left))
            left -= 0.5
        if should_stop():
            raise stopped()
    return wait


class Worker:
    """Base of the worker loops; subclasses implement iteration() and may override the hooks."""

    log = logging.getLogger(f"mallbridge.{__name__}")
    idle_seconds = 5.0

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.sleep, self.clock = sleep, clock
        self.stopping = False
        self.once = False
        self.handled = 0  # items handled so far (mails sent, accounts polled, replies received)
        self._last: dict[str, float] = {}

    # --- hooks --------------------------------------------------------------------------------

    def iteration(self) -> bool:
        """One pass of the worker's job; True when more work is due at once (no sleep)."""
        raise NotImplementedError

    def periodic(self, idle: bool) -> bool:
        """Housekeeping after a pass; True when it made work due at once."""
        return False

    def pause(self) -> float:
        """Seconds to sleep when a pass found nothing to do."""
        return self.idle_seconds

    def idle(self) -> None:
        """Called before sleeping (e.g. to close an idle connection)."""

    def once_done(self) -> bool:
        """With --once: whether the worker's one unit of work is done (default: one idle pass)."""
        return True

    def started(self) -> None:
        """Called once before the loop."""

    def stopped(self) -> None:
        """Called once after the loop, also after an error."""

    # --- the loop -----------------------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        """Loop until stopped; with once=True, until the one unit of work is done. Returns `handled`."""
        self.once = once
        self.started()
        try:
            while not self.stopping:
                busy = self.iteration()
                busy = self.periodic(idle=not busy) or busy
                if busy:
                    continue
                self.idle()
                if once and self.once_done():
                    break
                self.snooze(self.pause())
        finally:
            self.stopped()
        return self.handled

    def snooze(self, seconds: float) -> None:
        """Sleep in steps of at most a second, so a stop signal is honoured quickly."""
        left = seconds
        while left > 0 and not self.stopping:
            self.sleep(min(1.0, left))
            left -= 1.0

    def due(self, name: str, every: float) -> bool:
        """True (and the time noted) when task `name` last ran `every` seconds ago or never."""
        now = self.clock()
        last = self._last.get(name)
        if last is not None and now - last < every:
            return False
        self._last[name] = now
        return True

    def install_signal_handlers(self) -> dict:
        """SIGTERM and SIGINT set the stop flag; returns the previous handlers (restore_signals)."""
        def handler(signum, frame):
            self.log.info("signal %s: stopping after the current item", signum)
            self.stopping = True
        return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    @staticmethod
    def restore_signals(previous: dict) -> None:
        """Put back the handlers install_signal_handlers replaced."""
        for sig, old in previous.items():
            signal.signal(sig, old)

"""`mallbridge helpdesk push`: the address-book push as a plugin.worker.Worker.

Each iteration is one push pass of up to a minute (plugin.helpdesk.push); while work is left the
next pass starts at once, so the worker runs at the API's limit (the shared limiter waits inside
the calls). With `--once` the worker stops when everything is pushed, or at once when the push
cannot run (off, not configured, paused). Nothing to do: it looks again after `idle_seconds`.
A database outage is logged once (Outage) and waited out.
"""
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from plugin.extensions import db
from plugin.helpdesk import push
from plugin.helpdesk.api import Interrupted
from plugin.worker import Outage, Worker

log = logging.getLogger(f"mallbridge.{__name__}")
PASS_SECONDS = 60.0
MAX_WAIT = 65.0  # a call may wait this long for the rate limit (one window and a second)
STOPPING_STATES = ("off", "paused")


class PushWorker(Worker):
    """Runs push passes; `report` gets one line per pass that did something."""

    log = log
    idle_seconds = 15.0

    def __init__(self, *, full: bool = False, report: Callable[[str], None] = log.info,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        super().__init__(sleep=sleep, clock=clock)
        self.full, self.report = full, report
        self.database = Outage(log, "database")
        self.last: push.PassReport | None = None
        self.refused: list = []

    def iteration(self) -> bool:
        """One pass; busy (no sleep) while work is left."""
        try:
            result = push.run_pass(budget=PASS_SECONDS, max_wait=MAX_WAIT, full=self.full,
                                   sleep=self.wait, monotonic=self.clock, should_stop=lambda: self.stopping)
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot read the push state (database unavailable?)", traceback=True)
            db.session.rollback()
            return False
        self.database.ok()
        if result.status not in ("off", "paused", "busy", "waiting"):
            self.full = False  # --all re-sends once, not on every pass
        self.last = result
        self.handled += result.sent
        self.refused += result.refused
        if result.sent or result.refused or result.status in ("error", "paused"):
            self.report(f"{result.status}: {result.created} created, {result.updated} updated, "
                        f"{result.unchanged} unchanged, {len(result.refused)} refused, {result.requests} requests"
                        + (f" — {result.message_ja}" if result.message_ja else ""))
        if self.once and result.status in STOPPING_STATES:
            self.stopping = True
        return result.more

    def wait(self, seconds: float) -> None:
        """The pass's waits (rate limit, backoff): cut short, and the pass ended, by a stop signal."""
        self.snooze(seconds)
        if self.stopping:
            raise Interrupted()

    def once_done(self) -> bool:
        """With --once: stop after a pass that left nothing (or could not run)."""
        return True

    def idle(self) -> None:
        """Do not hold a database session open while waiting."""
        if not self.once:
            db.session.remove()

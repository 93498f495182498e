"""The sync worker (`mallbridge sync run`): the mall side of mallbridge, as a plugin.worker.Worker.

Each pass polls the mall accounts (the due ones; with `--once` every enabled, unpaused account,
due or not, so an admin's manual pass always polls), then posts queued replies, completions and
read marks (sync.replies.post); expiry reminders are checked once an hour. The worker sleeps
until the next account is due (at most the poll interval). One account or job going wrong never
stops the pass; a database outage is logged once and the pass is tried again after a pause.
"""
import logging
import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock
from plugin.extensions import db
from plugin.helpdesk import push as helpdesk_push
from plugin.worker import Outage, Worker
from sync import expiry, options, poller
from sync.models import MallAccount
from sync.replies import post

log = logging.getLogger(f"mallbridge.{__name__}")
EXPIRY_EVERY = 3600  # seconds between expiry-reminder checks
OUTAGE_SECONDS = 30.0  # pause after a pass the database did not let through


class SyncRunner(Worker):
    """Polls mall accounts and posts queued mall writes; `report` gets one line per notable result."""

    log = log

    def __init__(self, *, report: Callable[[str], None] = log.info, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(sleep=sleep, clock=clock)
        self.report = report
        self.database = Outage(log, "database")

    def iteration(self) -> bool:
        """One pass: poll, then post replies. Never busy: the next pass waits for the next due account."""
        try:
            results = poller.poll_all(due_only=not self.once)
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot read the mall accounts (database unavailable?)", traceback=True)
            db.session.rollback()
            return False
        self.database.ok()
        for result in results:
            self.handled += 1
            if result.error or result.new_messages:
                self.report(f"account {result.account_id}: {result.new_messages} new"
                            + (f", error: {result.error}" if result.error else ""))
        self._post_replies()
        helpdesk_push.pass_for_sync()  # new inquiries' customers into the address book (when push is on)
        return False

    def _post_replies(self) -> None:
        """Post queued replies and completions; a failure here never stops polling."""
        try:
            counts = post.run_pass(should_stop=lambda: self.stopping)
        except Exception:  # replies must not stop polling
            log.exception("posting replies failed")
            db.session.rollback()
            return
        if counts["posted"] or counts["failed"]:
            self.report(f"replies: {counts['posted']} posted, {counts['failed']} failed")

    def periodic(self, idle: bool) -> bool:
        """Expiry reminders, once an hour (and on the first pass)."""
        if self.due("expiry", EXPIRY_EVERY):
            try:
                expiry.run()
            except Exception:  # reminders must not stop polling
                log.exception("expiry check failed")
                db.session.rollback()
        return False

    def idle(self) -> None:
        """Do not hold a database session open while waiting (with --once nothing waits)."""
        if not self.once:
            db.session.remove()

    def pause(self) -> float:
        """Until the next account is due, at most the poll interval (longer while the DB is down)."""
        if self.database.down:
            return OUTAGE_SECONDS
        try:
            return until_next_due(options.get("poll_seconds"))
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot read the mall accounts (database unavailable?)", traceback=True)
            db.session.rollback()
            return OUTAGE_SECONDS


def until_next_due(poll_seconds: float) -> float:
    """Seconds until the next enabled, unpaused account is due (0.5 … poll_seconds)."""
    nxt = db.session.scalar(select(func.min(MallAccount.next_poll_at)).where(
        MallAccount.enabled.is_(True), MallAccount.paused_reason.is_(None)))
    db.session.remove()
    if nxt is None:
        return float(poll_seconds)
    return min(max((nxt - clock.now()).total_seconds(), 0.5), float(poll_seconds))

"""The sync worker (`mallbridge sync run`): the mall side of mallbridge, as a plugin.worker.Worker.

Each pass polls the mall accounts (the due ones; with `--once` every enabled, unpaused account,
due or not, so an admin's manual pass always polls), then posts queued replies, completions and
read marks (sync.replies.post); expiry reminders are checked once an hour. The worker sleeps
until the next account is due (at most the poll interval), or until a reply job's lease runs out
(a killed worker's job is then taken over at once). One account or job going wrong never stops
the pass; a database outage is logged once and the pass is tried again after a pause.

Several sync workers may run on one database: each account is polled under a lease
(sync.leases), each reply job is claimed by one worker; a heartbeat thread renews the account and
the job in hand while the worker lives. SIGTERM ends a pass between accounts, inquiries, jobs and
address-book chunks, and cuts every wait short, so the worker stops within seconds.
"""
import logging
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock
from plugin.extensions import db
from plugin.helpdesk import push as helpdesk_push
from plugin.queue import HEARTBEAT_SECONDS
from plugin.worker import Heartbeat, Outage, Worker
from sync import expiry, leases, options, poller
from sync.models import MallAccount
from sync.replies import post, queue

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
        self.owner = leases.owner_name()
        # What this worker holds right now, read by the heartbeat thread.
        self.account: int | None = None
        self.jobs: tuple[int, ...] = ()
        self.heartbeat: Heartbeat | None = None

    def started(self) -> None:
        """Start renewing the leases of the account and the reply job in hand."""
        engine = db.engine  # the heartbeat thread has no app context of its own

        def renew():
            account, jobs = self.account, self.jobs
            if account is None and not jobs:
                return
            with engine.connect() as connection:
                if account is not None:
                    leases.renew(connection, account, self.owner)
                queue.QUEUE.renew(connection, jobs)
        self.heartbeat = Heartbeat(renew, HEARTBEAT_SECONDS, log).start()

    def stopped(self) -> None:
        """Stop the heartbeat."""
        if self.heartbeat is not None:
            self.heartbeat.stop()

    def _hold_account(self, account_id: int | None) -> None:
        self.account = account_id

    def _hold_jobs(self, job_ids) -> None:
        self.jobs = tuple(job_ids)

    def should_stop(self) -> bool:
        """Whether a stop was asked for (handed to the passes, which end early)."""
        return self.stopping

    def iteration(self) -> bool:
        """One pass: poll, then post replies. Never busy: the next pass waits for the next due account."""
        try:
            results = poller.poll_all(due_only=not self.once, should_stop=self.should_stop, owner=self.owner,
                                      hold=self._hold_account)
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
        if not self.stopping:
            self._post_replies()
        if not self.stopping:  # new inquiries' customers into the address book (when push is on)
            helpdesk_push.pass_for_sync(should_stop=self.should_stop, sleep=self.sleep)
        return False

    def _post_replies(self) -> None:
        """Post queued replies and completions; a failure here never stops polling."""
        try:
            counts = post.run_pass(should_stop=self.should_stop, hold=self._hold_jobs)
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
        """Until the next account is due or a reply job's lease runs out, at most the poll interval
        (longer while the DB is down)."""
        if self.database.down:
            return OUTAGE_SECONDS
        try:
            return until_next_due(options.get("poll_seconds"))
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot read the mall accounts (database unavailable?)", traceback=True)
            db.session.rollback()
            return OUTAGE_SECONDS


def until_next_due(poll_seconds: float) -> float:
    """Seconds until the next enabled, unpaused account is due and not leased by another worker, or
    until the next reply job's lease runs out (0.5 … poll_seconds)."""
    now = clock.now()
    rows = db.session.execute(select(MallAccount.next_poll_at, MallAccount.lease_until).where(
        MallAccount.enabled.is_(True), MallAccount.paused_reason.is_(None))).all()
    lease_end = queue.QUEUE.next_expiry()
    db.session.remove()
    # An account another worker is polling is due again for us only when its lease runs out.
    times = [max(due or now, leased or now) for due, leased in rows]
    times += [lease_end] if lease_end is not None else []
    if not times:
        return float(poll_seconds)
    return min(max((min(times) - now).total_seconds(), 0.5), float(poll_seconds))

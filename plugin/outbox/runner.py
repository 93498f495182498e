"""The outbox worker loop (`mallbridge outbox run`), after Mailman's core/runner.py.

Claim due rows → deliver each in its own transaction → periodic housekeeping → sleep only
when a pass found nothing. One bad row never stops the loop: it is logged and dead-lettered.
SIGTERM/SIGINT set a stop flag; the message being sent is finished, the rest of the claimed
batch is handed back.
"""
import logging
import signal
import time

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock
from plugin.extensions import db
from plugin.outbox import options, store
from plugin.outbox.deliver import deliver
from plugin.outbox.models import OutboxAttempt, OutboxMessage
from plugin.smtp import TemporaryError

log = logging.getLogger(f"mallbridge.{__name__}")
RECOVER_EVERY = 30  # seconds between lease-recovery sweeps while busy (always done when idle)
PURGE_EVERY = 3600


def relax_commit_durability():
    """Worker connections only: commit without waiting for the disk flush.

    A commit lost to a power cut (never to a killed process: the data is already in the OS)
    only undoes a "sent"/"failed" mark or a claim, which means the message is sent again; that
    is the at-least-once promise anyway, and it is what lets one worker keep up with SMTP.
    Enqueues happen in the web app and other processes, which keep full durability."""
    engine = db.engine
    statement = {"sqlite": "PRAGMA synchronous=NORMAL",  # safe with WAL: no corruption, ever
                 "postgresql": "SET SESSION synchronous_commit TO off"}.get(engine.dialect.name)
    if statement is None or event.contains(engine, "connect", _relaxed):
        return
    _relaxed.statement = statement
    event.listen(engine, "connect", _relaxed)
    engine.dispose()  # pooled connections were opened before the listener existed


def _relaxed(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute(_relaxed.statement)
    cursor.close()
    dbapi_connection.commit()


class Runner:
    """Delivers due outbox rows; `sleep` and the SMTP connection are injectable for tests."""

    def __init__(self, connection, *, batch=20, idle_seconds=5.0, outage_seconds=30.0, sleep=time.sleep):
        self.conn = connection
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.outage_seconds = outage_seconds
        self.sleep = sleep
        self.stopping = False
        self.outage = None  # text of the error while the SMTP server is unreachable
        self.db_down = False
        self._auto = None
        self.handled = 0
        self._last_recover = None
        self._last_purge = None

    def install_signal_handlers(self):
        """SIGTERM and SIGINT finish the current message, then stop; returns the old handlers."""
        def handler(signum, frame):
            log.info("signal %s: stopping after the current message", signum)
            self.stopping = True
        return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def run(self, once=False):
        """Loop until stopped; with once=True, return as soon as nothing is due."""
        sandbox = options.sandbox_address()
        if sandbox:
            log.warning("sandbox address active: every mail goes to %s, not to its recipients", sandbox)
        try:
            while not self.stopping:
                worked = self.iteration()
                recovered = self.periodic(idle=not worked)
                if worked or recovered:  # recovered rows are due at once
                    continue
                self.conn.close()  # do not hold an idle session open on the server
                if once:
                    break
                self._snooze(self.outage_seconds if self.outage else self.idle_seconds)
        finally:
            self.conn.close()
            self._close_autocommit()
            db.session.remove()
        return self.handled

    def _snooze(self, seconds):
        # Small steps, so a stop signal is honoured quickly even with a long idle interval.
        left = seconds
        while left > 0 and not self.stopping:
            self.sleep(min(1.0, left))
            left -= 1.0

    def iteration(self):
        """One pass: claim a batch and deliver it; returns how many rows were handled."""
        try:
            rows = store.claim_rows(self.batch, options.get("outbox.lease_seconds"))
        except SQLAlchemyError:
            if not self.db_down:  # once per outage, like the SMTP server
                log.exception("cannot claim outbox rows (database unavailable?)")
            self.db_down = True
            db.session.rollback()
            return 0
        if self.db_down:
            log.warning("database reachable again")
            self.db_down = False
        schedule, sandbox = options.schedule(), options.sandbox_address()
        ids = [row.id for row in rows]
        for index, row in enumerate(rows):
            if self.stopping:
                store.unclaim(ids[index:])
                break
            if not self._one(row, schedule, sandbox):
                store.unclaim(ids[index:])
                return 0
            self.handled += 1
        return len(rows)

    def _one(self, row, schedule, sandbox):
        """Deliver one row; False when the SMTP server is unreachable (the pass stops)."""
        oid = row.id
        try:
            state = deliver(row, self.conn, schedule, sandbox)
            store.save_result(row, self._autocommit())
            log.debug("outbox %s → %s", oid, state)
        except TemporaryError as exc:  # only connection-level errors get here
            db.session.rollback()
            if self.outage is None:
                log.error("SMTP server unreachable, holding mail until it answers: %s", exc)
            self.outage = str(exc)
            self._note_outage(oid, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a bug in one row must not stop the worker
            log.exception("outbox %s: unexpected error, moving it to dead", oid)
            db.session.rollback()
            self.conn.close()  # the session may be mid-command
            self._close_autocommit()
            self._dead_letter(oid, exc)
            return True
        if self.outage is not None:
            log.warning("SMTP server reachable again")
            self.outage = None
        return True

    def _autocommit(self):
        """A connection of its own for self-committing result UPDATEs (opened lazily)."""
        if self._auto is None:
            self._auto = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._auto

    def _close_autocommit(self):
        auto, self._auto = self._auto, None
        if auto is not None:
            try:
                auto.close()
            except SQLAlchemyError:
                pass

    def _note_outage(self, oid, exc):
        try:
            row = db.session.get(OutboxMessage, oid)
            row.last_error = f"SMTPサーバーに接続できません: {exc}"
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()

    def _dead_letter(self, oid, exc):
        try:
            now = clock.now()
            row = db.session.get(OutboxMessage, oid)
            row.state, row.lease_until, row.next_attempt_at, row.updated_at = "dead", None, None, now
            row.last_error = f"内部エラー: {type(exc).__name__}: {exc}"[:2000]
            db.session.add(OutboxAttempt(outbox_id=oid, at=now, outcome="error", text=row.last_error))
            db.session.commit()
        except Exception:  # noqa: BLE001 - the lease will bring the row back later
            log.exception("outbox %s: could not record the error", oid)
            db.session.rollback()

    def periodic(self, idle=False):
        """Lease recovery (when idle, else every RECOVER_EVERY s) and the retention purge;
        returns how many rows went back to queued."""
        now = clock.now()
        back = 0
        try:
            if idle or self._last_recover is None or (now - self._last_recover).total_seconds() >= RECOVER_EVERY:
                self._last_recover = now
                back, dead = store.recover_stale()
                if back or dead:
                    log.warning("recovered %d stale outbox rows, %d moved to dead", back, dead)
            if self._last_purge is None or (now - self._last_purge).total_seconds() >= PURGE_EVERY:
                self._last_purge = now
                purged = store.purge(options.get("outbox.retention_days"))
                if purged:
                    log.info("purged %d old outbox rows", purged)
        except SQLAlchemyError:
            log.exception("outbox housekeeping failed")
            db.session.rollback()
        return back

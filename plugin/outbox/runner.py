"""The outbox worker (`mallbridge outbox run`): a plugin.worker.Worker that delivers due mail.

Each pass claims a batch of due rows and delivers each in its own transaction; housekeeping
(lease recovery, retention purge) follows, and the worker sleeps only when a pass found
nothing. One bad row never stops the loop: it is logged and dead-lettered. An unreachable SMTP
server or database is logged once per outage; the claimed rows go back untouched. SIGTERM or
SIGINT finish the message being sent and hand the rest of the batch back.

Claimed rows have a short lease (plugin.queue.LEASE_SECONDS) that a heartbeat thread renews
while the worker lives; after a `kill -9` the next worker's recovery sweep (every RECOVER_EVERY
seconds) finds them within seconds of the lease running out, and sends them.
"""
import logging
import time
from collections.abc import Callable

from sqlalchemy import Connection, event
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock
from plugin.extensions import db
from plugin.outbox import options, store
from plugin.outbox.deliver import deliver
from plugin.outbox.models import QUEUE, Claimed, OutboxAttempt, OutboxMessage
from plugin.queue import HEARTBEAT_SECONDS, LEASE_SECONDS
from plugin.smtp import SmtpConnection, TemporaryError
from plugin.worker import Heartbeat, Outage, Worker

log = logging.getLogger(f"mallbridge.{__name__}")
# Seconds between lease-recovery sweeps while busy (always done when idle): a killed worker's rows
# wait at most a lease and this long. The sweep is one indexed UPDATE, so often is cheap.
RECOVER_EVERY = 5
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
    # Pooled connections were opened before the listener existed. The session's own connection
    # goes back first: one still checked out would outlive the disposed pool, open (a leak).
    db.session.remove()
    engine.dispose()


def _relaxed(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute(_relaxed.statement)
    cursor.close()
    dbapi_connection.commit()


class Runner(Worker):
    """Delivers due outbox rows; `sleep`, `clock` and the SMTP connection are injectable for tests."""

    log = log

    def __init__(self, connection: SmtpConnection, *, batch: int = 20, idle_seconds: float = 5.0,
                 outage_seconds: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(sleep=sleep, clock=clock)
        self.conn = connection
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.outage_seconds = outage_seconds
        self.smtp = Outage(log, "SMTP server")
        self.database = Outage(log, "database")
        self._auto: Connection | None = None
        self.held: tuple[int, ...] = ()  # ids of the batch in hand (read by the heartbeat thread)
        self.heartbeat: Heartbeat | None = None

    def started(self) -> None:
        """Start renewing leases; warn once when the sandbox address redirects every mail."""
        engine = db.engine  # the heartbeat thread has no app context of its own

        def renew():
            held = self.held
            if held:
                with engine.connect() as connection:
                    QUEUE.renew(connection, held)
        self.heartbeat = Heartbeat(renew, HEARTBEAT_SECONDS, log).start()
        sandbox = options.sandbox_address()
        if sandbox:
            log.warning("sandbox address active: every mail goes to %s, not to its recipients", sandbox)

    def stopped(self) -> None:
        """Stop the heartbeat; close the SMTP session and the worker's own connections."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.conn.close()
        self._close_autocommit()
        db.session.remove()

    def idle(self) -> None:
        """Do not hold an idle SMTP session open on the server."""
        self.conn.close()

    def pause(self) -> float:
        """Wait longer while the SMTP server is down."""
        return self.outage_seconds if self.smtp.down else self.idle_seconds

    def iteration(self) -> bool:
        """One pass: claim a batch and deliver it; True when it handled any row."""
        try:
            rows = store.claim_rows(self.batch, LEASE_SECONDS)
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot claim outbox rows (database unavailable?)", traceback=True)
            db.session.rollback()
            return False
        self.database.ok()
        ids = [row.id for row in rows]
        self.held = tuple(ids)
        try:
            return self._deliver_all(rows, ids)
        finally:
            self.held = ()

    def _deliver_all(self, rows: list[Claimed], ids: list[int]) -> bool:
        schedule, sandbox = options.schedule(), options.sandbox_address()
        for index, row in enumerate(rows):
            if self.stopping:
                store.unclaim(ids[index:])
                break
            if not self._one(row, schedule, sandbox):
                store.unclaim(ids[index:])
                return False  # an outage: sleep (longer) instead of claiming again
            self.handled += 1
        return bool(rows)

    def _one(self, row: Claimed, schedule, sandbox) -> bool:
        """Deliver one row; False when the SMTP server is unreachable (the pass stops)."""
        oid = row.id
        try:
            state = deliver(row, self.conn, schedule, sandbox)
            store.save_result(row, self._autocommit())
            log.debug("outbox %s → %s", oid, state)
        except TemporaryError as exc:  # only connection-level errors get here
            db.session.rollback()
            self.smtp.failed(exc, "SMTP server unreachable, holding mail until it answers")
            self._note_outage(oid, exc)
            return False
        except Exception as exc:
            log.exception("outbox %s: unexpected error, moving it to dead", oid)
            db.session.rollback()
            self.conn.close()  # the session may be mid-command
            self._close_autocommit()
            self._dead_letter(oid, exc)
            return True
        self.smtp.ok()
        return True

    def _autocommit(self) -> Connection:
        """A connection of its own for self-committing result UPDATEs (opened lazily)."""
        if self._auto is None:
            self._auto = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._auto

    def _close_autocommit(self) -> None:
        auto, self._auto = self._auto, None
        if auto is not None:
            try:
                auto.close()
            except SQLAlchemyError:
                pass

    def _note_outage(self, oid: int, exc: Exception) -> None:
        try:
            row = db.session.get(OutboxMessage, oid)
            row.last_error = f"SMTPサーバーに接続できません: {exc}"
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()

    def _dead_letter(self, oid: int, exc: Exception) -> None:
        try:
            now = clock.now()
            row = db.session.get(OutboxMessage, oid)
            QUEUE.dead_letter(row, now, exc)
            db.session.add(OutboxAttempt(outbox_id=oid, at=now, outcome="error", text=row.last_error))
            db.session.commit()
        except Exception:
            log.exception("outbox %s: could not record the error", oid)
            db.session.rollback()

    def periodic(self, idle: bool = False) -> bool:
        """Lease recovery (when idle, else every RECOVER_EVERY s) and the retention purge;
        True when rows went back to queued (they are due at once)."""
        back = 0
        try:
            if self.due("recover", 0 if idle else RECOVER_EVERY):
                back, dead = store.recover_stale()
                if back or dead:
                    log.warning("recovered %d stale outbox rows, %d moved to dead", back, dead)
            if self.due("purge", PURGE_EVERY):
                purged = store.purge(options.get("outbox.retention_days"))
                if purged:
                    log.info("purged %d old outbox rows", purged)
        except SQLAlchemyError:
            log.exception("outbox housekeeping failed")
            db.session.rollback()
        return bool(back)

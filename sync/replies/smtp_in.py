"""`mallbridge smtp-in`: the SMTP server that receives the helpdesk's replies (aiosmtpd).

RCPT is accepted only for a valid signed `r+<token>@REPLY_DOMAIN` of an enabled mall
account, else 550 there and then, so a forged or stale address is refused before any data.
DATA is written raw to the reply_mail table and committed before the 250: once the helpdesk
has its 250 the reply survives a mall outage or a crash. Intake (parsing, rules, queueing)
runs right after; if it fails, `sync run` picks the stored mail up later.

Only the helpdesk may answer as the shop (sync.replies.guard): RCPT is refused (550) while no
reply senders are configured, and for an expired address unless the envelope sender is a reply
sender (who then gets intake's Japanese bounce); when the envelope sender is not one, the From
decides at DATA (550 when it is not one either), and nothing is stored.

The process is a plugin.worker.Worker like the other two: the SMTP server runs on its own
event-loop thread, the main loop waits for SIGTERM/SIGINT (or, with --once, for the first
stored mail), and a database outage is logged once while the helpdesk gets 451 (try later).
A stop closes open sessions after a short grace, so it never waits for an idle client.
"""
import asyncio
import logging
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import click
from aiosmtpd.smtp import SMTP
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from plugin.extensions import db
from plugin.worker import Outage, Worker
from sync.replies import claims, guard, intake, parse

log = logging.getLogger(f"mallbridge.{__name__}")
DEFAULT_PORT = 2525
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # what common mail providers accept per message
TRY_LATER = "451 4.3.0 Temporary local problem, please try again later"
UNKNOWN = "550 5.1.1 No such reply address (mallbridge: unknown, forged or disabled)"
NO_SENDERS = "550 5.7.1 Replies are refused: no reply senders are configured in mallbridge (helpdesk settings)"
NOT_A_SENDER = "550 5.7.1 Sender refused: only the helpdesk's reply senders may answer through this address"
EXPIRED = "550 5.1.1 This reply address has expired (no message in this inquiry for too long)"
STOP_GRACE_SECONDS = 2.0  # open sessions get this long to finish on SIGTERM, then they are closed


class ReplyHandler:
    """aiosmtpd handler; DB work and parsing run on worker threads, each with its own app context."""

    def __init__(self, app: Flask, executor: ThreadPoolExecutor | None = None):
        self.app = app
        self.stored = 0  # mails stored so far (for `--once`)
        self.database = Outage(log, "database")
        self.executor = executor
        self.in_data = 0  # DATA commands being answered right now (a stop waits a little for them)

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._in_app, fn, *args)

    def _in_app(self, fn, *args):
        with self.app.app_context():
            try:
                return fn(*args)
            finally:
                db.session.remove()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """250 for a live signed reply address of an enabled account, 550 for anything else."""
        try:
            verdict, sender_ok = await self._run(_check_recipient, address, envelope.mail_from)
        except SQLAlchemyError as exc:
            self.database.failed(exc, f"cannot check recipient {address}; answering 451", traceback=True)
            return TRY_LATER
        self.database.ok()
        if verdict is not None:
            log.info("RCPT refused: %s from %s (%s): %s", address, envelope.mail_from, session.peer, verdict)
            return verdict
        envelope.sender_ok = sender_ok  # else the From decides at DATA
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        """Check the sender, store the raw mail (one row per recipient), then run intake; 250 only
        after the commit."""
        self.in_data += 1
        try:
            return await self._data(session, envelope)
        finally:
            self.in_data -= 1

    async def _data(self, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        peer = ":".join(str(p) for p in session.peer) if isinstance(session.peer, tuple) else str(session.peer)
        try:
            if not getattr(envelope, "sender_ok", False) and not await self._run(_from_allowed, raw):
                log.info("DATA refused: neither %s nor the From is a reply sender (%s)", envelope.mail_from, peer)
                return NOT_A_SENDER
            ids = await self._run(_store_all, raw, envelope.mail_from, list(envelope.rcpt_tos), peer)
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot store a reply mail; answering 451", traceback=True)
            return TRY_LATER
        self.database.ok()
        for mail_id in ids:
            try:
                await self._run(intake.process, mail_id)
            except Exception:  # stored and counted already; sync run retries the intake
                log.exception("reply mail %s: intake failed; left for sync run", mail_id)
        self.stored += len(ids)
        return "250 2.0.0 OK: stored"


def _check_recipient(address: str, mail_from: str | None) -> tuple[str | None, bool]:
    """(None or the 550 reply, whether the envelope sender is a reply sender) for one RCPT."""
    if guard.account_for_recipient(address) is None:
        return UNKNOWN, False
    if not guard.reply_senders():
        return NO_SENDERS, False
    sender_ok = guard.sender_allowed(mail_from)
    if not sender_ok and guard.address_expired(address):
        # A reply sender gets the reason in Japanese from intake's bounce instead.
        return EXPIRED, False
    return None, sender_ok


def _from_allowed(raw: bytes) -> bool:
    return guard.sender_allowed(parse.parse_head(raw).sender)


def _store_all(raw: bytes, mail_from: str | None, rcpts: list[str], peer: str) -> list[int]:
    return [claims.store(raw, rcpt=rcpt, mail_from=mail_from, peer=peer) for rcpt in rcpts]


class SmtpInWorker(Worker):
    """Serves SMTP on an event-loop thread of its own until stopped (see the module docstring)."""

    log = log
    idle_seconds = 0.5  # how soon a stop flag or --once is noticed

    def __init__(self, app: Flask, host: str, port: int, options: dict, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        super().__init__(sleep=sleep, clock=clock)
        self.app, self.host, self.port, self.options = app, host, port, options
        # Our own pool, so a stop can cancel queued work instead of waiting for it.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smtp-in-work")
        self.handler = ReplyHandler(app, self.executor)
        self.sessions: weakref.WeakSet = weakref.WeakSet()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.Server | None = None
        self.thread: threading.Thread | None = None

    def _session(self) -> SMTP:
        session = SMTP(self.handler, **self.options)
        self.sessions.add(session)
        return session

    def started(self) -> None:
        """Bind the port (OSError when it is taken) and start serving on the loop thread."""
        self.loop = asyncio.new_event_loop()
        try:
            self.server = self.loop.run_until_complete(self.loop.create_server(
                self._session, host=self.host, port=self.port))
        except BaseException:
            self.loop.close()
            raise
        self.thread = threading.Thread(target=self.loop.run_forever, name="smtp-in", daemon=True)
        self.thread.start()

    def iteration(self) -> bool:
        """Nothing to do here: the loop thread serves; count what it stored."""
        self.handled = self.handler.stored
        return False

    def once_done(self) -> bool:
        """With --once: done after the first stored mail."""
        return self.handled > 0

    def stopped(self) -> None:
        """Stop accepting; give a mail being stored STOP_GRACE_SECONDS to get its answer; close every
        open session (an idle client never holds the stop up); stop the loop thread. Whatever was
        stored without its 250 is sent again by the helpdesk and recognised by its Message-ID."""
        if self.thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=STOP_GRACE_SECONDS + 1)
        except TimeoutError:
            log.warning("SMTP sessions did not close in time; stopping anyway")
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=1)
        if not self.thread.is_alive():
            self.loop.close()

    async def _close(self) -> None:
        self.server.close()
        deadline = self.loop.time() + STOP_GRACE_SECONDS
        while self.handler.in_data and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        await asyncio.sleep(0)  # let the sessions see their connection lost


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """Server TLS context for STARTTLS from PEM files (None without a certificate)."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context


def smtp_options(app: Flask, max_size: int = DEFAULT_MAX_BYTES, tls: ssl.SSLContext | None = None,
                 require_tls: bool = False) -> dict:
    """Keyword arguments for aiosmtpd's SMTP (also used by the tests' Controller)."""
    return {"data_size_limit": max_size, "tls_context": tls, "require_starttls": bool(tls and require_tls),
            "hostname": app.config["REPLY_DOMAIN"], "ident": "mallbridge smtp-in", "enable_SMTPUTF8": True,
            "decode_data": False}


@click.command("smtp-in", help="Receive the helpdesk's replies (point the reply domain's MX or a Postfix transport here).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-size", default=DEFAULT_MAX_BYTES, show_default=True, type=click.IntRange(1024),
              help="Largest accepted mail in bytes (bigger ones get 552).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate: offers STARTTLS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert.")
@click.option("--require-starttls", is_flag=True, help="Refuse mail until the client has started TLS.")
@click.option("--once", is_flag=True, help="Exit after the first stored mail (tests, debugging).")
@with_appcontext
def smtp_in(host, port, max_size, tls_cert, tls_key, require_starttls, once):
    """Serve until SIGTERM/SIGINT; every accepted reply is stored before the 250."""
    if require_starttls and not tls_cert:
        raise click.UsageError("--require-starttls needs --tls-cert (and --tls-key)")
    try:
        tls = tls_context(tls_cert, tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise click.UsageError(f"cannot load the TLS certificate/key: {exc}") from None
    app = current_app._get_current_object()
    click.echo(f"smtp-in listening on {host}:{port} for r+…@{app.config['REPLY_DOMAIN']}"
               f"{' (STARTTLS offered)' if tls else ''}; max {max_size} bytes")
    worker = SmtpInWorker(app, host, port, smtp_options(app, max_size, tls, require_starttls))
    previous = worker.install_signal_handlers()
    try:
        worker.run(once=once)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None
    finally:
        worker.restore_signals(previous)

"""`mallbridge smtp-in`: the SMTP server that receives the helpdesk's replies (aiosmtpd).

RCPT is accepted only for a valid signed `r+<token>@REPLY_DOMAIN` of an enabled mall
account, else 550 there and then, so a forged or stale address is refused before any data.
DATA is written raw to the reply_mail table and committed before the 250: once the helpdesk
has its 250 the reply survives a mall outage or a crash. Intake (parsing, rules, queueing)
runs right after; if it fails, `sync run` picks the stored mail up later.

The process is a plugin.worker.Worker like the other two: the SMTP server runs on its own
event-loop thread, the main loop waits for SIGTERM/SIGINT (or, with --once, for the first
stored mail), and a database outage is logged once while the helpdesk gets 451 (try later).
"""
import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable

import click
from aiosmtpd.smtp import SMTP
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from plugin.extensions import db
from plugin.worker import Outage, Worker
from sync.replies import intake

log = logging.getLogger(f"mallbridge.{__name__}")
DEFAULT_PORT = 2525
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # what common mail providers accept per message
TRY_LATER = "451 4.3.0 Temporary local problem, please try again later"


class ReplyHandler:
    """aiosmtpd handler; DB work runs in a worker thread with its own app context."""

    def __init__(self, app: Flask):
        self.app = app
        self.stored = 0  # mails stored so far (for `--once`)
        self.database = Outage(log, "database")

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, self._in_app, fn, *args)

    def _in_app(self, fn, *args):
        with self.app.app_context():
            try:
                return fn(*args)
            finally:
                db.session.remove()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """250 for a valid signed reply address of an enabled account, 550 for anything else."""
        try:
            ok = await self._run(_valid_recipient, address)
        except SQLAlchemyError as exc:
            self.database.failed(exc, f"cannot check recipient {address}; answering 451", traceback=True)
            return TRY_LATER
        self.database.ok()
        if not ok:
            log.info("RCPT refused: %s (from %s)", address, session.peer)
            return "550 5.1.1 No such reply address (mallbridge: unknown, forged or disabled)"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        """Store the raw mail (one row per recipient), then run intake; 250 only after the commit."""
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        peer = ":".join(str(p) for p in session.peer) if isinstance(session.peer, tuple) else str(session.peer)
        try:
            ids = await self._run(_store_all, raw, envelope.mail_from, list(envelope.rcpt_tos), peer)
        except SQLAlchemyError as exc:
            self.database.failed(exc, "cannot store a reply mail; answering 451", traceback=True)
            return TRY_LATER
        self.database.ok()
        for mail_id in ids:
            try:
                await self._run(_intake, mail_id)
            except Exception:  # stored already; sync run retries the intake
                log.exception("reply mail %s: intake failed; left for sync run", mail_id)
        self.stored += len(ids)
        return "250 2.0.0 OK: stored"


def _valid_recipient(address: str) -> bool:
    return intake.account_for_recipient(address) is not None


def _store_all(raw: bytes, mail_from: str | None, rcpts: list[str], peer: str) -> list[int]:
    return [intake.store(raw, rcpt=rcpt, mail_from=mail_from, peer=peer) for rcpt in rcpts]


def _intake(mail_id: int) -> str | None:
    try:
        return intake.process(mail_id)
    except Exception:
        db.session.rollback()
        intake.note_failure(mail_id)
        raise


class SmtpInWorker(Worker):
    """Serves SMTP on an event-loop thread of its own until stopped (see the module docstring)."""

    log = log
    idle_seconds = 0.5  # how soon a stop flag or --once is noticed

    def __init__(self, app: Flask, host: str, port: int, options: dict, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        super().__init__(sleep=sleep, clock=clock)
        self.app, self.host, self.port, self.options = app, host, port, options
        self.handler = ReplyHandler(app)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: asyncio.Server | None = None
        self.thread: threading.Thread | None = None

    def started(self) -> None:
        """Bind the port (OSError when it is taken) and start serving on the loop thread."""
        self.loop = asyncio.new_event_loop()
        try:
            self.server = self.loop.run_until_complete(self.loop.create_server(
                lambda: SMTP(self.handler, **self.options), host=self.host, port=self.port))
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
        """Stop accepting, let open sessions end, stop the loop thread."""
        if self.thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=30)
        except TimeoutError:
            log.warning("open SMTP sessions did not end within 30 s; stopping anyway")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    async def _close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


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

"""`mallbridge smtp-in`: the SMTP server that receives the helpdesk's replies (aiosmtpd).

RCPT is accepted only for a valid signed `r+<token>@REPLY_DOMAIN` of an enabled mall
account, else 550 there and then, so a forged or stale address is refused before any data.
DATA is written raw to the reply_mail table and committed before the 250: once the helpdesk
has its 250 the reply survives a mall outage or a crash. Intake (parsing, rules, queueing)
runs right after; if it fails, `sync run` picks the stored mail up later.
"""
import asyncio
import logging
import signal
import ssl

import click
from aiosmtpd.smtp import SMTP
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from plugin.extensions import db

log = logging.getLogger(f"mallbridge.{__name__}")
DEFAULT_PORT = 2525
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # what common mail providers accept per message


class ReplyHandler:
    """aiosmtpd handler; DB work runs in a worker thread with its own app context."""

    def __init__(self, app):
        self.app = app

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
        except SQLAlchemyError:
            log.exception("cannot check recipient %s", address)
            return "451 4.3.0 Temporary local problem, please try again later"
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
        except SQLAlchemyError:
            log.exception("cannot store a reply mail")
            return "451 4.3.0 Temporary local problem, please try again later"
        for mail_id in ids:
            try:
                await self._run(_intake, mail_id)
            except Exception:  # noqa: BLE001 - stored already; sync run retries the intake
                log.exception("reply mail %s: intake failed; left for sync run", mail_id)
        return "250 2.0.0 OK: stored"


def _valid_recipient(address):
    from sync import replies

    return replies.account_for_recipient(address) is not None


def _store_all(raw, mail_from, rcpts, peer):
    from sync import replies

    return [replies.store(raw, rcpt=rcpt, mail_from=mail_from, peer=peer) for rcpt in rcpts]


def _intake(mail_id):
    from sync import replies

    try:
        return replies.process(mail_id)
    except Exception:
        db.session.rollback()
        replies.note_failure(mail_id)
        raise


def tls_context(cert, key):
    """Server TLS context for STARTTLS from PEM files (None without a certificate)."""
    if not cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key or None)
    return context


def smtp_options(app, max_size=DEFAULT_MAX_BYTES, tls=None, require_tls=False):
    """Keyword arguments for aiosmtpd's SMTP (also used by the tests' Controller)."""
    return {"data_size_limit": max_size, "tls_context": tls, "require_starttls": bool(tls and require_tls),
            "hostname": app.config["REPLY_DOMAIN"], "ident": "mallbridge smtp-in", "enable_SMTPUTF8": True,
            "decode_data": False}


def serve(app, host, port, **options):
    """Run the server in the foreground until SIGTERM/SIGINT."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = ReplyHandler(app)
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(handler, **options), host=host, port=port))
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(True))
    try:
        loop.run_until_complete(stop)
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


@click.command("smtp-in", help="Receive the helpdesk's replies (point the reply domain's MX or a Postfix transport here).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--max-size", default=DEFAULT_MAX_BYTES, show_default=True, type=click.IntRange(1024),
              help="Largest accepted mail in bytes (bigger ones get 552).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), help="PEM certificate: offers STARTTLS.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="PEM private key of --tls-cert.")
@click.option("--require-starttls", is_flag=True, help="Refuse mail until the client has started TLS.")
@with_appcontext
def smtp_in(host, port, max_size, tls_cert, tls_key, require_starttls):
    """Serve until stopped; every accepted reply is stored before the 250."""
    if require_starttls and not tls_cert:
        raise click.UsageError("--require-starttls needs --tls-cert (and --tls-key)")
    try:
        tls = tls_context(tls_cert, tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise click.UsageError(f"cannot load the TLS certificate/key: {exc}") from None
    app = current_app._get_current_object()
    click.echo(f"smtp-in listening on {host}:{port} for r+…@{app.config['REPLY_DOMAIN']}"
               f"{' (STARTTLS offered)' if tls else ''}; max {max_size} bytes")
    try:
        serve(app, host, port, **smtp_options(app, max_size, tls, require_starttls))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None

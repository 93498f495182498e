"""`mallbridge outbox run|list|release|requeue|discard`."""
import logging
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from plugin.outbox import STATES, OutboxMessage, history, store
from plugin.outbox.runner import Runner, relax_commit_durability
from plugin.smtp import SmtpConnection, SmtpUrlError, parse_smtp_url

outbox = click.Group("outbox", help="Outgoing mail: deliver it and operate the queue.")


def connection_from_config():
    """An SmtpConnection for MALLBRIDGE_SMTP_URL; a clear CLI error when it is missing or bad."""
    try:
        return SmtpConnection(parse_smtp_url(current_app.config.get("SMTP_URL")))
    except SmtpUrlError as exc:
        raise click.UsageError(f"MALLBRIDGE_SMTP_URL: {exc}") from None


@outbox.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit (cron, tests).")
@click.option("--batch", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Rows claimed per pass.")
@click.option("--idle-seconds", type=click.FloatRange(0.01, 3600), default=1.0, show_default=True,
              help="Pause when nothing is due.")
@with_appcontext
def run_cmd(once, batch, idle_seconds):
    """Deliver due mail until SIGTERM (or, with --once, until nothing is due)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    conn = connection_from_config()
    relax_commit_durability()
    runner = Runner(conn, batch=batch, idle_seconds=idle_seconds)
    previous = runner.install_signal_handlers()
    logging.getLogger(f"mallbridge.{__name__}").info("outbox worker started (%s)", conn.settings.display())
    try:
        handled = runner.run(once=once)
    finally:
        runner.restore_signals(previous)
    click.echo(f"handled {handled} message(s)")


@outbox.command("list")
@click.option("--state", type=click.Choice(STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@with_appcontext
def list_cmd(state, limit):
    """Newest first: id, state, created (JST), attempts, recipients, subject."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if state:
        query = query.where(OutboxMessage.state == state)
    for row in db.session.scalars(query):
        created = clock.to_jst(row.created_at).strftime("%Y-%m-%d %H:%M")
        error = f"\t{row.last_error}" if row.last_error and row.state in ("failed", "dead") else ""
        click.echo(f"{row.id}\t{row.state}\t{created}\t{history.attempts_shown(row)}\t{','.join(row.recipients)}"
                   f"\t{row.subject or ''}{error}")


@outbox.command("release")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "all_", is_flag=True, help="Release every staged message.")
@with_appcontext
def release_cmd(ids, all_):
    """Release staged messages (IDs, or --all) so the worker sends them."""
    if bool(ids) == all_:
        raise click.UsageError("give message IDs or --all (not both)")
    count = store.release(None if all_ else ids)
    db.session.commit()
    click.echo(f"released {count} message(s)")
    if ids and count < len(set(ids)):
        click.echo("some IDs were not staged (or do not exist)", err=True)
        sys.exit(1)


def _single(action, verb, oid):
    if not action(oid):
        row = db.session.get(OutboxMessage, oid)
        db.session.rollback()
        reason = "no such message" if row is None else f"cannot {verb} a message in state {row.state}"
        click.echo(f"Error: {reason}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{verb}d message {oid}" if verb.endswith("e") else f"{verb}ed message {oid}")


@outbox.command("requeue")
@click.argument("oid", metavar="ID", type=int)
@with_appcontext
def requeue_cmd(oid):
    """Queue a dead, failed or discarded message again with a fresh retry budget."""
    _single(store.requeue, "requeue", oid)


@outbox.command("discard")
@click.argument("oid", metavar="ID", type=int)
@with_appcontext
def discard_cmd(oid):
    """Give up on a message that has not been sent."""
    _single(store.discard, "discard", oid)


COMMANDS = [outbox]

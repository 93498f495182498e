"""`mallbridge helpdesk set|use|show|test|push` and `mallbridge secrets rotate`."""
import sys

import click
from flask.cli import with_appcontext

from plugin import crypto, helpdesk
from plugin.helpdesk import check as helpdesk_check
from plugin.helpdesk import status as push_status
from plugin.helpdesk.fake import cli as fake_helpdesk_cli
from plugin.helpdesk.worker import PushWorker
from plugin.invalid import InvalidInput

helpdesk_group = click.Group("helpdesk", help="Helpdesk environments (production / demo).")
secrets_group = click.Group("secrets", help="Secrets stored encrypted in the database.")
ENV_CHOICE = click.Choice(helpdesk.ENVIRONMENTS)
ACTOR = "cli"


@helpdesk_group.command("set")
@click.option("--env", "env_name", type=ENV_CHOICE, required=True, help="Environment to edit.")
@click.option("--url", default=None, help="Helpdesk base URL, https only (empty string clears it).")
@click.option("--inbox-id", default=None, help="Inbox ID, a positive integer.")
@click.option("--forward-to", default=None, help="The inbox's forwarding e-mail address.")
@click.option("--link-template", default=None,
              help="Inbox button link, e.g. '{url}/tickets/#/{inbox_id}/tickets/open/p1'.")
@click.option("--reply-from", default=None,
              help="The senders of agents' replies: addresses or @domain, comma-separated (empty string clears).")
@click.option("--api-token-stdin", is_flag=True, help="Read the helpdesk Open API token from standard input.")
@click.option("--address-book", "address_book_id", default=None,
              help="ID of the helpdesk address book (customer group) that members are pushed into.")
@click.option("--push", type=click.Choice(["on", "off"]), default=None, help="Push members into the address book.")
@with_appcontext
def helpdesk_set(env_name, url, inbox_id, forward_to, link_template, reply_from, api_token_stdin, address_book_id,
                 push):
    """Change some fields of an environment; omitted options stay as they are."""
    values = {k: v for k, v in (("url", url), ("inbox_id", inbox_id), ("forward_to", forward_to),
                                ("link_template", link_template), ("reply_from", reply_from),
                                ("address_book_id", address_book_id), ("push", push)) if v is not None}
    if api_token_stdin:
        values["api_token"] = sys.stdin.readline().strip()
        if not values["api_token"]:
            raise click.UsageError("no API token on standard input")
    if not values:
        raise click.UsageError("nothing to set: give --url, --inbox-id, --forward-to, --link-template, "
                               "--reply-from, --api-token-stdin, --address-book or --push")
    try:
        changed = helpdesk.update_environment(env_name, values, actor=ACTOR)
    except InvalidInput as exc:
        for field, message in exc.errors.items():
            option = {"address_book_id": "address-book", "api_token": "api-token-stdin"}.get(field, field)
            click.echo(f"Error: --{option.replace('_', '-')}: {message}", err=True)
        sys.exit(2)
    click.echo(f"{env_name}: {len(changed)} field(s) changed" + (f" ({', '.join(changed)})" if changed else ""))
    _show(helpdesk.environment(env_name))


@helpdesk_group.command("use")
@click.argument("env_name", metavar="ENV", type=ENV_CHOICE)
@with_appcontext
def helpdesk_use(env_name):
    """Make ENV the active environment (inbox button, forwarding address); refused while ENV is incomplete."""
    try:
        helpdesk.activate(env_name, actor=ACTOR)
    except InvalidInput as exc:
        # The same Japanese sentence as the admin page: it names the fields to fill in first.
        click.echo(f"Error: {exc.errors['active']} (mallbridge helpdesk set --env {env_name} …)", err=True)
        sys.exit(2)
    click.echo(f"active environment: {env_name}")


@helpdesk_group.command("show")
@with_appcontext
def helpdesk_show():
    """Both environments, the active one marked with '*'. Tokens are never printed."""
    for name in helpdesk.ENVIRONMENTS:
        _show(helpdesk.environment(name))


def _show(env):
    mark = "*" if env.active else " "
    click.echo(f"{mark} {env.name}{' (active)' if env.active else ''}")
    for field in ("url", "inbox_id", "forward_to", "link_template"):
        value = getattr(env, field)
        click.echo(f"    {field:<15} {'' if value is None else value}")
    click.echo(f"    {'reply_from':<15} {', '.join(env.reply_from)}")
    click.echo(f"    {'api_token':<15} {'(set)' if env.has_api_token else ''}")
    click.echo(f"    {'address_book_id':<15} {'' if env.address_book_id is None else env.address_book_id}")
    click.echo(f"    {'push':<15} {'on' if env.push else 'off'}")
    click.echo(f"    {'inbox_link':<15} {env.inbox_link() or '(incomplete: no inbox button)'}")


@helpdesk_group.command("test")
@click.argument("env_name", metavar="ENV", type=ENV_CHOICE)
@with_appcontext
def helpdesk_test_cmd(env_name):
    """Send a test mail to ENV's forwarding address and, with a token, ping its API."""
    report = helpdesk_check.run(env_name)
    click.echo(f"connection test {report.code} ({env_name})")
    for step in report.steps:
        status = {True: "OK  ", False: "FAIL", None: "SKIP"}[step.ok]
        click.echo(f"  {status} {step.name}: {step.message}")
    sys.exit(0 if report.ok else 1)


@helpdesk_group.command("push")
@click.option("--once", is_flag=True, help="Push what is pending now, then exit (for cron and tests).")
@click.option("--all", "full", is_flag=True, help="Send every member and mall customer again, changed or not.")
@with_appcontext
def helpdesk_push_cmd(once, full):
    """Push members and mall customers into the active environment's address book."""
    worker = PushWorker(full=full, report=lambda line: click.echo(line))
    previous = worker.install_signal_handlers()
    try:
        worker.run(once=once)
    finally:
        worker.restore_signals(previous)
    summary = push_status.summary()
    click.echo(f"address book: {summary.progress_text}; {summary.ok} pushed, {summary.refused} refused")
    for label, message in worker.refused:
        click.echo(f"  refused: {label}: {message}", err=True)
    last = worker.last
    if last is not None and last.status in ("off", "paused", "error", "busy", "waiting"):
        click.echo(f"push {last.status}: {last.message_ja}", err=True)
        sys.exit(1)


@secrets_group.command("rotate")
@with_appcontext
def secrets_rotate():
    """Re-encrypt every stored secret under the first key of MALLBRIDGE_ENCRYPTION_KEY."""
    try:
        count = crypto.rotate_all()
    except crypto.CryptoError as exc:
        click.echo(f"Error: {exc}; nothing was changed", err=True)
        sys.exit(1)
    click.echo(f"re-encrypted {count} secret(s) under the first key")


COMMANDS = [helpdesk_group, secrets_group, *fake_helpdesk_cli.COMMANDS]

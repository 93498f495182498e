"""`mallbridge accounts …` and `mallbridge sync run [--once]` (registered by plugin.cli)."""
import logging
import signal
import sys
import time

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from plugin import clock
from plugin.extensions import db
from sync import accounts as accts
from sync.models import MallAccount
from plugin.invalid import InvalidInput

log = logging.getLogger(f"mallbridge.{__name__}")
EXPIRY_EVERY = 3600  # seconds between expiry-reminder checks in the loop

accounts_group = click.Group("accounts", help="Mall accounts (Rakuten, Yahoo!).")
add_group = click.Group("add", help="Add a mall account to a shop.")
accounts_group.add_command(add_group)
sync_group = click.Group("sync", help="The mall side: poll mall accounts into the inbox.")


def _fail(exc):
    for field, message in exc.errors.items():
        click.echo(f"Error: {field}: {message}", err=True)
    sys.exit(2)


def _account(account_id):
    account = db.session.get(MallAccount, account_id)
    if account is None:
        click.echo(f"Error: no mall account with ID {account_id} (see `mallbridge accounts list`)", err=True)
        sys.exit(2)
    return account


@add_group.command("rakuten")
@click.option("--shop", "shop_code", required=True, help="Shop code (see `mallbridge shops list`).")
@click.option("--shop-id", required=True, help="Rakuten shop ID (numeric).")
@click.option("--service-secret", required=True)
@click.option("--license-key", required=True)
@with_appcontext
def add_rakuten(shop_code, shop_id, service_secret, license_key):
    """Add a Rakuten R-Messe account."""
    try:
        account = accts.add("rakuten", shop_code, {"rakuten_shop_id": shop_id, "service_secret": service_secret,
                                                   "license_key": license_key})
    except InvalidInput as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    click.echo(f"{account.id}\tadded rakuten account {account.rakuten_shop_id} for shop {account.shop.code}")


@add_group.command("yahoo")
@click.option("--shop", "shop_code", required=True, help="Shop code (see `mallbridge shops list`).")
@click.option("--seller-id", required=True)
@click.option("--client-id", required=True)
@click.option("--client-secret", required=True)
@click.option("--refresh-token", required=True)
@click.option("--public-key-file", required=True, type=click.File("r", encoding="utf-8"))
@click.option("--key-version", required=True)
@with_appcontext
def add_yahoo(shop_code, seller_id, client_id, client_secret, refresh_token, public_key_file, key_version):
    """Add a Yahoo! Shopping store account."""
    try:
        pem = public_key_file.read(64 * 1024)
    except UnicodeDecodeError:
        click.echo("Error: public_key: the key file must be PEM text", err=True)
        sys.exit(2)
    try:
        account = accts.add("yahoo", shop_code, {
            "seller_id": seller_id, "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token, "public_key": pem, "key_version": key_version})
    except InvalidInput as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    click.echo(f"{account.id}\tadded yahoo account {account.seller_id} for shop {account.shop.code}")


@accounts_group.command("list")
@with_appcontext
def list_accounts():
    """One line per account: ID, mall, shop, status."""
    for account in accts.all_accounts():
        click.echo(f"{account.id}\t{account.mall}\t{account.shop.code}\t{account.external_id}\t"
                   f"{accts.status_text(account)}")


@accounts_group.command("test")
@click.argument("account_id", type=int)
@with_appcontext
def test_account(account_id):
    """Connection test (連携テスト): auth, list permission, source IP."""
    account = _account(account_id)
    checks = accts.connection_test(account)
    db.session.commit()
    for check in checks:
        click.echo(f"{'OK' if check.ok else 'NG'}\t{check.label}\t{check.detail}")
    if not all(c.ok for c in checks):
        sys.exit(1)


@accounts_group.command("renew")
@click.argument("account_id", type=int)
@click.option("--license-key", default=None, help="New Rakuten licenseKey.")
@click.option("--refresh-token", default=None, help="New Yahoo! refresh token.")
@with_appcontext
def renew_account(account_id, license_key, refresh_token):
    """Store a new key/token and resume polling from the last successful poll."""
    account = _account(account_id)
    try:
        accts.renew(account, license_key=license_key, refresh_token=refresh_token)
    except InvalidInput as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    click.echo(f"{account.id}\trenewed; polling resumes and catches up since "
               f"{account.last_success_at or 'the first connect'}")


@sync_group.command("run")
@click.option("--once", is_flag=True, help="One pass over the due accounts, then exit.")
@with_appcontext
def run(once):
    """Poll every enabled mall account (paced, with backoff); never dies on one bad account."""
    from sync import expiry, options, poller

    stop = {"now": False}
    if not once:
        def handler(signum, frame):
            stop["now"] = True
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    last_expiry = None
    while not stop["now"]:
        results = poller.poll_due()
        for result in results:
            if result.error or result.new_messages:
                click.echo(f"account {result.account_id}: {result.new_messages} new"
                           + (f", error: {result.error}" if result.error else ""))
        _post_replies()
        if last_expiry is None or time.monotonic() - last_expiry >= EXPIRY_EVERY:
            try:
                expiry.run()
            except Exception:  # noqa: BLE001 - reminders must not stop polling
                log.exception("expiry check failed")
                db.session.rollback()
            last_expiry = time.monotonic()
        if once:
            break
        db.session.remove()
        wait = _until_next_due(options.get("poll_seconds"))
        while wait > 0 and not stop["now"]:
            time.sleep(min(wait, 0.5))
            wait -= 0.5


def _post_replies():
    """Post queued replies and completions (issue 7); a failure here never stops polling."""
    from sync import reply_queue

    try:
        counts = reply_queue.run_pass()
    except Exception:  # noqa: BLE001 - replies must not stop polling
        log.exception("posting replies failed")
        db.session.rollback()
        return
    if counts["posted"] or counts["failed"]:
        click.echo(f"replies: {counts['posted']} posted, {counts['failed']} failed")


def _until_next_due(poll_seconds):
    nxt = db.session.scalar(select(func.min(MallAccount.next_poll_at)).where(
        MallAccount.enabled.is_(True), MallAccount.paused_reason.is_(None)))
    db.session.remove()
    if nxt is None:
        return float(poll_seconds)
    return min(max((nxt - clock.now()).total_seconds(), 0.5), float(poll_seconds))


COMMANDS = [accounts_group, sync_group]

"""The mall side of the `mallbridge` CLI (create_app adds COMMANDS): `accounts …`, `sync run`,
`smtp-in` and `fake-mall`. Thin: the work is in sync.accounts, sync.runner and sync.replies."""
import logging
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin.extensions import db
from plugin.invalid import InvalidInput
from sync import accounts
from sync.fake_mall.cli import options as fake_mall_options
from sync.fake_mall.cli import run as run_fake_mall
from sync.models import MallAccount
from sync.replies.smtp_in import smtp_in
from sync.runner import SyncRunner

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
        account = accounts.add("rakuten", shop_code, {"rakuten_shop_id": shop_id, "service_secret": service_secret,
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
        account = accounts.add("yahoo", shop_code, {
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
    for account in accounts.all_accounts():
        click.echo(f"{account.id}\t{account.mall}\t{account.shop.code}\t{account.external_id}\t"
                   f"{accounts.status_text(account)}")


@accounts_group.command("test")
@click.argument("account_id", type=int)
@with_appcontext
def test_account(account_id):
    """Connection test (連携テスト): auth, list permission, source IP."""
    account = _account(account_id)
    checks = accounts.connection_test(account)
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
        accounts.renew(account, license_key=license_key, refresh_token=refresh_token)
    except InvalidInput as exc:
        db.session.rollback()
        _fail(exc)
    db.session.commit()
    click.echo(f"{account.id}\trenewed; polling resumes and catches up since "
               f"{account.last_success_at or 'the first connect'}")


@sync_group.command("run")
@click.option("--once", is_flag=True, help="Poll every enabled, unpaused account now (due or not), post queued "
              "replies, then exit.")
@with_appcontext
def run(once):
    """Poll every enabled mall account (paced, with backoff) until SIGTERM; never dies on one bad account."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    runner = SyncRunner(report=click.echo)
    previous = runner.install_signal_handlers()
    try:
        runner.run(once=once)
    finally:
        runner.restore_signals(previous)


@click.command("fake-mall", help="Run a local imitation of the Rakuten and Yahoo! message APIs (no DB needed).")
@fake_mall_options
@with_appcontext
def fake_mall(host, port, seed, rate_limit, key_file):
    """Serve the fake mall in the foreground and print the base URLs and demo credentials."""
    run_fake_mall(host, port, seed, rate_limit,
                  key_file or os.path.join(current_app.instance_path, "fake-mall", "yahoo-demo.pem"))


COMMANDS = [accounts_group, sync_group, smtp_in, fake_mall]

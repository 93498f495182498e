"""The `mallbridge` command: a Flask CLI group on plugin:create_app, plus the shell's commands."""
import re
import sys

import click
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from plugin import create_app
from plugin.auth import normalize_login_email
from plugin.config import ConfigError
from plugin.extensions import db
from plugin.models import ROLES, ApiToken, AuditLog, Shop, User
from plugin.normalize import is_valid_email


def _create_app():

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


def main():
    """Console-script entry point."""
    FlaskGroup(create_app=_create_app, add_default_commands=True, help="mallbridge: shop ⇄ helpdesk bridge.").main(
        prog_name="mallbridge")


users = click.Group("users", help="Staff accounts.")
tokens = click.Group("tokens", help="API tokens for /api/v1/*.")
shops = click.Group("shops", help="Storefronts.")


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), default="agent", show_default=True)
@click.option("--name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(email, role, name, password_stdin):
    """Create a staff account, or reset the password and role of an existing one."""
    email = normalize_login_email(email)
    name = _checked_text(name, 200, "--name")
    if not is_valid_email(email):
        raise click.BadParameter("not a valid e-mail address", param_hint="--email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.UsageError("the password must have at least 8 characters")
    user = db.session.scalar(select(User).where(User.email == email))
    created = user is None
    if created:
        user = User(email=email)
        db.session.add(user)
    user.role, user.active = role, True
    user.name = name or user.name
    user.set_password(password)
    _audit("user.create" if created else "user.update", {"email": email, "role": role})
    db.session.commit()
    click.echo(f"{'created' if created else 'updated'} {role} {email}")


@tokens.command("create")
@click.option("--name", required=True, help="What the token is for, e.g. the shop system's name.")
@with_appcontext
def tokens_create(name):
    """Create an API token and print it once (it is stored hashed)."""
    name = _checked_text(name, 100, "--name", required=True)
    row, plain = ApiToken.issue(name)
    db.session.add(row)
    _audit("token.create", {"name": row.name, "prefix": row.prefix})
    db.session.commit()
    click.echo(plain)


def _checked_text(value, size, hint, required=False):
    """A stripped option value that fits its column (PostgreSQL refuses longer text and NUL)."""
    value = (value or "").strip()
    if required and not value:
        raise click.BadParameter("must not be empty", param_hint=hint)
    if len(value) > size or re.search("[\x00-\x1f\x7f]", value):
        raise click.BadParameter(f"at most {size} characters, no control characters", param_hint=hint)
    return value or None


def _audit(action, params):
    """Console and command line leave the same trail: an audit row with actor 'cli'."""
    db.session.add(AuditLog(actor="cli", action=action, params=params))


@shops.command("add")
@click.argument("code")
@click.option("--name", required=True)
@with_appcontext
def shops_add(code, name):
    """Add a storefront (or rename an existing one)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        raise click.BadParameter("use 1-64 letters, digits, '-' or '_'", param_hint="CODE")
    shop = db.session.scalar(select(Shop).where(Shop.code == code))
    if shop is None:
        db.session.add(Shop(code=code, name=name))
        click.echo(f"added shop {code}")
    else:
        shop.name = name
        click.echo(f"renamed shop {code}")
    db.session.commit()


@shops.command("list")
@with_appcontext
def shops_list():
    """One line per shop: code and name."""
    for shop in db.session.scalars(select(Shop).order_by(Shop.code)):
        click.echo(f"{shop.code}\t{shop.name}")


COMMANDS = [users, tokens, shops]

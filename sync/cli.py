"""Sync commands for the `mallbridge` CLI; plugin.cli calls register(app).

Later groups (`accounts`, `sync`) are added to COMMANDS; nothing else needs to change.
"""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from sync.fake_mall.cli import options, run


@click.command("fake-mall", help="Run a local imitation of the Rakuten and Yahoo! message APIs (no DB needed).")
@options
@with_appcontext
def fake_mall(host, port, seed, rate_limit, key_file):
    """Serve the fake mall in the foreground and print the base URLs and demo credentials."""
    run(host, port, seed, rate_limit,
        key_file or os.path.join(current_app.instance_path, "fake-mall", "yahoo-demo.pem"))


from sync.smtp_in import smtp_in  # noqa: E402  (issue 7: reply intake)

COMMANDS = [fake_mall, smtp_in]


def register(app):
    """Attach every sync command to the app's CLI."""
    for command in COMMANDS:
        app.cli.add_command(command)

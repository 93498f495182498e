"""Sync commands for the `mallbridge` CLI: the fake mall and smtp-in (create_app adds COMMANDS)."""
import os

import click
from flask import current_app
from flask.cli import with_appcontext

from sync.fake_mall.cli import options, run
from sync.smtp_in import smtp_in


@click.command("fake-mall", help="Run a local imitation of the Rakuten and Yahoo! message APIs (no DB needed).")
@options
@with_appcontext
def fake_mall(host, port, seed, rate_limit, key_file):
    """Serve the fake mall in the foreground and print the base URLs and demo credentials."""
    run(host, port, seed, rate_limit,
        key_file or os.path.join(current_app.instance_path, "fake-mall", "yahoo-demo.pem"))


COMMANDS = [fake_mall, smtp_in]

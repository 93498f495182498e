"""The demo's local mailbox: an SMTP sink (aiosmtpd) that keeps every mail as a file, and a page
that shows them, so a newcomer running `make run` can watch mail arrive "in the helpdesk"."""
import asyncio
import os
import re
import signal
import threading
import time
import uuid

import click
from aiosmtpd.controller import Controller
from flask import Blueprint, abort, current_app, render_template
from flask.cli import with_appcontext
from flask_login import login_required

from plugin import smtp
from plugin.demo import mailview

bp = Blueprint("mailbox", __name__, url_prefix="/demo/mailbox")
_NAME = re.compile(r"^[0-9]{6,}-[0-9a-f]{8}\.eml$")


def mailbox_dir(app=None):
    """Folder of the sink's .eml files (inside the instance folder)."""
    app = app or current_app
    return os.path.join(app.instance_path, "mailbox")


class SinkHandler:
    """aiosmtpd handler: accept every recipient and store the message with its envelope."""

    def __init__(self, folder):
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        """Store the message (in a thread: file writes must not block the SMTP event loop)."""
        await asyncio.to_thread(self.store, envelope)
        return "250 OK stored in the demo mailbox"

    def store(self, envelope):
        """Write one message with its envelope as an .eml file, atomically."""
        # Envelope recipients (incl. Bcc) are not in the headers; keep them like Delivered-To.
        head = "".join(f"X-Envelope-To: {r}\r\n" for r in envelope.rcpt_tos)
        head += f"X-Envelope-From: {envelope.mail_from}\r\n"
        data = head.encode() + envelope.original_content
        name = f"{time.time_ns() // 1000}-{uuid.uuid4().hex[:8]}.eml"
        tmp = os.path.join(self.folder, "." + name)
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, os.path.join(self.folder, name))  # readers never see half a file
        with self._lock:
            self.count += 1


def list_mail(folder, limit=200):
    """Newest first: the latest `limit` stored mails, read defensively (plugin.demo.mailview)."""
    if not os.path.isdir(folder):
        return []
    names = sorted((n for n in os.listdir(folder) if _NAME.match(n)), reverse=True)[:limit]
    return [mailview.read(os.path.join(folder, n), n) for n in names]


def _smtp_address():
    """host:port where the app sends mail (the sink listens there in the demo)."""
    try:
        config = smtp.parse_smtp_url(current_app.config.get("SMTP_URL"))
    except smtp.SmtpUrlError:
        return None
    return f"{config.host}:{config.port}"


@bp.before_request
def _demo_only():
    if not (current_app.config.get("DEMO") or current_app.config.get("TESTING")):
        abort(404)


@bp.route("/")
@login_required
def index():
    """The demo mailbox: conversations newest first, replies nested under what they answer."""
    mails = list_mail(mailbox_dir())
    return render_template("mailbox.html", threads=mailview.threads(mails), count=len(mails), selected=None,
                           smtp_address=_smtp_address())


@bp.route("/<name>")
@login_required
def show(name):
    """One stored mail with its headers and text, above the conversations."""
    if not _NAME.match(name) or not os.path.exists(os.path.join(mailbox_dir(), name)):
        abort(404)
    mails = list_mail(mailbox_dir())
    return render_template("mailbox.html", threads=mailview.threads(mails), count=len(mails),
                           selected=mailview.read(os.path.join(mailbox_dir(), name), name),
                           smtp_address=_smtp_address())


@click.command("mailbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=int)
@with_appcontext
def mailbox_command(host, port):
    """Run the demo's SMTP sink; mails are shown at /demo/mailbox."""
    folder = mailbox_dir()
    os.makedirs(folder, exist_ok=True)
    controller = Controller(SinkHandler(folder), hostname=host, port=port)
    controller.start()
    click.echo(f"demo mailbox: SMTP on {host}:{port}, files in {folder}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()


COMMANDS = [mailbox_command]

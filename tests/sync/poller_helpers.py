"""Fixtures for the poller tests: an in-process fake mall, a configured app, an aiosmtpd sink."""
import pytest

from plugin import helpdesk, settings
from plugin.extensions import db
from sync import accounts
from sync.fake_mall.seed import DEMO_RAKUTEN, DEMO_YAHOO, demo_public_key_pem
from sync.fake_mall.server import FakeMallServer
from sync.fake_mall.state import FakeMallState
from sync.fake_mall import world

INBOX = "inbox@example.jp"


@pytest.fixture
def mall():
    """A running fake mall (no rate limit) with the demo Rakuten shop and Yahoo! store."""
    from sync.fake_mall.seed import add_demo_accounts

    state = FakeMallState(rate_limit=None)
    with state.lock:
        add_demo_accounts(state)
    with FakeMallServer(state) as server:
        yield server


@pytest.fixture
def sync_app(app, mall):
    """The app pointed at the fake mall, unpaced, with an inbox forwarding address."""
    for key, value in mall.bases.items():
        app.config[key.removeprefix("MALLBRIDGE_")] = value
    helpdesk.update_environment("production", {"forward_to": INBOX}, actor="test")
    settings.set_value("sync.pacing_ms", 0, actor="test")
    return app


def add(mall, fn, *args):
    """Call a fake-mall world function under its lock."""
    with mall.state.lock:
        return fn(mall.state, *args)


def rakuten_account():
    """The demo Rakuten shop as a mall account of the default shop (committed)."""
    account = accounts.add("rakuten", "default", {"rakuten_shop_id": str(DEMO_RAKUTEN["shop_id"]),
                                                  "service_secret": DEMO_RAKUTEN["service_secret"],
                                                  "license_key": DEMO_RAKUTEN["license_key"]})
    db.session.commit()
    return account


def yahoo_account():
    """The demo Yahoo! store as a mall account of the default shop (committed)."""
    account = accounts.add("yahoo", "default", {
        "seller_id": DEMO_YAHOO["seller_id"], "client_id": DEMO_YAHOO["client_id"],
        "client_secret": DEMO_YAHOO["client_secret"], "refresh_token": DEMO_YAHOO["refresh_token"],
        "public_key": demo_public_key_pem(), "key_version": str(DEMO_YAHOO["key_version"])})
    db.session.commit()
    return account


class Sink:
    """Collects what an aiosmtpd server receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email
        from email import policy

        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def smtp_sink(app):
    """A real aiosmtpd server on a free port; the app's SMTP_URL points at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    yield sink
    controller.stop()


__all__ = ["mall", "sync_app", "smtp_sink", "add", "world", "rakuten_account", "yahoo_account", "INBOX"]

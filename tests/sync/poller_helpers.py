"""Fixtures for the poller tests: an in-process fake mall, a configured app, an aiosmtpd sink."""
import pytest

from plugin import helpdesk, settings
from plugin.demo.malls import demo_account_values
from plugin.extensions import db
from sync import accounts
from sync.fake_mall.server import FakeMallServer
from sync.fake_mall.state import FakeMallState
from sync.fake_mall import world
from tests.smtp_server import ScriptedHandler, start_server

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
def slept(monkeypatch):
    """The poller's in-pass retry waits (429 Retry-After, backoff), recorded instead of slept."""
    from sync import poller
    from sync.http import RetryPolicy

    waits = []
    monkeypatch.setattr(poller, "RETRY", RetryPolicy(sleep=waits.append, jitter=None))
    return waits


@pytest.fixture
def sync_app(app, mall, slept):
    """The app pointed at the fake mall, unpaced, never sleeping, with an inbox forwarding address."""
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
    account = accounts.add("rakuten", "default", demo_account_values("rakuten"))
    db.session.commit()
    return account


def yahoo_account():
    """The demo Yahoo! store as a mall account of the default shop (committed)."""
    account = accounts.add("yahoo", "default", demo_account_values("yahoo"))
    db.session.commit()
    return account


@pytest.fixture
def smtp_sink(app):
    """A real aiosmtpd server on a free port; the app's SMTP_URL points at it."""
    controller = start_server(ScriptedHandler())
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    yield controller.handler
    controller.stop()


__all__ = ["mall", "sync_app", "smtp_sink", "add", "world", "rakuten_account", "yahoo_account", "INBOX"]

"""Fixtures shared by the sync tests (and the browser test of the completion link; tests/conftest.py
loads them as a plugin): a strict `responses` mock, a Rakuten client, a running fake
mall, the app pointed at it (never sleeping), an SMTP sink and smtp-in on free ports.

Plain helpers (accounts, delivering an inquiry, building a reply) are in tests.sync.helpers."""
import pytest
import responses
from aiosmtpd.controller import Controller

from plugin import helpdesk, settings
from sync import poller
from sync.fake_mall.seed import add_demo_accounts
from sync.fake_mall.server import FakeMallServer
from sync.fake_mall.state import FakeMallState
from sync.malls.http import RetryPolicy
from sync.malls.rakuten.client import RakutenClient
from sync.replies.smtp_in import ReplyHandler, smtp_options
from tests.smtp_server import ScriptedHandler, free_port, start_server
from tests.sync.helpers import AGENT, INBOX
from tests.sync.rakuten_samples import BASE


@pytest.fixture
def rsps():
    """A strict responses mock: every registered stub must be called."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def rakuten_client():
    """A client for the sample shop 999999 with pacing off."""
    with RakutenClient("SP999999_secret", "SL999999_key", 999999, base_url=BASE, rate=None) as c:
        yield c


@pytest.fixture
def mall():
    """A running fake mall (no rate limit) with the demo Rakuten shop and Yahoo! store."""
    state = FakeMallState(rate_limit=None)
    with state.lock:
        add_demo_accounts(state)
    with FakeMallServer(state) as server:
        yield server


@pytest.fixture
def slept(monkeypatch):
    """The poller's in-pass retry waits (429 Retry-After, backoff), recorded instead of slept."""
    waits = []
    monkeypatch.setattr(poller, "RETRY", RetryPolicy(sleep=waits.append, jitter=None))
    return waits


@pytest.fixture
def sync_app(app, mall, slept):
    """The app pointed at the fake mall, unpaced, never sleeping, with an inbox forwarding address."""
    for key, value in mall.bases.items():
        app.config[key.removeprefix("MALLBRIDGE_")] = value
    helpdesk.update_environment("production", {"forward_to": INBOX, "reply_from": AGENT}, actor="test")
    settings.set_value("sync.pacing_ms", 0, actor="test")
    return app


@pytest.fixture
def smtp_sink(app):
    """A real aiosmtpd server on a free port; the app's SMTP_URL points at it."""
    controller = start_server(ScriptedHandler())
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    yield controller.handler
    controller.stop()


@pytest.fixture
def smtp_in(app):
    """The real smtp-in handler in an in-process aiosmtpd Controller; yields its port."""
    options = smtp_options(app, max_size=256 * 1024)
    options["server_hostname"] = options.pop("hostname")
    port = free_port()
    controller = Controller(ReplyHandler(app), hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield port
    controller.stop()

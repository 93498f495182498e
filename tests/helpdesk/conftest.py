"""Fixtures of the address-book push tests: a running fake helpdesk, the app pointed at it."""
import pytest

from plugin import helpdesk
from plugin.helpdesk.fake.seed import DEMO_TOKEN
from plugin.helpdesk.fake.server import FakeHelpdeskServer
from plugin.helpdesk.fake.state import FakeHelpdeskState

URL = "https://shop.relationapp.jp"


@pytest.fixture
def fake_helpdesk():
    """A running fake helpdesk with the demo token and books, its rate limit off."""
    with FakeHelpdeskServer(FakeHelpdeskState(limit=0)) as server:
        yield server


@pytest.fixture
def push_app(app, fake_helpdesk):
    """The app pushing into book 1 of the fake helpdesk (production environment active, no client limit)."""
    app.config["HELPDESK_API_BASE"] = fake_helpdesk.api_base
    app.config["HELPDESK_RATE_LIMIT"] = 0
    helpdesk.update_environment("production", {"url": URL, "api_token": DEMO_TOKEN, "address_book_id": 1,
                                               "push": True}, actor="test")
    return app


@pytest.fixture
def waits():
    """Sleeps the push would make (rate limit, backoff), recorded instead of slept."""
    return []

"""Fixtures shared by the sync tests: a strict `responses` mock, a Rakuten client, no retry sleeps."""
import pytest
import responses

from sync.rakuten import RakutenClient
from tests.sync.poller_helpers import slept  # noqa: F401  (sync_app needs it in every sync module)
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


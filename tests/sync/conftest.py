"""Fixtures shared by the mall-client tests: a strict `responses` mock and a Rakuten client."""
import pytest
import responses

from sync.rakuten import RakutenClient
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

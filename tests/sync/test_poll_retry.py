"""The HTTP layer's in-pass retry (MallHttp with a RetryPolicy), against `responses`: a 429 is waited
out, short outages are retried with backoff, and anything longer reaches the caller as before."""
import pytest
import requests
import responses
from responses import registries

from sync.malls.errors import RateLimited, TemporaryMallError
from sync.malls.http import MallHttp, RetryPolicy
from sync.malls.rakuten.client import RakutenClient
from tests.sync.rakuten_samples import API, BASE

COUNT = API + "/inquiries/count"
OK = {"result": {"count": 7}}


@pytest.fixture
def rsps():
    """A strict responses mock that answers each URL's stubs in the order they were registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=True, registry=registries.OrderedRegistry) as mock:
        yield mock


@pytest.fixture
def slept():
    """The waits a retrying client asked for (nothing really sleeps)."""
    return []


def _client(slept, retry=True):
    policy = RetryPolicy(sleep=slept.append, jitter=None) if retry else None
    return RakutenClient("SP1", "SL1", 999999, base_url=BASE, http=MallHttp("rakuten", rate=None, retry=policy))


def _count(client):
    import datetime as dt

    return client.count(dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 20))


def test_429_with_retry_after_is_waited_out_and_the_call_repeated(rsps, slept):
    """Two 429s with Retry-After 2 and 1, then the answer: the caller gets the answer after waiting 2 + 1 s."""
    rsps.get(COUNT, status=429, headers={"Retry-After": "2"}, json={"errors": [{"code": "TooMany"}]})
    rsps.get(COUNT, status=429, headers={"Retry-After": "1"}, json={"errors": [{"code": "TooMany"}]})
    rsps.get(COUNT, json=OK)
    assert _count(_client(slept)) == 7
    assert slept == [2.0, 1.0]


def test_429_with_long_retry_after_reaches_the_caller_at_once(rsps, slept):
    """A Retry-After over 60 s is not waited inside the pass: RateLimited with that hint, no sleep."""
    rsps.get(COUNT, status=429, headers={"Retry-After": "120"}, json={"errors": [{"code": "TooMany"}]})
    with pytest.raises(RateLimited) as err:
        _count(_client(slept))
    assert err.value.retry_after == 120.0 and slept == []


def test_server_errors_are_retried_with_backoff_then_given_up(rsps, slept):
    """A GET that keeps failing with 503 is tried 4 times (waits 1, 2, 4 s), then TemporaryMallError."""
    for _ in range(4):
        rsps.get(COUNT, status=503, body="<html>Service Unavailable</html>")
    with pytest.raises(TemporaryMallError):
        _count(_client(slept))
    assert slept == [1.0, 2.0, 4.0]


def test_timeout_then_success(rsps, slept):
    """A read timeout followed by an answer costs one 1 s wait."""
    rsps.get(COUNT, body=requests.exceptions.ReadTimeout("slow"))
    rsps.get(COUNT, json=OK)
    assert _count(_client(slept)) == 7
    assert slept == [1.0]


def test_post_is_not_repeated_after_a_server_error(rsps, slept):
    """A reply POST answered 500 may have been applied: it is not sent again."""
    rsps.post(API + "/inquiry/reply", status=500, json={"error": {"code": "IE999", "message": "internal"}})
    with pytest.raises(TemporaryMallError):
        _client(slept).reply("999999-20200519-1t", "ありがとうございます。")
    assert slept == [] and len(rsps.calls) == 1


def test_without_policy_every_failure_reaches_the_caller(rsps, slept):
    """The default MallHttp (replies, connection tests) does not retry: one call, one error."""
    rsps.get(COUNT, status=429, headers={"Retry-After": "1"}, json={"errors": [{"code": "TooMany"}]})
    with pytest.raises(RateLimited):
        _count(_client(slept, retry=False))
    assert slept == [] and len(rsps.calls) == 1

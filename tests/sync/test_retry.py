"""The mall side of the retry vocabulary: which mall errors are retried, in-pass waits, the
per-account backoff, pacing and Retry-After parsing. Pure functions, tested by tables."""
import email.utils

import pytest

from plugin.retry import should_retry
from sync.malls.errors import (
    Conflict,
    InvalidRequest,
    MalformedResponse,
    MallAuthError,
    NotFound,
    PermanentMallError,
    RateLimited,
    ResponseTooLarge,
    TemporaryMallError,
)
from sync.malls.http import Pacer, in_pass_wait, parse_retry_after
from sync.poller import retry_delay


@pytest.mark.parametrize("error, expected", [
    (RateLimited(retry_after=3), True), (TemporaryMallError("500"), True), (MalformedResponse("cut"), True),
    (MallAuthError(code="GA0001"), False), (PermanentMallError(code="IE001"), False), (NotFound(), False),
    (Conflict(), False), (ResponseTooLarge(), False), (InvalidRequest(), False),
    (TimeoutError(), True), (ValueError("bug"), False),
])
def test_should_retry_error_table(error, expected):
    """Typed mall errors carry their retryability; auth and other 4xx errors are never retried."""
    assert should_retry(error, 1) is expected


@pytest.mark.parametrize("error, n, expected", [
    (RateLimited(retry_after=7), 1, 7.0), (RateLimited(retry_after=0), 3, 0.0), (RateLimited(retry_after=9999), 1, 300),
    (RateLimited(retry_after=None), 3, 4), (TemporaryMallError(), 2, 2),
])
def test_retry_delay_honours_retry_after(error, n, expected):
    """A mall's Retry-After wins over the computed backoff (capped)."""
    assert retry_delay(error, n, spread=None) == expected


def test_retry_delay_is_jittered_by_default():
    """Without a Retry-After the account's wait is spread between half and all of the backoff."""
    assert 2.0 <= retry_delay(TemporaryMallError(), 3) <= 4.0


class FakeTime:
    """A monotonic clock whose sleep just advances it."""

    def __init__(self):
        self.now, self.slept = 100.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_pacer_spaces_calls_one_second_apart_by_default():
    """Default pacing is 1 request/s: the second call waits for the rest of the second."""
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    pacer.wait()
    t.now += 0.25
    pacer.wait()
    pacer.wait()
    assert t.slept == [0.75, 1.0]


def test_pacer_rate_is_configurable_and_can_be_off():
    """rate=4 spaces calls 0.25 s apart; rate=None never sleeps."""
    t = FakeTime()
    fast = Pacer(4, clock=t.clock, sleep=t.sleep)
    fast.wait()
    fast.wait()
    assert t.slept == [0.25]
    off = Pacer(None, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        off.wait()
    assert t.slept == [0.25]


def test_pacer_does_not_sleep_after_idle_time():
    """A call long after the previous one goes out at once."""
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    pacer.wait()
    t.now += 5
    pacer.wait()
    assert t.slept == []


@pytest.mark.parametrize("value, expected", [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), (None, None), ("soon", None),
                                             (email.utils.formatdate(1_000_030, usegmt=True), 30.0)])
def test_parse_retry_after(value, expected):
    """Retry-After in seconds or as an HTTP date (relative to now)."""
    assert parse_retry_after(value, now=1_000_000) == expected


@pytest.mark.parametrize("failure, attempt, method, retry_after, expected", [
    (429, 1, "GET", 5.0, 5.0),                      # Retry-After is waited out …
    (429, 1, "POST", 5.0, 5.0),                     # … for any method: a 429 was not acted on
    (429, 1, "GET", 0.0, 0.0),
    (429, 1, "GET", 60.0, 60.0),
    (429, 1, "GET", 61.0, None),                    # too long: end the pass, the poller backs off
    (429, 2, "GET", None, 2.0),                     # no Retry-After: backoff
    (RateLimited(retry_after=3), 1, "PATCH", None, 3.0),
    (RateLimited(retry_after=300), 1, "GET", None, None),
    (503, 1, "GET", None, 1.0), (500, 2, "GET", None, 2.0), (502, 3, "PUT", None, 4.0),
    (500, 1, "POST", None, None),                   # may have been applied: never twice
    (500, 1, "PATCH", None, None),
    (TemporaryMallError(code="timeout"), 1, "GET", None, 1.0),
    (TemporaryMallError(code="timeout"), 1, "POST", None, None),
    (503, 4, "GET", None, None), (429, 4, "GET", 1.0, None),   # attempts used up
    (400, 1, "GET", None, None), (401, 1, "GET", None, None), (404, 1, "GET", None, None),
    (MallAuthError(code="GA0001"), 1, "GET", None, None), (200, 1, "GET", None, None),
])
def test_in_pass_wait_table(failure, attempt, method, retry_after, expected):
    """Inside a pass: 429 waits Retry-After (≤ 60 s) for any method; 5xx/timeouts back off for idempotent
    methods only; at most 4 attempts; other failures are never retried."""
    assert in_pass_wait(failure, attempt, method=method, retry_after=retry_after, jitter=None) == expected

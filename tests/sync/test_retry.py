"""Retry maths, pacing and Retry-After parsing: pure functions, tested by tables."""
import email.utils

import pytest
import requests

from sync.errors import (Conflict, InvalidRequest, MallAuthError, MalformedResponse, NotFound, PermanentMallError,
                         RateLimited, ResponseTooLarge, TemporaryMallError)
from sync.http import Pacer, parse_retry_after
from sync.retry import backoff, call_with_retry, in_pass_wait, jitter, retry_delay, should_retry


@pytest.mark.parametrize("status, expected", [
    (200, False), (201, False), (400, False), (401, False), (403, False), (404, False), (405, False),
    (408, True), (409, False), (413, False), (425, True), (429, True), (500, True), (502, True), (503, True),
    (504, True), (599, True), (True, False),
])
def test_should_retry_status_table(status, expected):
    """Only 408/425/429 and 5xx statuses are retried."""
    assert should_retry(status, attempt=1) is expected


@pytest.mark.parametrize("error, expected", [
    (RateLimited(retry_after=3), True), (TemporaryMallError("500"), True), (MalformedResponse("cut"), True),
    (MallAuthError(code="GA0001"), False), (PermanentMallError(code="IE001"), False), (NotFound(), False),
    (Conflict(), False), (ResponseTooLarge(), False), (InvalidRequest(), False),
    (requests.Timeout(), True), (requests.ConnectionError(), True), (requests.exceptions.SSLError(), False),
    (TimeoutError(), True), (ValueError("bug"), False),
])
def test_should_retry_error_table(error, expected):
    """Typed errors carry their retryability; auth and other 4xx errors are never retried."""
    assert should_retry(error, attempt=1) is expected


@pytest.mark.parametrize("attempt, max_attempts, expected", [(1, 5, True), (4, 5, True), (5, 5, False),
                                                             (9, 5, False), (1, 1, False)])
def test_should_retry_stops_at_max_attempts(attempt, max_attempts, expected):
    """A retryable failure is retried only while attempts remain."""
    assert should_retry(503, attempt, max_attempts) is expected


@pytest.mark.parametrize("n, base, cap, expected", [
    (0, 1, 300, 0.0), (1, 1, 300, 1), (2, 1, 300, 2), (3, 1, 300, 4), (5, 1, 300, 16), (9, 1, 300, 256),
    (10, 1, 300, 300), (40, 1, 300, 300), (3, 0.5, 300, 2.0), (4, 2, 10, 10),
])
def test_backoff_without_jitter(n, base, cap, expected):
    """backoff(n) = base * 2**(n-1), capped."""
    assert backoff(n, base=base, cap=cap, jitter=None) == expected


@pytest.mark.parametrize("rand, expected", [(0.0, 5.0), (0.5, 7.5), (1.0, 10.0)])
def test_jitter_is_between_half_and_full(rand, expected):
    """Equal jitter keeps at least half the delay."""
    assert jitter(10.0, rand=lambda: rand) == expected


def test_backoff_uses_injected_jitter():
    """The jitter function is injectable (tests switch randomness off or pin it)."""
    assert backoff(3, jitter=lambda d: d + 0.25) == 4.25
    assert 2.0 <= backoff(3) <= 4.0


@pytest.mark.parametrize("error, n, expected", [
    (RateLimited(retry_after=7), 1, 7.0), (RateLimited(retry_after=0), 3, 0.0), (RateLimited(retry_after=9999), 1, 300),
    (RateLimited(retry_after=None), 3, 4), (TemporaryMallError(), 2, 2),
])
def test_retry_delay_honours_retry_after(error, n, expected):
    """A mall's Retry-After wins over the computed backoff (capped)."""
    assert retry_delay(error, n, jitter=None) == expected


def test_call_with_retry_recovers_after_temporary_errors():
    """Two temporary failures, then success: two sleeps with growing delays."""
    outcomes = [TemporaryMallError("500"), RateLimited(retry_after=5), "ok"]
    slept = []

    def call():
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert call_with_retry(call, sleep=slept.append, delay=lambda e, n: retry_delay(e, n, jitter=None)) == "ok"
    assert slept == [1, 5.0]


def test_call_with_retry_does_not_retry_auth_errors():
    """An expired key is raised at once: retrying cannot fix credentials."""
    calls = []

    def call():
        calls.append(1)
        raise MallAuthError(code="GA0001")

    with pytest.raises(MallAuthError):
        call_with_retry(call, sleep=lambda s: None)
    assert len(calls) == 1


def test_call_with_retry_gives_up_after_max_attempts():
    """A mall that stays down raises the last temporary error after max_attempts calls."""
    calls = []

    def call():
        calls.append(1)
        raise TemporaryMallError("down")

    with pytest.raises(TemporaryMallError):
        call_with_retry(call, max_attempts=3, sleep=lambda s: None)
    assert len(calls) == 3


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

"""Table tests for the one retry vocabulary (plugin.retry) and the SMTP reply classification."""
import datetime as dt

import pytest

from plugin.retry import DEFAULT_SCHEDULE, backoff, jitter, next_attempt, parse_schedule, retryable, should_retry
from plugin.smtp import classify


class Flagged(Exception):
    """An error that says itself whether it is worth retrying (like the typed mall errors)."""

    def __init__(self, retryable):
        super().__init__("flagged")
        self.retryable = retryable


@pytest.mark.parametrize("failure, expected", [
    ("temporary", True), ("permanent", False), ("other", False),
    (200, False), (201, False), (400, False), (401, False), (403, False), (404, False), (405, False),
    (408, True), (409, False), (413, False), (425, True), (429, True), (500, True), (502, True), (503, True),
    (504, True), (599, True), (True, False), (False, False),
    (Flagged(True), True), (Flagged(False), False), (TimeoutError(), True), (ConnectionResetError(), True),
    (ValueError("bug"), False), (KeyError("bug"), False),
])
def test_retryable_table(failure, expected):
    """Temporary outcomes, 408/425/429/5xx and timeouts are retried; everything else is not."""
    assert retryable(failure) is expected


@pytest.mark.parametrize("attempts, max_attempts, expected", [(1, 5, True), (4, 5, True), (5, 5, False),
                                                              (9, 5, False), (1, 1, False), (50, None, True)])
def test_should_retry_stops_at_max_attempts(attempts, max_attempts, expected):
    """A retryable failure is retried only while attempts remain (None: no limit)."""
    assert should_retry(503, attempts, max_attempts) is expected


@pytest.mark.parametrize("attempts, failure, expected", [
    (1, "temporary", True), (5, "temporary", True), (6, "temporary", False),
    (1, "permanent", False), (3, "permanent", False),
])
def test_should_retry_with_the_default_schedule(attempts, failure, expected):
    """Temporary failures retry until the five-step schedule is used up; permanent ones never."""
    assert should_retry(failure, attempts, len(DEFAULT_SCHEDULE) + 1) is expected


@pytest.mark.parametrize("n, base, cap, expected", [
    (1, 1, 300, 1), (2, 1, 300, 2), (3, 1, 300, 4), (5, 1, 300, 16), (9, 1, 300, 256),
    (10, 1, 300, 300), (40, 1, 300, 300), (3, 0.5, 300, 2.0), (4, 2, 10, 10),
])
def test_backoff_exponential(n, base, cap, expected):
    """backoff(n) = base * 2**(n-1), capped."""
    assert backoff(n, base=base, cap=cap) == expected


@pytest.mark.parametrize("n, minutes", [(1, 1), (2, 5), (3, 30), (4, 120), (5, 360), (6, 360), (50, 360)])
def test_backoff_follows_a_schedule(n, minutes):
    """With a schedule, backoff(n) is its n-th step (1 min, 5 min, 30 min, 2 h, 6 h), the last repeating."""
    assert backoff(n, DEFAULT_SCHEDULE) == minutes


def test_backoff_rejects_zero():
    """n counts failures and starts at 1."""
    with pytest.raises(ValueError):
        backoff(0)


@pytest.mark.parametrize("rand, expected", [(0.0, 5.0), (0.5, 7.5), (1.0, 10.0)])
def test_jitter_is_between_half_and_full(rand, expected):
    """Equal jitter keeps at least half the delay."""
    assert jitter(10.0, rand=lambda: rand) == expected


@pytest.mark.parametrize("failures, minutes", [(1, 1), (2, 5), (3, 30), (4, 120), (5, 360), (6, None), (50, None)])
def test_next_attempt_default_schedule(failures, minutes):
    """next_attempt follows 1 min, 5 min, 30 min, 2 h, 6 h, then gives up."""
    now = dt.datetime(2026, 11, 23, 3, 0)
    expected = None if minutes is None else now + dt.timedelta(minutes=minutes)
    assert next_attempt(now, failures, DEFAULT_SCHEDULE) == expected


def test_default_schedule_allows_at_least_four_retries():
    """The default schedule retries at least four times."""
    now = dt.datetime(2026, 11, 23, 3, 0)
    assert len(DEFAULT_SCHEDULE) >= 4 and all(next_attempt(now, n, DEFAULT_SCHEDULE) for n in range(1, 5))


def test_custom_schedule_and_permanent_failures():
    """A configured schedule replaces the default; a permanent failure never gets a retry time."""
    schedule = parse_schedule("2, 4, 8, 16")
    now = dt.datetime(2026, 11, 23, 3, 0)
    assert next_attempt(now, 3, schedule) == now + dt.timedelta(minutes=8)
    assert next_attempt(now, 5, schedule) is None
    assert next_attempt(now, 1, schedule, "permanent") is None


@pytest.mark.parametrize("text", ["", "1,5,30", "1,x,3,4", "1,5,0,4", "1,-5,30,120", "1,5,30,99999999"])
def test_parse_schedule_rejects_bad_values(text):
    """Fewer than four steps, non-numbers, zero or huge values are refused with a message."""
    with pytest.raises(ValueError) as info:
        parse_schedule(text)
    assert str(info.value)


def test_parse_schedule_accepts_japanese_comma():
    """Shop staff may type 、 instead of a comma."""
    assert parse_schedule("1、5、30、120") == (1, 5, 30, 120)


@pytest.mark.parametrize("code, kind", [
    (550, "permanent"), (551, "permanent"), (553, "permanent"), (554, "permanent"), (500, "permanent"),
    (552, "temporary"), (421, "temporary"), (450, "temporary"), (451, "temporary"), (452, "temporary"),
    (444, "temporary"), (None, "temporary"),
])
def test_classify(code, kind):
    """5xx is permanent except 552; 4xx and no reply at all are temporary, and retried as such."""
    assert classify(code) == kind
    assert retryable(classify(code)) is (kind == "temporary")

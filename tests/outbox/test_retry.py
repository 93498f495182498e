"""Table tests for the pure retry maths and the SMTP reply classification."""
import datetime as dt

import pytest

from plugin.outbox.retry import DEFAULT_SCHEDULE, backoff, next_attempt, parse_schedule, should_retry
from plugin.smtp import classify


@pytest.mark.parametrize("n, minutes", [(1, 1), (2, 5), (3, 30), (4, 120), (5, 360), (6, None), (50, None)])
def test_backoff_default_schedule(n, minutes):
    """backoff(n) follows 1 min, 5 min, 30 min, 2 h, 6 h, then gives up."""
    expected = None if minutes is None else dt.timedelta(minutes=minutes)
    assert backoff(n) == expected


def test_backoff_allows_at_least_four_retries():
    """The default schedule retries at least four times."""
    assert len(DEFAULT_SCHEDULE) >= 4 and all(backoff(n) for n in range(1, 5))


def test_backoff_rejects_zero():
    """n counts failures and starts at 1."""
    with pytest.raises(ValueError):
        backoff(0)


@pytest.mark.parametrize("attempts, outcome, expected", [
    (1, "temporary", True), (5, "temporary", True), (6, "temporary", False),
    (1, "permanent", False), (3, "permanent", False),
])
def test_should_retry(attempts, outcome, expected):
    """Temporary failures retry until the schedule is used up; permanent ones never."""
    assert should_retry(attempts, outcome) is expected


def test_custom_schedule_and_next_attempt():
    """A configured schedule replaces the default, and next_attempt adds the delay."""
    schedule = parse_schedule("2, 4, 8, 16")
    now = dt.datetime(2026, 11, 23, 3, 0)
    assert next_attempt(now, 3, schedule) == now + dt.timedelta(minutes=8)
    assert next_attempt(now, 5, schedule) is None


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
    """5xx is permanent except 552; 4xx and no reply at all are temporary."""
    assert classify(code) == kind

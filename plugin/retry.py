"""One retry vocabulary for every queue and client of mallbridge, after stripe-python's retry core.

`should_retry()` says whether a failure earns another attempt, `backoff(n)` how long to wait before
it, and `next_attempt()` combines the two for a queue row. `jitter()` is kept apart, so tests
switch randomness off. Everything here is pure and table-tested; the callers are the outbox and
the reply queue (an admin's schedule in minutes), the poller's per-account backoff and the mall
HTTP client's retries inside one poll pass (exponential, in seconds).

A failure is described by the words the code uses everywhere: "temporary" or "permanent" (the
SMTP classification), an HTTP status code, or an exception that carries `retryable` itself
(the typed mall errors). Anything else counts as permanent unless it is a timeout or a dropped
connection.
"""
import datetime as dt
import random
from collections.abc import Callable, Sequence

BASE_DELAY = 1.0
MAX_DELAY = 300.0
# 408/425 mean "try again" by definition, 429 is rate limiting; 5xx is the other side's problem.
RETRY_STATUSES = frozenset({408, 425, 429})
# Minutes to wait after the 1st, 2nd, … failed attempt of a queued mail or mall write. Five retries
# spread over about 8.5 hours outlast a typical maintenance window or a full mailbox.
DEFAULT_SCHEDULE = (1, 5, 30, 120, 360)
MIN_RETRIES = 4
MAX_STEP_MINUTES = 7 * 24 * 60

Failure = str | int | BaseException


def retryable(failure: Failure) -> bool:
    """Whether a failure is worth another attempt at all (see the module docstring)."""
    if isinstance(failure, str):
        return failure == "temporary"
    if isinstance(failure, bool):
        return False  # a bool is no status code; callers say "temporary" instead
    if isinstance(failure, int):
        return failure in RETRY_STATUSES or 500 <= failure <= 599
    flag = getattr(failure, "retryable", None)
    if flag is not None:
        return bool(flag)
    return isinstance(failure, (TimeoutError, ConnectionError))


def should_retry(failure: Failure, attempts: int, max_attempts: int | None = None) -> bool:
    """True when a call that failed with `failure` on attempt number `attempts` (1-based) should be
    made again: the failure is retryable and attempts remain (`max_attempts` None: no limit)."""
    if max_attempts is not None and attempts >= max_attempts:
        return False
    return retryable(failure)


def backoff(n: int, steps: Sequence[float] | None = None, *, base: float = BASE_DELAY,
            cap: float = MAX_DELAY) -> float:
    """The wait before retry `n` (1-based): the n-th of `steps` when a schedule is given (its last
    step repeats; should_retry decides when to stop), else base*2**(n-1) capped at `cap`. Exact:
    callers that want spread apply jitter()."""
    if n < 1:
        raise ValueError("n counts failed attempts and starts at 1")
    if steps:
        return float(steps[min(n, len(steps)) - 1])
    return float(min(base * 2 ** (n - 1), cap))


def jitter(delay: float, rand: Callable[[], float] = random.random) -> float:
    """'Equal jitter': somewhere between half and all of `delay`, so clients do not retry in step."""
    return delay / 2 + delay / 2 * rand()


def next_attempt(now: dt.datetime, failures: int, schedule: Sequence[int],
                 failure: Failure = "temporary") -> dt.datetime | None:
    """When a queue row that has failed `failures` times should be tried again, or None to give up.

    `schedule` is in minutes; its length is the number of retries (so failures ≤ len(schedule))."""
    if not should_retry(failure, failures, len(schedule) + 1):
        return None
    return now + dt.timedelta(minutes=backoff(failures, schedule))


def parse_schedule(text: str | Sequence[object]) -> tuple[int, ...]:
    """'1, 5, 30, 120, 360' → (1, 5, 30, 120, 360); ValueError with a Japanese message."""
    if isinstance(text, (list, tuple)):
        parts = [str(p) for p in text]
    else:
        parts = list(str(text or "").replace("、", ",").split(","))
    steps = []
    for part in parts:
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) <= MAX_STEP_MINUTES:
            raise ValueError(f"「{part}」は使えません。1〜{MAX_STEP_MINUTES} の分数をカンマ区切りで入力してください。")
        steps.append(int(part))
    if len(steps) < MIN_RETRIES:
        raise ValueError(f"再送は{MIN_RETRIES}回以上必要です（{MIN_RETRIES}個以上の値を入力してください）。")
    return tuple(steps)

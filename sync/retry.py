"""Pure retry maths: which failures to retry, and how long to wait.

Kept free of I/O so it is table-tested; randomness lives in `jitter()` alone so tests can
switch it off (the stripe-python approach).
"""
import random

import requests

from sync.errors import MallError, RateLimited

MAX_ATTEMPTS = 5
BASE_DELAY = 1.0
MAX_DELAY = 300.0
# Inside one poll pass: a few quick retries of the same call; a longer wait ends the pass and
# the poller's own backoff (retry_delay, up to MAX_DELAY) takes over.
IN_PASS_ATTEMPTS = 4
IN_PASS_MAX_WAIT = 60.0
# A timeout or 5xx on these may be retried: sending them twice has the same effect as once.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# 408/425 are "try again" by definition; 429 is rate limiting; 5xx is the mall's side.
RETRY_STATUSES = frozenset({408, 425, 429})


def is_retryable(error_or_status):
    """Whether this status code or exception is worth another attempt at all."""
    if isinstance(error_or_status, bool):
        return False
    if isinstance(error_or_status, int):
        return error_or_status in RETRY_STATUSES or 500 <= error_or_status <= 599
    if isinstance(error_or_status, MallError):
        return error_or_status.retryable
    # Raw transport errors, for callers that bypass sync.http.
    if isinstance(error_or_status, requests.exceptions.SSLError):
        return False
    return isinstance(error_or_status, (requests.Timeout, requests.ConnectionError, TimeoutError,
                                        ConnectionError))


def should_retry(error_or_status, attempt, max_attempts=MAX_ATTEMPTS):
    """True if a call that failed with `error_or_status` on attempt number `attempt` (1-based)
    should be tried again."""
    if attempt >= max_attempts:
        return False
    return is_retryable(error_or_status)


def jitter(delay, rand=random.random):
    """'Equal jitter': somewhere between half and all of `delay`, so clients do not retry in step."""
    return delay / 2 + delay / 2 * rand()


def backoff(n, *, base=BASE_DELAY, cap=MAX_DELAY, jitter=jitter):
    """Seconds to wait before retry `n` (1-based): base*2**(n-1), capped; jitter=None for exact."""
    if n < 1:
        return 0.0
    delay = min(base * 2 ** (n - 1), cap)
    return jitter(delay) if jitter else delay


def retry_delay(error, n, *, base=BASE_DELAY, cap=MAX_DELAY, jitter=jitter):
    """The wait before retry `n`, honouring a mall's Retry-After when it sent one."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return min(max(float(error.retry_after), 0.0), cap)
    return backoff(n, base=base, cap=cap, jitter=jitter)


def in_pass_wait(failure, attempt, *, method="GET", retry_after=None, max_attempts=IN_PASS_ATTEMPTS,
                 max_wait=IN_PASS_MAX_WAIT, jitter=jitter):
    """Seconds to wait before sending the same call again within a pass, or None to give up now.

    `failure` is a status code or exception, `attempt` the 1-based number of the call that failed."""
    if attempt >= max_attempts or not is_retryable(failure):
        return None
    if failure == 429 or isinstance(failure, RateLimited):
        # The mall refused the call without acting on it, so any method may go again.
        hint = failure.retry_after if isinstance(failure, RateLimited) else retry_after
        wait = float(hint) if hint is not None else backoff(attempt, cap=max_wait, jitter=jitter)
        return max(wait, 0.0) if wait <= max_wait else None
    if method.upper() not in IDEMPOTENT:
        # A POST that timed out or got a 5xx may have been applied: a retry could post twice.
        return None
    return backoff(attempt, cap=max_wait, jitter=jitter)


def call_with_retry(fn, *, max_attempts=MAX_ATTEMPTS, sleep=None, delay=retry_delay):
    """Call fn() until it succeeds, a non-retryable error occurs or attempts run out."""
    import time

    sleep = sleep or time.sleep
    attempt = 1
    while True:
        try:
            return fn()
        except MallError as exc:
            if not should_retry(exc, attempt, max_attempts):
                raise
            sleep(delay(exc, attempt))
            attempt += 1

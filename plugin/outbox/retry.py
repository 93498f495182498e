"""Retry maths for the outbox: pure functions, tested with tables."""
import datetime as dt

# Minutes to wait after the 1st, 2nd, … failed attempt. Five retries spread over about
# 8.5 hours outlast a typical mail-server maintenance window or a full mailbox.
DEFAULT_SCHEDULE = (1, 5, 30, 120, 360)
MIN_RETRIES = 4
MAX_STEP_MINUTES = 7 * 24 * 60


def parse_schedule(text):
    """'1, 5, 30, 120, 360' → (1, 5, 30, 120, 360); ValueError with a Japanese message."""
    if isinstance(text, (list, tuple)):
        parts = [str(p) for p in text]
    else:
        parts = [p for p in str(text or "").replace("、", ",").split(",")]
    steps = []
    for part in parts:
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) <= MAX_STEP_MINUTES:
            raise ValueError(f"「{part}」は使えません。1〜{MAX_STEP_MINUTES} の分数をカンマ区切りで入力してください。")
        steps.append(int(part))
    if len(steps) < MIN_RETRIES:
        raise ValueError(f"再送は{MIN_RETRIES}回以上必要です（{MIN_RETRIES}個以上の値を入力してください）。")
    return tuple(steps)


def backoff(n, schedule=DEFAULT_SCHEDULE):
    """Delay after the n-th failed attempt (n ≥ 1), or None when no retry is left."""
    if n < 1:
        raise ValueError("n counts failed attempts and starts at 1")
    if n > len(schedule):
        return None
    return dt.timedelta(minutes=schedule[n - 1])


def should_retry(attempts, outcome, schedule=DEFAULT_SCHEDULE):
    """True when a message that failed `attempts` times with this outcome gets another try.

    outcome is 'temporary' or 'permanent' (plugin.smtp.classify)."""
    return outcome == "temporary" and backoff(attempts, schedule) is not None


def next_attempt(now, attempts, schedule=DEFAULT_SCHEDULE):
    """When to try again after `attempts` failures, or None to give up."""
    delay = backoff(attempts, schedule)
    return None if delay is None else now + delay

"""Deliver one claimed outbox row over an SmtpConnection and record what happened.

Recipients are handled one by one: those the server accepted are never sent again, those it
refused permanently are recorded and dropped, and only the temporarily refused ones are
retried. The row ends `sent`, `failed` (with next_attempt_at) or `dead`.

No database access here: `deliver` works on a Claimed snapshot and the caller writes its
changes (one UPDATE, one INSERT per attempt), which keeps the worker's per-message cost low.
"""
import datetime as dt
import logging
from collections.abc import Sequence

from plugin import clock
from plugin.outbox.models import QUEUE, RCPT_REFUSED, RCPT_SENT, Claimed
from plugin.smtp import PermanentError, SmtpConnection, TemporaryError, classify

log = logging.getLogger(f"mallbridge.{__name__}")


def _short(code, text):
    return f"{code} {text}".strip() if code else str(text)


def _record(row, now, outcome, code=None, text=None, details=None):
    row.new_attempts.append({"at": now, "outcome": outcome, "code": code, "text": text, "details": details})


def _finish_failed(row: Claimed, now: dt.datetime, error: str, schedule: Sequence[int]) -> str:
    """A temporary failure: failed with a retry time, or dead once the schedule is used up."""
    state = QUEUE.fail(row, now, error, schedule)
    if state == "dead":
        row.last_error = f"再送回数の上限に達しました: {error}"
    return state


def _finish_dead(row: Claimed, now: dt.datetime, error: str) -> str:
    return QUEUE.fail(row, now, error, (), "permanent")


def deliver(row: Claimed, conn: SmtpConnection, schedule: Sequence[int], sandbox: str | None = None) -> str:
    """Send `row` and update it; returns its new state. Re-raises TemporaryError when the
    server cannot be reached at all (connection=True): that is an outage, not this row's fault."""
    now = clock.now()
    pending = row.pending_recipients()
    if not pending:
        return QUEUE.finish(row, now, row.last_error)
    envelope = [sandbox] if sandbox else pending
    try:
        refused = conn.send(row.raw, row.sender, envelope)
    except PermanentError as exc:
        _record(row, clock.now(), "permanent", exc.code, exc.text)
        return _finish_dead(row, clock.now(), _short(exc.code, exc.text))
    except TemporaryError as exc:
        if exc.connection:
            raise
        _record(row, clock.now(), "temporary", exc.code, exc.text)
        return _finish_failed(row, clock.now(), _short(exc.code, exc.text), schedule)
    now = clock.now()
    if sandbox and sandbox in refused:
        # The sandbox stands in for every real recipient, so its answer applies to all.
        refused = {r: refused[sandbox] for r in pending}
    elif sandbox:
        refused = {}
    states = dict(row.rcpt_state or {})
    temporary, permanent = {}, {}
    for rcpt in pending:
        if rcpt not in refused:
            states[rcpt] = RCPT_SENT
        elif classify(refused[rcpt][0]) == "permanent":
            permanent[rcpt] = refused[rcpt]
            states[rcpt] = RCPT_REFUSED
        else:
            temporary[rcpt] = refused[rcpt]
    row.rcpt_state = states
    details = {r: [c, t] for r, (c, t) in refused.items()} or None
    if not refused:
        # A clean success is recorded by state and sent_at alone (no attempt row): that keeps
        # the common case to a single UPDATE. Failures and refusals always get attempt rows.
        earlier = [r for r, s in states.items() if s == RCPT_REFUSED]
        return QUEUE.finish(row, now, f"拒否された宛先: {', '.join(earlier)}" if earlier else None)
    summary = "; ".join(f"{r}: {_short(c, t)}" for r, (c, t) in refused.items())
    if temporary:
        _record(row, now, "temporary" if len(temporary) == len(pending) else "partial",
                text="一部の宛先が一時的に拒否されました", details=details)
        return _finish_failed(row, now, summary, schedule)
    if any(s == RCPT_SENT for s in states.values()):
        # Delivered to someone; the permanently refused addresses stay visible in the history.
        _record(row, now, "partial", text="一部の宛先が拒否されました", details=details)
        return QUEUE.finish(row, now, f"拒否された宛先: {summary}")
    _record(row, now, "permanent", text="すべての宛先が拒否されました", details=details)
    return _finish_dead(row, now, summary)

"""The poller: mall messages → InboundMessage rows + outbox mail, one transaction per inquiry.

Idempotence: (mall, account, inquiry, message) is unique, and the inquiry's change marker
moves in the same transaction as the enqueue, so a re-poll or a crash never mails twice.
A pass that fails part-way leaves the account's cursor where it was: the next pass looks at
the same range again and picks up whatever was not delivered. What differs per mall (how to
list, what the cursor is, how to fetch a file) is the account's mall adapter (sync.malls).

A mall that stays down is logged once per outage: a warning when an account's first pass
fails, an info line when it answers again; the failures in between count on the account.

A stopping worker (`should_stop`) ends the pass between accounts and between inquiries, and cuts
the in-pass retry waits short: what was delivered stays, the cursor stays, the account is still
due for the next worker. An account is polled only under its lease (sync.leases).
"""
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select

from plugin import clock, worker
from plugin.extensions import db
from plugin.retry import backoff, jitter
from sync import accounts, leases, options
from sync import deliver as delivery
from sync.malls.base import Client
from sync.malls.errors import MallAuthError, MallError, PermanentMallError, RateLimited
from sync.malls.http import RetryPolicy
from sync.models import MallAccount, SyncCursor

log = logging.getLogger(f"mallbridge.{__name__}")
MAX_BACKOFF = 300.0
# A 429 or a short outage is waited out inside the pass (Retry-After ≤ 60 s, a few quick
# retries of 5xx/timeouts); anything longer ends the pass and MAX_BACKOFF applies. Tests
# replace it with a policy whose sleep only records.
RETRY = RetryPolicy()


class Stopped(Exception):
    """The worker was asked to stop in the middle of a pass."""


def _never() -> bool:
    return False


@dataclass
class PassResult:
    """What one pass over one account did."""

    account_id: int
    new_messages: int = 0
    skipped: int = 0
    error: str | None = None
    stopped: bool = False


def retry_delay(error: Exception, failures: int, *, cap: float = MAX_BACKOFF, spread=jitter) -> float:
    """Seconds until an account's next pass after its `failures`-th failed pass in a row: the mall's
    Retry-After when it sent one, else the shared backoff (jittered; spread=None for exact)."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return min(max(float(error.retry_after), 0.0), cap)
    delay = backoff(failures, cap=cap)
    return spread(delay) if spread else delay


def enabled_accounts() -> list[MallAccount]:
    """Enabled, unpaused accounts in id order."""
    query = select(MallAccount).where(MallAccount.enabled.is_(True), MallAccount.paused_reason.is_(None))
    return list(db.session.scalars(query.order_by(MallAccount.id)))


def due_accounts(now: dt.datetime | None = None) -> list[MallAccount]:
    """Enabled, unpaused accounts whose next poll time has come."""
    now = now or clock.now()
    return [a for a in enabled_accounts() if a.next_poll_at is None or a.next_poll_at <= now]


def poll_account(account: MallAccount, client: Client | None = None,
                 should_stop: Callable[[], bool] = _never) -> PassResult:
    """One pass over one account; errors are recorded on the account, never raised. A stop request
    ends it early with `stopped` set and the account left as it was (due, cursor unmoved)."""
    result = PassResult(account.id)
    own_client = client is None
    started = clock.now()
    try:
        if own_client:
            client = accounts.client_for(account)
            client.http.retry = RETRY if should_stop is _never else \
                dataclasses.replace(RETRY, sleep=worker.stoppable(RETRY.sleep, should_stop, Stopped))
        try:
            _pass(account, client, started, result, should_stop)
        finally:
            if own_client:
                client.close()
    except Stopped:
        db.session.rollback()
        result.stopped = True
        return result
    except (MallError, delivery.NoInbox) as exc:
        db.session.rollback()
        _record_failure(account, exc, started)
        result.error = str(exc)
        return result
    account = db.session.get(MallAccount, account.id)
    if account.failures:
        log.info("account %s: the mall answers again after %d failed passes", account.id, account.failures)
    account.last_poll_at = account.last_success_at = started
    account.failures = 0
    account.last_error = account.last_error_ja = None
    problem = account.adapter.standing_problem(client)
    if problem is not None:
        # The mall answered, but reports a problem that needs attention (e.g. Yahoo!'s signature
        # not accepted): polling works today, yet the status page keeps showing why.
        account.last_error, account.last_error_ja, account.last_error_at = str(problem)[:2000], \
            problem.explanation_ja, started
    account.next_poll_at = started + dt.timedelta(seconds=options.get("poll_seconds"))
    accounts.keep_client_state(account, client)
    db.session.commit()
    return result


def _record_failure(account: MallAccount, exc: Exception, started: dt.datetime) -> None:
    account = db.session.get(MallAccount, account.id)
    account.last_poll_at = started
    account.last_error = str(exc)[:2000]
    account.last_error_ja = getattr(exc, "explanation_ja", None) or str(exc)
    account.last_error_at = started
    account.failures = (account.failures or 0) + 1
    if isinstance(exc, MallAuthError):
        # Retrying with the same expired key only locks the account; wait for a renewal.
        account.paused_reason = "auth"
        log.warning("account %s paused: %s", account.id, exc)
    else:
        delay = max(retry_delay(exc, account.failures), float(options.get("poll_seconds")))
        account.next_poll_at = started + dt.timedelta(seconds=delay)
        # Once per outage: the first failed pass is a warning, the ones after it only count.
        log.log(logging.WARNING if account.failures == 1 else logging.DEBUG,
                "account %s: %s (attempt %d, next in %.0fs)", account.id, exc, account.failures, delay)
    db.session.commit()


def _cursor(account: MallAccount) -> SyncCursor:
    cursor = db.session.scalar(select(SyncCursor).where(SyncCursor.account_id == account.id))
    if cursor is None:
        cursor = SyncCursor(account_id=account.id)
        db.session.add(cursor)
        db.session.flush()
    return cursor


def _pass(account: MallAccount, client: Client, now: dt.datetime, result: PassResult,
          should_stop: Callable[[], bool]) -> None:
    adapter = account.adapter
    backfill = account.backfilled_at is None
    floor = now - dt.timedelta(days=options.get("backfill_days")) if backfill else None
    scan = adapter.scan(account, client, _cursor(account), now, floor)
    db.session.commit()
    scan.prepare()
    db.session.commit()
    if backfill and account.backfill_total is None:
        account.backfill_total, account.backfill_done = scan.count(), 0
        db.session.commit()
    for snap in scan.snapshots(partial(delivery.markers, account.id)):
        if should_stop():
            raise Stopped()
        if snap.unchanged:
            continue
        result.new_messages += delivery.deliver(account, snap, client, staged=backfill)
    scan.advance(_cursor(account))
    if backfill:
        account.backfilled_at = now
        account.backfill_done = account.backfill_total = max(account.backfill_done or 0, account.backfill_total or 0)
    db.session.commit()


def poll_all(now: dt.datetime | None = None, *, due_only: bool = True, should_stop: Callable[[], bool] = _never,
             owner: str | None = None, hold: Callable[[int | None], None] = lambda account_id: None,
             ) -> list[PassResult]:
    """One pass over every enabled, unpaused account (only those due, unless due_only=False) that
    no other worker holds; one account's bug never stops the others, a stop request ends the pass
    between accounts. `hold` is told the account in hand (for the caller's lease heartbeat)."""
    owner = owner or leases.owner_name()
    results = []
    for account in (due_accounts(now) if due_only else enabled_accounts()):
        if should_stop():
            break
        if not leases.take(account.id, owner, due_only=due_only, now=now):
            continue  # another worker polls it (or just did)
        hold(account.id)
        try:
            results.append(poll_account(account, should_stop=should_stop))
        except Exception as exc:  # log, record and go on, like Mailman's runner
            log.exception("account %s: unexpected error", account.id)
            db.session.rollback()
            _record_failure(account, PermanentMallError(f"unexpected error: {exc!r}"[:500]), clock.now())
            results.append(PassResult(account.id, error=repr(exc)))
        finally:
            hold(None)
            leases.release(account.id, owner)
    return results


def poll_due(now: dt.datetime | None = None) -> list[PassResult]:
    """One pass over every due account (what the `sync run` loop does between waits)."""
    return poll_all(now, due_only=True)

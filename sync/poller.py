"""The poller: mall messages → InboundMessage rows + outbox mail, one transaction per inquiry.

Idempotence: (mall, account, inquiry, message) is unique, and the inquiry's change marker
moves in the same transaction as the enqueue, so a re-poll or a crash never mails twice.
A pass that fails part-way leaves the account's cursor where it was: the next pass looks at
the same range again and picks up whatever was not delivered.
"""
import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from sync import accounts, mailer, options, own_replies, routing
from sync.errors import MallAuthError, MallError, PermanentMallError
from sync.http import RetryPolicy
from sync.models import InboundMessage, MallAccount, MallInquiry, SyncCursor
from sync.retry import retry_delay

log = logging.getLogger(f"mallbridge.{__name__}")
MAX_BACKOFF = 300.0
# A 429 or a short outage is waited out inside the pass (Retry-After ≤ 60 s, a few quick
# retries of 5xx/timeouts); anything longer ends the pass and MAX_BACKOFF applies. Tests
# replace it with a policy whose sleep only records.
RETRY = RetryPolicy()


class NoInbox(RuntimeError):
    """No routing rule matched and the active helpdesk environment has no forwarding address."""

    explanation_ja = ("転送先のメールアドレスがありません。管理 › ヘルプデスクで受信箱の転送用アドレスを設定するか、"
                      "振り分けルールを追加してください。")


@dataclass
class PassResult:
    """What one pass over one account did."""

    account_id: int
    new_messages: int = 0
    skipped: int = 0
    error: str | None = None


def due_accounts(now=None):
    """Enabled, unpaused accounts whose next poll time has come."""
    now = now or clock.now()
    query = select(MallAccount).where(MallAccount.enabled.is_(True), MallAccount.paused_reason.is_(None))
    return [a for a in db.session.scalars(query.order_by(MallAccount.id))
            if a.next_poll_at is None or a.next_poll_at <= now]


def poll_account(account, client=None):
    """One pass over one account; errors are recorded on the account, never raised."""
    result = PassResult(account.id)
    own_client = client is None
    started = clock.now()
    try:
        if own_client:
            client = accounts.client_for(account)
            client.http.retry = RETRY
        try:
            _pass(account, client, started, result)
        finally:
            if own_client:
                client.close()
    except (MallError, NoInbox) as exc:
        db.session.rollback()
        _record_failure(account, exc, started)
        result.error = str(exc)
        return result
    account = db.session.get(MallAccount, account.id)
    account.last_poll_at = account.last_success_at = started
    account.failures = 0
    account.last_error = account.last_error_ja = None
    problem = getattr(client, "authorize_problem", None)
    if problem is not None:
        # Yahoo! answered, but says the public-key signature was not accepted: polling works
        # today, yet the key needs attention, so the status page keeps showing why.
        account.last_error, account.last_error_ja, account.last_error_at = str(problem)[:2000], \
            problem.explanation_ja, started
    account.next_poll_at = started + dt.timedelta(seconds=options.get("poll_seconds"))
    accounts.keep_client_state(account, client)
    db.session.commit()
    return result


def _record_failure(account, exc, started):
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
        delay = retry_delay(exc, account.failures, cap=MAX_BACKOFF)
        delay = max(delay, float(options.get("poll_seconds")))
        account.next_poll_at = started + dt.timedelta(seconds=delay)
        log.warning("account %s: %s (attempt %d, next in %.0fs)", account.id, exc, account.failures, delay)
    db.session.commit()


def _cursor(account):
    cursor = db.session.scalar(select(SyncCursor).where(SyncCursor.account_id == account.id))
    if cursor is None:
        cursor = SyncCursor(account_id=account.id)
        db.session.add(cursor)
        db.session.flush()
    return cursor


def markers(account_id, inquiry_ids):
    """Stored change markers of these inquiries of one account (one query; unknown ones absent)."""
    if not inquiry_ids:
        return {}
    rows = db.session.execute(select(MallInquiry.inquiry_id, MallInquiry.change_marker).where(
        MallInquiry.account_id == account_id, MallInquiry.inquiry_id.in_(inquiry_ids))).all()
    return dict(rows)


def _pass(account, client, now, result):
    cursor = _cursor(account)
    backfill = account.backfilled_at is None
    floor = now - dt.timedelta(days=options.get("backfill_days")) if backfill else None
    markers_of = partial(markers, account.id)
    db.session.commit()
    if account.mall == "rakuten":
        from sync import rakuten_poll as mall

        start = mall.scan_start(now, cursor, floor)
        if account.license_expires_at is None:
            _learn_expiry(account, client)
        if backfill and account.backfill_total is None:
            account.backfill_total, account.backfill_done = mall.count(client, start, now), 0
            db.session.commit()
        snapshots = mall.scan(client, start, now, markers_of)
    else:
        from sync import yahoo_poll as mall

        progress = {}
        if backfill and account.backfill_total is None:
            account.backfill_total, account.backfill_done = client.list(1, 1).count, 0
            db.session.commit()
        since = account.last_success_at if not backfill else None
        snapshots = mall.scan(client, markers_of, floor=floor, cursor_newest=cursor.newest_post_time,
                              seller_since=since, now=now, progress=progress)
    for snap in snapshots:
        if snap.unchanged:
            continue
        result.new_messages += deliver(account, snap, client, mall, staged=backfill)
    cursor = _cursor(account)
    if account.mall == "rakuten":
        cursor.scanned_until = now
    else:
        cursor.newest_post_time = max(cursor.newest_post_time or 0, progress.get("newest") or 0) or None
    if backfill:
        account.backfilled_at = now
        account.backfill_done = account.backfill_total = max(account.backfill_done or 0, account.backfill_total or 0)
    db.session.commit()


def _learn_expiry(account, client):
    """Remember the license key's expiry (for reminders); only an auth error stops the pass."""
    try:
        expiry = client.license_expiry()
    except MallAuthError:
        raise
    except MallError as exc:
        log.info("account %s: expiry date not available: %s", account.id, exc)
        return
    account.license_expires_at = clock.utc(expiry)
    db.session.commit()


def deliver(account, snap, client, mall, *, staged):
    """Mail every message of the inquiry not seen before; one transaction. Returns how many."""
    account = db.session.get(MallAccount, account.id)
    inquiry = db.session.scalar(select(MallInquiry).where(MallInquiry.account_id == account.id,
                                                          MallInquiry.inquiry_id == snap.inquiry_id))
    # `mall` first: the lookup then uses the unique (mall, account, inquiry, message) index
    # instead of scanning every message of the account (quadratic over a backfill).
    known = set(db.session.scalars(select(InboundMessage.message_id).where(
        InboundMessage.mall == account.mall, InboundMessage.account_id == account.id,
        InboundMessage.inquiry_id == snap.inquiry_id)))
    messages = snap.messages or []
    if not messages:
        return 0
    first = messages[0]
    first_id = mailer.mail_message_id(first.mall, account.external_id, first.inquiry_id, first.message_id)
    if inquiry is None:
        decision = routing.route(routing.Probe(account.shop_id, first.mall, first.title or first.item_name or "",
                                               first.text or "", first.inquiry_type or "", first.category or ""))
        if not decision.address:
            raise NoInbox("no inbox address")
        inquiry = MallInquiry(account_id=account.id, inquiry_id=snap.inquiry_id, first_message_id=first_id,
                              subject=mailer.base_subject(account.shop_id, first), inbox=decision.address,
                              customer=mailer.customer_key(first.mall, account.id,
                                                           first.customer_identity or first.inquiry_id),
                              started_at=clock.utc(snap.started_at))
        db.session.add(inquiry)
    chain = [mailer.mail_message_id(m.mall, account.external_id, m.inquiry_id, m.message_id)
             for m in messages if m.message_id in known]
    cap = options.get("attachment_max_kb") * 1024
    cutoff = None if staged else history_cutoff(account)
    count = 0
    for msg in messages:
        if msg.message_id in known:
            continue
        own_id = mailer.mail_message_id(msg.mall, account.external_id, msg.inquiry_id, msg.message_id)
        row = InboundMessage(mall=msg.mall, account_id=account.id, inquiry_id=msg.inquiry_id,
                             message_id=msg.message_id, mail_message_id=own_id, first_message_id=first_id,
                             sender_kind=msg.sender, posted_at=clock.utc(msg.posted_at), delivered=False)
        if cutoff is not None and row.posted_at is not None and row.posted_at < cutoff:
            # History the admin chose not to backfill (e.g. a 30-day backfill, then the 60-day
            # re-scan finds a 45-day-old inquiry): remembered, never mailed live.
            row.delivered, row.skip_reason = True, "older than the backfill window"
        elif msg.sender == "shop" and own_replies.claim(account.id, msg):
            row.delivered, row.skip_reason = True, "sent via mallbridge"
        else:
            files = tuple(mall.fetch_file(client, f, cap) for f in msg.attachments)
            msg = _with_files(msg, files)
            mail = mailer.build(account, msg, to=inquiry.inbox, subject=inquiry.subject, first_id=first_id,
                                chain=chain, from_mode=options.get("from_mode"))
            from plugin import outbox

            out = outbox.enqueue(mail, staged=staged, kind="mall", shop_id=account.shop_id,
                                 dedupe_key=f"mall:{account.id}:{msg.inquiry_id}:{msg.message_id}")
            row.outbox_id, row.delivered = out.id, True
            count += 1
        db.session.add(row)
        chain.append(own_id)
    inquiry.change_marker = snap.marker
    if staged:
        account.backfill_done = (account.backfill_done or 0) + 1
    db.session.commit()
    return count


def history_cutoff(account):
    """Messages posted before this (naive UTC) predate the first connect's backfill window."""
    if account.backfilled_at is None:
        return None
    return account.backfilled_at - dt.timedelta(days=options.get("backfill_days"))


def _with_files(msg, files):
    from dataclasses import replace

    return replace(msg, attachments=files)



def poll_due(now=None):
    """One pass over every due account; one account's bug never stops the others."""
    results = []
    for account in due_accounts(now):
        try:
            results.append(poll_account(account))
        except Exception as exc:  # noqa: BLE001 - log, record and go on, like Mailman's runner
            log.exception("account %s: unexpected error", account.id)
            db.session.rollback()
            _record_failure(account, PermanentMallError(f"unexpected error: {exc!r}"[:500]), clock.now())
            results.append(PassResult(account.id, error=repr(exc)))
    return results

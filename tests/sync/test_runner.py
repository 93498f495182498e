"""The sync worker (`mallbridge sync run`): a manual `--once` pass polls every account now, the
loop polls only due accounts, sleeps until the next one is due, and survives a database outage
that it logs once."""
import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from plugin import clock
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from plugin.queue import LEASE_SECONDS
from sync import leases, poller
from sync.fake_mall import world
from sync.models import MallAccount
from sync.runner import SyncRunner, until_next_due
from tests.sync.helpers import SHOP, add, rakuten_account, yahoo_account


def _mails():
    return db.session.scalar(select(func.count(OutboxMessage.id)))


def _not_due(account, minutes=30):
    """The account as after a failed pass: backing off, its next poll far ahead."""
    account = db.session.get(MallAccount, account.id)
    account.next_poll_at = clock.now() + dt.timedelta(minutes=minutes)
    account.failures = 3
    db.session.commit()
    return account.id


def test_once_polls_every_enabled_account_even_when_not_due(sync_app, mall, runner):
    """`sync run --once` is an admin's manual pass: it polls an account in backoff at once."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "山田 花子", "message": "在庫はありますか？"})
    account_id = _not_due(rakuten_account())
    out = runner.invoke(args=["sync", "run", "--once"])
    assert out.exit_code == 0, out.output
    account = db.session.get(MallAccount, account_id)
    assert account.last_success_at is not None and account.failures == 0
    assert _mails() == 1 and "account 1: 1 new" in out.output


def test_once_skips_disabled_and_paused_accounts(sync_app, mall, runner):
    """Only enabled, unpaused accounts are polled, --once or not."""
    disabled, paused = rakuten_account(), yahoo_account()
    db.session.get(MallAccount, disabled.id).enabled = False
    db.session.get(MallAccount, paused.id).paused_reason = "auth"
    db.session.commit()
    assert runner.invoke(args=["sync", "run", "--once"]).exit_code == 0
    assert all(a.last_poll_at is None for a in db.session.scalars(select(MallAccount)))


def test_the_loop_polls_only_due_accounts(sync_app, mall):
    """Between manual passes the loop respects each account's backoff: a pass skips an account not due."""
    account_id = _not_due(rakuten_account())
    assert poller.poll_all(due_only=True) == []
    assert [r.account_id for r in poller.poll_all(due_only=False)] == [account_id]


def test_the_loop_sleeps_until_the_next_account_is_due(sync_app, mall, clock_pinned):
    """After a pass the worker sleeps until the next poll is due (here the poll interval, 30 s), then
    polls again; it stops on the stop flag without an extra pass."""
    rakuten_account()
    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        clock_pinned.advance(seconds=seconds)
        if sum(sleeps) >= 30:
            worker.stopping = True

    worker = SyncRunner(report=lambda line: None, sleep=fake_sleep)
    worker.run()
    assert sum(sleeps) == 30 and all(s <= 1.0 for s in sleeps)
    assert worker.handled == 1  # one pass polled the account; the next was due only as it stopped


def test_database_outage_is_logged_once_and_survived(sync_app, mall, monkeypatch, caplog):
    """A pass the database refuses is logged once, retried after a pause, and the recovery is logged."""
    rakuten_account()
    real, calls, sleeps = poller.poll_all, [], []

    def broken(**kw):
        calls.append(1)
        if len(calls) <= 3:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        results = real(**kw)
        worker.stopping = True
        return results

    monkeypatch.setattr(poller, "poll_all", broken)
    worker = SyncRunner(report=lambda line: None, sleep=sleeps.append)
    with caplog.at_level(logging.INFO, logger="mallbridge.sync"):
        worker.run()
    assert caplog.text.count("cannot read the mall accounts") == 1
    assert caplog.text.count("database reachable again") == 1
    assert worker.handled == 1 and len(sleeps) == 3 * 30  # three outage pauses of 30 one-second steps


def test_a_mall_outage_is_logged_once_per_account(sync_app, mall, caplog):
    """A mall that stays down: the first failed pass is a warning, the next ones are not; the recovery is logged."""
    account_id = rakuten_account().id
    with mall.state.lock:
        mall.state.faults.append({"kind": "status", "status": 503, "count": 100, "mall": "rakuten"})
    with caplog.at_level(logging.INFO, logger="mallbridge.sync"):
        for _ in range(3):
            poller.poll_account(db.session.get(MallAccount, account_id))
        with mall.state.lock:
            mall.state.faults.clear()
        poller.poll_account(db.session.get(MallAccount, account_id))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "account 1" in r.getMessage()]
    assert len(warnings) == 1 and "attempt 1" in warnings[0].getMessage()
    assert "answers again after 3 failed passes" in caplog.text


def test_a_stop_ends_the_pass_between_accounts(sync_app, mall):
    """A stop asked for while the first account is polled leaves the second one for the next worker:
    not polled, not leased, still due."""
    first, second = rakuten_account().id, yahoo_account().id
    polled = []

    def hold(account_id):
        if account_id is not None:
            polled.append(account_id)
    results = poller.poll_all(should_stop=lambda: bool(polled), hold=hold)
    assert [r.account_id for r in results] == [first] == polled
    account = db.session.get(MallAccount, second)
    assert (account.last_poll_at, account.lease_owner) == (None, None)


def test_a_stop_in_the_middle_of_an_account_keeps_its_cursor_and_loses_nothing(sync_app, mall):
    """Stopped after the first of three inquiries: that one is mailed, the account is neither failed
    nor leased nor moved on, and the next pass mails the other two (each once)."""
    for n in range(3):
        add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": f"客 {n}", "message": f"質問 {n}"})
    account = rakuten_account()
    account.backfilled_at = account.created_at
    db.session.commit()
    asked = []

    def should_stop():
        asked.append(1)
        return _mails() >= 1
    [result] = poller.poll_all(should_stop=should_stop)
    account = db.session.get(MallAccount, account.id)
    assert result.stopped and result.error is None and _mails() == 1
    assert (account.failures, account.last_success_at, account.lease_owner) == (0, None, None)
    [result] = poller.poll_all()
    assert result.new_messages == 2 and _mails() == 3


def test_an_account_another_worker_polls_is_left_to_it_until_its_lease_runs_out(sync_app, mall, clock_pinned):
    """Another worker holds the account: this one skips it and sleeps until that lease runs out
    (a killed worker's account is taken over then), not in a busy loop."""
    account_id = rakuten_account().id
    assert leases.take(account_id, "other-worker")
    assert poller.poll_all() == []
    assert until_next_due(30) == LEASE_SECONDS
    clock_pinned.advance(seconds=LEASE_SECONDS + 1)
    assert [r.account_id for r in poller.poll_all()] == [account_id]
    assert db.session.get(MallAccount, account_id).lease_owner is None

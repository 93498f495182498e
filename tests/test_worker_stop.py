"""Every worker stops within 5 s of SIGTERM while it is working (issue 14.1), tried on real
processes: `outbox run` in the middle of a batch, `sync run` while a mall asks it to wait, while
it posts replies and while it pushes the address book, `helpdesk push` while it pushes. (smtp-in,
and the workers while idle: tests/sync/test_reply_stop.py.) Nothing is lost or left claimed."""
import datetime as dt

import pytest
from sqlalchemy import select

from bench.helpdesk.data import fill
from plugin import clock, helpdesk
from plugin.extensions import db
from plugin.helpdesk.fake.seed import DEMO_TOKEN
from plugin.helpdesk.fake.server import FakeHelpdeskServer
from plugin.helpdesk.fake.state import FakeHelpdeskState
from sync.fake_mall import world
from sync.models import MallAccount
from sync.replies import queue
from sync.replies.models import ReplyJob
from tests import workers
from tests.smtp_server import start_server
from tests.sync.helpers import SHOP, add, posted, rakuten_account
from tests.workers import IdSink, catches_sigterm, env_for, reap, start, stops_on_sigterm, wait_for


@pytest.fixture
def helpdesk_book(app):
    """A fake helpdesk (no rate limit) that the production environment pushes into; yields the server."""
    with FakeHelpdeskServer(FakeHelpdeskState(limit=0)) as server:
        helpdesk.update_environment("production", {"url": "https://shop.relationapp.jp", "api_token": DEMO_TOKEN,
                                                   "address_book_id": 1, "push": True}, actor="test")
        yield server


def _contacts(server):
    with server.state.lock:
        return len(server.state.contacts(1))


def test_outbox_run_stops_in_the_middle_of_a_batch(app, tmp_path):
    """SIGTERM while a batch is being sent to a slow server: the mail in hand is finished, the rest
    of the batch goes back to queued, nothing is lost or left in sending."""
    sink = IdSink(delay=0.05)
    server = start_server(sink)
    workers.queue_mails(300)
    log, proc = tmp_path / "outbox.log", None
    try:
        proc = start(env_for(app, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{server.port}"),
                     "outbox", "run", "--batch", "100", log_path=log)
        wait_for(lambda: sink.count() >= 3 and catches_sigterm(proc), "mail is being delivered", [proc], log_path=log)
        stops_on_sigterm(proc, log)
    finally:
        reap(proc)
        server.stop()
    sent = sink.distinct()
    assert workers.outbox_states() == ({"sent": sent, "queued": 300 - sent} if sent < 300 else {"sent": 300})


def test_sync_run_stops_while_the_mall_asks_it_to_wait(sync_app, mall, tmp_path):
    """A 429 with Retry-After 50 s inside a poll pass: SIGTERM cuts the wait short; the account is
    neither counted as failed nor left leased, and stays due for the next worker."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "山田 花子", "message": "在庫はありますか？"})
    account_id = rakuten_account().id
    with mall.state.lock:
        fault = mall.state.add_fault("status", count=100, mall="rakuten", status=429, retry_after=50)

    def asked_to_wait():
        with mall.state.lock:
            return fault["count"] < 100
    log, proc = tmp_path / "sync.log", None
    try:
        proc = start(env_for(sync_app, **mall.bases), "sync", "run", log_path=log)
        wait_for(lambda: asked_to_wait() and catches_sigterm(proc), "the mall answered 429", [proc], log_path=log)
        stops_on_sigterm(proc, log)
    finally:
        reap(proc)
    db.session.expire_all()
    account = db.session.get(MallAccount, account_id)
    assert (account.lease_owner, account.lease_until, account.failures) == (None, None, 0)
    assert account.next_poll_at is None or account.next_poll_at <= clock.now()


def test_sync_run_stops_while_posting_replies(sync_app, mall, tmp_path):
    """Thirty replies queued, the mall slow to answer: SIGTERM between two jobs; no job stays in
    posting, the rest waits queued for the next worker."""
    account = rakuten_account()
    account.backfilled_at = account.created_at
    account.next_poll_at = clock.now() + dt.timedelta(hours=1)  # only the reply queue has work
    for n in range(30):
        inquiry = add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": f"客 {n}", "message": "質問です"})
        queue.enqueue_reply(account.id, inquiry["inquiryNumber"], f"回答 {n} です。")
    db.session.commit()
    with mall.state.lock:
        mall.state.add_fault("timeout", count=100000, mall="rakuten", delay=0.2)  # a slow mall, not a failing one
    log, proc = tmp_path / "sync.log", None
    try:
        proc = start(env_for(sync_app, **mall.bases), "sync", "run", log_path=log)
        wait_for(lambda: posted(mall) and catches_sigterm(proc), "a reply is posted", [proc], log_path=log)
        stops_on_sigterm(proc, log)
    finally:
        reap(proc)
    db.session.expire_all()
    states = [job.state for job in db.session.scalars(select(ReplyJob))]
    assert "posting" not in states and states.count("posted") == len(posted(mall))


@pytest.mark.parametrize("command", [("sync", "run"), ("helpdesk", "push")])
def test_address_book_push_stops_on_sigterm(sync_app, helpdesk_book, tmp_path, command):
    """A backlog of 5,000 members being pushed, by `helpdesk push` or by `sync run`'s push pass:
    SIGTERM ends the pass between chunks and the process exits in time."""
    fill(5000)
    env = env_for(sync_app, MALLBRIDGE_HELPDESK_API_BASE=helpdesk_book.api_base, MALLBRIDGE_HELPDESK_RATE_LIMIT=0)
    log, proc = tmp_path / "push.log", None
    try:
        proc = start(env, *command, log_path=log)
        wait_for(lambda: _contacts(helpdesk_book) > 0 and catches_sigterm(proc), "contacts arrive", [proc],
                 log_path=log)
        stops_on_sigterm(proc, log)
    finally:
        reap(proc)
    assert _contacts(helpdesk_book) < 5000  # it was stopped in the middle, not after the work was done

"""Scale-out on PostgreSQL (issue 14.11): two `sync run` and two `outbox run` processes on one
database against the fake mall, polling every second. Each account is polled under its lease, so
the two sync workers never poll one account at once (the fake mall sees at most one poll call per
shop in flight, with calls slowed down so that two passes would overlap); every mall message reaches the inbox exactly
once, every reply is posted exactly once, and the posted replies are not mailed back."""
import datetime as dt
import threading
from collections import Counter

import pytest
from flask import g, request
from sqlalchemy import select

from bench.scale.data import add_accounts, add_shops, fill
from plugin import settings
from plugin.extensions import db
from sync.models import MallAccount
from sync.replies import queue
from sync.replies.models import ReplyJob
from tests.conftest import PG_URL
from tests.smtp_server import start_server
from tests.sync.helpers import posted
from tests.workers import IdSink, env_for, reap, start, stops_on_sigterm, tail, wait_for

pytestmark = pytest.mark.skipif(not PG_URL, reason="several workers on one database is the PostgreSQL layout "
                                "(docs/operations.md); SQLite lets one process write at a time")
ACCOUNTS, PER_ACCOUNT, REPLIES = 6, 20, 12
LIST = "/inquirymng-api/inquiries"  # what a poll pass calls (posting a reply does not)


class Overlaps:
    """The most poll calls (inquiry list) in flight at once per shop, seen by the fake mall."""

    def __init__(self, app):
        self.lock, self.now, self.peak = threading.Lock(), Counter(), Counter()
        app.before_request(self._begin)
        app.teardown_request(self._end)

    def _begin(self):
        if LIST in request.path:
            g.shop = request.headers.get("Authorization", "-")
            with self.lock:
                self.now[g.shop] += 1
                self.peak[g.shop] = max(self.peak[g.shop], self.now[g.shop])

    def _end(self, exc):
        shop = g.pop("shop", None)
        if shop is not None:
            with self.lock:
                self.now[shop] -= 1


def _posted_jobs():
    db.session.expire_all()
    count = sum(1 for state in db.session.scalars(select(ReplyJob.state)) if state == "posted")
    db.session.commit()
    return count


def _last_passes():
    db.session.expire_all()
    times = [account.last_success_at for account in db.session.scalars(select(MallAccount))]
    db.session.commit()
    return times


def test_two_sync_and_two_outbox_workers_do_nothing_twice(sync_app, mall, tmp_path):
    """2 × sync run + 2 × outbox run, 6 accounts × 20 inquiries and 12 replies: 120 mails, each
    once; 12 replies, each once; no failed pass; every lease given back at the stop."""
    overlaps = Overlaps(mall.app)
    with mall.state.lock:
        shop_ids = add_shops(mall.state, ACCOUNTS)
        numbers = fill(mall.state, shop_ids, PER_ACCOUNT)
        # Slow poll calls: two passes over one account would overlap at the mall.
        mall.state.add_fault("timeout", count=10**6, mall="rakuten", path=LIST, delay=0.1)
    accounts = add_accounts(ACCOUNTS)
    for account in accounts:
        account.backfilled_at = account.created_at  # live mail, not a staged backfill
    db.session.flush()
    for n in range(REPLIES):
        account = accounts[n % ACCOUNTS]
        queue.enqueue_reply(account.id, numbers[(n % ACCOUNTS) * PER_ACCOUNT + n // ACCOUNTS], f"ご回答 {n} です。")
    settings.set_value("sync.poll_seconds", 1, actor="test")
    db.session.commit()
    sink = IdSink()
    server = start_server(sink)
    env = env_for(sync_app, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{server.port}", **mall.bases)
    logs = [tmp_path / f"worker{i}.log" for i in range(4)]
    procs = []
    try:
        for i in range(2):
            procs.append(start(env, "sync", "run", log_path=logs[i]))
            procs.append(start(env, "outbox", "run", "--batch", "10", log_path=logs[2 + i]))
        total = ACCOUNTS * PER_ACCOUNT
        wait_for(lambda: sink.count() >= total and _posted_jobs() == REPLIES, "every mail and reply", procs)
        # A few more passes over every account (one a second), by whichever worker holds its lease.
        since = max(_last_passes()) + dt.timedelta(seconds=3)
        wait_for(lambda: all(t is not None and t > since for t in _last_passes()),
                 "more passes over every account", procs)
        for proc, log in zip(procs, [logs[0], logs[2], logs[1], logs[3]]):
            stops_on_sigterm(proc, log)
    finally:
        reap(*procs)
        server.stop()
    report = "\n".join(tail(log) for log in logs)
    assert len(overlaps.peak) == ACCOUNTS and max(overlaps.peak.values()) == 1, overlaps.peak
    counts = Counter(sink.ids)
    assert len(counts) == total and max(counts.values()) == 1, counts.most_common(3)
    replies = Counter((p["inquiry"], p["message"]) for p in posted(mall))
    assert len(replies) == REPLIES and max(replies.values()) == 1, replies.most_common(3)
    db.session.expire_all()
    for account in db.session.scalars(select(MallAccount)):
        assert (account.failures, account.last_error, account.lease_owner) == (0, None, None), report

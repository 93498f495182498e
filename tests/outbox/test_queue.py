"""The queue core both queues share (plugin.queue): what a worker does with a row it holds, tested
on plain rows, and the admin actions and lease recovery on the two real tables."""
import datetime as dt
from types import SimpleNamespace

import pytest

from plugin import clock, settings
from plugin.extensions import db
from plugin.outbox.models import QUEUE as OUTBOX
from plugin.queue import LEASE_SECONDS, Queue
from sync.malls.errors import MallAuthError, PermanentMallError, TemporaryMallError
from sync.replies import queue as replies
from sync.replies.models import ReplyJob
from tests.sync.helpers import rakuten_account

NOW = dt.datetime(2026, 11, 23, 3, 0)
QUEUE = Queue(SimpleNamespace, working="sending", done="sent", done_at="sent_at")


def _row(**values):
    return SimpleNamespace(**{"state": "sending", "attempts": 0, "lease_until": NOW, "next_attempt_at": None,
                              "last_error": None, "updated_at": None, "sent_at": None, **values})


@pytest.mark.parametrize("attempts, failure, state, minutes", [
    (0, "temporary", "failed", 1), (1, "temporary", "failed", 5), (4, "temporary", "failed", 360),
    (5, "temporary", "dead", None), (0, "permanent", "dead", None), (0, 503, "failed", 1), (0, 404, "dead", None),
])
def test_fail_follows_the_schedule_then_gives_up(attempts, failure, state, minutes):
    """A failed attempt counts; temporary failures get the schedule's next wait until it is used up."""
    row = _row(attempts=attempts)
    assert QUEUE.fail(row, NOW, "451 try later", (1, 5, 30, 120, 360), failure) == state
    assert row.attempts == attempts + 1 and row.lease_until is None and row.last_error == "451 try later"
    assert row.next_attempt_at == (None if minutes is None else NOW + dt.timedelta(minutes=minutes))


def test_finish_and_dead_letter():
    """finish marks the row done with a note and its done time; dead_letter parks it with the error."""
    row = _row()
    assert QUEUE.finish(row, NOW, "refused: a@example.jp") == "sent"
    assert (row.sent_at, row.lease_until, row.last_error) == (NOW, None, "refused: a@example.jp")
    row = _row()
    QUEUE.dead_letter(row, NOW, KeyError("boom"))
    assert row.state == "dead" and row.last_error == "内部エラー: KeyError: 'boom'" and row.next_attempt_at is None


def test_one_core_serves_both_tables_with_their_state_names():
    """The outbox says sending/sent, the reply queue posting/posted; both share the other states."""
    assert (OUTBOX.working, OUTBOX.done, replies.QUEUE.working, replies.QUEUE.done) == \
        ("sending", "sent", "posting", "posted")
    assert "staged" in OUTBOX.discard_from and "staged" not in replies.QUEUE.discard_from


def test_reply_jobs_requeue_discard_and_recover(app, clock_pinned):
    """A reply job: claim leases it, a crashed runner's lease turns it failed, discard and requeue
    follow the same state machine as the outbox."""
    account = rakuten_account()
    job = replies.enqueue_reply(account.id, "1-1", "はい")
    db.session.commit()
    assert replies.claim(job.id) and not replies.claim(job.id)
    clock_pinned.advance(seconds=replies.LEASE_SECONDS + 1)
    assert replies.recover_stale() == 1
    job = db.session.get(ReplyJob, job.id)
    assert (job.state, job.attempts, job.next_attempt_at) == ("failed", 1, clock.now())
    assert replies.discard(job.id) and not replies.discard(job.id)
    assert replies.requeue(job.id)
    job = db.session.get(ReplyJob, job.id)
    assert (job.state, job.attempts) == ("queued", 0)


def test_reply_jobs_retry_on_their_own_schedule(app, clock_pinned):
    """A temporary mall error retries a job on replies.backoff_minutes, not on the outbox's mail schedule;
    an expired key counts as temporary (it works again once renewed); a 4xx is dead at once."""
    settings.set_value("outbox.backoff_minutes", "1, 5, 30, 120")
    settings.set_value("replies.backoff_minutes", "3, 6, 9, 12")
    account = rakuten_account()
    jobs = [replies.enqueue_reply(account.id, f"1-{n}", "はい") for n in range(3)]
    db.session.commit()
    now = clock.now()
    assert not replies.fail(jobs[0], TemporaryMallError("503"))
    assert jobs[0].next_attempt_at == now + dt.timedelta(minutes=3)
    assert not replies.fail(jobs[1], MallAuthError(code="GA0001"))
    assert jobs[1].next_attempt_at == now + dt.timedelta(minutes=3)
    assert replies.fail(jobs[2], PermanentMallError(code="IE001")) and jobs[2].state == "dead"
    for n in range(2, 5):
        assert not replies.fail(jobs[0], TemporaryMallError("503"))
        assert jobs[0].next_attempt_at == now + dt.timedelta(minutes=3 * n)
    assert replies.fail(jobs[0], TemporaryMallError("503")) and jobs[0].attempts == 5


def test_a_heartbeat_renewal_keeps_only_the_rows_still_held(app, clock_pinned):
    """renew() pushes the lease of held rows in the working state a full lease ahead, so a live
    worker's row is never recovered; a row already done or handed back is left alone."""
    account = rakuten_account()
    held, done = (replies.enqueue_reply(account.id, f"1-{n}", "はい") for n in range(2))
    db.session.commit()
    assert replies.claim(held.id) and replies.claim(done.id)
    replies.finish(db.session.get(ReplyJob, done.id))
    db.session.commit()
    for _ in range(3):  # three heartbeats, each just before the lease would run out
        clock_pinned.advance(seconds=LEASE_SECONDS - 1)
        with db.engine.connect() as connection:
            assert replies.QUEUE.renew(connection, [held.id, done.id]) == 1
        assert replies.recover_stale() == 0
    db.session.expire_all()
    assert db.session.get(ReplyJob, held.id).lease_until == clock.now() + dt.timedelta(seconds=LEASE_SECONDS)
    assert db.session.get(ReplyJob, done.id).lease_until is None
    clock_pinned.advance(seconds=LEASE_SECONDS + 1)  # the worker died: no more heartbeats
    assert replies.recover_stale() == 1

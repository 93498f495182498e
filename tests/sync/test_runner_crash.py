"""Crash recovery of the reply queue (issue 14.10): `mallbridge sync run` SIGKILLed while it posts
replies to a slow mall, then started again. Every reply reaches the mall, none twice more often than
the jobs that were in flight, and the next worker has posted them all within 60 s of its start (a
killed worker's job lease is short and its successor wakes when the lease runs out)."""
import datetime as dt
from collections import Counter

from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from sync.fake_mall import world
from sync.replies import queue
from sync.replies.models import ReplyJob
from tests.sync.helpers import SHOP, add, posted, rakuten_account
from tests.workers import env_for, kill, reap, start, wait_for

REPLIES = 12
RECOVERY_SECONDS = 60


def _states():
    db.session.expire_all()
    states = Counter(db.session.scalars(select(ReplyJob.state)))
    db.session.commit()
    return states


def test_sigkilled_sync_worker_loses_no_reply(sync_app, mall, tmp_path):
    """Kill -9 while a reply is being posted: the next `sync run` posts the rest and the interrupted
    one (checking the mall first), all within 60 s of its start; nothing posted twice."""
    account = rakuten_account()
    account.backfilled_at = account.created_at
    account.next_poll_at = clock.now() + dt.timedelta(hours=1)  # only the reply queue has work
    numbers = []
    for n in range(REPLIES):
        inquiry = add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": f"客 {n}", "message": "質問です"})
        numbers.append(inquiry["inquiryNumber"])
        queue.enqueue_reply(account.id, inquiry["inquiryNumber"], f"回答 {n} です。")
    db.session.commit()
    with mall.state.lock:
        mall.state.add_fault("timeout", count=100000, mall="rakuten", delay=0.3)  # slow, so a kill finds a job
    env = env_for(sync_app, **mall.bases)
    log, proc = tmp_path / "sync.log", None
    try:
        proc = start(env, "sync", "run", log_path=log)
        wait_for(lambda: len(posted(mall)) >= 2 and _states()["posting"] == 1, "a reply being posted", [proc],
                 log_path=log)
        kill(proc)
        in_flight = _states()["posting"]
        proc = start(env, "sync", "run", log_path=log)
        wait_for(lambda: _states()["posted"] == REPLIES, "every reply posted", [proc], timeout=RECOVERY_SECONDS,
                 log_path=log)
    finally:
        reap(proc)
    texts = Counter((p["inquiry"], p["message"]) for p in posted(mall))
    assert len(texts) == REPLIES and sum(texts.values()) - REPLIES <= in_flight, texts

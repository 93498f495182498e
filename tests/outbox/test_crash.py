"""Crash recovery (issues 5 and 14.10): `mallbridge outbox run` as a real process, SIGKILLed in the
middle of its batches and started again. Every message arrives, duplicates are no more than the
messages in flight at the kills, and the worker started after the last kill has delivered
everything within 60 s of its start: its predecessor's claims run out within the short lease
(plugin.queue.LEASE_SECONDS), not after a quarter of an hour. On SQLite and on PostgreSQL."""
from collections import Counter

from sqlalchemy import func, select

from plugin.extensions import db
from plugin.outbox import OutboxMessage
from tests.smtp_server import start_server
from tests.workers import IdSink, env_for, kill, outbox_states, queue_mails, reap, start, tail, wait_for

TOTAL = 1000
KILLS = 3
RECOVERY_SECONDS = 60  # the contract: a killed worker's mail is out within a minute of the next start


def test_sigkilled_worker_loses_nothing_and_the_next_one_delivers_within_a_minute(app, tmp_path):
    """1,000 messages, SIGKILL three times while a batch is in hand: all arrive, duplicates ≤ the
    rows that were in flight, and the last worker finishes within 60 s of its start."""
    expected = queue_mails(TOTAL, prefix="crash")
    sink = IdSink(delay=0.01)  # a batch takes a moment, so a kill finds one in hand
    server = start_server(sink)
    env = env_for(app, MALLBRIDGE_SMTP_URL=f"smtp://127.0.0.1:{server.port}")
    log = tmp_path / "worker.log"
    in_flight, proc = [], None
    try:
        for k in range(KILLS):
            proc = start(env, "outbox", "run", "--batch", "50", "--idle-seconds", "0.2", log_path=log)
            target = sink.count() + TOTAL // (KILLS + 2)
            wait_for(lambda target=target: sink.count() >= target and outbox_states().get("sending", 0) > 0,
                     "a batch in hand", [proc], log_path=log)
            kill(proc)
            in_flight.append(outbox_states().get("sending", 0))
        proc = start(env, "outbox", "run", "--batch", "50", "--idle-seconds", "0.2", log_path=log)
        wait_for(lambda: sink.distinct() >= TOTAL, "every message delivered", [proc], timeout=RECOVERY_SECONDS,
                 log_path=log)
        wait_for(lambda: outbox_states() == {"sent": TOTAL}, "every row marked sent", [proc], log_path=log)
    finally:
        reap(proc)
        server.stop()
    counts = Counter(sink.ids)
    assert set(counts) == expected, tail(log)
    assert sum(in_flight) > 0, "no kill found a batch in hand: the recovery was not exercised"
    assert sum(counts.values()) - TOTAL <= sum(in_flight), (counts.most_common(3), in_flight)
    recovered = db.session.scalar(select(func.count()).where(OutboxMessage.recoveries > 0))
    assert recovered > 0  # taken over after the lease ran out

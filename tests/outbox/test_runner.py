"""The outbox worker against a real SMTP server: retries, dead letters, per-recipient results,
outages, SIGTERM and the sandbox address. Time is pinned and advanced; nothing sleeps."""
import datetime as dt
import logging
import os
import signal

from plugin import outbox, settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from plugin.outbox.runner import Runner
from plugin.smtp import SmtpConnection, parse_smtp_url
from tests.outbox.conftest import make_mail
from tests.smtp_server import free_port, start_server


def _enqueue(n=1, **kw):
    rows = [outbox.enqueue(make_mail(**kw)) for _ in range(n)]
    db.session.commit()
    return [r.id for r in rows]


def _row(oid):
    db.session.expire_all()
    return db.session.get(OutboxMessage, oid)


def _run_once(conn, **kw):
    return Runner(conn, sleep=_no_sleep, **kw).run(once=True)


def _no_sleep(seconds):
    raise AssertionError("--once must not sleep")


def test_delivers_queued_mail_and_records_it(app, smtp_server, smtp_conn, clock_pinned):
    """Queued mail is sent, marked sent with a time, and the attempt is recorded."""
    oid, = _enqueue()
    assert _run_once(smtp_conn) == 1
    row = _row(oid)
    assert (row.state, row.sent_at, row.attempts) == ("sent", clock_pinned.now(), 0)
    assert row.history == []  # a clean success is recorded by state and sent_at alone
    assert smtp_server.handler.messages[0][2].count(row.message_id.encode()) == 1


def test_temporary_failure_then_success(app, smtp_server, smtp_conn, clock_pinned):
    """451 → failed with next_attempt_at one minute later; nothing happens before; then sent."""
    smtp_server.handler.data_replies.append("451 4.7.1 greylisted, try again")
    oid, = _enqueue()
    _run_once(smtp_conn)
    row = _row(oid)
    assert (row.state, row.attempts) == ("failed", 1)
    assert row.next_attempt_at == clock_pinned.now() + dt.timedelta(minutes=1)
    assert "451" in row.last_error
    clock_pinned.advance(seconds=59)
    assert _run_once(smtp_conn) == 0
    clock_pinned.advance(seconds=1)
    _run_once(smtp_conn)
    row = _row(oid)
    assert row.state == "sent" and [a.outcome for a in row.history] == ["temporary"]
    assert len(smtp_server.handler.messages) == 1


def test_permanent_failure_goes_dead(app, smtp_server, smtp_conn):
    """550 on DATA is permanent: dead at once, with the server's text kept."""
    smtp_server.handler.data_replies.append("550 5.7.1 message rejected")
    oid, = _enqueue()
    _run_once(smtp_conn)
    row = _row(oid)
    assert row.state == "dead" and "5.7.1 message rejected" in row.last_error
    assert row.history[0].code == 550


def test_disconnect_mid_session_is_retried(app, smtp_server, smtp_conn, clock_pinned):
    """A connection dropped during DATA leaves the message failed; the retry reconnects and sends."""
    smtp_server.handler.data_replies.append("disconnect")
    oid, other = _enqueue(2)
    _run_once(smtp_conn)
    assert _row(oid).state == "failed" and _row(other).state == "sent"
    clock_pinned.advance(minutes=1)
    _run_once(smtp_conn)
    assert _row(oid).state == "sent"


def test_gives_up_after_the_schedule(app, smtp_server, smtp_conn, clock_pinned):
    """A message failing temporarily every time goes dead after the configured retries."""
    settings.set_value("outbox.backoff_minutes", "1, 2, 3, 4")
    smtp_server.handler.data_replies.extend(["421 4.3.2 shutting down"] * 5)
    oid, = _enqueue()
    for minutes in (1, 2, 3, 4):
        _run_once(smtp_conn)
        assert _row(oid).state == "failed"
        clock_pinned.advance(minutes=minutes)
    _run_once(smtp_conn)
    row = _row(oid)
    assert (row.state, row.attempts) == ("dead", 5) and "上限" in row.last_error


def test_per_recipient_results(app, smtp_server, smtp_conn, clock_pinned):
    """Accepted recipients get it once, permanent refusals are dropped, only temporary ones retry."""
    handler = smtp_server.handler
    handler.rcpt_replies = {"gone@example.jp": ["550 5.1.1 unknown user"],
                            "full@example.jp": ["452 4.2.2 mailbox full"]}
    oid, = _enqueue(to="ok@example.jp, gone@example.jp, full@example.jp")
    _run_once(smtp_conn)
    row = _row(oid)
    assert row.state == "failed" and row.pending_recipients() == ["full@example.jp"]
    assert row.rcpt_state == {"ok@example.jp": "sent", "gone@example.jp": "refused"}
    assert set(row.history[0].details) == {"gone@example.jp", "full@example.jp"}
    clock_pinned.advance(minutes=1)
    _run_once(smtp_conn)
    row = _row(oid)
    assert row.state == "sent" and "gone@example.jp" in row.last_error
    assert handler.recipients() == ["ok@example.jp", "full@example.jp"]


def test_all_recipients_refused_permanently_is_dead(app, smtp_server, smtp_conn):
    """Only when every recipient is refused permanently is the message dead."""
    smtp_server.handler.rcpt_replies = {"a@example.jp": ["550 no"], "b@example.jp": ["551 moved"]}
    oid, = _enqueue(to="a@example.jp, b@example.jp")
    _run_once(smtp_conn)
    assert _row(oid).state == "dead"


def test_a_bad_row_is_dead_lettered_and_the_loop_goes_on(app, smtp_server, smtp_conn, monkeypatch, caplog):
    """An unexpected error in one row is logged, that row goes dead, the others are sent."""
    from plugin.outbox import runner as runner_mod

    ids = _enqueue(3)
    real = runner_mod.deliver

    def flaky(row, *args, **kw):
        if row.id == ids[1]:
            raise KeyError("boom")
        return real(row, *args, **kw)

    monkeypatch.setattr(runner_mod, "deliver", flaky)
    with caplog.at_level(logging.ERROR, logger="mallbridge.plugin.outbox"):
        _run_once(smtp_conn)
    assert [_row(i).state for i in ids] == ["sent", "dead", "sent"]
    assert "内部エラー" in _row(ids[1]).last_error and "boom" in caplog.text


def test_unreachable_server_logged_once_per_outage(app, clock_pinned, caplog):
    """While nobody listens, mail stays queued untouched and the outage is logged once; when the
    server comes back everything is sent and the recovery is logged once."""
    port = free_port()
    conn = SmtpConnection(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=2"))
    ids = _enqueue(5)
    servers, sleeps = [], []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            servers.append(start_server(port=port))
        if servers and all(_row(i).state == "sent" for i in ids):
            runner.stopping = True

    runner = Runner(conn, sleep=fake_sleep, outage_seconds=2)
    try:
        with caplog.at_level(logging.INFO, logger="mallbridge.plugin.outbox"):
            runner.run()
    finally:
        for server in servers:
            server.stop()
    assert caplog.text.count("SMTP server unreachable") == 1
    assert caplog.text.count("reachable again") == 1
    assert all(_row(i).attempts == 0 for i in ids)
    assert len(servers[0].handler.messages) == 5


def test_sleeps_only_when_idle(app, smtp_server, smtp_conn):
    """A busy worker does not sleep between batches; it sleeps once nothing is due."""
    ids = _enqueue(25)
    sent_at_first_sleep = []

    def fake_sleep(seconds):
        sent_at_first_sleep.append(db.session.query(OutboxMessage).filter_by(state="sent").count())
        runner.stopping = True

    runner = Runner(smtp_conn, batch=10, sleep=fake_sleep)
    runner.run()
    assert sent_at_first_sleep == [len(ids)]
    assert smtp_server.handler.sessions == 1


def test_sigterm_finishes_the_current_message_and_hands_back_the_rest(app, smtp_server, smtp_conn):
    """SIGTERM during a send: that message completes, the rest of the batch returns to queued."""
    ids = _enqueue(5)
    runner = Runner(smtp_conn, batch=5, sleep=_no_sleep)
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    runner.install_signal_handlers()
    handler = smtp_server.handler
    original = handler.handle_DATA

    async def data_then_signal(server, session, envelope):
        if not handler.messages:
            os.kill(os.getpid(), signal.SIGTERM)
        return await original(server, session, envelope)

    handler.handle_DATA = data_then_signal
    try:
        runner.run()
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)
    states = [_row(i).state for i in ids]
    assert states == ["sent", "queued", "queued", "queued", "queued"]
    assert all(_row(i).lease_until is None for i in ids[1:])


def test_sandbox_address_receives_everything(app, smtp_server, smtp_conn, caplog):
    """With a sandbox address, the envelope goes there only; the warning is logged."""
    settings.set_value("outbox.sandbox_address", "sandbox@example.jp")
    oid, = _enqueue(to="customer@example.jp", Bcc="inbox@relation.example")
    with caplog.at_level(logging.WARNING, logger="mallbridge.plugin.outbox"):
        _run_once(smtp_conn)
    assert smtp_server.handler.recipients() == ["sandbox@example.jp"]
    assert _row(oid).state == "sent" and "sandbox" in caplog.text


def test_database_outage_is_logged_once_and_survived(app, smtp_server, smtp_conn, monkeypatch, caplog):
    """A failing claim (database down) is logged once, the loop keeps going and recovers."""
    from sqlalchemy.exc import OperationalError

    from plugin.outbox import store

    oid, = _enqueue()
    real, calls = store.claim_rows, []

    def broken(*args):
        calls.append(1)
        if len(calls) <= 3:
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(*args)

    def fake_sleep(seconds):
        if _row(oid).state == "sent":
            runner.stopping = True

    monkeypatch.setattr(store, "claim_rows", broken)
    runner = Runner(smtp_conn, sleep=fake_sleep)
    with caplog.at_level(logging.INFO, logger="mallbridge.plugin.outbox"):
        runner.run()
    assert caplog.text.count("cannot claim outbox rows") == 1
    assert "database reachable again" in caplog.text and _row(oid).state == "sent"

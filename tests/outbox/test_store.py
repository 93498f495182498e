"""Outbox state machine: enqueue, claim, lease recovery, admin transitions, retention purge."""
import datetime as dt
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from plugin import outbox, settings
from plugin.extensions import db
from plugin.outbox import OutboxAttempt, OutboxMessage, store
from tests.outbox.conftest import make_mail


def _claim():
    """Ids of the rows one worker pass claims (batch 10, lease 60 s)."""
    return [row.id for row in store.claim_rows(10, 60)]


def _get(oid):
    db.session.expire_all()
    return db.session.get(OutboxMessage, oid)


def test_enqueue_keeps_bcc_in_envelope_only(app):
    """Recipients default to To+Cc+Bcc; the stored MIME has no Bcc header."""
    row = outbox.enqueue(make_mail(Cc="店長 <boss@example.jp>", Bcc="inbox@relation.example, customer@example.jp"))
    db.session.commit()
    assert row.recipients == ["customer@example.jp", "boss@example.jp", "inbox@relation.example"]
    stored = message_from_bytes(row.raw, policy=policy.default)
    assert stored["Bcc"] is None and b"inbox@relation" not in row.raw
    assert row.subject == "【楽天】商品問い合わせ 有機緑茶 100g" and row.sender == "shop@example.jp"
    assert row.state == "queued" and stored["Date"]


def test_enqueue_fixes_message_id(app):
    """The caller's Message-ID is kept; otherwise one on REPLY_DOMAIN is generated and stored."""
    given = outbox.enqueue(make_mail(Message_ID="<rakuten.1.2.3@reply.localhost>"))
    made = outbox.enqueue(make_mail())
    db.session.commit()
    assert given.message_id == "<rakuten.1.2.3@reply.localhost>"
    assert made.message_id.endswith("@reply.localhost>")
    assert message_from_bytes(made.raw, policy=policy.default)["Message-ID"] == made.message_id


def test_enqueue_does_not_commit(app):
    """The enqueue is part of the caller's transaction: a rollback removes it."""
    outbox.enqueue(make_mail())
    db.session.rollback()
    assert db.session.scalar(select(OutboxMessage)) is None


def test_enqueue_explicit_recipients_staged_and_kind(app):
    """Explicit envelope recipients, staged state, kind and shop are stored as given."""
    row = outbox.enqueue(make_mail(), recipients=["inbox@relation.example"], staged=True, kind="backfill",
                         shop_id=1)
    assert (row.recipients, row.state, row.kind, row.shop_id) == (["inbox@relation.example"], "staged", "backfill", 1)


def test_enqueue_dedupe_key_is_idempotent(app):
    """A second enqueue with the same dedupe_key returns the first row instead of a new one."""
    first = outbox.enqueue(make_mail(), dedupe_key="rakuten:1:42")
    db.session.commit()
    again = outbox.enqueue(make_mail(subject="other"), dedupe_key="rakuten:1:42")
    db.session.commit()
    assert again.id == first.id and db.session.query(OutboxMessage).count() == 1


@pytest.mark.parametrize("recipients", [[], ["no-at-sign"], ["a@example.jp\r\nBcc: x@evil.example"]])
def test_enqueue_refuses_bad_recipients(app, recipients):
    """No recipient or a malformed one is an OutboxError, never a stored row."""
    with pytest.raises(outbox.OutboxError):
        outbox.enqueue(make_mail(), recipients=recipients)


def test_claim_marks_sending_and_never_twice(app, clock_pinned):
    """Claimed rows are leased; a second claim does not return them; future rows wait."""
    rows = [outbox.enqueue(make_mail()) for _ in range(3)]
    rows[2].next_attempt_at = clock_pinned.now() + dt.timedelta(minutes=5)
    db.session.commit()
    first = _claim()
    assert first == [rows[0].id, rows[1].id]
    assert _claim() == []
    assert _get(rows[0].id).state == "sending"
    assert _get(rows[0].id).lease_until == clock_pinned.now() + dt.timedelta(seconds=60)


def test_lease_expiry_requeues_then_dead_after_three_recoveries(app, clock_pinned):
    """A row stuck in sending past its lease goes back to queued three times, then to dead."""
    oid = outbox.enqueue(make_mail()).id
    db.session.commit()
    for expected in (1, 2, 3):
        assert _claim() == [oid]
        clock_pinned.advance(seconds=30)
        assert store.recover_stale() == (0, 0)  # lease still running
        clock_pinned.advance(seconds=31)
        assert store.recover_stale() == (1, 0)
        row = _get(oid)
        assert (row.state, row.recoveries) == ("queued", expected)
    assert _claim() == [oid]
    clock_pinned.advance(minutes=2)
    assert store.recover_stale() == (0, 1)
    row = _get(oid)
    assert row.state == "dead" and row.last_error
    assert [a.outcome for a in row.history] == ["recovered"] * 4


def test_release_one_and_all(app):
    """release(ids) moves only those staged rows; release() moves every staged row."""
    a, b, c = (outbox.enqueue(make_mail(), staged=True) for _ in range(3))
    queued = outbox.enqueue(make_mail())
    db.session.commit()
    assert outbox.release([a.id, queued.id]) == 1
    assert outbox.release() == 2
    db.session.commit()
    assert {_get(x.id).state for x in (a, b, c, queued)} == {"queued"}


def test_requeue_and_discard_follow_the_state_machine(app):
    """Dead rows can be requeued with a fresh budget; sent rows can be neither requeued nor discarded."""
    row = outbox.enqueue(make_mail(to="a@example.jp, b@example.jp"))
    db.session.commit()
    row.state, row.attempts, row.rcpt_state = "dead", 5, {"a@example.jp": "sent", "b@example.jp": "refused"}
    db.session.commit()
    assert outbox.requeue(row.id)
    db.session.commit()
    row = _get(row.id)
    assert (row.state, row.attempts) == ("queued", 0)
    assert row.pending_recipients() == ["b@example.jp"]  # the one already delivered is not sent again
    assert outbox.discard(row.id) and _get(row.id).state == "discarded"
    assert outbox.requeue(row.id)
    row.state = "sent"
    db.session.commit()
    assert not outbox.requeue(row.id) and not outbox.discard(row.id)
    assert not outbox.requeue(999999) and not outbox.discard(999999)


def test_purge_removes_old_sent_and_discarded_only(app, clock_pinned):
    """Rows older than the retention period go when sent or discarded; dead and queued stay."""
    settings.set_value("outbox.retention_days", 30)
    rows = {s: outbox.enqueue(make_mail()) for s in ("sent", "discarded", "dead", "queued")}
    for state, row in rows.items():
        row.state = state
    db.session.commit()
    db.session.add(OutboxAttempt(outbox_id=rows["sent"].id, outcome="sent"))
    db.session.commit()
    clock_pinned.advance(days=29)
    assert store.purge(30) == 0
    clock_pinned.advance(days=2)
    fresh = outbox.enqueue(make_mail())
    fresh.state = "sent"
    db.session.commit()
    assert store.purge(outbox.options.get("outbox.retention_days")) == 2
    left = {r.id for r in db.session.scalars(select(OutboxMessage))}
    assert left == {rows["dead"].id, rows["queued"].id, fresh.id}
    assert db.session.scalar(select(OutboxAttempt)) is None


@pytest.mark.postgres_only
def test_claim_skips_rows_locked_by_another_worker(app):
    """On PostgreSQL a row locked by another worker's claim is skipped, not waited for or taken."""
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("needs MALLBRIDGE_TEST_DATABASE_URL (PostgreSQL)")
    from sqlalchemy import text

    ids = [outbox.enqueue(make_mail()).id for _ in range(3)]
    db.session.commit()
    with db.engine.connect() as other:
        other.execute(text("SELECT id FROM outbox_message WHERE id = :id FOR UPDATE"), {"id": ids[0]})
        assert _claim() == ids[1:]
        other.rollback()
    assert _claim() == ids[:1]


def test_enqueue_refuses_a_duplicate_message_id(app):
    """The same Message-ID twice is a clear OutboxError (dedupe_key is the idempotent way)."""
    outbox.enqueue(make_mail(Message_ID="<same@reply.localhost>"))
    db.session.commit()
    with pytest.raises(outbox.OutboxError):
        outbox.enqueue(make_mail(Message_ID="<same@reply.localhost>"))


def test_enqueue_leaves_the_callers_message_untouched(app):
    """Bcc removal and the added Message-ID/Date happen on the stored copy only."""
    msg = make_mail(Bcc="inbox@relation.example")
    outbox.enqueue(msg)
    assert msg["Bcc"] == "inbox@relation.example" and msg["Message-ID"] is None and msg["Date"] is None

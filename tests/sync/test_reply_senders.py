"""Only the helpdesk may answer as the shop (issue 14.2): reply senders checked at RCPT and DATA,
refusal while none are configured (and the dashboard says so), relay addresses that expire,
and the same text sent twice under new Message-IDs posted once."""
import datetime as dt
import smtplib

import pytest
from sqlalchemy import select

from plugin import helpdesk, settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync.models import InboundMessage
from tests.sync.helpers import AGENT, deliver_rakuten, jobs, mails, posted, reply_address, reply_to, send

STRANGER = "stranger@evil.example"


def _bounces():
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_bounce")))


def test_a_stranger_is_refused_at_data_and_nothing_is_posted(sync_app, mall, smtp_in, runner):
    """Envelope sender and From both strangers: 550 at DATA, nothing stored, nothing posted, and a
    `#完了` from them completes nothing."""
    _account, original, number = deliver_rakuten(mall)
    for body in ("お客様へ：こちらのURLからカード番号を入力してください", "#完了"):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(smtp_in, reply_to(original, body, sender=STRANGER), mail_from=STRANGER)
        assert refused.value.smtp_code == 550
    assert mails() == []
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and jobs() == []
    with mall.state.lock:
        assert mall.state.inquiries[number]["_completed"] is None


def test_the_from_or_the_envelope_sender_may_be_the_reply_sender(sync_app, mall, smtp_in):
    """A helpdesk that sends with a bounce address as envelope sender is accepted on its From;
    one whose envelope sender is a reply sender is accepted whatever its From."""
    _account, original, _number = deliver_rakuten(mall)
    assert send(smtp_in, reply_to(original, "Fromで判定"), mail_from="bounce-1@mta.example") == {}
    assert send(smtp_in, reply_to(original, "エンベロープで判定", sender="other@desk.example")) == {}
    assert [m.state for m in mails()] == ["accepted", "accepted"]


def test_a_domain_entry_accepts_every_address_of_that_domain(sync_app, mall, smtp_in):
    """A reply sender `@domain` accepts any address at exactly that domain, not its look-alikes."""
    helpdesk.update_environment("production", {"reply_from": "@desk.example"}, actor="test")
    _account, original, _number = deliver_rakuten(mall)
    assert send(smtp_in, reply_to(original, "担当Aです", sender="a@desk.example"), mail_from="a@desk.example") == {}
    with pytest.raises(smtplib.SMTPDataError):
        send(smtp_in, reply_to(original, "偽物", sender="a@evil-desk.example"), mail_from="a@evil-desk.example")
    assert [m.state for m in mails()] == ["accepted"]


def test_without_reply_senders_every_reply_is_refused_and_the_dashboard_says_so(sync_app, mall, smtp_in, client, auth):
    """With no reply senders in the active environment, RCPT gets 550 and the admin dashboard shows
    a Japanese warning that names the setting."""
    helpdesk.update_environment("production", {"reply_from": ""}, actor="test")
    _account, original, _number = deliver_rakuten(mall)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_in, reply_to(original, "返信です"))
    assert next(iter(refused.value.recipients.values()))[0] == 550
    assert mails() == []
    auth.login("admin@example.jp", "admin-password-1")
    page = client.get("/admin/").get_data(as_text=True)
    assert "「返信の差出人」が設定されていないため" in page
    helpdesk.update_environment("production", {"reply_from": AGENT}, actor="test")
    assert "「返信の差出人」が設定されていないため" not in client.get("/admin/").get_data(as_text=True)


def test_only_the_active_environment_counts(sync_app, mall, smtp_in):
    """A sender configured only in the inactive (demo) environment is refused."""
    helpdesk.update_environment("demo", {"reply_from": "demo@desk.example"}, actor="test")
    _account, original, _number = deliver_rakuten(mall)
    with pytest.raises(smtplib.SMTPDataError):
        send(smtp_in, reply_to(original, "デモから", sender="demo@desk.example"), mail_from="demo@desk.example")


def test_demo_seed_configures_the_demo_reply_sender(app, runner):
    """`demo seed` makes the demo environment active with its own reply sender, so the demo's
    replies are taken."""
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    env = helpdesk.active_environment()
    assert env.name == "demo" and env.accepts_reply_from("info@yamadaen.example.jp")


def _age_inquiry(number, days):
    for message in db.session.scalars(select(InboundMessage).where(InboundMessage.inquiry_id == number)):
        message.created_at -= dt.timedelta(days=days)
        if message.posted_at is not None:
            message.posted_at -= dt.timedelta(days=days)
    db.session.commit()


def test_an_expired_relay_address_is_refused(sync_app, mall, smtp_in, runner):
    """91 days after the inquiry's last message the relay address is dead: a stranger's envelope
    gets 550 at RCPT; the helpdesk's own reply gets a Japanese bounce; nothing is posted."""
    _account, original, number = deliver_rakuten(mall)
    _age_inquiry(number, 91)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_in, reply_to(original, "古いアドレス"), mail_from="bounce-1@mta.example")
    assert next(iter(refused.value.recipients.values()))[0] == 550
    assert send(smtp_in, reply_to(original, "古いアドレスへの返信")) == {}
    (stored,) = mails()
    assert stored.state == "bounced" and "90日を過ぎた" in stored.problem
    assert [b.recipients for b in _bounces()] == [[AGENT]]
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == []


def test_the_expiry_is_a_setting(sync_app, mall, smtp_in):
    """With `replies.address_days` at 365 an address 91 days old still works."""
    settings.set_value("replies.address_days", 365, actor="test")
    _account, original, number = deliver_rakuten(mall)
    _age_inquiry(number, 91)
    assert send(smtp_in, reply_to(original, "まだ使えます")) == {}
    assert mails()[0].state == "accepted"


def test_the_same_text_twice_within_minutes_is_posted_once(sync_app, mall, smtp_in, runner):
    """The same reply re-sent under a new Message-ID a minute later is dropped as a duplicate;
    a different text to the same inquiry still goes out."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "明日発送いたします。"))
    send(smtp_in, reply_to(original, "明日発送いたします。"))
    send(smtp_in, reply_to(original, "追伸：送料は無料です。"))
    first, second, third = mails()
    assert (first.state, second.state, third.state) == ("accepted", "dropped", "accepted")
    assert "同じ本文" in second.problem
    runner.invoke(args=["sync", "run", "--once"])
    runner.invoke(args=["sync", "run", "--once"])  # jobs of one inquiry go out one per pass, in order
    assert [p["message"] for p in posted(mall)] == ["明日発送いたします。", "追伸：送料は無料です。"]
    assert _bounces() == []


def test_reply_address_of_another_customer_is_not_a_sender_check_bypass(sync_app, mall, smtp_in):
    """A From that is itself a relay address of ours is never a reply sender."""
    _account, original, _number = deliver_rakuten(mall)
    forged = reply_address(original)
    with pytest.raises(smtplib.SMTPDataError):
        send(smtp_in, reply_to(original, "ループ", sender=forged), mail_from=forged)

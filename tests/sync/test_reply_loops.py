"""Mail loops (issue 14.9) and the bounce's place in the thread (issue 15.8): auto-replies marked
only by List-Id, X-Loop, X-Auto-Response-Suppress or Return-Path: <> are never posted nor
answered; bounces go only to reply senders; a bounce threads under the agent's reply."""
import email
from email import policy

import pytest
from sqlalchemy import select

from plugin import helpdesk
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync.replies import bounce, claims, intake
from tests.sync.helpers import AGENT, deliver_rakuten, jobs, mails, posted, reply_address, reply_to, send


def _bounces():
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reply_bounce")))


@pytest.mark.parametrize("headers", [
    {"List-Id": "<support.desk.example>"},
    {"X-Loop": "support@desk.example"},
    {"X-Auto-Response-Suppress": "All"},
    {"Return-Path": "<>"},
])
def test_auto_replies_marked_only_by_these_headers_are_never_posted(sync_app, mall, smtp_in, runner, headers):
    """An out-of-office or list mail from an allowed sender, marked by one header only, is stored
    and dropped: nothing posted, no bounce."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "ただいま不在にしております。", headers=headers))
    (stored,) = mails()
    assert stored.state == "dropped" and "自動応答" in stored.problem
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and jobs() == [] and _bounces() == []


def test_a_bounce_never_goes_to_a_forged_from(sync_app, mall, smtp_in):
    """A reply that breaks a rule, sent by the helpdesk (envelope) with someone else's From, is
    bounced to the envelope sender only."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "https://evil.example/ をご覧ください", sender="victim@elsewhere.example"))
    (stored,) = mails()
    assert stored.state == "bounced"
    assert [b.recipients for b in _bounces()] == [[AGENT]]


def test_no_bounce_when_no_sender_is_a_reply_sender(sync_app, mall):
    """A stored mail whose senders are no longer reply senders (the setting changed) is dropped,
    and a bounce for a mail from nobody allowed is never sent."""
    _account, original, _number = deliver_rakuten(mall)
    mail_id = claims.store(reply_to(original, "返信").as_bytes(), rcpt=reply_address(original), mail_from=AGENT)
    helpdesk.update_environment("production", {"reply_from": "someone@desk.example"}, actor="test")
    assert intake.process(mail_id) == "dropped"
    row = mails()[0]
    bounce.bounce(row, ["テスト"])
    assert "差し戻しメールは送っていません" in row.problem
    assert _bounces() == []


def test_the_bounce_threads_under_the_agents_reply(sync_app, mall, smtp_in):
    """The bounce has In-Reply-To = the reply's Message-ID and References = the reply's References
    followed by its Message-ID, so an inbox-only view threads it into the ticket."""
    _account, original, _number = deliver_rakuten(mall)
    msg = reply_to(original, "https://evil.example/ をご覧ください")
    msg.replace_header("References", f"{original['Message-ID']} <earlier.1@desk.example>")
    send(smtp_in, msg)
    (out,) = _bounces()
    sent = email.message_from_bytes(out.raw, policy=policy.default)
    assert sent["In-Reply-To"] == msg["Message-ID"]
    assert sent["References"].split() == [original["Message-ID"], "<earlier.1@desk.example>", msg["Message-ID"]]
    assert sent["Auto-Submitted"] == "auto-replied"

"""End to end: a delivered inquiry, the agent's reply over SMTP into smtp-in, the post on the fake mall."""
import smtplib

import pytest
from sqlalchemy import select

from plugin import settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import poller
from sync.fake_mall import world
from sync.models import MallAccount, OwnReply
from sync.replies import queue as reply_queue
from tests.sync.helpers import AGENT, add, deliver_rakuten, jobs, mails, posted, reply_address, reply_to, send

GMAIL_QUOTE = ("\n\n2026年11月23日(月) 12:00 山田 花子 <{addr}>:\n\n> 在庫はありますか？\n>\n> 山田\n")


def test_reply_reaches_the_mall_without_the_quote(sync_app, mall, smtp_in, runner):
    """A reply sent with smtplib is stored, queued and posted to R-Messe without the quoted part; the poller does not mail it back."""
    account, original, number = deliver_rakuten(mall)
    body = "お問い合わせありがとうございます。\n在庫ございます。\n\n-- \n緑茶本舗 担当 太郎" + GMAIL_QUOTE.format(
        addr=reply_address(original))
    assert send(smtp_in, reply_to(original, body)) == {}
    (stored,) = mails()
    assert stored.state == "accepted" and stored.inquiry_id == number and "在庫はありますか" not in stored.text
    assert stored.raw.startswith(b"From: ")  # the raw mail is kept as received
    out = runner.invoke(args=["sync", "run", "--once"])
    assert out.exit_code == 0, out.output
    (post,) = posted(mall)
    assert post["inquiry"] == number
    assert post["message"] == "お問い合わせありがとうございます。\n在庫ございます。\n\n--\n緑茶本舗 担当 太郎"
    (job,) = jobs()
    assert job.state == "posted" and job.posted_message_id == "0"
    before = db.session.query(OutboxMessage).count()
    # A customer follow-up a minute later changes the inquiry, so the next poll reads it again.
    add(mall, world.add_rakuten_message, number, {"message": "ありがとうございます",
                                                  "reg_date": "2099-01-01T00:00:00+09:00"})
    poller.poll_account(db.session.get(MallAccount, account.id))
    db.session.expire_all()
    assert db.session.query(OutboxMessage).count() == before + 1  # the follow-up only, not our reply
    assert db.session.scalar(select(OwnReply.matched_message_id)) == "0"


def test_too_long_reply_bounces_and_nothing_is_posted(sync_app, mall, smtp_in, runner):
    """A 2,500-character reply is not posted; the agent gets a Japanese bounce saying how much to cut."""
    _account, original, _number = deliver_rakuten(mall)
    assert send(smtp_in, reply_to(original, "あ" * 250 + "\n" + "い" * 2249)) == {}
    (stored,) = mails()
    assert stored.state == "bounced" and "2000文字まで" in stored.problem
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and jobs() == []
    bounce = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reply_bounce"))
    assert bounce.recipients == [AGENT] and bounce.subject.startswith("【返信できませんでした】")
    assert b"Auto-Submitted: auto-replied" in bounce.raw


def test_forged_token_gets_550_at_rcpt(sync_app, mall, smtp_in):
    """An altered signature, a foreign domain and a disabled account's address are refused with 550 at RCPT."""
    account, original, _number = deliver_rakuten(mall)
    good = reply_address(original)
    local, domain = good.split("@")
    forged = local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + domain
    for rcpt in (forged, local + "@other.example", "r+r1.000000000000.0000000000000000@" + domain):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            send(smtp_in, reply_to(original, "forged"), rcpt=rcpt)
        assert err.value.recipients[rcpt][0] == 550
    db.session.get(MallAccount, account.id).enabled = False
    db.session.commit()
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtp_in, reply_to(original, "disabled"), rcpt=good)
    assert mails() == []


@pytest.mark.parametrize("headers, mail_from", [
    ({"Auto-Submitted": "auto-replied"}, AGENT),
    ({"Precedence": "bulk"}, AGENT),
    ({"Precedence": "auto_reply"}, AGENT),
    ({}, "MAILER-DAEMON@helpdesk.example"),
    ({}, ""),
])
def test_auto_reply_is_dropped(sync_app, mall, smtp_in, runner, headers, mail_from):
    """Auto-replies, bulk mail and bounces are stored and dropped: nothing posted, nobody answered."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "不在にしています。", headers=headers), mail_from=mail_from)
    (stored,) = mails()
    assert stored.state == "dropped"
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and jobs() == []
    assert db.session.query(OutboxMessage).filter_by(kind="reply_bounce").count() == 0


def test_own_message_id_is_dropped(sync_app, mall, smtp_in):
    """Our own mail coming back (Message-ID on the reply domain) is a loop and is dropped."""
    _account, original, _number = deliver_rakuten(mall)
    msg = reply_to(original, "loop")
    msg.replace_header("Message-ID", "<loop.1@reply.localhost>")
    send(smtp_in, msg)
    assert mails()[0].state == "dropped"


def test_complete_command_posts_then_completes(sync_app, mall, smtp_in, runner):
    """`#完了` as the first line posts the reply without it and then completes the inquiry on the mall."""
    _account, original, number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "#完了\nご購入ありがとうございました。"))
    runner.invoke(args=["sync", "run", "--once"])
    runner.invoke(args=["sync", "run", "--once"])
    assert [p["message"] for p in posted(mall)] == ["ご購入ありがとうございました。"]
    assert [(j.kind, j.state) for j in jobs()] == [("reply", "posted"), ("complete", "posted")]
    with mall.state.lock:
        assert mall.state.inquiries[number]["_completed"] is not None


def test_reply_without_thread_headers_uses_the_only_open_inquiry(sync_app, mall, smtp_in, runner):
    """Without In-Reply-To/References the customer's only open inquiry is answered; with two, the agent gets a bounce."""
    _account, original, number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "スレッド外の返信です。", thread=False))
    assert mails()[0].state == "accepted" and mails()[0].inquiry_id == number


def test_mall_outage_keeps_the_reply_and_retries(sync_app, mall, smtp_in, runner):
    """While the mall answers 503 the reply stays queued for retry; after the outage it is posted once."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "明日発送します。"))
    with mall.state.lock:
        mall.state.add_fault("status", 1, "rakuten", "/inquirymng-api/inquiry/reply", 503)
    runner.invoke(args=["sync", "run", "--once"])
    (job,) = jobs()
    assert job.state == "failed" and job.attempts == 1 and posted(mall) == []
    runner.invoke(args=["sync", "run", "--once"])
    assert jobs()[0].state == "failed"  # not due yet: the retry waits for its backoff
    job.next_attempt_at = job.created_at
    db.session.commit()
    runner.invoke(args=["sync", "run", "--once"])
    assert jobs()[0].state == "posted" and len(posted(mall)) == 1


def test_rate_limit_bounces(sync_app, mall, smtp_in):
    """Beyond the per-account hourly limit a reply is not queued and the agent is told why."""
    settings.set_value("replies.max_per_hour", 1, actor="test")
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "一通目"))
    send(smtp_in, reply_to(original, "二通目"))
    first, second = mails()
    assert first.state == "accepted" and second.state == "bounced" and "1時間に1件" in second.problem
    assert len(reply_queue.due_jobs()) == 1


def test_complete_command_alone_only_completes(sync_app, mall, smtp_in, runner):
    """A reply that is only `#完了` (above the quote) posts nothing and completes the inquiry."""
    _account, original, number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "#完了\n\n> 在庫はありますか？"))
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall) == [] and [(j.kind, j.state) for j in jobs()] == [("complete", "posted")]
    with mall.state.lock:
        assert mall.state.inquiries[number]["_completed"] is not None


def test_verp_envelope_sender_is_a_normal_reply(sync_app, mall, smtp_in):
    """A mail service's bounce-… return path is not mistaken for a robot."""
    _account, original, _number = deliver_rakuten(mall)
    send(smtp_in, reply_to(original, "返信です。"), mail_from="bounce-12345-abc@mail.helpdesk.example")
    assert mails()[0].state == "accepted"


def test_resent_mail_is_not_posted_twice(sync_app, mall, smtp_in, runner):
    """The helpdesk re-sending the same mail (same Message-ID) after a dropped connection posts it once."""
    _account, original, _number = deliver_rakuten(mall)
    msg = reply_to(original, "一度だけ届くはずの返信")
    send(smtp_in, msg)
    send(smtp_in, msg)
    assert [m.state for m in mails()] == ["accepted", "dropped"]
    runner.invoke(args=["sync", "run", "--once"])
    assert len(posted(mall)) == 1

"""Replies to Yahoo! store questions: post, files on private topics only, thread rules."""
from plugin.extensions import db
from sync.replies.models import ReplyJob
from tests.sync.helpers import deliver_rakuten, deliver_yahoo, jobs, mails, posted, reply_to, send

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64


def _with_png(msg):
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="在庫表.png")
    return msg


def test_yahoo_reply_with_file_on_private_topic(sync_app, mall, smtp_in, runner):
    """A reply with a PNG to a private Yahoo! question is uploaded with file add and posted with it."""
    _account, original, topic_id = deliver_yahoo(mall, is_private=True)
    send(smtp_in, _with_png(reply_to(original, "在庫表を添付します。\n\n> 在庫ありますか")))
    runner.invoke(args=["sync", "run", "--once"])
    (post,) = posted(mall, "yahoo")
    assert post["inquiry"] == topic_id and post["message"] == "在庫表を添付します。"
    assert [a["fileName"] for a in post["attachments"]] == ["在庫表.png"]
    (job,) = jobs()
    assert job.state == "posted" and job.posted_message_id == "2"


def test_yahoo_file_on_public_topic_is_refused_and_bounced(sync_app, mall, smtp_in, runner):
    """Yahoo! takes files only on private topics: the job dies with the reason and the agent gets a bounce."""
    _account, original, _topic_id = deliver_yahoo(mall, is_private=False)
    send(smtp_in, _with_png(reply_to(original, "在庫表を添付します。")))
    runner.invoke(args=["sync", "run", "--once"])
    assert posted(mall, "yahoo") == []
    (job,) = jobs()
    assert job.state == "dead" and "非公開の質問" in job.last_error
    (mail,) = mails()
    assert mail.state == "bounced" and "非公開の質問" in mail.problem


def test_rakuten_reply_with_attachment_is_uploaded_first(sync_app, mall, smtp_in, runner):
    """Rakuten: the single PNG is uploaded, then referenced in the reply's attachments."""
    _account, original, number = deliver_rakuten(mall)
    send(smtp_in, _with_png(reply_to(original, "写真を添付します。")))
    runner.invoke(args=["sync", "run", "--once"])
    (post,) = posted(mall, "rakuten")
    assert post["inquiry"] == number and post["attachments"][0]["label"] == "在庫表.png"


def test_two_open_inquiries_without_thread_bounce(sync_app, mall, smtp_in):
    """Without thread headers and with two open inquiries of the customer, the agent is told to reply in the thread."""
    from sync import poller
    from sync.fake_mall import world
    from sync.models import MallAccount
    from tests.sync.helpers import add

    account, original, _number = deliver_rakuten(mall, user_mask_email="same@pc.fw.rakuten.ne.jp")
    add(mall, world.add_inquiry, {"shop_id": 391234, "user_name": "山田 花子", "message": "別件です",
                                  "user_mask_email": "same@pc.fw.rakuten.ne.jp"})
    poller.poll_account(db.session.get(MallAccount, account.id))
    send(smtp_in, reply_to(original, "どちらへの返信？", thread=False))
    (mail,) = mails()
    assert mail.state == "bounced" and "2件" in mail.problem and "スレッドの中で返信" in mail.problem
    assert db.session.query(ReplyJob).count() == 0

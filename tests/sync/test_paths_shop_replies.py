"""Shop replies seen on the mall (issue 6 §5): a reply the shop wrote in the mall's back office is
delivered into the customer's thread and marked as the shop's; a reply mallbridge posted itself
is not mailed back. End to end against the in-process fake mall and the real reply queue."""
import email
from email import policy

from sqlalchemy import select

from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import mailer, own_replies, poller
from sync.fake_mall import world
from sync.models import InboundMessage, MallAccount
from sync.replies import post
from sync.replies import queue as reply_queue
from tests.sync.helpers import add, deliver_rakuten, deliver_yahoo, posted, yahoo_account

OWN_TEXT = "お問い合わせありがとうございます。\n在庫ございます。"
DIRECT_TEXT = "ストアの管理画面から追記です。\n本日発送いたしました。"


def _poll(account_id):
    return poller.poll_account(db.session.get(MallAccount, account_id))


def _mails_after(last_id):
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > last_id).order_by(OutboxMessage.id))
    return [email.message_from_bytes(r.raw, policy=policy.default) for r in rows]


def _last_outbox_id():
    return db.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0


def _text(mail):
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _row(account_id, inquiry_id, message_id):
    db.session.expire_all()
    return db.session.scalar(select(InboundMessage).where(
        InboundMessage.account_id == account_id, InboundMessage.inquiry_id == inquiry_id,
        InboundMessage.message_id == str(message_id)))


def _post_through_mallbridge(account_id, inquiry_id, text):
    """The reply path as the helpdesk uses it: queue the reply, then one `sync run` pass posts it."""
    reply_queue.enqueue_reply(account_id, inquiry_id, text)
    db.session.commit()
    counts = post.run_pass()
    assert counts["posted"] == 1, counts


def _assert_shop_mail(mail, account, first_mail, text):
    """A shop message: in the customer's thread, from the shop, marked as the shop's in subject and body."""
    assert str(mail["Subject"]).startswith("Re: " + mailer.SHOP_MARK)
    assert mail["In-Reply-To"] == first_mail["Message-ID"]
    assert first_mail["Message-ID"] in mail["References"]
    assert mail["X-Mallbridge-Sender"] == "shop"
    assert mail["From"].addresses[0].display_name == account.shop.name
    body = _text(mail)
    assert body.startswith(mailer.SHOP_MARK) and text in body
    assert "差出人: 店舗" in body


def test_yahoo_seller_reply_made_on_store_creator_is_found_by_the_seller_query(sync_app, mall, caplog):
    """A reply the store wrote on Yahoo! to an older topic, behind a newer unchanged topic, is found by the
    sellerPostTime query and threaded under that topic, marked as the shop's."""
    older = add(mall, world.add_topic, {"title": "在庫について", "body": "在庫ありますか", "days_ago": 2})
    add(mall, world.add_topic, {"title": "配送について", "body": "いつ届きますか", "days_ago": 1})
    account = yahoo_account()
    assert _poll(account.id).new_messages == 2  # the backfill
    (first_mail,) = [m for m in _mails_after(0) if m["X-Mallbridge-Inquiry"] == older["topicId"]]
    last = _last_outbox_id()
    add(mall, world.add_yahoo_message, older["topicId"], {"from": "seller", "body": DIRECT_TEXT})
    caplog.clear()
    result = _poll(account.id)
    assert any("dateType=sellerPostTime" in r.getMessage() for r in caplog.records)
    assert result.error is None and result.new_messages == 1
    (mail,) = _mails_after(last)
    account = db.session.get(MallAccount, account.id)
    _assert_shop_mail(mail, account, first_mail, DIRECT_TEXT)
    row = _row(account.id, older["topicId"], 2)
    assert row.sender_kind == "shop" and row.delivered and row.skip_reason is None
    assert _poll(account.id).new_messages == 0  # seen once, never again


def test_yahoo_seller_reply_on_a_topic_the_backfill_skipped_makes_no_mail(sync_app, mall):
    """A store reply on an old topic that the backfill did not deliver (behind newer topics) starts no thread."""
    from plugin import settings

    settings.set_value("sync.backfill_days", 30, actor="test")
    ancient = add(mall, world.add_topic, {"title": "古い質問", "days_ago": 45})
    add(mall, world.add_topic, {"title": "新しい質問", "days_ago": 1})
    account = yahoo_account()
    assert _poll(account.id).new_messages == 1
    add(mall, world.add_yahoo_message, ancient["topicId"], {"from": "seller", "body": DIRECT_TEXT})
    assert _poll(account.id).new_messages == 0
    assert _row(account.id, ancient["topicId"], 2) is None


def test_rakuten_own_reply_is_skipped_and_direct_rms_reply_is_delivered(sync_app, mall):
    """R-Messe: the reply mallbridge posted is recorded but not mailed back; a reply written on RMS is mailed,
    threaded and marked as the shop's."""
    account, first_mail, number = deliver_rakuten(mall, days_ago=0.5)
    _post_through_mallbridge(account.id, number, OWN_TEXT)
    (post,) = posted(mall)
    assert post["message"] == OWN_TEXT
    last = _last_outbox_id()
    add(mall, world.add_rakuten_message, number, {"from": "merchant", "message": DIRECT_TEXT})
    result = _poll(account.id)
    assert result.error is None and result.new_messages == 1
    (mail,) = _mails_after(last)
    account = db.session.get(MallAccount, account.id)
    _assert_shop_mail(mail, account, first_mail, DIRECT_TEXT)
    own = _row(account.id, number, 0)
    assert own.sender_kind == "shop" and own.skip_reason == "sent via mallbridge" and own.outbox_id is None
    direct = _row(account.id, number, 1)
    assert direct.sender_kind == "shop" and direct.skip_reason is None and direct.outbox_id is not None


def test_yahoo_own_reply_is_skipped_and_direct_reply_is_delivered(sync_app, mall):
    """Yahoo!: the reply mallbridge posted is not mailed back; one the store wrote on Store Creator Pro is."""
    account, first_mail, topic_id = deliver_yahoo(mall, days_ago=0.5)
    _post_through_mallbridge(account.id, topic_id, OWN_TEXT)
    (post,) = posted(mall)
    assert post["inquiry"] == topic_id
    last = _last_outbox_id()
    add(mall, world.add_yahoo_message, topic_id, {"from": "seller", "body": DIRECT_TEXT})
    result = _poll(account.id)
    assert result.error is None and result.new_messages == 1
    (mail,) = _mails_after(last)
    account = db.session.get(MallAccount, account.id)
    _assert_shop_mail(mail, account, first_mail, DIRECT_TEXT)
    assert _row(account.id, topic_id, 2).skip_reason == "sent via mallbridge"
    assert _row(account.id, topic_id, 3).skip_reason is None


def test_same_text_posted_twice_only_the_mallbridge_copy_is_skipped(sync_app, mall):
    """If the shop also types the very text mallbridge posted on RMS, only one copy is skipped: the other is mailed."""
    account, _first, number = deliver_rakuten(mall, days_ago=0.5)
    _post_through_mallbridge(account.id, number, OWN_TEXT)
    add(mall, world.add_rakuten_message, number, {"from": "merchant", "message": OWN_TEXT})
    last = _last_outbox_id()
    assert _poll(account.id).new_messages == 1
    (mail,) = _mails_after(last)
    assert mailer.SHOP_MARK in str(mail["Subject"])


def test_own_reply_is_skipped_when_the_mall_changes_line_endings(sync_app, mall):
    """A mallbridge reply the mall hands back with CRLF and trailing spaces is still recognised as ours."""
    account, _first, number = deliver_rakuten(mall, days_ago=0.5)
    own_replies.record(account.id, number, "一行目\n二行目")
    db.session.commit()
    add(mall, world.add_rakuten_message, number, {"from": "merchant", "message": "一行目  \r\n二行目\r\n"})
    assert _poll(account.id).new_messages == 0
    assert _row(account.id, number, 0).skip_reason == "sent via mallbridge"

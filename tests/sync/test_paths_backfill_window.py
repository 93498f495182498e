"""History older than the first connect's backfill window is never mailed live, whichever later
pass finds it (the Rakuten 60-day re-scan, a Yahoo! store whose newest topic is older)."""
from sqlalchemy import select

from plugin import settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import poller
from sync.fake_mall import world
from sync.fake_mall.seed import DEMO_RAKUTEN
from sync.models import MallAccount
from tests.sync.helpers import add, rakuten_account, yahoo_account


def _poll(account_id):
    return poller.poll_account(db.session.get(MallAccount, account_id))


def _states():
    return [row.state for row in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_rakuten_inquiry_older_than_a_short_backfill_is_not_mailed_live(sync_app, mall):
    """With a 30-day backfill, a 45-day-old inquiry is neither staged nor mailed on the next pass."""
    settings.set_value("sync.backfill_days", 30, actor="test")
    add(mall, world.add_inquiry, {"shop_id": DEMO_RAKUTEN["shop_id"], "days_ago": 45, "message": "古い問い合わせ"})
    account = rakuten_account()
    assert _poll(account.id).new_messages == 0
    _poll(account.id)
    assert _states() == []


def test_yahoo_topic_older_than_the_backfill_is_not_mailed_live(sync_app, mall):
    """A store whose only topic is older than the backfill window gets no mail for it on later passes."""
    settings.set_value("sync.backfill_days", 30, actor="test")
    add(mall, world.add_topic, {"title": "古い質問", "days_ago": 45})
    account = yahoo_account()
    assert _poll(account.id).new_messages == 0
    _poll(account.id)
    assert _states() == []


def test_follow_up_on_an_inquiry_older_than_the_backfill_is_mailed(sync_app, mall):
    """A customer's new message on an inquiry older than the backfill window is mailed; its old history is not."""
    settings.set_value("sync.backfill_days", 30, actor="test")
    inq = add(mall, world.add_inquiry, {"shop_id": DEMO_RAKUTEN["shop_id"], "days_ago": 45, "message": "古い問い合わせ"})
    account = rakuten_account()
    _poll(account.id)
    _poll(account.id)
    add(mall, world.add_rakuten_message, inq["inquiryNumber"], {"message": "その後どうなりましたか"})
    db.session.get(MallAccount, account.id).next_poll_at = None
    assert _poll(account.id).new_messages == 1
    assert _states() == ["queued"]


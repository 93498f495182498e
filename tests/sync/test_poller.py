"""End-to-end poller tests against the in-process fake mall, the real outbox and an aiosmtpd sink."""
import pytest
from sqlalchemy import func, select

from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import poller
from sync.fake_mall import world
from sync.fake_mall.seed import DEMO_RAKUTEN
from sync.models import InboundMessage, MallAccount, SyncCursor
from tests.sync.helpers import INBOX, add, rakuten_account, yahoo_account

SHOP = DEMO_RAKUTEN["shop_id"]


@pytest.fixture(autouse=True)
def _never_sleep(slept):
    """Every test here records the poller's retry waits instead of sleeping (the `slept` fixture in conftest.py)."""
    return slept


def _outbox(state=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(db.session.scalars(query))


def _poll(account):
    return poller.poll_account(db.session.get(MallAccount, account.id))


def test_backfill_is_staged_released_delivered_and_threaded(sync_app, mall, smtp_sink, runner):
    """First connect stages the backfill; after release the outbox delivers threaded mails to the inbox."""
    inq = add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "山田 花子", "item_name": "有機緑茶 100g",
                                        "days_ago": 3, "message": "在庫はありますか？\n10袋ほしいです。"})
    add(mall, world.add_rakuten_message, inq["inquiryNumber"], {"days_ago": 1, "message": "追加の質問です"})
    account = rakuten_account()
    result = _poll(account)
    assert result.error is None and result.new_messages == 2
    staged = _outbox("staged")
    assert len(staged) == 2
    account = db.session.get(MallAccount, account.id)
    assert account.backfilled_at is not None and account.backfill_done == account.backfill_total == 1
    assert runner.invoke(args=["outbox", "release", "--all"]).exit_code == 0
    out = runner.invoke(args=["outbox", "run", "--once"])
    assert out.exit_code == 0, out.output
    assert len(smtp_sink.messages) == 2
    (rcpt1, first), (rcpt2, second) = smtp_sink.parsed()
    assert rcpt1 == [INBOX] and rcpt2 == [INBOX]
    number = inq["inquiryNumber"]
    assert first["Message-ID"] == f"<rakuten.{SHOP}.{number}.q@reply.localhost>"
    assert str(first["Subject"]) == f"【楽天】商品問い合わせ 有機緑茶 100g [{number}]"
    assert str(second["Subject"]) == f"Re: 【楽天】商品問い合わせ 有機緑茶 100g [{number}]"
    assert second["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in second["References"]
    assert first["X-Mallbridge-Inquiry"] == number and first["X-Mallbridge-Mall"] == "rakuten"
    assert "在庫はありますか？\n10袋ほしいです。" in first.get_body().get_content().replace("\r\n", "\n")
    assert first["Reply-To"].addresses[0].addr_spec.startswith("r+r")
    assert first["From"].addresses[0].display_name == "山田 花子"


def test_fake_mall_list_carries_every_message_so_no_detail_is_read(sync_app, mall):
    """The fake mall lists full inquiry objects (docs/mall-apis.md §1.5): a new inquiry with a follow-up is delivered
    from the list alone; a fault armed on the detail endpoint is never reached."""
    inq = add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 2, "message": "一通目"})
    add(mall, world.add_rakuten_message, inq["inquiryNumber"], {"days_ago": 1, "message": "二通目"})
    with mall.state.lock:
        fault = mall.state.add_fault("status", 5, "rakuten", "/inquirymng-api/inquiry/", 500)
    result = _poll(rakuten_account())
    assert result.error is None and result.new_messages == 2
    assert fault["count"] == 5 and fault in mall.state.faults


def test_repoll_delivers_nothing_new(sync_app, mall):
    """A second pass over unchanged inquiries creates no mail and no rows."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 2})
    account = rakuten_account()
    _poll(account)
    before = len(_outbox())
    result = _poll(account)
    assert result.error is None and result.new_messages == 0
    assert len(_outbox()) == before == 1


def test_follow_up_on_40_day_old_inquiry_is_found_and_queued(sync_app, mall):
    """A customer's new message on an inquiry created 40 days ago is found by the 60-day re-scan and queued (not staged)."""
    old = add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 40, "message": "古い問い合わせ"})
    account = rakuten_account()
    _poll(account)
    add(mall, world.add_rakuten_message, old["inquiryNumber"], {"message": "その後どうなりましたか？"})
    result = _poll(account)
    assert result.new_messages == 1
    queued = _outbox("queued")
    assert len(queued) == 1 and queued[0].subject.startswith("Re: ")
    assert b"In-Reply-To" in queued[0].raw


def test_expired_key_pauses_then_renew_catches_up(sync_app, mall, runner):
    """An expired license key pauses the account with a Japanese status; `accounts renew` resumes and catches up."""
    account = rakuten_account()
    _poll(account)
    with mall.state.lock:
        mall.state.shops[SHOP].expires_at = mall.state.now() - 10
    add(mall, world.add_inquiry, {"shop_id": SHOP, "message": "期限切れ中の問い合わせ"})
    result = _poll(account)
    account = db.session.get(MallAccount, account.id)
    assert result.error and account.paused_reason == "auth"
    assert "ライセンスキー" in account.last_error_ja
    assert poller.due_accounts() == []
    assert "paused (auth)" in runner.invoke(args=["accounts", "list"]).output
    new_key = "SL391234_renewedKey"
    with mall.state.lock:
        mall.state.shops[SHOP].license_key = new_key
        mall.state.shops[SHOP].expires_at = mall.state.now() + 90 * 86400
    out = runner.invoke(args=["accounts", "renew", str(account.id), "--license-key", new_key])
    assert out.exit_code == 0, out.output
    result = poller.poll_due()
    assert [r.new_messages for r in result] == [1]
    assert db.session.get(MallAccount, account.id).paused_reason is None


def test_server_errors_back_off_and_keep_cursor(sync_app, mall):
    """500s that outlast the in-pass retries record a Japanese error, push the next poll out, and
    deliver once the mall is back."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 1})
    account = rakuten_account()
    with mall.state.lock:
        mall.state.add_fault("status", 20, "rakuten", None, 500, None, None, None)
    result = _poll(account)
    account = db.session.get(MallAccount, account.id)
    assert result.error and account.failures == 1 and account.next_poll_at > account.last_poll_at
    assert "一時的" in account.last_error_ja
    assert poller.due_accounts() == []
    with mall.state.lock:
        mall.state.faults.clear()
    result = _poll(account)
    assert result.error is None and result.new_messages == 1
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 1


def test_rate_limited_honours_retry_after(sync_app, mall):
    """A 429 with Retry-After schedules the next poll at least that far ahead."""
    account = rakuten_account()
    with mall.state.lock:
        mall.state.add_fault("status", 5, "rakuten", None, 429, None, 120, None)
    _poll(account)
    account = db.session.get(MallAccount, account.id)
    assert (account.next_poll_at - account.last_poll_at).total_seconds() >= 120


def test_short_outage_is_retried_inside_the_pass(sync_app, mall, slept):
    """Two 500s are retried within the pass (waits 1 s, 2 s): no error, the inquiry is delivered at once."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 1})
    account = rakuten_account()
    _poll(account)
    add(mall, world.add_inquiry, {"shop_id": SHOP, "message": "新しい問い合わせ"})
    with mall.state.lock:
        mall.state.add_fault("status", 2, "rakuten", None, 500, None, None, None)
    result = _poll(account)
    assert result.error is None and result.new_messages == 1
    assert slept == [1.0, 2.0]
    assert db.session.get(MallAccount, account.id).failures == 0


def test_429_inside_a_pass_waits_retry_after_and_goes_on(sync_app, mall, slept):
    """A burst of 429s with Retry-After 1 no longer ends the pass: it waits and delivers everything."""
    for i in range(3):
        add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 1 + i})
    account = rakuten_account()
    with mall.state.lock:
        mall.state.add_fault("status", 3, "rakuten", None, 429, None, 1, None)
    result = _poll(account)
    assert result.error is None and result.new_messages == 3
    assert slept == [1.0, 1.0, 1.0]


def test_long_429_mid_pass_keeps_cursor_before_undelivered_inquiries(sync_app, mall, slept):
    """A 429 with a long Retry-After half-way through a pass ends it: what was committed stays, the cursor
    does not move, and the next pass delivers the rest exactly once."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 1, "message": "新しい方"})
    add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 2, "message": "添付つき",
                                  "attachments": [{"label": "photo.png", "text": "png"}]})
    add(mall, world.add_inquiry, {"shop_id": SHOP, "days_ago": 3, "message": "古い方"})
    account = rakuten_account()
    with mall.state.lock:
        mall.state.add_fault("status", 1, "rakuten", "/attachment", 429, None, 120, None)
    result = _poll(account)
    account = db.session.get(MallAccount, account.id)
    assert result.error and (account.next_poll_at - account.last_poll_at).total_seconds() >= 120
    assert slept == []
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 1  # the newest, before the 429
    cursor = db.session.scalar(select(SyncCursor).where(SyncCursor.account_id == account.id))
    assert cursor.scanned_until is None and account.backfilled_at is None
    result = _poll(account)
    assert result.error is None and result.new_messages == 2
    assert db.session.scalar(select(func.count(InboundMessage.id))) == 3
    assert len(_outbox()) == 3


def test_yahoo_token_refresh_and_paging_past_20_topics(sync_app, mall):
    """A Yahoo! account refreshes its token, pages past 20 topics, and keeps the access token for later."""
    for i in range(23):
        add(mall, world.add_topic, {"title": f"質問{i}", "body": f"本文{i}", "days_ago": 1 + i / 100})
    account = yahoo_account()
    result = _poll(account)
    assert result.error is None and result.new_messages == 23
    account = db.session.get(MallAccount, account.id)
    assert account.access_token and account.access_token_expires_at
    assert _poll(account).new_messages == 0


def test_cr_lf_in_names_never_reach_headers(sync_app, mall):
    """A customer name and item name with CR/LF become one clean header line."""
    add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "悪意\r\nBcc: x@evil.example",
                                  "item_name": "お茶\r\nX-Injected: 1", "days_ago": 1})
    account = rakuten_account()
    _poll(account)
    raw = _outbox()[0].raw
    assert b"\nBcc:" not in raw and b"\nX-Injected" not in raw

"""R-Messe conversations per month per Rakuten shop with the estimated monthly fee (issue 6 §9):
100 conversations included, ¥10 each after, the plan's base price configurable, months in JST."""
import datetime as dt

import pytest

from plugin import settings
from plugin.extensions import db
from plugin.invalid import InvalidInput
from sync import accounts, status
from sync.models import MallInquiry
from tests.sync.helpers import rakuten_account, yahoo_account


def _inquiries(account, started_at_utc, n):
    """`n` inquiries of the account started at one naive-UTC moment."""
    base = db.session.query(MallInquiry).count()
    for i in range(n):
        db.session.add(MallInquiry(account_id=account.id, inquiry_id=f"inq-{base + i}", started_at=started_at_utc))
    db.session.commit()


def _months(account):
    return {a.id: rows for a, rows in status.rmesse_months()}[account.id]


@pytest.mark.parametrize("conversations, fee", [(0, 0), (100, 0), (101, 10), (250, 1500)])
def test_fee_with_the_default_base_price(app, conversations, fee):
    """With no base price set: ¥0 up to 100 conversations, then ¥10 for each one beyond."""
    assert status.fee(conversations) == fee


@pytest.mark.parametrize("conversations, fee", [(0, 3000), (100, 3000), (101, 3010), (250, 4500)])
def test_fee_with_a_base_price_from_the_settings(app, conversations, fee):
    """The plan's base price set on the settings page is added to every month's estimate."""
    settings.set_value("sync.rmesse_base_price", 3000, actor="test")
    assert status.fee(conversations) == fee


def test_base_price_cannot_be_negative(app):
    """A negative base price is refused with a Japanese message."""
    with pytest.raises(InvalidInput) as err:
        settings.set_value("sync.rmesse_base_price", -1, actor="test")
    assert "0以上" in err.value.errors["sync.rmesse_base_price"]
    assert status.fee(0) == 0


def test_months_are_split_at_midnight_japan_time(app, clock_pinned):
    """An inquiry at 23:59 JST on 31 October counts for October; one at 00:00 JST on 1 November for November."""
    account = rakuten_account()
    _inquiries(account, dt.datetime(2026, 10, 31, 14, 59, 59), 1)  # 23:59:59 JST, 31 Oct
    _inquiries(account, dt.datetime(2026, 10, 31, 15, 0, 0), 2)  # 00:00 JST, 1 Nov
    rows = _months(account)
    assert [month for month, _, _ in rows] == ["2026-11", "2026-10", "2026-09", "2026-08", "2026-07", "2026-06"]
    assert rows[0][1:] == (2, 0) and rows[1][1:] == (1, 0)
    assert all(n == 0 for _, n, _ in rows[2:])


def test_month_of_now_is_the_japan_month(app, clock_pinned):
    """At 16:00 UTC on 30 November it is already 1 December in Japan: December is the newest month."""
    clock_pinned.pin(dt.datetime(2026, 11, 30, 16, 0, 0))
    account = rakuten_account()
    _inquiries(account, dt.datetime(2026, 11, 30, 15, 30, 0), 1)  # 00:30 JST, 1 Dec
    rows = _months(account)
    assert rows[0][:2] == ("2026-12", 1) and rows[1][:2] == ("2026-11", 0)


def test_year_boundary(app, clock_pinned):
    """January's table continues with December of the year before."""
    clock_pinned.pin(dt.datetime(2027, 1, 10, 3, 0, 0))
    account = rakuten_account()
    _inquiries(account, dt.datetime(2026, 12, 31, 14, 0, 0), 3)  # 23:00 JST, 31 Dec
    rows = _months(account)
    assert [m for m, _, _ in rows[:3]] == ["2027-01", "2026-12", "2026-11"]
    assert rows[1][1] == 3


@pytest.mark.parametrize("conversations, fee", [(0, 0), (100, 0), (101, 10), (250, 1500)])
def test_month_rows_carry_the_fee_at_each_step(app, clock_pinned, conversations, fee):
    """The table's fee column follows the count: 0, 100, 101 and 250 conversations in one month."""
    account = rakuten_account()
    _inquiries(account, dt.datetime(2026, 11, 10, 0, 0, 0), conversations)
    assert _months(account)[0] == ("2026-11", conversations, fee)


def test_custom_base_price_in_the_month_rows(app, clock_pinned):
    """A base price of ¥5,000 with 101 conversations shows ¥5,010 for the month and ¥5,000 for empty months."""
    settings.set_value("sync.rmesse_base_price", 5000, actor="test")
    account = rakuten_account()
    _inquiries(account, dt.datetime(2026, 11, 1, 0, 0, 0), 101)
    rows = _months(account)
    assert rows[0] == ("2026-11", 101, 5010) and rows[1] == ("2026-10", 0, 5000)


def test_counted_per_rakuten_shop_and_yahoo_is_left_out(app, clock_pinned):
    """Each Rakuten account has its own count; Yahoo! stores and inquiries without a start time are not counted."""
    first = rakuten_account()
    second = accounts.add("rakuten", "default", {"rakuten_shop_id": "500001", "service_secret": "s",
                                                 "license_key": "k"})
    db.session.commit()
    store = yahoo_account()
    _inquiries(first, dt.datetime(2026, 11, 5), 120)
    _inquiries(second, dt.datetime(2026, 11, 5), 3)
    _inquiries(store, dt.datetime(2026, 11, 5), 500)
    _inquiries(first, None, 7)
    by_account = {a.id: rows for a, rows in status.rmesse_months()}
    assert set(by_account) == {first.id, second.id}
    assert by_account[first.id][0] == ("2026-11", 120, 200)
    assert by_account[second.id][0] == ("2026-11", 3, 0)


def test_admin_page_shows_conversations_and_fee(app, auth, clock_pinned):
    """The mall accounts page lists each Rakuten shop's months (「2026年11月」) with the count and the fee in yen."""
    settings.set_value("sync.rmesse_base_price", 3000, actor="test")
    account = rakuten_account()
    _inquiries(account, dt.datetime(2026, 11, 5), 250)
    auth.login("admin@example.jp", "admin-password-1")
    page = auth.client.get("/admin/mall-accounts").get_data(as_text=True)
    assert "R-Messe 会話数と月額の目安" in page
    assert "<td>2026年11月</td>" in page and "<td>2026年6月</td>" in page and "<td>2026-11</td>" not in page
    assert ">250<" in page and "¥4,500" in page and "¥3,000" in page

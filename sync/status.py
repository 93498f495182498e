"""Numbers for the sync-status page: per-account status and R-Messe conversations per month."""
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from plugin import clock
from plugin.extensions import db
from sync import accounts, expiry, malls, options
from sync.models import InboundMessage, MallAccount, MallInquiry

RMESSE_INCLUDED = 100  # conversations included in the plan each month
RMESSE_UNIT_PRICE = 10  # yen per conversation beyond that


@dataclass
class AccountRow:
    """What the status page shows for one account."""

    account: MallAccount
    state: str
    today: int
    backfill: str | None
    expiry: str | None = None  # e.g. 2026-12-11 23:59（あと10日）, counted like the reminders


def today_start_utc():
    """Midnight today in Japan as stored naive UTC."""
    today = clock.to_jst(clock.now()).date()
    return clock.from_jst_naive(dt.datetime.combine(today, dt.time()))


def state_ja(account):
    """The account's state in Japanese."""
    if not account.enabled:
        return "無効"
    if account.paused_reason == "auth":
        return "停止中（認証エラー：キーの更新が必要です）"
    if account.last_error:
        return "エラー（自動で再試行します）"
    if account.backfilled_at is None:
        return "初回取り込み中" if account.backfill_total is not None else "未接続"
    return "正常"


def account_row(account, today_counts=None):
    """One AccountRow."""
    if today_counts is None:
        today_counts = messages_today()
    backfill = None
    if account.backfilled_at is None and account.backfill_total is not None:
        backfill = f"{account.backfill_done or 0} / {account.backfill_total}"
    expires = accounts.expiry_of(account)
    when = None
    if expires is not None:
        when = f"{clock.to_jst(expires[1]):%Y-%m-%d %H:%M}（{expiry.left_short(expires[1], clock.now())}）"
    return AccountRow(account, state_ja(account), today_counts.get(account.id, 0), backfill, when)


def messages_today():
    """{account_id: mall messages received since midnight JST}."""
    rows = db.session.execute(select(InboundMessage.account_id, func.count(InboundMessage.id))
                              .where(InboundMessage.created_at >= today_start_utc())
                              .group_by(InboundMessage.account_id)).all()
    return dict(rows)


def account_rows():
    """AccountRows for every account."""
    counts = messages_today()
    return [account_row(a, counts) for a in accounts.all_accounts()]


def fee(conversations, base_price=None):
    """Estimated monthly R-Messe fee: base price + ¥10 per conversation beyond the included 100."""
    base = options.get("rmesse_base_price") if base_price is None else base_price
    return base + max(conversations - RMESSE_INCLUDED, 0) * RMESSE_UNIT_PRICE


def rmesse_months(months=6):
    """[(account, [(YYYY-MM, conversations, fee)])] for accounts of malls that bill per conversation
    (R-Messe), newest month first.

    A conversation is an inquiry started that month (JST)."""
    result = []
    now_jst = clock.to_jst(clock.now())
    firsts = []
    year, month = now_jst.year, now_jst.month
    for _ in range(months):
        firsts.append(dt.datetime(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    billed = [name for name, adapter in malls.ADAPTERS.items() if adapter.bills_conversations]
    for account in db.session.scalars(select(MallAccount).where(MallAccount.mall.in_(billed))
                                      .order_by(MallAccount.id)):
        rows = []
        for i, first in enumerate(firsts):
            end = firsts[i - 1] if i else None
            query = select(func.count(MallInquiry.id)).where(
                MallInquiry.account_id == account.id, MallInquiry.started_at >= clock.from_jst_naive(first))
            if end is not None:
                query = query.where(MallInquiry.started_at < clock.from_jst_naive(end))
            n = db.session.scalar(query) or 0
            rows.append((first.strftime("%Y-%m"), n, fee(n)))
        result.append((account, rows))
    return result

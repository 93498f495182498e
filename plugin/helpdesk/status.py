"""What the dashboard, the helpdesk page and the CLI show about the address-book push."""
import dataclasses

from sqlalchemy import func, select

from lookups.models import Member
from plugin import clock
from plugin.extensions import db
from plugin.helpdesk import environments
from plugin.helpdesk import state as st
from plugin.helpdesk import target as targets
from plugin.helpdesk.models import PushState
from sync.models import MallInquiry


@dataclasses.dataclass
class PushStatus:
    """The push into the active environment's address book, for display."""

    enabled: bool
    state_ja: str
    book_id: int | None = None
    done: int = 0  # members and mall inquiries the current sweep has been through
    total: int = 0
    ok: int = 0
    refused: int = 0
    refused_rows: list = dataclasses.field(default_factory=list)
    last_error_ja: str | None = None
    last_error_at: object = None
    last_pass_at: object = None
    warning: str | None = None

    @property
    def progress_text(self) -> str:
        """`n / N` of the current sweep."""
        return f"{self.done:,} / {self.total:,}"


def summary(*, progress: bool = True) -> PushStatus:
    """The push status of the active environment (never raises for missing settings);
    progress=False skips the counting (dashboard warnings)."""
    env = environments.active_environment()
    try:
        target = targets.current()
    except targets.NotReady as exc:
        warning = exc.message_ja if env.push else None
        return PushStatus(enabled=False, state_ja="オフ" if not env.push else "設定が未完了", book_id=env.address_book_id,
                          warning=warning)
    state = db.session.scalar(select(PushState).where(PushState.target == target.key))
    total = _count(Member.id) + _count(MallInquiry.id) if progress else 0
    if state is None:
        return PushStatus(enabled=True, state_ja="開始待ち", book_id=target.book_id, total=total)
    counts = st.counts(target.key)
    if state.sweep_done_at is not None or not progress:
        done = total
    else:
        done = _count(Member.id, state.member_cursor) + _count(MallInquiry.id, state.mall_cursor)
    result = PushStatus(enabled=True, state_ja=_state_ja(state), book_id=target.book_id, done=min(done, total),
                        total=total, ok=counts.get("ok", 0), refused=counts.get("refused", 0),
                        refused_rows=st.refused(target.key, 5), last_error_ja=state.last_error_ja,
                        last_error_at=state.last_error_at, last_pass_at=state.last_pass_at)
    if state.paused_reason:
        result.warning = state.last_error_ja
    elif result.refused:
        result.warning = (f"ヘルプデスクのアドレス帳が受け付けなかったお客様が{result.refused:,}件あります"
                          "（ダッシュボードの「ヘルプデスクのアドレス帳」で確認できます）。")
    elif state.failures and state.failures >= 3:
        result.warning = state.last_error_ja
    return result


def _count(column, up_to=None) -> int:
    query = select(func.count(column))
    if up_to is not None:
        query = query.where(column <= up_to)
    return db.session.scalar(query) or 0


def _state_ja(state) -> str:
    if state.paused_reason == "auth":
        return "停止中（APIトークンが無効です）"
    if state.paused_reason == "book":
        return "停止中（アドレス帳が見つかりません）"
    if state.failures:
        return "エラー（自動で再試行します）"
    if state.lease_until and state.lease_until > clock.now():
        return "送信中"
    if state.sweep_done_at is not None:
        return "最新"
    return "送信待ち"

"""The push pass: members and mall customers into the active environment's address book.

`run_pass()` is what `mallbridge helpdesk push` repeats and what `sync run` calls after each poll
(`pass_for_sync()`, bounded in time, never raising). One process at a time pushes into a book
(a lease in the state row); every process shares the per-token rate limit. Per chunk: new
contacts are first written as `pending` and committed, then sent (plugin.helpdesk.senders, .send),
then their results and the chunk's cursor move are committed together (plugin.helpdesk.chunks). A crash in between makes
the next pass redo the chunk: unchanged contacts are skipped by their content hash, a `pending`
one is looked up by system_id1 before it is created, so nothing is lost and nothing doubled.

What stops a pass: a 401 pauses the push until another token is saved; an unknown address book
pauses it until the book exists or another token or book is set; the rate limit ends it when the
wait is longer than the caller allows; a helpdesk that stays down after the client's retries ends
it with a growing pause before the next pass. A contact the helpdesk refuses (400) is reported
and the others go on.
"""
import dataclasses
import datetime as dt
import logging
import time

from plugin import clock, worker
from plugin.extensions import db
from plugin.helpdesk import chunks, work
from plugin.helpdesk import state as st
from plugin.helpdesk import target as targets
from plugin.helpdesk.api import AuthFailed, HelpdeskError, Interrupted, NotFound, RateLimited
from plugin.helpdesk.customers import Customers
from plugin.helpdesk.senders import THREADS, Senders
from plugin.retry import backoff

log = logging.getLogger(f"mallbridge.{__name__}")
# Contacts per chunk with / without the rate limit. A stop signal is honoured between chunks: 250
# contacts take about 0.4 s at the unlimited rate (bench/README.md, helpdesk), so SIGTERM ends a
# push within the 5 s every worker promises even on a loaded machine; 1000 could take longer.
CHUNK_LIMITED, CHUNK_UNLIMITED = 5, 250
RENEW_SECONDS = 20.0  # the lease (state.LEASE_SECONDS) is renewed this often during a pass
BOOK_RECHECK = dt.timedelta(minutes=10)  # while paused for an unknown book, look again this often
MAX_PAUSE = 600.0  # seconds between passes while the helpdesk is down
SYNC_BUDGET, SYNC_MAX_WAIT = 20.0, 5.0  # what `sync run` spends on a pass


@dataclasses.dataclass
class PassReport:
    """What a pass did. status: done | more | limited | off | paused | waiting | busy | error | stopped."""

    status: str
    message_ja: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list = dataclasses.field(default_factory=list)  # (label, message)
    requests: int = 0

    @property
    def sent(self) -> int:
        """Contacts written into the book."""
        return self.created + self.updated

    @property
    def more(self) -> bool:
        """Work is left that the next pass can do at once."""
        return self.status in ("more", "limited")


def run_pass(*, budget: float | None = 60.0, max_wait: float = 65.0, full: bool = False,
             sleep=time.sleep, monotonic=time.monotonic, should_stop=lambda: False) -> PassReport:
    """One pass over the work (for at most `budget` seconds); `full` re-sends everything. A stopping
    worker (`should_stop`) ends the pass between chunks with status `stopped`."""
    try:
        target = targets.current()
    except targets.NotReady as exc:
        return PassReport("off", exc.message_ja)
    state = st.load(target.key)
    if state.paused_reason and state.paused_token_fp != target.token_fp:
        log.info("helpdesk push: a new token was saved, resuming")
        st.unpause(state)
    if state.paused_reason and not (state.paused_reason == "book" and _recheck_due(state)):
        return PassReport("paused", state.last_error_ja or "")
    if state.next_pass_at and state.next_pass_at > clock.now():
        return PassReport("waiting", state.last_error_ja or "")
    if not st.take_lease(state):
        return PassReport("busy", "別のプロセスがアドレス帳に送信中です。")
    limited = bool(targets.rate_limit())
    senders = Senders(lambda: targets.api_for(target, max_wait=max_wait, sleep=sleep),
                      threads=1 if limited else THREADS)
    report = PassReport("done")
    try:
        if full:
            st.forget_hashes(target.key)
            work.restart_sweep(state)
        _check_book(senders.api(), target, state)
        _loop(senders, target, state, report, budget, monotonic, CHUNK_LIMITED if limited else CHUNK_UNLIMITED,
              should_stop)
        state.failures, state.next_pass_at, state.last_pass_at = 0, None, clock.now()
        db.session.commit()
    except AuthFailed as exc:
        db.session.rollback()
        st.pause(state, "auth", str(exc), "ヘルプデスクのAPIトークンが無効です（401）。アドレス帳への送信を止めています。"
                 "ヘルプデスクでトークンが削除・再発行されていないか確認し、管理 › ヘルプデスク環境で新しいトークンを"
                 "貼り直してください（保存すると自動で再開します）。", target.token_fp)
        report.status, report.message_ja = "paused", state.last_error_ja
    except _BookMissing as exc:
        db.session.rollback()
        st.pause(state, "book", str(exc), exc.message_ja, target.token_fp)
        report.status, report.message_ja = "paused", exc.message_ja
    except Interrupted:
        db.session.commit()
        report.status = "stopped"
    except RateLimited as exc:
        db.session.commit()
        report.status = "limited"
        report.message_ja = f"APIの呼び出し回数の上限（1分あたり60回）に達しました。{int(exc.wait) + 1}秒後に続けます。"
    except NotFound as exc:
        # Creating a contact found no book: it was deleted after the check. Check it again.
        db.session.rollback()
        state.book_checked_at = None
        _failed(state, exc, report)
    except HelpdeskError as exc:
        db.session.rollback()
        _failed(state, exc, report)
    finally:
        report.requests = senders.requests
        senders.close()
        st.release_lease(state)
    return report


class _BookMissing(Exception):
    def __init__(self, message, message_ja):
        super().__init__(message)
        self.message_ja = message_ja


def _recheck_due(state) -> bool:
    return state.book_checked_at is None or clock.now() - state.book_checked_at >= BOOK_RECHECK


def _check_book(api, target, state) -> None:
    """Make sure the address book exists for this token (once, and again while it did not)."""
    if state.book_checked_at is not None and not state.paused_reason:
        return
    state.book_checked_at = clock.now()
    db.session.commit()
    try:
        books = api.customer_groups()
    except NotFound:
        books = None  # a helpdesk without the listing: creating the first contact will tell
    if books is not None and target.book_id not in {_int(b.get("customer_group_id")) for b in books}:
        seen = "、".join(f"{b.get('customer_group_id')}「{b.get('name')}」" for b in books) or "なし"
        raise _BookMissing(f"address book {target.book_id} not visible",
                           f"アドレス帳ID {target.book_id} がヘルプデスクに見つかりません（このAPIトークンで見えるアドレス帳: "
                           f"{seen}）。管理 › ヘルプデスク環境でアドレス帳IDを確認してください。アドレス帳への送信を止めています。")
    if state.paused_reason:
        st.unpause(state)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _loop(senders, target, state, report, budget, monotonic, size, should_stop) -> None:
    deadline = None if budget is None else monotonic() + budget
    customers = Customers(db.session)
    renewed = monotonic()
    while True:
        if should_stop():
            raise Interrupted()
        if monotonic() - renewed >= RENEW_SECONDS:
            st.take_lease(state)
            renewed = monotonic()
        chunk = work.next_chunk(state, customers, size)
        if chunk is None:
            return
        chunks.push_chunk(senders, target, chunk.contacts, report)
        chunk.advance(state)
        db.session.commit()
        if deadline is not None and monotonic() >= deadline:  # at least one chunk per pass: progress
            report.status = "more"
            return


def _failed(state, exc: HelpdeskError, report: PassReport) -> None:
    """The helpdesk is down or said something unexpected: note it, wait longer before the next pass."""
    state.failures = (state.failures or 0) + 1
    delay = backoff(state.failures, base=30.0, cap=MAX_PAUSE)
    state.next_pass_at = clock.now() + dt.timedelta(seconds=delay)
    message_ja = explain(exc) + f"{int(delay)}秒後にもう一度送ります。"
    st.note_error(state, str(exc), message_ja)
    log.warning("helpdesk push: %s (next pass in %ds)", exc, delay)
    report.status, report.message_ja = "error", message_ja


def explain(exc: HelpdeskError) -> str:
    """A Japanese sentence for an API failure (the dashboard and the CLI show it)."""
    if exc.status is None:
        return f"ヘルプデスクのAPIに接続できませんでした（{exc.message}）。"
    if exc.status == 503:
        return "ヘルプデスクがメンテナンス中です（503）。"
    if exc.status >= 500:
        return f"ヘルプデスクのAPIがエラーを返しました（{exc.status}）。"
    if exc.status == 404:
        return "ヘルプデスクのAPIが「見つかりません（404）」と答えました。アドレス帳IDとURLを確認します。"
    if exc.status == 415:
        return "ヘルプデスクのAPIが送信形式を受け付けませんでした（415）。mallbridge の不具合の可能性があります。"
    return f"ヘルプデスクのAPIから予期しない応答がありました（{exc.status}: {exc.message}）。"


def pass_for_sync(should_stop=lambda: False, sleep=time.sleep) -> PassReport | None:
    """The bounded pass `sync run` makes after each poll; it never raises: polling must go on. The
    worker's stop flag ends it between chunks and cuts its waits short (SIGTERM within seconds)."""
    try:
        report = run_pass(budget=SYNC_BUDGET, max_wait=SYNC_MAX_WAIT, sleep=worker.stoppable(sleep, should_stop, Interrupted),
                          should_stop=should_stop)
    except Exception:  # a bug here must not stop the mall side
        log.exception("helpdesk push: unexpected error")
        db.session.rollback()
        return None
    if report.sent or report.refused:
        log.info("helpdesk push: %d created, %d updated, %d refused", report.created, report.updated,
                 len(report.refused))
    return report

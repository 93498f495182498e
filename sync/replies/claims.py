"""The life of a stored reply mail around intake: stored raw, claimed for one attempt at a time
(the attempt is counted and committed before any work, so a crash counts too), released after a
failure, quarantined after MAX_ATTEMPTS, and the admin's requeue and discard.

    received ──claim──▶ (leased) ──record──▶ accepted | bounced | dropped
        ▲                  │ failure / crash: lease freed or run out
        └── requeue ── quarantined (MAX_ATTEMPTS used) ──discard──▶ discarded
"""
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, update

from plugin import clock
from plugin.extensions import db
from sync.replies.models import ReplyMail

MAX_ATTEMPTS = 3
LEASE_SECONDS = 120  # intake of the largest allowed mail takes seconds; a crashed claim is retried after this
FREE_STATES = ("quarantined", "received")


@dataclass
class Claim:
    """A mail this process holds for one attempt."""

    id: int
    attempts: int
    raw: bytes
    rcpt: str
    mail_from: str | None


def store(raw: bytes, *, rcpt: str, mail_from: str | None = None, peer: str | None = None) -> int:
    """Write the raw mail before anything else (committed); returns the row id."""
    row = ReplyMail(raw=raw, size=len(raw), rcpt=rcpt[:512], mail_from=(mail_from or "")[:512] or None,
                    peer=(peer or "")[:255] or None, state="received", received_at=clock.now(), attempts=0)
    db.session.add(row)
    db.session.commit()
    return row.id


def _free(now):
    return or_(ReplyMail.lease_until.is_(None), ReplyMail.lease_until < now)


def claim(mail_id: int) -> Claim | None:
    """Count an attempt and lease the mail (committed); None when it is not free to process."""
    now = clock.now()
    row = db.session.execute(
        update(ReplyMail).where(ReplyMail.id == mail_id, ReplyMail.state == "received",
                                ReplyMail.attempts < MAX_ATTEMPTS, _free(now))
        .values(attempts=ReplyMail.attempts + 1, lease_until=now + dt.timedelta(seconds=LEASE_SECONDS))
        .returning(ReplyMail.attempts, ReplyMail.raw, ReplyMail.rcpt, ReplyMail.mail_from)
        .execution_options(synchronize_session=False)).first()
    db.session.commit()
    return Claim(mail_id, *row) if row is not None else None


def note_failure(held: Claim, exc: BaseException) -> None:
    """An attempt failed: free the lease and say so; the last allowed attempt quarantines it (committed)."""
    last = held.attempts >= MAX_ATTEMPTS
    problem = (f"取り込みに{held.attempts}回失敗したため隔離しました。内容を確認し、再処理するか破棄してください。"
               if last else f"取り込みに失敗しました（{held.attempts}回目）。自動で再試行します。")
    db.session.execute(update(ReplyMail).where(ReplyMail.id == held.id, ReplyMail.state == "received",
                                               ReplyMail.attempts == held.attempts)
                       .values(lease_until=None, state="quarantined" if last else "received",
                               processed_at=clock.now(), problem=f"{problem}（{type(exc).__name__}）")
                       .execution_options(synchronize_session=False))
    db.session.commit()


def quarantine_exhausted() -> int:
    """Mails whose every attempt crashed the process (lease run out, attempts used up) → quarantined."""
    now = clock.now()
    count = db.session.execute(
        update(ReplyMail).where(ReplyMail.state == "received", ReplyMail.attempts >= MAX_ATTEMPTS, _free(now))
        .values(state="quarantined", lease_until=None, processed_at=now,
                problem=f"取り込み中の異常終了が{MAX_ATTEMPTS}回続いたため隔離しました。内容を確認し、再処理するか破棄してください。")
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return count


def requeue(mail_id: int) -> bool:
    """A quarantined or stuck mail → received with a fresh attempt budget (not committed)."""
    count = db.session.execute(
        update(ReplyMail).where(ReplyMail.id == mail_id, ReplyMail.state.in_(FREE_STATES), _free(clock.now()))
        .values(state="received", attempts=0, lease_until=None, processed_at=None,
                problem="管理者が再処理に回しました。次の同期（sync run）で取り込みます。")
        .execution_options(synchronize_session=False)).rowcount
    return count == 1


def discard(mail_id: int) -> bool:
    """Give up on a quarantined or unprocessed mail, which is then never posted (not committed)."""
    count = db.session.execute(
        update(ReplyMail).where(ReplyMail.id == mail_id, ReplyMail.state.in_(FREE_STATES), _free(clock.now()))
        .values(state="discarded", lease_until=None, processed_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    return count == 1

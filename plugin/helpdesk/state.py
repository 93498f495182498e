"""The push state of one address book: lease, pause, errors and the stored contacts.

Every write here commits at once: the push never holds a database transaction open across an
API call (on SQLite that would also block the shared rate limit's own transaction).
"""
import datetime as dt
import os
import socket

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from lookups.models import Order
from plugin import clock
from plugin.extensions import db
from plugin.helpdesk.models import PushedContact, PushState
from sync.models import MallInquiry

LEASE_SECONDS = 90


def owner_name() -> str:
    """This process as a lease owner (host and pid, read when asked: workers may be forked)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def load(target_key: str) -> PushState:
    """The state row of a book, created on first use (changed members count from now on)."""
    state = db.session.scalar(select(PushState).where(PushState.target == target_key))
    if state is not None:
        return state
    # What exists now is the backlog (the sweep); only what comes after counts as new or changed.
    state = PushState(target=target_key, changed_since=clock.now(), changed_order_id=_max_id(Order),
                      inquiry_cursor=_max_id(MallInquiry))
    db.session.add(state)
    try:
        db.session.commit()
    except IntegrityError:  # another process created it at the same moment
        db.session.rollback()
    return db.session.scalar(select(PushState).where(PushState.target == target_key))


def _max_id(model) -> int:
    return db.session.scalar(select(func.max(model.id))) or 0


def take_lease(state: PushState, owner: str | None = None) -> bool:
    """Become the one process pushing into this book (or renew); False while another holds it."""
    owner = owner or owner_name()
    now = clock.now()
    taken = db.session.execute(
        update(PushState).where(PushState.id == state.id, or_(
            PushState.lease_owner.is_(None), PushState.lease_owner == owner, PushState.lease_until < now))
        .values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=LEASE_SECONDS))).rowcount
    db.session.commit()
    return bool(taken)


def release_lease(state: PushState, owner: str | None = None) -> None:
    """Let another process push at once."""
    owner = owner or owner_name()
    db.session.execute(update(PushState).where(PushState.id == state.id, PushState.lease_owner == owner)
                       .values(lease_owner=None, lease_until=None))
    db.session.commit()


def pause(state: PushState, reason: str, message: str, message_ja: str, token_fp: str | None) -> None:
    """Stop pushing until the cause is fixed (a new token, a valid address book)."""
    state.paused_reason, state.paused_token_fp = reason, token_fp
    note_error(state, message, message_ja)


def unpause(state: PushState) -> None:
    """Resume after the admin fixed what paused the push."""
    state.paused_reason = state.paused_token_fp = None
    state.failures = 0
    state.next_pass_at = None
    state.last_error = state.last_error_ja = None
    db.session.commit()


def note_error(state: PushState, message: str, message_ja: str) -> None:
    """Keep the last error for the dashboard (committed)."""
    state.last_error, state.last_error_ja, state.last_error_at = message[:2000], message_ja, clock.now()
    db.session.commit()


def counts(target_key: str) -> dict[str, int]:
    """{status: number of contacts} of a book."""
    rows = db.session.execute(select(PushedContact.status, func.count(PushedContact.id))
                              .where(PushedContact.target == target_key).group_by(PushedContact.status))
    return dict(rows.all())


def refused(target_key: str, limit: int = 10) -> list[PushedContact]:
    """The contacts the helpdesk refused, newest first."""
    return list(db.session.scalars(select(PushedContact).where(
        PushedContact.target == target_key, PushedContact.status == "refused")
        .order_by(PushedContact.updated_at.desc(), PushedContact.id.desc()).limit(limit)))


def forget_hashes(target_key: str) -> int:
    """`helpdesk push --all`: every contact counts as changed, so everything is sent again."""
    done = db.session.execute(update(PushedContact).where(PushedContact.target == target_key)
                              .values(content_hash=None)).rowcount
    db.session.commit()
    return done

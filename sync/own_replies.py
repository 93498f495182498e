"""Replies mallbridge itself posted to a mall: remembered by a hash of their text, so that when
the poller later sees them on the mall it does not mail them back into the inbox."""
import hashlib

from sqlalchemy import select

from plugin.extensions import db
from sync.messages import MallMessage
from sync.models import OwnReply


def text_hash(text: str | None) -> str:
    """Hash of a reply body, insensitive to line-ending and trailing-space differences."""
    norm = "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return hashlib.sha256(norm.strip().encode("utf-8")).hexdigest()


def _unmatched(account_id: int, inquiry_id: str, text: str | None):
    return select(OwnReply).where(
        OwnReply.account_id == account_id, OwnReply.inquiry_id == str(inquiry_id),
        OwnReply.body_hash == text_hash(text), OwnReply.matched_message_id.is_(None)).limit(1)


def record(account_id: int, inquiry_id: str, text: str) -> None:
    """Call when mallbridge posts a reply to a mall, so the poller does not mail it back (not committed)."""
    db.session.add(OwnReply(account_id=account_id, inquiry_id=str(inquiry_id), body_hash=text_hash(text)))


def pending(account_id: int, inquiry_id: str, text: str | None) -> bool:
    """True while a recorded reply with this text has not been seen on the mall yet."""
    return db.session.scalar(_unmatched(account_id, inquiry_id, text)) is not None


def claim(account_id: int, msg: MallMessage) -> bool:
    """True (and the record used up) when this shop message on the mall is one mallbridge posted."""
    row = db.session.scalar(_unmatched(account_id, msg.inquiry_id, msg.text))
    if row is None:
        return False
    row.matched_message_id = msg.message_id
    return True


def forget(account_id: int, inquiry_id: str, text: str | None) -> None:
    """Drop the record of a reply that was never posted, so it cannot hide a later shop reply."""
    row = db.session.scalar(_unmatched(account_id, inquiry_id, text))
    if row is not None:
        db.session.delete(row)

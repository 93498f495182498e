"""Replies mallbridge itself posted to a mall: remembered by a hash of their text, so that when
the poller later sees them on the mall it does not mail them back into the inbox."""
import hashlib

from sqlalchemy import select

from plugin.extensions import db
from sync.models import OwnReply


def text_hash(text):
    """Hash of a reply body, insensitive to line-ending and trailing-space differences."""
    norm = "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return hashlib.sha256(norm.strip().encode("utf-8")).hexdigest()


def record(account_id, inquiry_id, text):
    """Call when mallbridge posts a reply to a mall, so the poller does not mail it back (not committed)."""
    db.session.add(OwnReply(account_id=account_id, inquiry_id=str(inquiry_id), body_hash=text_hash(text)))


def claim(account_id, msg):
    """True (and the record used up) when this shop message on the mall is one mallbridge posted."""
    row = db.session.scalar(select(OwnReply).where(
        OwnReply.account_id == account_id, OwnReply.inquiry_id == msg.inquiry_id,
        OwnReply.body_hash == text_hash(msg.text), OwnReply.matched_message_id.is_(None)).limit(1))
    if row is None:
        return False
    row.matched_message_id = msg.message_id
    return True

"""Rakuten side of the poller: which windows to scan, and inquiries → neutral MallMessages.

The list filters on regDate (creation), so a customer's follow-up on an old inquiry never
shows up in a "since last poll" window. Each pass therefore re-scans the last 60 days (or
further back, to the last complete pass, after an outage or an expired key) and delivers the
inquiries whose lastUpdateDate changed, straight from the listed objects (they carry every
message); the detail call is only a fallback for a list entry without `replies`. The cursor
(`scanned_until`) moves to the pass's start only when the whole pass went through.
"""
import datetime as dt
import logging
import mimetypes
from collections.abc import Iterator
from operator import attrgetter
from typing import Any

from plugin import clock
from sync.malls.errors import MallAuthError, MallError, NotFound, ResponseTooLarge
from sync.malls.rakuten.client import RakutenClient, windows
from sync.malls.rakuten.model import Attachment, Inquiry
from sync.messages import MallFile, MallMessage, MarkersOf, Snapshot, with_markers

log = logging.getLogger(f"mallbridge.{__name__}")
RESCAN = dt.timedelta(days=60)
OVERLAP = dt.timedelta(hours=1)
PAGE_LIMIT = 100


class RakutenScan:
    """One pass over one Rakuten account (see sync.malls.base.Scan)."""

    def __init__(self, account: Any, client: RakutenClient, cursor: Any, now: dt.datetime,
                 floor: dt.datetime | None):
        self.account, self.client, self.now = account, client, now
        self.start = scan_start(now, cursor, floor)

    def prepare(self) -> None:
        """Remember the license key's expiry (for reminders); only an auth error stops the pass."""
        if self.account.license_expires_at is not None:
            return
        try:
            expiry = self.client.license_expiry()
        except MallAuthError:
            raise
        except MallError as exc:
            log.info("account %s: expiry date not available: %s", self.account.id, exc)
            return
        self.account.license_expires_at = clock.utc(expiry)

    def count(self) -> int:
        """How many inquiries the pass will look at."""
        return count(self.client, self.start, self.now)

    def snapshots(self, markers_of: MarkersOf) -> Iterator[Snapshot]:
        """Changed inquiries created since the scan start."""
        return scan(self.client, self.start, self.now, markers_of)

    def advance(self, cursor: Any) -> None:
        """Everything created up to the pass's start has been looked at."""
        cursor.scanned_until = self.now


def scan_start(now: dt.datetime, cursor: Any, floor: dt.datetime | None) -> dt.datetime:
    """Oldest creation time to look at: the backfill floor on first connect, else 60 days or
    the last complete pass, whichever is older (catch-up after a pause)."""
    if floor is not None:
        return floor
    start = now - RESCAN
    if cursor.scanned_until is not None:
        start = min(start, cursor.scanned_until - OVERLAP)
    return start


def count(client: RakutenClient, start: dt.datetime, end: dt.datetime) -> int:
    """How many inquiries a pass will look at (the backfill's N)."""
    return sum(client.count(a, b) for a, b in windows(start, end))


def scan(client: RakutenClient, start: dt.datetime, end: dt.datetime, markers_of: MarkersOf) -> Iterator[Snapshot]:
    """Snapshots of inquiries created in [start, end] whose lastUpdateDate changed, newest first.

    `markers_of(numbers)` gives the stored change markers of those inquiry numbers (unknown
    ones left out); it is asked once per listed page."""
    listed_pages = client.iter_inquiries(start, end, limit=PAGE_LIMIT)
    for listed, stored in with_markers(listed_pages, attrgetter("number"), markers_of, PAGE_LIMIT):
        marker = _marker(listed)
        if marker is not None and stored == marker:
            yield Snapshot(listed.number, marker, listed.reg_date, None, unchanged=True)
            continue
        if has_messages(listed):
            # The list returns the same object as the detail (docs/mall-apis.md §1.5): no second call.
            yield snapshot(listed)
            continue
        log.debug("inquiry %s listed without replies[]; reading its detail", listed.number)
        try:
            full = client.detail(listed.number)
        except NotFound:
            # Deleted between list and detail: nothing left to deliver.
            log.warning("inquiry %s vanished before its detail was read; skipped", listed.number)
            continue
        yield snapshot(full)


def has_messages(inquiry: Inquiry) -> bool:
    """Whether a listed inquiry carries its messages (a `replies` list, even an empty one)."""
    return isinstance((inquiry.raw or {}).get("replies"), list)


def _marker(inquiry):
    if inquiry.last_update is None:
        return None
    return inquiry.last_update.isoformat()


def snapshot(inquiry: Inquiry) -> Snapshot:
    """A Snapshot (every message, oldest first) of one Rakuten inquiry."""
    common = {"mall": "rakuten", "inquiry_id": inquiry.number, "customer_name": inquiry.user_name,
                  "customer_address": inquiry.user_mask_email,
                  "customer_identity": inquiry.user_mask_email or inquiry.user_name or inquiry.number,
                  "inquiry_type": inquiry.type, "category": inquiry.category or None, "title": None,
                  "item_name": inquiry.item_name, "item_url": inquiry.item_url, "item_code": inquiry.item_number,
                  "order_number": inquiry.order_number}
    messages = []
    for item in inquiry.messages:
        files = tuple(MallFile(a.label or "attachment", a.path) for a in item.attachments)
        messages.append(MallMessage(message_id=item.id, sender="shop" if item.sender == "merchant" else "customer",
                                    text=item.text, posted_at=item.posted_at, deleted=item.deleted,
                                    attachments=files, **common))
    return Snapshot(inquiry.number, _marker(inquiry), inquiry.reg_date, messages)


def fetch_file(client: RakutenClient, file: MallFile, cap: int) -> MallFile:
    """The file with its bytes, or with a note saying why it is not attached."""
    try:
        got = client.download(Attachment(file.name, file.key), max_bytes=cap)
    except ResponseTooLarge:
        return _note(file, f"{cap // 1024}KBを超えるため添付していません")
    except NotFound:
        return _note(file, "モール側で見つからないため添付していません（保存期間の90日を過ぎた可能性があります）")
    ctype = got.content_type
    if not ctype or ctype == "application/octet-stream":
        ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return MallFile(file.name, file.key, len(got.content), ctype, got.content)


def _note(file, text):
    return MallFile(file.name, file.key, file.size, file.content_type, None, text)

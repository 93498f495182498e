"""Yahoo! side of the poller: newest customer post first, until known and unchanged topics.

The list is ordered by userPostTime, so a reply the store wrote on Yahoo! itself does not
move its topic up; a second, cheap query by sellerPostTime since the last complete pass
picks those up. The cursor (`newest_post_time`) only moves forward, after a complete pass.
"""
import datetime as dt
import logging
import mimetypes
from collections.abc import Iterator
from operator import attrgetter
from typing import Any

from sync.malls.errors import NotFound, ResponseTooLarge
from sync.malls.fields import unix_seconds
from sync.malls.yahoo.client import YahooClient
from sync.malls.yahoo.model import Headline, Topic
from sync.messages import MallFile, MallMessage, MarkersOf, Snapshot, with_markers

log = logging.getLogger(f"mallbridge.{__name__}")
QA_TYPES = {"item": "商品についての質問", "order": "注文についての質問"}
SELLER_OVERLAP = dt.timedelta(hours=1)
PAGE_SIZE = 20  # the list's maximum `result`


class YahooScan:
    """One pass over one Yahoo! store (see sync.malls.base.Scan)."""

    def __init__(self, account: Any, client: YahooClient, cursor: Any, now: dt.datetime, floor: dt.datetime | None):
        self.client, self.now, self.floor = client, now, floor
        self.cursor_newest = cursor.newest_post_time
        # After the first backfill, the seller-post query catches replies the store wrote on Yahoo!.
        self.seller_since = account.last_success_at if floor is None else None
        self.progress: dict[str, int] = {}

    def prepare(self) -> None:
        """Nothing to learn before a pass (the refresh token's age is known from its issue)."""

    def count(self) -> int:
        """How many topics the store has (the list's summary count)."""
        return self.client.list(1, 1).count

    def snapshots(self, markers_of: MarkersOf) -> Iterator[Snapshot]:
        """New or changed topics, newest customer post first."""
        return scan(self.client, markers_of, floor=self.floor, cursor_newest=self.cursor_newest,
                    seller_since=self.seller_since, now=self.now, progress=self.progress)

    def advance(self, cursor: Any) -> None:
        """Remember the newest customer post seen (never moving back)."""
        cursor.newest_post_time = max(cursor.newest_post_time or 0, self.progress.get("newest") or 0) or None


def _ts(value):
    return unix_seconds(value) if value is not None else None


def marker(headline: Headline) -> str:
    """What changes when a topic gets a new message: post times and the message count."""
    return f"{_ts(headline.user_post_time)}:{headline.message_count}:{_ts(headline.seller_post_time)}"


def scan(client: YahooClient, markers_of: MarkersOf, *, floor: dt.datetime | None = None,
         cursor_newest: int | None = None, seller_since: dt.datetime | None = None, now: dt.datetime | None = None,
         progress: dict[str, int] | None = None) -> Iterator[Snapshot]:
    """Snapshots of new or changed topics; `progress["newest"]` ends as the newest userPostTime seen.

    Stops at the first topic that is known, unchanged and not newer than the last complete
    pass (`cursor_newest`), or older than `floor` (first connect). `markers_of(topic_ids)` gives
    the stored change markers of those topics; it is asked once per listed page."""
    progress = progress if progress is not None else {}
    floor_ts = _ts(floor)
    seen = set()
    for headline, stored in with_markers(client.iter_topics(), attrgetter("topic_id"), markers_of, PAGE_SIZE):
        posted = _ts(headline.user_post_time) or 0
        progress["newest"] = max(progress.get("newest") or 0, posted)
        if floor_ts is not None and posted < floor_ts:
            break
        mark = marker(headline)
        seen.add(headline.topic_id)
        if stored == mark:
            if cursor_newest is not None and posted <= cursor_newest:
                break
            yield Snapshot(headline.topic_id, mark, headline.user_post_time, None, unchanged=True)
            continue
        topic = _detail(client, headline.topic_id)
        if topic is not None:
            yield snapshot(topic, mark, headline)
    if seller_since is not None and now is not None:
        by_seller = client.iter_topics(date_type="sellerPostTime", start_date=seller_since - SELLER_OVERLAP,
                                       end_date=now)
        for headline, stored in with_markers(by_seller, attrgetter("topic_id"), markers_of, PAGE_SIZE):
            mark = marker(headline)
            if headline.topic_id in seen or stored in (mark, None):
                # Unknown topics here predate the backfill: the shop's reply alone is no thread.
                continue
            topic = _detail(client, headline.topic_id)
            if topic is not None:
                yield snapshot(topic, mark, headline)


def _detail(client, topic_id):
    try:
        return client.detail(topic_id)
    except NotFound:
        # Deleted (or made private) between list and detail: nothing left to deliver.
        log.warning("topic %s vanished before its detail was read; skipped", topic_id)
        return None


def snapshot(topic: Topic, mark: str, headline: Headline | None = None) -> Snapshot:
    """A Snapshot (every message, oldest first) of one Yahoo! topic."""
    masked = topic.user_masked_id or (headline.user_masked_id if headline else None)
    common = {"mall": "yahoo", "inquiry_id": topic.topic_id, "customer_name": masked, "customer_address": None,
                  # Masked IDs ("ab***") are not unique, so the topic itself is the customer.
                  "customer_identity": topic.topic_id,
                  "inquiry_type": QA_TYPES.get(topic.qa_type or "", "ストアへの質問"),
                  "category": topic.category_name, "title": topic.title or (headline.title if headline else None),
                  "item_name": None, "item_url": None, "item_code": topic.item_code, "order_number": topic.order_id}
    messages = []
    for item in topic.messages:
        files = tuple(MallFile(f.file_name or f.object_key.rsplit("/", 1)[-1], f.object_key, f.file_size,
                               mimetypes.guess_type(f.file_name or "")[0] or "application/octet-stream")
                      for f in item.files)
        messages.append(MallMessage(message_id=item.id, sender="shop" if item.sender == "seller" else "customer",
                                    text=item.text, posted_at=item.posted_at, attachments=files, **common))
    started = messages[0].posted_at if messages else (headline.user_post_time if headline else None)
    return Snapshot(topic.topic_id, mark, started, messages)


def fetch_file(client: YahooClient, file: MallFile, cap: int) -> MallFile:
    """The file with its bytes, or with a note saying why it is not attached."""
    if file.size is not None and file.size > cap:
        return _note(file, f"{cap // 1024}KBを超えるため添付していません")
    try:
        got = client.download(file.key, max_bytes=cap, filename=file.name)
    except ResponseTooLarge:
        return _note(file, f"{cap // 1024}KBを超えるため添付していません")
    except NotFound:
        return _note(file, "モール側で見つからないため添付していません")
    ctype = got.content_type if got.content_type not in ("", "application/octet-stream") else file.content_type
    return MallFile(file.name, file.key, len(got.content), ctype, got.content)


def _note(file, text):
    return MallFile(file.name, file.key, file.size, file.content_type, None, text)

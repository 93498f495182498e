"""The mall-neutral message types: what a mall's scanner hands to the poller, whichever mall it is.

A scanner turns its mall's inquiries into `Snapshot`s of `MallMessage`s (with `MallFile`s for
attachments); the poller, the mail composer and routing only ever see these.
"""
import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True)
class MallFile:
    """An attachment as the mall lists it; `data` is filled by the poller (None = not fetched)."""

    name: str
    key: str = ""
    size: int | None = None
    content_type: str = "application/octet-stream"
    data: bytes | None = None
    note: str | None = None  # why it is not attached (too large, download failed …)


@dataclass(frozen=True)
class MallMessage:
    """One message of one inquiry, whichever mall it came from."""

    mall: str
    inquiry_id: str
    message_id: str
    sender: str  # customer | shop
    text: str
    posted_at: dt.datetime | None = None  # aware, or naive UTC
    customer_name: str | None = None
    customer_address: str | None = None  # Rakuten's masked relay address
    customer_identity: str = ""  # what makes the customer one customer at this mall (see sync.identity)
    inquiry_type: str | None = None
    category: str | None = None
    title: str | None = None
    item_name: str | None = None
    item_url: str | None = None
    item_code: str | None = None
    order_number: str | None = None
    deleted: bool = False
    attachments: tuple[MallFile, ...] = field(default_factory=tuple)


@dataclass
class Snapshot:
    """One inquiry as seen now: its change marker and (when it changed) every message, oldest first."""

    inquiry_id: str
    marker: str | None
    started_at: dt.datetime | None  # aware datetime of the inquiry's creation / first post
    messages: list[MallMessage] | None
    unchanged: bool = False


MarkersOf = Callable[[list[str]], dict[str, str | None]]


def with_markers(items: Iterable[Item], key: Callable[[Item], Hashable], markers_of: MarkersOf,
                 size: int) -> Iterator[tuple[Item, str | None]]:
    """(item, stored marker or None) for each item, looking markers up `size` items at a time.

    `markers_of(ids)` answers one query for a page's worth of ids, so a pass never holds the
    markers of every known inquiry (that grew with the shop's history)."""
    items = iter(items)
    while True:
        chunk = list(islice(items, size))
        if not chunk:
            return
        stored = markers_of([key(item) for item in chunk])
        for item in chunk:
            yield item, stored.get(key(item))

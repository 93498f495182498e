"""What a mall-specific scanner hands to the poller, and the page-wise marker lookup it uses."""
from dataclasses import dataclass
from itertools import islice


@dataclass
class Snapshot:
    """One inquiry as seen now: its change marker and (when it changed) every message, oldest first."""

    inquiry_id: str
    marker: str | None
    started_at: object  # aware datetime of the inquiry's creation / first post
    messages: list | None
    unchanged: bool = False


def with_markers(items, key, markers_of, size):
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

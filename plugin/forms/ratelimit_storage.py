"""In-memory rate-limit counters whose expiry thread starts on first use, not in create_app.

limits' MemoryStorage starts a timer thread in its constructor, i.e. inside `create_app`
(flask-limiter builds the storage in `init_app`); the factory must not start threads. This
storage is the same counters with the timer created but not started: MemoryStorage itself
starts a fresh one on the first counted request (its `incr` reschedules the expiry timer).
"""
import threading
from collections import Counter, defaultdict
from typing import ClassVar

from limits.storage import MemoryStorage, Storage

SCHEME = "mallbridge-memory"


class DeferredMemoryStorage(MemoryStorage):
    """`memory://` without a thread until the first request is counted."""

    STORAGE_SCHEME: ClassVar[list[str]] = [SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        # Same state as MemoryStorage.__init__ / __setstate__, minus `self.timer.start()`.
        Storage.__init__(self, uri, wrap_exceptions=wrap_exceptions, **options)
        self.storage = Counter()
        self.locks = defaultdict(threading.RLock)
        self.expirations = {}
        self.events = {}
        self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)


def storage_uri(configured):
    """The storage URI to give flask-limiter: plain `memory://` becomes the deferred variant."""
    if configured in (None, "", "memory://"):
        return f"{SCHEME}://"
    return configured

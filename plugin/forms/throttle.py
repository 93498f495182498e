"""The public form's limits: valid posts per client IP, acknowledgements per recipient address.

The counters live where `MALLBRIDGE_RATELIMIT_STORAGE_URI` says: unset, in the application's
own database (plugin.forms.counters: shared by every gunicorn worker and process), or in any
storage of the `limits` library (`redis://…`; `memory://` counts per process). The storage is
built on first use, never in create_app (limits' memory storage starts a timer thread), and
only a form POST ever touches it: other requests pay nothing for the forms' limits.
"""
import functools
import hashlib
import logging
import threading
import time

from limits import RateLimitItemPerDay, parse_many
from limits.storage import SCHEMES, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from plugin.forms.counters import DatabaseStorage

log = logging.getLogger(f"mallbridge.{__name__}")
DATABASE = ("", "database", None)
EXTENSION = "mallbridge.forms.throttle"  # app.extensions key of the app's Throttle


@functools.lru_cache(maxsize=16)
def parse_limits(text):
    """`5 per minute;30 per hour` → the limits' items; ValueError names a text that is not one."""
    items = parse_many(text or "")
    if not items:
        raise ValueError(f"no rate limit in {text!r}")
    return tuple(items)


def check_storage_uri(uri):
    """ValueError unless `uri` is unset (the database) or names a storage the limits library has."""
    if uri in DATABASE:
        return
    scheme = str(uri).split("://", 1)[0]
    if "://" not in str(uri) or scheme not in SCHEMES or scheme.startswith("async+"):
        raise ValueError(f"unknown rate-limit storage {uri!r}")


def address_key(address):
    """The counter name of a recipient address: a hash, so the table holds no addresses."""
    return hashlib.sha256(f"mallbridge-ack:{address.strip().lower()}".encode()).hexdigest()[:32]


class Throttle:
    """Counts events against limits in one storage (created lazily, once per process)."""

    def __init__(self, uri=None):
        self.uri = uri
        self._limiter = None
        self._lock = threading.Lock()

    @property
    def limiter(self):
        """The fixed-window strategy over the configured storage."""
        if self._limiter is None:
            with self._lock:
                if self._limiter is None:
                    storage = DatabaseStorage() if self.uri in DATABASE else storage_from_string(self.uri)
                    self._limiter = FixedWindowRateLimiter(storage)
        return self._limiter

    def _now(self):
        return getattr(self.limiter.storage, "now", time.time)()

    def hit(self, limits_text, *identifiers):
        """Count one event against each limit: 0 when allowed, else the seconds until it will be.

        The limits are tried in order and counting stops at the first one exceeded, so a
        refused post never uses up the longer windows. A storage that fails (Redis down, a
        database error) lets the post through: losing an inquiry is worse than one uncounted.
        """
        try:
            for item in parse_limits(limits_text):
                if not self.limiter.hit(item, *identifiers):
                    reset = self.limiter.get_window_stats(item, *identifiers).reset_time
                    return max(1, int(reset - self._now() + 0.999))
        except Exception:  # any storage's own errors (SQLAlchemy, redis, …); see the docstring
            log.warning("form rate limit not counted: the counter storage failed", exc_info=True)
        return 0

    def ack_allowed(self, address, per_day):
        """Count an acknowledgement to `address`; False once `per_day` were sent within a day.

        When the storage fails the answer is False: the inquiry still reaches the shop, only
        the customer's acknowledgement is left out, so the form never mails unchecked.
        """
        try:
            return self.limiter.hit(RateLimitItemPerDay(per_day), "ack", address_key(address))
        except Exception:  # any storage's own errors (SQLAlchemy, redis, …); see the docstring
            log.warning("acknowledgement left out: the counter storage failed", exc_info=True)
            return False

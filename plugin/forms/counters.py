"""Rate-limit counters in the application's own database: a storage for the `limits` library.

`memory://` counts per process, so two gunicorn workers let twice the limit through. Here every
worker and process on the same database shares one row per key (`rate_counter`). An increment
is a single INSERT … ON CONFLICT DO UPDATE … RETURNING in a short transaction of its own:
atomic on SQLite (the write lock) and on PostgreSQL (the row lock), so two requests never both
take the last slot, and no Redis is needed. As in limits' own storages a window starts at its
key's first hit; an expired row is reset by the next hit, and expired rows are pruned whenever
a new window starts.
"""
import datetime as dt
from typing import ClassVar

from limits.storage import Storage
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from plugin import clock
from plugin.extensions import db
from plugin.forms.models import RateCounter

SCHEME = "mallbridge-db"
TABLE = RateCounter.__table__


def unix_now():
    """plugin.clock's now as UNIX seconds (tests pin and advance it instead of sleeping)."""
    return clock.now().replace(tzinfo=dt.UTC).timestamp()


class DatabaseStorage(Storage):
    """Fixed-window counters in the `rate_counter` table (use inside an app context)."""

    STORAGE_SCHEME: ClassVar[list[str]] = [SCHEME]

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def now(self):
        """The time the windows are measured in."""
        return unix_now()

    def incr(self, key, expiry, amount=1):
        """Add `amount` to the key's current window (a new one when expired); the new count."""
        now = self.now()
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        expired = TABLE.c.expires_at <= now
        stmt = dialect.insert(TABLE).values(key=key, hits=amount, expires_at=now + expiry)
        stmt = stmt.on_conflict_do_update(index_elements=[TABLE.c.key], set_={
            "hits": case((expired, amount), else_=TABLE.c.hits + amount),
            "expires_at": case((expired, now + expiry), else_=TABLE.c.expires_at),
        }).returning(TABLE.c.hits)
        with db.engine.begin() as conn:
            hits = conn.execute(stmt).scalar_one()
            if hits == amount:  # a window started: forget the ones that are over
                conn.execute(delete(TABLE).where(TABLE.c.expires_at < now))
        return hits

    def get(self, key):
        """The count of the key's current window (0 when none)."""
        with db.engine.connect() as conn:
            hits = conn.scalar(select(TABLE.c.hits).where(TABLE.c.key == key, TABLE.c.expires_at > self.now()))
        return hits or 0

    def get_expiry(self, key):
        """UNIX time when the key's current window ends (now when there is none)."""
        now = self.now()
        with db.engine.connect() as conn:
            expires = conn.scalar(select(TABLE.c.expires_at).where(TABLE.c.key == key, TABLE.c.expires_at > now))
        return expires or now

    def check(self):
        """True when the database answers."""
        try:
            with db.engine.connect() as conn:
                conn.scalar(select(func.count()).select_from(TABLE))
        except SQLAlchemyError:
            return False
        return True

    def reset(self):
        """Forget every counter; the number forgotten."""
        with db.engine.begin() as conn:
            return conn.execute(delete(TABLE)).rowcount

    def clear(self, key):
        """Forget one key's counter."""
        with db.engine.begin() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.key == key))

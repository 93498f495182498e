"""The helpdesk API's rate limit, shared by every mallbridge process through the database.

The helpdesk allows 60 requests a minute per token and answers 403 beyond that. Several processes
use one token (the web app's connection test, `sync run`, `helpdesk push`), so the count lives in
one row per token (`helpdesk_rate_limit`, keyed by a fingerprint of the token, never the token):
the UNIX times of the calls of the last window, and the time until which the server told us to
wait. A call is reserved in a short transaction of its own that first locks that row (an UPDATE:
a row lock on PostgreSQL, the write lock on SQLite), so two processes never both take the 60th
slot. The window is one second longer than the API's minute: the requests' arrival times at the
helpdesk differ a little from the times they were sent, and the helpdesk must never see 61.

After every answer `learn()` reads `X-RateLimit-Limit/Remaining/Reset`: no call before the reset
once Remaining is 0 or the answer was a 403; a lower limit announced by the server is adopted.
"""
import datetime as dt
import hashlib
import json

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plugin import clock
from plugin.extensions import db
from plugin.helpdesk.models import HelpdeskRateLimit

LIMIT = 60  # requests per window and token, the helpdesk's documented limit
WINDOW = 61.0  # seconds (see the module docstring)
DEFAULT_BLOCK = 60.0  # a 403 without a usable X-RateLimit-Reset
MAX_BLOCK = 3600.0  # a Reset further away than this is not believed
TABLE = HelpdeskRateLimit.__table__


def token_fingerprint(token: str) -> str:
    """A stable, non-reversible name for a token (the table and the logs never hold the token)."""
    return hashlib.sha256(f"mallbridge-helpdesk:{token}".encode()).hexdigest()[:32]


def unix_now() -> float:
    """plugin.clock's now as UNIX seconds (pinned in tests like everything else)."""
    return clock.now().replace(tzinfo=dt.UTC).timestamp()


def seconds_until_reset(value, now: float | None = None) -> float | None:
    """Seconds until an `X-RateLimit-Reset` (UNIX time; a small number counts as a delay)."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    now = unix_now() if now is None else now
    seconds = number - now if number > 1_000_000_000 else number
    return min(max(seconds, 0.0), MAX_BLOCK)


class SharedLimit:
    """At most `limit` calls per WINDOW for one token, counted in the database."""

    def __init__(self, token_fp: str, limit: int = LIMIT, window: float = WINDOW):
        self.token_fp, self.limit, self.window = token_fp, int(limit), float(window)

    def reserve(self) -> float:
        """Claim a call now: 0.0 when claimed, else the seconds to wait (nothing is claimed then)."""
        for _ in range(3):
            with db.engine.begin() as conn:
                locked = conn.execute(update(TABLE).where(TABLE.c.token_fp == self.token_fp)
                                      .values(updated_at=clock.now())).rowcount
                if locked:
                    return self._reserve_locked(conn)
            self._create_row()
        raise RuntimeError("cannot lock the helpdesk rate-limit row")

    def _create_row(self) -> None:
        try:
            with db.engine.begin() as conn:
                if conn.execute(select(TABLE.c.id).where(TABLE.c.token_fp == self.token_fp)).first() is None:
                    conn.execute(insert(TABLE).values(token_fp=self.token_fp, calls="[]", updated_at=clock.now()))
        except IntegrityError:
            pass  # another process created it first

    def _reserve_locked(self, conn) -> float:
        row = conn.execute(select(TABLE.c.calls, TABLE.c.blocked_until, TABLE.c.server_limit)
                           .where(TABLE.c.token_fp == self.token_fp)).one()
        now = unix_now()
        if row.blocked_until and row.blocked_until > now:
            return row.blocked_until - now
        calls = [t for t in json.loads(row.calls or "[]") if t > now - self.window]
        limit = min(self.limit, row.server_limit) if row.server_limit else self.limit
        if len(calls) >= limit:
            wait = calls[-limit] + self.window - now
        else:
            calls.append(now)
            wait = 0.0
        conn.execute(update(TABLE).where(TABLE.c.token_fp == self.token_fp).values(calls=json.dumps(calls)))
        return max(wait, 0.0)

    def block(self, seconds: float) -> None:
        """No call with this token for `seconds` (from now), whoever asks."""
        until = unix_now() + min(max(seconds, 0.0), MAX_BLOCK)
        self._create_row()
        with db.engine.begin() as conn:
            current = conn.execute(select(TABLE.c.blocked_until).where(TABLE.c.token_fp == self.token_fp)).scalar()
            if current is None or current < until:
                conn.execute(update(TABLE).where(TABLE.c.token_fp == self.token_fp).values(blocked_until=until))

    def learn(self, headers, status: int) -> float | None:
        """Take in the server's rate-limit headers; returns the seconds blocked (403 / Remaining 0)."""
        announced = headers.get("X-RateLimit-Limit")
        if announced and str(announced).strip().isdigit() and 0 < int(announced) < self.limit:
            with db.engine.begin() as conn:
                conn.execute(update(TABLE).where(TABLE.c.token_fp == self.token_fp)
                             .values(server_limit=int(announced)))
        remaining = str(headers.get("X-RateLimit-Remaining", "")).strip()
        if status != 403 and remaining != "0":
            return None
        wait = seconds_until_reset(headers.get("X-RateLimit-Reset"))
        wait = DEFAULT_BLOCK if wait is None else wait
        if wait > 0:
            self.block(wait)
        return wait

    def calls_in_window(self) -> int:
        """Calls counted in the current window (status pages, tests)."""
        raw = db.session.scalar(select(HelpdeskRateLimit.calls).where(HelpdeskRateLimit.token_fp == self.token_fp))
        now = unix_now()
        return sum(1 for t in json.loads(raw or "[]") if t > now - self.window)

"""The one source of "now" (naive UTC), so tests can pin and advance time instead of sleeping."""
import datetime as dt

JST = dt.timezone(dt.timedelta(hours=9), "JST")
_pinned = None


def now():
    """Current time as naive UTC (how every timestamp is stored)."""
    if _pinned is not None:
        return _pinned
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def pin(when):
    """Freeze now() at `when` (naive UTC); pin(None) releases it."""
    global _pinned
    _pinned = when


def advance(**delta):
    """Move a pinned clock forward, e.g. advance(minutes=15)."""
    global _pinned
    _pinned = (_pinned or now()) + dt.timedelta(**delta)


def to_jst(value):
    """A stored naive-UTC datetime as an aware JST datetime, for display."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(JST)


def from_jst_naive(value):
    """A naive datetime meant as JST (shop exports, mall APIs) to stored naive UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=JST)
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def utc(value):
    """Any datetime as stored naive UTC: aware values are converted, naive ones are already UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)

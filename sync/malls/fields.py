"""Tolerant field parsing shared by the mall clients (and the mall times in JST).

Malls send numbers as strings, booleans as "true"/"false", optional fields missing or null,
and names with CR/LF. These helpers accept all of that and raise MalformedResponse only for
what cannot be understood.
"""
import datetime as dt
import re

from sync.malls.errors import MalformedResponse

JST = dt.timezone(dt.timedelta(hours=9), "JST")
# C0 and C1 controls (NEL \x85 included) and the Unicode line/paragraph separators: all of
# them end a line for str.splitlines(), so none may reach a header or a one-line display.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})([ T].*)?$")
# UNIX times above this are milliseconds (as seconds they would be past the year 5000).
_MILLIS_FROM = 10 ** 11


class Fields:
    """Typed access to one JSON object from a mall, naming the mall in every error."""

    def __init__(self, data, mall, what):
        if not isinstance(data, dict):
            raise MalformedResponse(f"{what}: expected an object, got {type(data).__name__}", mall=mall)
        self.data, self.mall, self.what = data, mall, what

    def _bad(self, key, expected):
        value = self.data.get(key)
        return MalformedResponse(f"{self.what}.{key}: expected {expected}, got {value!r:.80}", mall=self.mall)

    def raw(self, *keys):
        """The first present, non-null value among `keys` (malls vary the casing)."""
        for key in keys:
            if self.data.get(key) is not None:
                return self.data[key]
        return None

    def text(self, *keys, required=False, default=None):
        """A string; numbers are accepted and turned into text."""
        value = self.raw(*keys)
        if value is None:
            if required:
                raise self._bad(keys[0], "a value")
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self._bad(keys[0], "text")
        return str(value)

    def line(self, *keys, default=None):
        """A string bound for a mail header or a one-line display: CR/LF and controls → space."""
        value = self.text(*keys, default=default)
        return clean_line(value) if value is not None else None

    def integer(self, *keys, required=False, default=None):
        """An int from a number or a digit string."""
        value = self.raw(*keys)
        if value is None or value == "":
            if required:
                raise self._bad(keys[0], "an integer")
            return default
        if isinstance(value, bool):
            raise self._bad(keys[0], "an integer")
        try:
            return int(str(value).strip())
        except ValueError:
            raise self._bad(keys[0], "an integer") from None

    def boolean(self, *keys, default=None):
        """A bool from true/false, "true"/"false", 1/0 or "1"/"0"."""
        value = self.raw(*keys)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise self._bad(keys[0], "a boolean")

    def items(self, *keys):
        """A list (missing or null → empty)."""
        value = self.raw(*keys)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._bad(keys[0], "a list")
        return value

    def datetime(self, *keys, required=False):
        """An aware datetime from an ISO string (no offset = JST) or UNIX seconds."""
        value = self.raw(*keys)
        if value is None or value == "":
            if required:
                raise self._bad(keys[0], "a date-time")
            return None
        try:
            return parse_mall_time(value)
        except (ValueError, TypeError, OverflowError):  # parse_mall_time turns out-of-range times into ValueError
            raise self._bad(keys[0], "a date-time") from None


def clean_line(value):
    """One line of text: control characters (CR, LF, TAB, …) collapsed to single spaces."""
    return _CONTROL.sub(" ", value).strip()


def parse_mall_time(value):
    """ISO 8601 with or without offset (offset-less is JST, as the malls mean it) or UNIX seconds.

    Also accepted: UNIX seconds as decimal text, milliseconds, and "yyyy/MM/dd HH:mm:ss"."""
    if isinstance(value, bool):
        raise TypeError("boolean is not a time")
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = float(value.strip())
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= _MILLIS_FROM else value
        try:
            return dt.datetime.fromtimestamp(int(seconds), dt.UTC).astimezone(JST)
        except (OverflowError, OSError):  # callers catch ValueError only
            raise ValueError(f"time {value!r:.40} out of range") from None
    text = str(value).strip()
    slashed = _SLASHED.match(text)
    if slashed:  # "2020/05/19 15:25:48", as RMS screens and CSVs write it
        year, month, day, rest = slashed.groups()
        text = f"{year}-{int(month):02d}-{int(day):02d}" + (rest or "")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=JST)
    return parsed


def jst_naive(value):
    """A datetime as the JST 'yyyy-MM-ddTHH:mm:ss' string Rakuten expects.

    Naive input is taken as UTC, the project's storage convention (plugin.clock).
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(JST).strftime("%Y-%m-%dT%H:%M:%S")


def unix_seconds(value):
    """A datetime (naive = UTC) as integer UNIX seconds, as Yahoo expects."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp())

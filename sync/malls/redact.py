"""Mall secrets never reach a log line, the database or a page through an error message.

requests puts the whole URL into its exception messages, and Rakuten's license-key expiry call
carries the key as a query parameter (`?licenseKey=…`); urllib3 logs each request line, query
included, at DEBUG. Both are cleaned here.
"""
import logging
import re

# A query string in a URL, up to the next space, quote or bracket of the text around it.
_QUERY = re.compile(r"\?[^\s'\"()<>]*")
# Request values shorter than this are not worth hiding (page numbers, flags) and would garble the text.
_MIN_SECRET = 6


def redact(exc, kw):
    """An exception's text without query strings and without any value the request carried
    (query parameters, headers such as Authorization, form fields such as a refresh token)."""
    text = _QUERY.sub("?…", str(exc))
    values = []
    for part in ("params", "headers", "data"):
        if isinstance(kw.get(part), dict):
            values.extend(str(v) for v in kw[part].values() if v is not None)
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= _MIN_SECRET:
            text = text.replace(value, "…")
    return text


class _NoQueryStrings(logging.Filter):
    """urllib3 logs every request line, query string included, at DEBUG: keep the query out."""

    def filter(self, record):
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = _QUERY.sub("?…", message), ()
        return True


def guard_urllib3_log():
    """Keep query strings out of urllib3's DEBUG request lines (idempotent)."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _NoQueryStrings) for f in logger.filters):
        logger.addFilter(_NoQueryStrings())

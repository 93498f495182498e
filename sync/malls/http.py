"""The one place where mall HTTP happens: timeouts, pacing, size cap, transport → typed errors,
and the few quick retries of one call inside a poll pass.

Status codes are mapped to typed errors by `raise_for_status`, with a mall-specific function
that pulls (code, reason, targets) out of the error body. The retry decisions use the shared
vocabulary of plugin.retry (should_retry, backoff, jitter).
"""
import email.utils
import json as jsonlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from plugin.retry import backoff, jitter, retryable, should_retry
from sync.malls.errors import (
    AUTH_CODES,
    Conflict,
    MalformedResponse,
    MallAuthError,
    NotFound,
    PermanentMallError,
    RateLimited,
    ResponseTooLarge,
    TemporaryMallError,
)
from sync.malls.redact import guard_urllib3_log, redact

log = logging.getLogger(f"mallbridge.{__name__}")

# (connect, read) seconds; read is per socket read, so a stalled mall fails within 20 s.
DEFAULT_TIMEOUT = (5.0, 20.0)
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_RATE = 1.0  # requests per second per account (practitioners pace ~1 req/s)
USER_AGENT = "mallbridge/0.1 (+helpdesk bridge)"
# Inside one poll pass: a few quick retries of the same call; a longer wait ends the pass and
# the poller's own per-account backoff takes over.
IN_PASS_ATTEMPTS = 4
IN_PASS_MAX_WAIT = 60.0
# A timeout or 5xx on these may be retried: sending them twice has the same effect as once.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass
class HttpReply:
    """A fully read response: status, headers, body bytes."""

    status: int
    headers: dict
    content: bytes
    url: str = ""
    mall: str = None
    elapsed: float = 0.0

    @property
    def text(self):
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def header(self, name, default=None):
        """A header, case-insensitively."""
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return default

    def json(self):
        """The body as JSON; MalformedResponse when it is not (e.g. truncated)."""
        try:
            return jsonlib.loads(self.content.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"invalid JSON from {self.url}: {exc}", mall=self.mall,
                                    status=self.status) from None


@dataclass
class Download:
    """A downloaded attachment."""

    content: bytes
    content_type: str
    filename: str


class Pacer:
    """Spaces calls at least 1/rate seconds apart; thread-safe; rate None or 0 turns it off."""

    def __init__(self, rate=DEFAULT_RATE, *, clock=time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / rate if rate else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = None
        self._lock = threading.Lock()

    def wait(self):
        """Block until the next call is allowed, then reserve its slot."""
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            if self._next is not None and now < self._next:
                self.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def in_pass_wait(failure, attempt: int, *, method: str = "GET", retry_after: float | None = None,
                 max_attempts: int = IN_PASS_ATTEMPTS, max_wait: float = IN_PASS_MAX_WAIT,
                 jitter: Callable[[float], float] | None = jitter) -> float | None:
    """Seconds to wait before sending the same call again within a pass, or None to give up now.

    `failure` is a status code or exception, `attempt` the 1-based number of the call that failed."""
    if not should_retry(failure, attempt, max_attempts):
        return None
    spread = jitter or (lambda delay: delay)
    if failure == 429 or isinstance(failure, RateLimited):
        # The mall refused the call without acting on it, so any method may go again.
        hint = failure.retry_after if isinstance(failure, RateLimited) else retry_after
        wait = float(hint) if hint is not None else spread(backoff(attempt, cap=max_wait))
        return max(wait, 0.0) if wait <= max_wait else None
    if method.upper() not in IDEMPOTENT:
        # A POST that timed out or got a 5xx may have been applied: a retry could post twice.
        return None
    return spread(backoff(attempt, cap=max_wait))


@dataclass
class RetryPolicy:
    """Retries of one call inside a poll pass: how many, how long at most, and the sleep used."""

    attempts: int = IN_PASS_ATTEMPTS
    max_wait: float = IN_PASS_MAX_WAIT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[float], float] | None = field(default=jitter, repr=False)

    def wait_for(self, failure, attempt: int, method: str, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None (see in_pass_wait)."""
        return in_pass_wait(failure, attempt, method=method, retry_after=retry_after, max_attempts=self.attempts,
                            max_wait=self.max_wait, jitter=self.jitter)


class MallHttp:
    """A requests Session with timeouts on every call, per-account pacing and a size cap.

    With a RetryPolicy (`retry`), a 429, 5xx or timeout is retried here a few times before the
    caller sees it; without one (the default) every failure goes straight to the caller."""

    def __init__(self, mall, *, session=None, timeout=DEFAULT_TIMEOUT, pacer=None, rate=DEFAULT_RATE,
                 max_bytes=DEFAULT_MAX_BYTES, retry=None):
        self.mall = mall
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = timeout
        self.pacer = pacer or Pacer(rate)
        self.max_bytes = max_bytes
        self.retry = retry
        guard_urllib3_log()  # before the first request, which urllib3 would log with its URL

    def close(self):
        """Close the pooled connections."""
        self.session.close()

    def request(self, method, url, *, max_bytes=None, pace=True, **kw):
        """Send one request (retried per `self.retry`) and read the whole body; typed transport errors."""
        attempt = 1
        while True:
            try:
                reply = self._send(method, url, max_bytes, pace, kw)
            except TemporaryMallError as exc:
                wait = self.retry.wait_for(exc, attempt, method) if self.retry else None
                if wait is None:
                    raise
                what = exc.code
            else:
                if not self.retry or not retryable(reply.status):
                    return reply
                wait = self.retry.wait_for(reply.status, attempt, method,
                                           parse_retry_after(reply.header("Retry-After")))
                if wait is None:
                    return reply  # the caller maps it to RateLimited / TemporaryMallError
                what = f"HTTP {reply.status}"
            log.info("%s %s: %s, retrying in %.1fs (attempt %d)", self.mall, method, what, wait, attempt + 1)
            self.retry.sleep(wait)
            attempt += 1

    def _send(self, method, url, max_bytes, pace, kw):
        if pace:
            self.pacer.wait()
        cap = max_bytes or self.max_bytes
        started = time.monotonic()
        try:
            with self.session.request(method, url, timeout=self.timeout, stream=True,
                                      allow_redirects=False, **kw) as resp:
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise ResponseTooLarge(f"{url}: {declared} bytes > cap {cap}", mall=self.mall,
                                           status=resp.status_code, code="too_large")
                content = _read_capped(resp, cap, url, self.mall)
                return HttpReply(resp.status_code, dict(resp.headers), content, url, self.mall,
                                 time.monotonic() - started)
        # requests' messages hold the whole URL, and Rakuten's licenseKey travels in the query
        # string: every message is redacted before it can reach a log, the database or a page.
        except requests.exceptions.SSLError as exc:
            # Certificate problems do not heal by retrying (stripe-python does the same).
            raise PermanentMallError(f"TLS error: {redact(exc, kw)}", mall=self.mall, code="ssl") from None
        except requests.Timeout as exc:
            raise TemporaryMallError(f"timeout: {redact(exc, kw)}", mall=self.mall, code="timeout") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TemporaryMallError(f"connection error: {redact(exc, kw)}", mall=self.mall,
                                     code="connection") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise PermanentMallError(f"bad API base URL: {redact(exc, kw)}", mall=self.mall, code="bad_url") from None
        except requests.RequestException as exc:
            raise TemporaryMallError(f"HTTP error: {redact(exc, kw)}", mall=self.mall, code="http") from None



def _read_capped(resp, cap, url, mall):
    chunks, size = [], 0
    for chunk in resp.iter_content(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ResponseTooLarge(f"{url}: body over cap {cap}", mall=mall, status=resp.status_code,
                                   code="too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_retry_after(value, now=None):
    """Retry-After as seconds: a number, or an HTTP date (then relative to now)."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now if now is not None else time.time()
    return max(when.timestamp() - now, 0.0)


def raise_for_status(reply, extract, ok=(200, 201)):
    """Raise the typed error for a non-success reply; `extract(reply)` → (code, reason, targets)."""
    if reply.status in ok:
        return reply
    code, reason, targets = extract(reply)
    kw = {"mall": reply.mall, "status": reply.status, "code": code, "reason": reason, "targets": targets}
    message = f"HTTP {reply.status} {code or ''} {reason or ''}".strip()
    status = reply.status
    if status in (401, 403) or code in AUTH_CODES:
        raise MallAuthError(message, **kw)
    if status == 429:
        raise RateLimited(message, retry_after=parse_retry_after(reply.header("Retry-After")), **kw)
    if status >= 500 or status in (408, 425):
        raise TemporaryMallError(message, **kw)
    if status == 404:
        raise NotFound(message, **kw)
    if status == 409:
        raise Conflict(message, **kw)
    if 300 <= status < 400:
        raise PermanentMallError(f"unexpected redirect to {reply.header('Location')}", **kw)
    raise PermanentMallError(message, **kw)


class ClientBase:
    """What both mall clients share: an owned MallHttp (`self.http`) closed on exit."""

    def close(self):
        """Release the HTTP session."""
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""A small client of the helpdesk's Open API (Re:lation API v2): address books and their contacts.

What the helpdesk documents (developer pages, "アドレス帳 (customer_group)" and "コンタクト (customer)",
restated in docs/helpdesk.md): Bearer token; `https://<subdomain>.relationapp.jp/api/v2/`; at most
60 requests a minute per token, told in `X-RateLimit-Limit/Remaining/Reset` (Reset in UNIX time);
errors as `{"message": …}` with 400 (bad parameters, or an e-mail that already belongs to another
contact of the book), 401 (token), **403 (over the rate limit)**, 404, 415 (no
`Content-Type: application/json`), 500 and 503 (maintenance).

Every request goes through the shared limit (plugin.helpdesk.ratelimit) first and carries the JSON
content type, whatever its method. 5xx, timeouts and dropped connections are retried here with
plugin.retry's backoff; a 403 waits for the reset when the caller allows that long a wait.
"""
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import quote

import requests

from plugin.retry import backoff, should_retry

log = logging.getLogger(f"mallbridge.{__name__}")
HTTP_TIMEOUT = (4.0, 10.0)  # connect, read (seconds)
CONTENT_TYPE = "application/json"  # exactly this: the API answers 415 to anything else
USER_AGENT = "mallbridge-helpdesk-push"
LIMIT_WAITS = 3  # 403s in a row waited out before the caller hears about it


class HelpdeskError(Exception):
    """The API said no (or could not be reached); `status` is None for network failures."""

    retryable = False

    def __init__(self, status: int | None, message: str):
        super().__init__(f"{status or 'network'}: {message}")
        self.status, self.message = status, message


class Refused(HelpdeskError):
    """400: bad parameters, or an e-mail of the contact belongs to another contact of the book."""


class AuthFailed(HelpdeskError):
    """401: the token is missing, deleted or wrong."""


class NotFound(HelpdeskError):
    """404: no such contact, address book or endpoint."""


class RateLimited(HelpdeskError):
    """The limit is reached (403, or our own count); `wait` is how many seconds until the next call."""

    def __init__(self, wait: float, message: str = "rate limit"):
        super().__init__(403, message)
        self.wait = max(float(wait), 0.0)


class Unavailable(HelpdeskError):
    """5xx, maintenance (503), a timeout or a dropped connection: worth another try later."""

    retryable = True


class Interrupted(HelpdeskError):
    """The caller's sleep was cut short (a worker asked to stop): give up the call, keep the rest."""

    def __init__(self):
        super().__init__(None, "stopped while waiting")


class NoLimit:
    """The limiter used when the limit is lifted (tests, benchmarks): never waits."""

    def reserve(self) -> float:
        """Always free."""
        return 0.0

    def learn(self, headers, status: int) -> float | None:
        """Nothing to learn: a 403 is still waited out by the caller (60 s unless told)."""
        return None


def error_for(status: int, message: str) -> HelpdeskError:
    """The typed error of an HTTP status (one map for every caller)."""
    if status == 400:
        return Refused(status, message)
    if status == 401:
        return AuthFailed(status, message)
    if status == 404:
        return NotFound(status, message)
    if status >= 500:
        return Unavailable(status, message)
    return HelpdeskError(status, message)


def _message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:200] or response.reason or ""
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:500]
    return json.dumps(body, ensure_ascii=False)[:200]


class HelpdeskApi:
    """One token against one API base. `max_wait`: seconds a call may wait for the rate limit."""

    def __init__(self, base: str, token: str, *, limit=None, max_wait: float = 0.0, attempts: int = 4,
                 timeout=HTTP_TIMEOUT, sleep: Callable[[float], None] = time.sleep, session=None):
        self.base = base.rstrip("/")
        self.token = token
        self.limit = limit or NoLimit()
        self.max_wait, self.attempts, self.timeout, self.sleep = max_wait, attempts, timeout, sleep
        self.session = session or _session(self.base)
        self.requests = 0  # requests actually sent (the benchmark and the CLI report them)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    # --- the endpoints ---------------------------------------------------------------------------

    def customer_groups(self) -> list:
        """The address books this token can see: [{customer_group_id, name, message_box_ids, …}]."""
        return self.call("GET", "customer_groups") or []

    def create(self, book: int, body: dict) -> dict:
        """Register one contact in address book `book`."""
        return self.call("POST", f"customer_groups/{int(book)}/customers/create", body) or {}

    def get_by_system_id(self, book: int, system_id1: str) -> dict:
        """The contact whose system_id1 (customer code) is `system_id1`; NotFound if none."""
        return self.call("GET", _contact_path(book, "system_id1", system_id1)) or {}

    def get_by_email(self, book: int, email: str) -> dict:
        """The contact that has `email`; NotFound if none."""
        return self.call("GET", _contact_path(book, "email", email)) or {}

    def update_by_system_id(self, book: int, system_id1: str, body: dict) -> dict:
        """Update the contact with this system_id1 (the key is not part of the body)."""
        return self.call("PUT", _contact_path(book, "system_id1", system_id1), body) or {}

    def update_by_email(self, book: int, email: str, body: dict) -> dict:
        """Update the contact that has `email` (the body may set its system_id1)."""
        return self.call("PUT", _contact_path(book, "email", email), body) or {}

    def delete_by_system_id(self, book: int, system_id1: str) -> None:
        """Delete the contact with this system_id1."""
        self.call("DELETE", _contact_path(book, "system_id1", system_id1))

    # --- one call ------------------------------------------------------------------------------------

    def call(self, method: str, path: str, body=None):
        """Send one request (retrying 5xx/network failures, waiting out 403s); the decoded JSON."""
        failures = limited = 0
        while True:
            self._take_slot()
            try:
                return self._send(method, path, body)
            except RateLimited as exc:
                limited += 1
                if limited > LIMIT_WAITS or exc.wait > self.max_wait:
                    raise
                self.sleep(max(exc.wait, 0.5))
            except Unavailable as exc:
                failures += 1
                if not should_retry(exc, failures, self.attempts):
                    raise
                log.info("helpdesk API %s %s: %s (retry %d)", method, path, exc, failures)
                self.sleep(backoff(failures))

    def _take_slot(self) -> None:
        """Wait for a free slot of the shared limit, or raise RateLimited when that is too long."""
        while True:
            wait = self.limit.reserve()
            if wait <= 0:
                return
            if wait > self.max_wait:
                raise RateLimited(wait, "API call limit reached (60 a minute)")
            self.sleep(wait)

    def _send(self, method: str, path: str, body):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": CONTENT_TYPE,
                   "Accept": "application/json", "User-Agent": USER_AGENT}
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        try:
            response = self.session.request(method, f"{self.base}/{path}", data=data, headers=headers,
                                            timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            raise Unavailable(None, f"timeout ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise Unavailable(None, f"cannot connect ({type(exc).__name__})") from None
        self.requests += 1
        with response:
            wait = self.limit.learn(response.headers, response.status_code)
            status = response.status_code
            if status == 403:
                raise RateLimited(wait if wait is not None else 60.0, _message(response))
            if 300 <= status < 400:
                raise HelpdeskError(status, f"redirect to {response.headers.get('Location', '?')}")
            if status >= 400:
                raise error_for(status, _message(response))
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise Unavailable(status, "the answer is not JSON") from None


def _session(base: str) -> requests.Session:
    """A keep-alive session; proxy settings from the environment are read once here, not per request."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base))
    session.trust_env = False
    return session


def _contact_path(book: int, key: str, value: str) -> str:
    # '+' (relay addresses) and '/' must reach the server as data, not as a space or a path step.
    return f"customer_groups/{int(book)}/customers/{key}/{quote(str(value), safe='@')}"

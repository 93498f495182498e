"""Outgoing SMTP: URL parsing, a re-used connection, and typed, classified failures.

Flask-free, so the outbox worker, the connection test in the admin UI and the benchmark share it.
"""
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from email import policy
from email.message import Message
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(f"mallbridge.{__name__}")

DEFAULT_TIMEOUT = 30.0
# A connection idle longer than this is probed with NOOP before re-use: servers drop idle
# sessions (often after 60-300 s) and a send on a dead socket would cost the message a retry.
PROBE_AFTER_IDLE = 20.0
# Code used for failures without an SMTP reply (socket errors, timeouts), as Mailman does.
NO_REPLY_CODE = 444


class SmtpUrlError(ValueError):
    """MALLBRIDGE_SMTP_URL cannot be used; the message says what is wrong."""


class SmtpError(Exception):
    """A failed SMTP exchange. `connection` is True when no session could be set up at all
    (connect, TLS, greeting, AUTH): the server is unreachable, not the message at fault."""

    def __init__(self, code, text, *, connection=False):
        self.code = code
        self.text = text
        self.connection = connection
        super().__init__(f"{code} {text}" if code else text)


class TemporaryError(SmtpError):
    """Try again later: 4xx, 552, disconnects, timeouts, an unreachable server."""


class PermanentError(SmtpError):
    """Do not retry: 5xx except 552."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect; built by parse_smtp_url."""

    host: str
    port: int
    mode: str = "plain"  # plain | starttls | smtps
    username: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    verify: bool = True  # verify the server certificate (off only for self-signed test servers)
    cafile: str | None = None

    def display(self):
        """The URL without the password, for logs and the admin UI."""
        scheme = "smtps" if self.mode == "smtps" else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        tls = "?starttls=1" if self.mode == "starttls" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{tls}"


def parse_smtp_url(url):
    """smtp://[user:pw@]host[:port][?starttls=1&timeout=S&verify=0&cafile=PATH] or smtps://…"""
    if not url or not str(url).strip():
        raise SmtpUrlError("SMTP URL is empty (set MALLBRIDGE_SMTP_URL, e.g. smtp://127.0.0.1:1025)")
    parts = urlsplit(str(url).strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise SmtpUrlError(f"SMTP URL must start with smtp:// or smtps:// (got {scheme or 'no'} scheme)")
    if not parts.hostname:
        raise SmtpUrlError("SMTP URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise SmtpUrlError("SMTP URL has an invalid port") from None
    params = {k.lower(): v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(params) - {"starttls", "timeout", "verify", "cafile"}
    if unknown:
        raise SmtpUrlError("unknown SMTP URL parameter(s): " + ", ".join(sorted(unknown)))
    starttls = _flag(params, "starttls", False)
    if scheme == "smtps" and starttls:
        raise SmtpUrlError("use either smtps:// or ?starttls=1, not both")
    mode = "smtps" if scheme == "smtps" else ("starttls" if starttls else "plain")
    try:
        timeout = float(params.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        raise SmtpUrlError("SMTP URL parameter timeout must be a number of seconds") from None
    if not 0 < timeout <= 600:
        raise SmtpUrlError("SMTP URL parameter timeout must be between 0 and 600 seconds")
    default_port = {"plain": 25, "starttls": 587, "smtps": 465}[mode]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if not (username or "").isascii() or not (password or "").isascii():
        # smtplib encodes AUTH data as ASCII; fail here rather than at the first send.
        raise SmtpUrlError("SMTP user name and password must be ASCII (percent-encode special characters)")
    return SmtpSettings(
        host=parts.hostname, port=port or default_port, mode=mode, username=username, password=password,
        timeout=timeout, verify=_flag(params, "verify", True), cafile=params.get("cafile") or None)


def _flag(params, name, default):
    value = params.get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on", ""):  # a bare "?starttls" means on
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SmtpUrlError(f"SMTP URL parameter {name} must be 1 or 0")


def classify(code):
    """'permanent' for 5xx except 552; 'temporary' for 4xx, 552 and no reply at all."""
    # RFC 5321 4.5.3.1.10: 552 "too much mail data" was historically used for a full mailbox,
    # which clears up, so it is retried like a 4xx (Mailman's deliver.py does the same).
    if code is not None and 500 <= int(code) <= 599 and int(code) != 552:
        return "permanent"
    return "temporary"


def _error(code, text, connection=False):
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    cls = PermanentError if classify(code) == "permanent" and not connection else TemporaryError
    return cls(code, text.strip(), connection=connection)


class SmtpConnection:
    """One SMTP session re-used for many messages; closed after any error so the next send
    reconnects. Not thread-safe: one per worker."""

    def __init__(self, settings, timeout=None, ssl_context=None):
        self.settings = settings
        self.timeout = timeout or settings.timeout
        self.ssl_context = ssl_context
        self.connections = 0  # sessions opened so far (the tests count them)
        self._smtp = None
        self._last_used = 0.0

    def _context(self):
        if self.ssl_context is not None:
            return self.ssl_context
        ctx = ssl.create_default_context(cafile=self.settings.cafile)
        if not self.settings.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def connect(self):
        """Open the session (TLS and AUTH included); raises TemporaryError(connection=True)."""
        s = self.settings
        try:
            if s.mode == "smtps":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        except smtplib.SMTPResponseException as exc:
            raise _error(exc.smtp_code, exc.smtp_error, connection=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryError(NO_REPLY_CODE, f"cannot connect to {s.host}:{s.port}: {exc}",
                                 connection=True) from exc
        try:
            smtp.ehlo()
            if s.mode == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password or "")
        except smtplib.SMTPResponseException as exc:
            _close(smtp)
            raise _error(exc.smtp_code, exc.smtp_error, connection=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            _close(smtp)
            raise TemporaryError(NO_REPLY_CODE, f"session setup with {s.host}:{s.port} failed: {exc}",
                                 connection=True) from exc
        self._smtp = smtp
        self.connections += 1
        self._last_used = time.monotonic()
        log.debug("connected to %s", s.display())

    def _ensure(self):
        if self._smtp is not None and time.monotonic() - self._last_used > PROBE_AFTER_IDLE:
            try:
                code, _ = self._smtp.noop()
                if code != 250:
                    self.close()
            except (OSError, smtplib.SMTPException):
                self.close()
        if self._smtp is None:
            self.connect()

    def send(self, msg, sender, recipients):
        """Send one message; returns {rcpt: (code, text)} of refused recipients (all of them
        when nobody was accepted). Raises TemporaryError / PermanentError for the whole message."""
        if isinstance(msg, Message):
            data = msg.as_bytes(policy=policy.SMTP)
        else:
            data = bytes(msg)
        self._ensure()
        try:
            refused = self._smtp.sendmail(sender, list(recipients), data)
        except smtplib.SMTPRecipientsRefused as exc:
            # smtplib has already sent RSET, so the session stays usable.
            refused = exc.recipients
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, …
            self.close()
            raise _error(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:  # disconnects, timeouts
            self.close()
            raise TemporaryError(NO_REPLY_CODE, f"{type(exc).__name__}: {exc}") from exc
        self._last_used = time.monotonic()
        return {rcpt: (code, _text(text)) for rcpt, (code, text) in refused.items()}

    def close(self):
        """QUIT (best effort) and forget the session."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _close(smtp)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _text(text):
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _close(smtp):
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    try:
        smtp.close()
    except OSError:
        pass

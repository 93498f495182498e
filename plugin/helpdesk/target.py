"""Where the push goes: the active helpdesk environment's API base, token and address book.

The API base is the deployment config `MALLBRIDGE_HELPDESK_API_BASE` when set (the demo points it
at `mallbridge fake-helpdesk`), else derived from the environment's URL:
`https://<subdomain>.relationapp.jp` → `https://<subdomain>.relationapp.jp/api/v2`.
"""
import dataclasses
from urllib.parse import urlsplit

from flask import current_app

from plugin import crypto
from plugin.helpdesk import environments
from plugin.helpdesk.api import HelpdeskApi
from plugin.helpdesk.ratelimit import SharedLimit, token_fingerprint


@dataclasses.dataclass(frozen=True)
class Target:
    """One address book reached with one token."""

    env: str
    base: str
    book_id: int
    token: str = dataclasses.field(repr=False)

    @property
    def key(self) -> str:
        """The push state's name for this book: API host and path plus the book ID."""
        parts = urlsplit(self.base)
        return f"{parts.netloc}{parts.path.rstrip('/')}#{self.book_id}"[:255]

    @property
    def token_fp(self) -> str:
        """The token's fingerprint (plugin.helpdesk.ratelimit)."""
        return token_fingerprint(self.token)


class NotReady(Exception):
    """The push cannot run; `message_ja` says what the admin has to set."""

    def __init__(self, message_ja: str, reason: str = "config"):
        super().__init__(message_ja)
        self.message_ja, self.reason = message_ja, reason


def api_base(env) -> str | None:
    """The Open API base for an environment (config override first), or None without a URL."""
    configured = (current_app.config.get("HELPDESK_API_BASE") or "").strip()
    if configured:
        return configured.rstrip("/")
    if env.url:
        return env.url.rstrip("/") + "/api/v2"
    return None


def rate_limit() -> int:
    """Requests per minute and token that mallbridge allows itself (0: no limit, fakes only)."""
    return int(current_app.config.get("HELPDESK_RATE_LIMIT", 60) or 0)


def current(*, require_push: bool = True) -> Target:
    """The active environment's target; NotReady (with a Japanese reason) when something is missing."""
    env = environments.active_environment()
    if require_push and not env.push:
        raise NotReady(f"{env.label}の「会員をアドレス帳に送る」がオフです。", "off")
    missing = []
    base = api_base(env)
    if not base:
        missing.append("ヘルプデスクのURL")
    if not env.has_api_token:
        missing.append("APIトークン")
    if not env.address_book_id:
        missing.append("アドレス帳ID")
    if missing:
        raise NotReady(f"{env.label}の{'・'.join(missing)}が未設定のため、会員をアドレス帳に送れません。"
                       "管理 › ヘルプデスク環境で設定してください。")
    try:
        token = env.api_token()
    except crypto.CryptoError:
        raise NotReady("保存されたAPIトークンを復号できません。暗号鍵（MALLBRIDGE_ENCRYPTION_KEY）を確認するか、"
                       "トークンを貼り直してください。") from None
    return Target(env.name, base, int(env.address_book_id), token)


def api_for(target: Target, *, max_wait: float = 0.0, attempts: int = 4, timeout=None, sleep=None) -> HelpdeskApi:
    """A client for the target that counts against the shared per-token limit."""
    limit = rate_limit()
    kwargs = {"timeout": timeout} if timeout else {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return HelpdeskApi(target.base, target.token, limit=SharedLimit(target.token_fp, limit) if limit else None,
                       max_wait=max_wait, attempts=attempts, **kwargs)

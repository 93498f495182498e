"""Connection test of a helpdesk environment: a test mail to the inbox, and an API ping.

Used by the admin button and `mallbridge helpdesk test ENV`. Every network call gives up
after at most 10 seconds, so the admin page never hangs; every outcome is a Japanese
sentence the shop admin can act on.
"""
import collections
import dataclasses
import datetime as dt
import secrets
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import requests
from flask import current_app

from plugin import clock, crypto, helpdesk, outbox, smtp

TIMEOUT = 10.0
# requests applies the timeout per phase; 4 s to connect + 6 s to read stays within 10 s.
HTTP_TIMEOUT = (4.0, 6.0)
API_LIMIT_PER_MINUTE = 60  # Re:lation's documented per-tenant limit


@dataclasses.dataclass
class Step:
    """One part of the test: ok is True/False, or None when skipped."""

    name: str
    ok: bool | None
    message: str


@dataclasses.dataclass
class Report:
    """The outcome of a connection test."""

    env: str
    code: str
    steps: list

    @property
    def ok(self):
        """No step failed (skipped steps do not count)."""
        return all(s.ok is not False for s in self.steps)


def run(env_name):
    """Test one environment: SMTP test mail, then the API ping when a token is set."""
    env = helpdesk.environment(env_name)
    code = "MB-" + secrets.token_hex(4).upper()
    steps = [send_test_mail(env, code), ping_api(env)]
    return Report(env=env_name, code=code, steps=steps)


# --- test mail ------------------------------------------------------------------------------

def build_test_mail(env, code, sender):
    """The test message: the unique code in the subject lets the admin find it in the inbox."""
    msg = EmailMessage()
    msg["Subject"] = f"[mallbridge] 接続テスト {code}"
    msg["From"] = sender
    msg["To"] = env.forward_to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid("helpdesk-test", domain=sender.split("@", 1)[1])
    msg["X-Mallbridge-Test"] = code
    msg.set_content(
        f"mallbridge からの接続テストです（{env.label}）。\n"
        f"このメールがヘルプデスクの受信箱に届いていれば、転送設定は正しく動いています。\n\n"
        f"確認コード: {code}\n送信日時: {clock.to_jst(clock.now()):%Y-%m-%d %H:%M} (JST)\n")
    return msg


def send_test_mail(env, code):
    """Send the test mail to the environment's forwarding address; report what the server said."""
    if not env.forward_to:
        return Step("smtp", False, "転送用アドレスが未設定のため、テストメールを送れません。")
    if not (current_app.config.get("SMTP_URL") or "").strip():
        return Step("smtp", False, "送信用SMTPが設定されていません。サーバーの環境変数 MALLBRIDGE_SMTP_URL"
                                   "（例: smtp://user:pw@smtp.example.jp:587?starttls=1）を設定してください。")
    try:
        config = smtp.parse_smtp_url(current_app.config.get("SMTP_URL"))
    except smtp.SmtpUrlError as exc:
        return Step("smtp", False, f"送信用SMTPの設定（MALLBRIDGE_SMTP_URL）に問題があります: {exc}")
    sender = outbox.system_sender()
    msg = build_test_mail(env, code, sender)
    where = f"{config.host}:{config.port}"
    try:
        with smtp.SmtpConnection(config, timeout=min(config.timeout, TIMEOUT)) as conn:
            refused = conn.send(msg, sender, [env.forward_to])
    except smtp.SmtpError as exc:
        if exc.code in (None, smtp.NO_REPLY_CODE):
            return Step("smtp", False, f"SMTPサーバー {where} に接続できないか、{int(TIMEOUT)}秒以内に応答がありませんでした: {exc.text}")
        return Step("smtp", False, f"SMTPサーバー {where} がテストメールを受け付けませんでした: {exc.code} {exc.text}")
    if refused:
        code_, text = refused.get(env.forward_to) or next(iter(refused.values()))
        return Step("smtp", False, f"SMTPサーバー {where} が宛先 {env.forward_to} を拒否しました: {code_} {text}")
    return Step("smtp", True, f"SMTPサーバー {where} がテストメールを受け付けました。受信箱に件名「接続テスト {code}」の"
                              f"メールが届くか確認してください（宛先 {env.forward_to}）。")


# --- API ping -------------------------------------------------------------------------------

class _RateLimit:
    """At most 60 calls per minute per helpdesk host, and none while the API said to wait."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = collections.defaultdict(collections.deque)
        self.blocked_until = {}

    def wait_seconds(self, host):
        """Seconds to wait before the next call to `host` (0: go ahead; the call is counted)."""
        now = clock.now()
        with self.lock:
            until = self.blocked_until.get(host)
            if until and until > now:
                return max(1, int((until - now).total_seconds() + 0.999))
            calls = self.calls[host]
            while calls and (now - calls[0]).total_seconds() >= 60:
                calls.popleft()
            if len(calls) >= API_LIMIT_PER_MINUTE:
                return max(1, int(60 - (now - calls[0]).total_seconds() + 0.999))
            calls.append(now)
            return 0

    def block(self, host, seconds):
        """Make no call to `host` for `seconds`."""
        with self.lock:
            self.blocked_until[host] = clock.now() + dt.timedelta(seconds=seconds)

    def reset(self):
        """Forget all state (tests)."""
        with self.lock:
            self.calls.clear()
            self.blocked_until.clear()


LIMIT = _RateLimit()


def api_url(env):
    """The endpoint used for the ping: the inbox's label list (cheap, read-only)."""
    return f"{env.url}/api/v2/{env.inbox_id}/labels"


def ping_api(env):
    """GET the inbox's labels with the API token; skipped when no token is set."""
    if not env.has_api_token:
        return Step("api", None, "APIトークンが未設定のため、APIの確認は省略しました。")
    if not env.complete:
        return Step("api", False, "URLと受信箱IDを設定してから、APIを確認してください。")
    host = env.url.split("/")[2]
    wait = LIMIT.wait_seconds(host)
    if wait:
        return Step("api", False, f"APIの呼び出し回数の上限（1分あたり{API_LIMIT_PER_MINUTE}回）に達しています。"
                                  f"{wait}秒後にもう一度お試しください。")
    try:
        token = env.api_token()
    except crypto.CryptoError as exc:
        return Step("api", False, f"保存されたAPIトークンを復号できません（暗号鍵の設定を確認してください）: {exc}")
    try:
        response = requests.get(api_url(env), timeout=HTTP_TIMEOUT, allow_redirects=False, headers={
            "Authorization": f"Bearer {token}", "Accept": "application/json",
            "User-Agent": "mallbridge-helpdesk-test"})
    except requests.Timeout:
        return Step("api", False, f"ヘルプデスクのAPIが{int(TIMEOUT)}秒以内に応答しませんでした。しばらくしてからもう一度お試しください。")
    except requests.RequestException as exc:
        return Step("api", False, f"ヘルプデスクのAPI（{host}）に接続できませんでした。URLを確認してください（{type(exc).__name__}）。")
    with response:
        _respect_headers(host, response)
        return _interpret(env, response)


def _respect_headers(host, response):
    """Honour Retry-After / X-RateLimit-Remaining and -Reset for the following calls."""
    headers = response.headers
    seconds = None
    if response.status_code == 429 or headers.get("X-RateLimit-Remaining", "").strip() == "0":
        seconds = _seconds_until(headers.get("Retry-After")) or _seconds_until(headers.get("X-RateLimit-Reset")) or 60
    if seconds:
        LIMIT.block(host, min(seconds, 3600))
    return seconds


def _seconds_until(value):
    """Seconds from a header that is either a delay or a UNIX time (X-RateLimit-Reset)."""
    try:
        number = int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None
    if number > 1_000_000_000:
        reset = dt.datetime.fromtimestamp(number, dt.UTC).replace(tzinfo=None)
        number = int((reset - clock.now()).total_seconds() + 0.999)
    return number if number > 0 else None


def _interpret(env, response):
    status = response.status_code
    if status == 200:
        remaining = response.headers.get("X-RateLimit-Remaining")
        extra = f"（残りAPI呼び出し回数: {remaining}）" if remaining else ""
        return Step("api", True, f"ヘルプデスクのAPIに接続できました。受信箱ID {env.inbox_id} を読み取れます{extra}。")
    if status == 401:
        return Step("api", False, "APIトークンが無効です（401）。ヘルプデスクでトークンが削除・再発行されていないか確認し、"
                                  "新しいトークンを貼り直してください。")
    if status == 403:
        return Step("api", False, f"このAPIトークンでは受信箱ID {env.inbox_id} にアクセスできません（403）。"
                                  "トークンを発行したユーザーがこの受信箱の担当者か、受信箱IDが正しいか確認してください。")
    if status == 404:
        return Step("api", False, f"受信箱ID {env.inbox_id} がヘルプデスクに見つかりません（404）。URLと受信箱IDを確認してください。")
    if status == 429:
        wait = _seconds_until(response.headers.get("Retry-After")) or _seconds_until(
            response.headers.get("X-RateLimit-Reset")) or 60
        return Step("api", False, f"APIの呼び出し回数の上限に達しました（429）。{wait}秒後にもう一度お試しください。")
    if 300 <= status < 400:
        return Step("api", False, f"ヘルプデスクのAPIが転送（{status}）を返しました。URLがヘルプデスクのURL（https://〜.relationapp.jp）か確認してください。")
    if status >= 500:
        return Step("api", False, f"ヘルプデスクのAPIがエラーを返しました（{status}）。しばらくしてからもう一度お試しください。")
    return Step("api", False, f"ヘルプデスクのAPIから予期しない応答がありました（{status}）。")

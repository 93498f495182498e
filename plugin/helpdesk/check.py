"""Connection test of a helpdesk environment: a test mail to the inbox, and the address books
the API token can see.

Used by the admin button and `mallbridge helpdesk test ENV`. Every network call gives up
after at most 10 seconds, so the admin page never hangs; every outcome is a Japanese
sentence the shop admin can act on. The API call counts against the same per-token rate limit
as the address-book push (plugin.helpdesk.ratelimit), in whichever process it runs.
"""
import dataclasses
import secrets
from urllib.parse import urlsplit

from flask import current_app

from plugin import clock, compose, crypto, helpdesk, outbox, smtp
from plugin.helpdesk import api as api_errors
from plugin.helpdesk import target as targets

TIMEOUT = 10.0
# requests applies the timeout per phase; 4 s to connect + 6 s to read stays within 10 s.
HTTP_TIMEOUT = (4.0, 6.0)
API_LIMIT_PER_MINUTE = 60  # the helpdesk's documented limit per token


@dataclasses.dataclass
class Step:
    """One part of the test: ok is True/False, or None when skipped."""

    name: str
    ok: bool | None
    message: str
    details: list = dataclasses.field(default_factory=list)  # e.g. the address books the token can see


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
    """The test message: the unique code in the subject lets the admin find it in the inbox.

    Composed like every other mail of mallbridge (plugin.compose): dated in Japan time, header
    lines folded the same way."""
    return compose.build_message(
        sender=sender, to=env.forward_to, subject=f"[mallbridge] 接続テスト {code}",
        message_id=compose.make_msgid(f"helpdesk-test.{code}", sender.split("@", 1)[1]),
        headers={"X-Mallbridge-Test": code},
        body=(f"mallbridge からの接続テストです（{env.label}）。\n"
              f"このメールがヘルプデスクの受信箱に届いていれば、転送設定は正しく動いています。\n\n"
              f"確認コード: {code}\n送信日時: {clock.to_jst(clock.now()):%Y-%m-%d %H:%M} (JST)\n"))


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


# --- API: the address books the token can see --------------------------------------------------

def ping_api(env):
    """List the address books the token can see (through the shared rate limit); skipped without a token."""
    if not env.has_api_token:
        return Step("api", None, "APIトークンが未設定のため、APIの確認は省略しました。")
    base = targets.api_base(env)
    if not base:
        return Step("api", False, "ヘルプデスクのURLを設定してから、APIを確認してください。")
    host = urlsplit(base).netloc
    try:
        token = env.api_token()
    except crypto.CryptoError as exc:
        return Step("api", False, f"保存されたAPIトークンを復号できません（暗号鍵の設定を確認してください）: {exc}")
    target = targets.Target(env.name, base, env.address_book_id or 0, token)
    # One attempt, no waiting: the admin's page must answer within TIMEOUT seconds.
    api = targets.api_for(target, max_wait=0, attempts=1, timeout=HTTP_TIMEOUT)
    try:
        books = api.customer_groups()
    except api_errors.RateLimited as exc:
        return Step("api", False, f"APIの呼び出し回数の上限（1分あたり{API_LIMIT_PER_MINUTE}回）に達しています。"
                                  f"{int(exc.wait) + 1}秒後にもう一度お試しください。")
    except api_errors.AuthFailed:
        return Step("api", False, "APIトークンが無効です（401）。ヘルプデスクでトークンが削除・再発行されていないか確認し、"
                                  "新しいトークンを貼り直してください。")
    except api_errors.NotFound:
        return Step("api", False, f"ヘルプデスクのAPI（{host}）にアドレス帳の一覧がありません（404）。"
                                  "URLがヘルプデスクのURL（https://〜.relationapp.jp）か確認してください。")
    except api_errors.Unavailable as exc:
        if exc.status is None and "timeout" in exc.message:
            return Step("api", False, f"ヘルプデスクのAPIが{int(TIMEOUT)}秒以内に応答しませんでした。しばらくしてからもう一度お試しください。")
        if exc.status is None:
            return Step("api", False, f"ヘルプデスクのAPI（{host}）に接続できませんでした。URLを確認してください（{exc.message}）。")
        return Step("api", False, f"ヘルプデスクのAPIがエラーを返しました（{exc.status}）。しばらくしてからもう一度お試しください。")
    except api_errors.HelpdeskError as exc:
        if exc.status and 300 <= exc.status < 400:
            return Step("api", False, f"ヘルプデスクのAPIが転送（{exc.status}）を返しました。"
                                      "URLがヘルプデスクのURL（https://〜.relationapp.jp）か確認してください。")
        return Step("api", False, f"ヘルプデスクのAPIから予期しない応答がありました（{exc.status}: {exc.message}）。")
    finally:
        api.close()
    return _books_step(env, books)


def _books_step(env, books):
    """Success, unless the configured address book is not among those the token can see."""
    listed = [f"ID {b.get('customer_group_id')}「{b.get('name')}」" for b in books if isinstance(b, dict)]
    ids = {str(b.get("customer_group_id")) for b in books if isinstance(b, dict)}
    seen = "、".join(listed) if listed else "なし"
    if env.address_book_id and str(env.address_book_id) not in ids:
        return Step("api", False, f"APIには接続できましたが、アドレス帳ID {env.address_book_id} はこのトークンでは見えません"
                                  f"（見えるアドレス帳: {seen}）。アドレス帳IDを確認してください。", listed)
    if not listed:
        return Step("api", True, "ヘルプデスクのAPIに接続できました。このトークンで見えるアドレス帳はありません。", listed)
    chosen = f"会員の送信先はアドレス帳ID {env.address_book_id} です。" if env.address_book_id else \
        "会員を送るには、この中からアドレス帳IDを設定してください。"
    return Step("api", True, f"ヘルプデスクのAPIに接続できました。このトークンで見えるアドレス帳: {seen}。{chosen}", listed)

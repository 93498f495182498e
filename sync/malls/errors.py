"""Typed mall errors: the poller and the admin UI decide on the class, never on strings.

Every error carries the mall ("rakuten" | "yahoo"), the HTTP status (None for transport
errors), the mall's own error code and reason, and a Japanese explanation for shop staff.
"""

# Japanese explanations of the mall codes listed in docs/mall-apis.md; shown on the dashboard.
CODE_EXPLANATIONS = {
    "GA0001": "楽天のライセンスキー(licenseKey)が期限切れか無効です。RMSの「WEB APIサービス」で新しいキーを発行し、"
              "アカウント設定で更新してください(キーの有効期限は90日です)。",
    "DR0005": "ライセンスキーの有効期限確認にlicenseKeyが指定されていません。",
    "IE000": "指定期間の問い合わせが多すぎます(1回の検索は1万件まで)。期間を短くしてください。",
    "IE001": "楽天APIへのリクエストのパラメータが不正です。",
    "GF0003": "添付ファイルが大きすぎます(楽天は5MBまで)。",
    "px-04102": "Yahoo!のアクセストークンが期限切れか、公開鍵認証(X-sws-signature)が受け付けられませんでした。"
                "公開鍵とそのバージョンを確認してください。",
    "px-04306": "このサーバーの送信元IPアドレスがYahoo!ショッピングに登録されていません。"
                "ストアクリエイターProで接続元IPを登録してください。",
    "px-04303": "Yahoo!ショッピングのAPI利用(注文API・問い合わせ管理API)が承認されていません。",
    "px-14303": "Yahoo!のビジネスIDが登録されていません。",
    "px-14304": "このセラーIDでのAPI利用が許可されていません。",
    "px-04400": "Yahoo!のAPIのURLが不明です。APIのベースURL設定を確認してください。",
    "invalid_grant": "Yahoo!のリフレッシュトークンが期限切れか無効です(有効期間は4週間)。"
                     "ストアアカウントで再認可し、新しいリフレッシュトークンを登録してください。",
    "invalid_client": "Yahoo!のクライアントIDまたはシークレットが正しくありません。",
    "invalid_token": "Yahoo!のアクセストークンが期限切れか無効です。",
    "insufficient_scope": "Yahoo!のアプリケーションにこのAPIの利用権限(スコープ)がありません。",
    "sws_unauthorized": "Yahoo!が公開鍵認証(X-sws-signature)を受け付けていません(応答は返っています)。"
                        "ストアクリエイターProの暗号鍵管理で有効な公開鍵とそのバージョンを確認してください。",
}

# Codes that always mean "the credentials or the mall-side approval are wrong", whatever
# HTTP status they arrive with (Yahoo may even answer 200 with an auth problem).
AUTH_CODES = frozenset({"GA0001", "px-04102", "px-04306", "px-04303", "px-14303", "px-14304",
                        "invalid_grant", "invalid_client", "invalid_token"})


class MallError(Exception):
    """Base class: something went wrong talking to a mall."""

    default_ja = "モールAPIの呼び出しに失敗しました。"
    retryable = False

    def __init__(self, message="", *, mall=None, status=None, code=None, reason=None, targets=None):
        super().__init__(message or reason or code or self.__class__.__name__)
        self.mall = mall
        self.status = status
        self.code = code
        self.reason = reason
        self.targets = dict(targets or {})

    @property
    def explanation_ja(self):
        """What went wrong, in Japanese, for shop staff."""
        text = CODE_EXPLANATIONS.get(self.code or "", self.default_ja)
        detail = self.reason or ""
        if self.targets:
            detail = (detail + " " + ", ".join(f"{k}: {v}" for k, v in self.targets.items())).strip()
        return f"{text}({detail})" if detail else text

    def __str__(self):
        parts = [p for p in (self.mall, str(self.status) if self.status else None, self.code) if p]
        head = "[" + " ".join(parts) + "] " if parts else ""
        return head + (self.args[0] if self.args else "")


class MallAuthError(MallError):
    """Credentials rejected: expired license key (GA0001), token/signature (px-04102), IP (px-04306)…"""

    default_ja = "モールの認証に失敗しました。アカウントの認証情報を確認してください。"


class RateLimited(MallError):
    """The mall answered 429; retry_after is in seconds (None when the mall did not say)."""

    default_ja = "モールAPIの呼び出し回数の上限に達しました。しばらく待ってから自動で再試行します。"
    retryable = True

    def __init__(self, message="", *, retry_after=None, **kw):
        super().__init__(message or "rate limited", **kw)
        self.retry_after = retry_after


class TemporaryMallError(MallError):
    """5xx, timeouts and connection errors: try again later."""

    default_ja = "モールのサーバーに一時的に接続できません(タイムアウトまたはサーバーエラー)。自動で再試行します。"
    retryable = True


class PermanentMallError(MallError):
    """Any other 4xx: the request itself is wrong; retrying the same call will not help."""

    default_ja = "モールがリクエストを受け付けませんでした。"


class NotFound(PermanentMallError):
    """404: the inquiry, topic or file does not exist (any more)."""

    default_ja = "モール側に該当するデータがありません(削除された可能性があります)。"


class Conflict(PermanentMallError):
    """409 on a Rakuten reply: duplicate data, not registered."""

    default_ja = "同じ内容がすでに登録されているため、モールが登録しませんでした。"


class ResponseTooLarge(PermanentMallError):
    """The response (usually an attachment) is larger than the configured cap."""

    default_ja = "モールからの応答(添付ファイル)が大きすぎるため取得しませんでした。"


class InvalidRequest(PermanentMallError):
    """Rejected before sending: the mall's documented limits would refuse it (e.g. 2000 chars)."""

    default_ja = "モールの制限を超えているため送信できません。"


class MalformedResponse(MallError):
    """Bad or truncated JSON/XML, or fields of unexpected types."""

    default_ja = "モールから解釈できない応答が返されました(壊れたJSON/XMLまたは想定外の形式)。"
    # A truncated body is usually a transport hiccup; the retry budget bounds the rest.
    retryable = True

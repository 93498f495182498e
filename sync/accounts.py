"""Mall accounts: add, change, renew, list, the connection test (連携テスト), and client building.

Shared by `mallbridge accounts …` and the admin pages, so both validate the same way. Secrets
are write-only: blank input keeps the stored value.
"""
import datetime as dt
import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from plugin.models import Shop
from sync import options
from sync.errors import MallAuthError, MallError
from sync.models import MallAccount, SyncCursor
from plugin.invalid import InvalidInput

IP_UNCHECKED = "接続元が拒否されたため、一覧の取得権限は確認できませんでした（送信元IPの行を参照）。"
_SECRET = re.compile(r"^[\x21-\x7e]{1,50}$")  # printable ASCII, no spaces: ESA values are ≤ 50 chars



@dataclass(frozen=True)
class Check:
    """One line of the connection test: what was checked, whether it works, and why not."""

    label: str
    ok: bool
    detail: str


def find_shop(code):
    """The shop with this code, or InvalidInput."""
    shop = db.session.scalar(select(Shop).where(Shop.code == (code or "").strip()))
    if shop is None:
        raise InvalidInput({"shop": f"店舗コード「{code}」の店舗がありません（mallbridge shops list で確認）。"})
    return shop


def _text(values, key, errors, label, pattern=None, required=True, limit=255):
    value = (values.get(key) or "").strip()
    if not value:
        if required:
            errors[key] = f"{label}を入力してください。"
        return None
    if len(value) > limit or (pattern is not None and not re.fullmatch(pattern, value)):
        errors[key] = f"{label}の形式が正しくありません。"
    return value


def _rakuten_fields(values, errors, creating):
    out = {"rakuten_shop_id": _text(values, "rakuten_shop_id", errors, "楽天の店舗ID", r"\d{1,20}", creating)}
    for key, label in (("service_secret", "serviceSecret"), ("license_key", "licenseKey")):
        value = (values.get(key) or "").strip()
        if value and not _SECRET.match(value):
            errors[key] = f"{label}は空白を含まない50文字以内の英数字記号です。"
        elif not value and creating:
            errors[key] = f"{label}を入力してください。"
        out[key] = value or None
    return out


def _yahoo_fields(values, errors, creating):
    out = {"seller_id": _text(values, "seller_id", errors, "セラーID", r"[A-Za-z0-9_.-]{1,64}", creating),
           "client_id": _text(values, "client_id", errors, "クライアントID", r"[\x21-\x7e]{1,255}", creating),
           "key_version": _text(values, "key_version", errors, "公開鍵のバージョン", r"\d{1,8}", creating)}
    for key, label in (("client_secret", "シークレット"), ("refresh_token", "リフレッシュトークン")):
        value = (values.get(key) or "").strip()
        if value and not re.fullmatch(r"[\x21-\x7e]{1,2000}", value):
            errors[key] = f"{label}の形式が正しくありません。"
        elif not value and creating:
            errors[key] = f"{label}を入力してください。"
        out[key] = value or None
    pem = (values.get("public_key") or "").strip()
    if pem:
        from sync.yahoo import load_public_key

        try:
            load_public_key(pem)
        except ValueError:
            errors["public_key"] = "公開鍵はPEM形式（-----BEGIN PUBLIC KEY-----で始まる）で指定してください。"
    elif creating:
        errors["public_key"] = "公開鍵を指定してください。"
    out["public_key"] = pem or None
    return out


def add(mall, shop_code, values):
    """Create an account (flushed, not committed); raises InvalidInput."""
    if mall not in ("rakuten", "yahoo"):
        raise InvalidInput({"mall": "モールは rakuten か yahoo です。"})
    shop = find_shop(shop_code)
    errors = {}
    fields = (_rakuten_fields if mall == "rakuten" else _yahoo_fields)(values, errors, True)
    if errors:
        raise InvalidInput(errors)
    _refuse_duplicate(mall, fields)
    account = MallAccount(shop=shop, mall=mall, enabled=True, failures=0)
    _apply(account, fields)
    if mall == "yahoo":
        account.refresh_token_issued_at = clock.now()
    db.session.add(account)
    db.session.flush()
    db.session.add(SyncCursor(account_id=account.id))
    db.session.flush()
    return account


def _refuse_duplicate(mall, fields, account=None):
    key = "rakuten_shop_id" if mall == "rakuten" else "seller_id"
    if not fields.get(key):
        return
    column = MallAccount.rakuten_shop_id if mall == "rakuten" else MallAccount.seller_id
    query = select(MallAccount).where(MallAccount.mall == mall, column == fields[key])
    if account is not None:
        query = query.where(MallAccount.id != account.id)
    if db.session.scalar(query):
        raise InvalidInput({"mall": f"この{'店舗ID' if mall == 'rakuten' else 'セラーID'}のアカウントは登録済みです。"})


def update(account, values):
    """Change an account from the admin form: blank secrets keep their stored values."""
    errors = {}
    fields = (_rakuten_fields if account.mall == "rakuten" else _yahoo_fields)(values, errors, False)
    if errors:
        raise InvalidInput(errors)
    # Two accounts polling one store would mail every message twice.
    _refuse_duplicate(account.mall, fields, account)
    renewed = fields.get("license_key") or fields.get("refresh_token")
    _apply(account, fields)
    if "enabled" in values:
        account.enabled = bool(values["enabled"])
    if fields.get("refresh_token"):
        account.refresh_token_issued_at = clock.now()
        account.access_token = None
    if renewed or fields.get("service_secret") or fields.get("client_secret") or fields.get("public_key"):
        resume(account)


def _apply(account, fields):
    for key, value in fields.items():
        if value is not None:
            setattr(account, key, value)


def renew(account, *, license_key=None, refresh_token=None):
    """Store a new license key / refresh token and resume polling (catch-up from the last success)."""
    errors = {}
    if account.mall == "rakuten":
        if not license_key or not _SECRET.match(license_key.strip()):
            errors["license_key"] = "新しいlicenseKeyを入力してください（空白なし50文字以内）。"
    elif not refresh_token or not re.fullmatch(r"[\x21-\x7e]{1,2000}", refresh_token.strip()):
        errors["refresh_token"] = "新しいリフレッシュトークンを入力してください。"
    if errors:
        raise InvalidInput(errors)
    if license_key:
        account.license_key = license_key.strip()
        account.license_expires_at = None  # learnt again from the expiry endpoint
    if refresh_token:
        account.refresh_token = refresh_token.strip()
        account.refresh_token_issued_at = clock.now()
        account.access_token = None
    resume(account)


def resume(account):
    """Clear a pause and the backoff so the next pass polls at once (the cursor is untouched,
    so it catches up on everything since the last complete pass)."""
    account.paused_reason = None
    account.failures = 0
    account.next_poll_at = None
    account.last_error = account.last_error_ja = None


def all_accounts():
    """Every account, by id."""
    return list(db.session.scalars(select(MallAccount).order_by(MallAccount.id)))


def client_for(account):
    """A mall client for the account with the configured base URLs and pacing."""
    cfg = current_app.config
    pacing = options.get("pacing_ms")
    rate = 1000.0 / pacing if pacing else None
    if account.mall == "rakuten":
        from sync.rakuten import RakutenClient

        return RakutenClient(account.service_secret, account.license_key, account.rakuten_shop_id,
                             base_url=cfg["RAKUTEN_API_BASE"], rate=rate)
    from sync.yahoo import Token, YahooClient

    token = None
    if account.access_token and account.access_token_expires_at:
        expires = account.access_token_expires_at.replace(tzinfo=dt.timezone.utc).timestamp()
        token = Token(account.access_token, expires)
    return YahooClient(account.seller_id, account.client_id, account.client_secret, account.refresh_token,
                       account.public_key, account.key_version, api_base=cfg["YAHOO_API_BASE"],
                       auth_base=cfg["YAHOO_AUTH_BASE"], token=token, rate=rate)


def keep_client_state(account, client):
    """Store what the client learnt: Yahoo!'s access token and a rotated refresh token."""
    if account.mall != "yahoo" or client.token is None:
        return
    if client.token.access_token != account.access_token:
        account.access_token = client.token.access_token
        account.access_token_expires_at = dt.datetime.fromtimestamp(
            client.token.expires_at, dt.timezone.utc).replace(tzinfo=None)
    if client.refresh_token and client.refresh_token != account.refresh_token:
        account.refresh_token = client.refresh_token
        account.refresh_token_issued_at = clock.now()


def connection_test(account):
    """Check auth, list permission and source IP against the mall; returns [Check] in Japanese."""
    checks = []
    client = client_for(account)
    try:
        if account.mall == "rakuten":
            _test_rakuten(account, client, checks)
        else:
            _test_yahoo(account, client, checks)
        keep_client_state(account, client)
    finally:
        client.close()
    return checks


def _failed(label, exc):
    return Check(label, False, exc.explanation_ja if isinstance(exc, MallError) else str(exc))


def _test_rakuten(account, client, checks):
    try:
        expiry = client.license_expiry()
        account.license_expires_at = expiry.astimezone(dt.timezone.utc).replace(tzinfo=None)
        checks.append(Check("認証（serviceSecret・licenseKey）", True,
                            f"認証できました。licenseKeyの有効期限は {expiry:%Y-%m-%d %H:%M}（日本時間）です。"))
    except MallError as exc:
        checks.append(_failed("認証（serviceSecret・licenseKey）", exc))
        if isinstance(exc, MallAuthError):
            return
    try:
        now = clock.now()
        count = client.count(now - dt.timedelta(days=30), now)
        checks.append(Check("問い合わせ一覧の取得権限", True, f"取得できました（直近30日の問い合わせ {count} 件）。"))
        checks.append(Check("送信元IP", True, "楽天APIはこのサーバーからの接続を受け付けています。"))
    except MallError as exc:
        if exc.status == 403:
            checks.append(Check("問い合わせ一覧の取得権限", False, IP_UNCHECKED))
            checks.append(Check("送信元IP", False, "接続が拒否されました（403）。RMSのAPI利用設定とIP制限を確認してください。"))
        else:
            checks.append(_failed("問い合わせ一覧の取得権限", exc))


def _test_yahoo(account, client, checks):
    try:
        client.refresh_access_token()
        checks.append(Check("認証（クライアントID・シークレット・リフレッシュトークン）", True,
                            "アクセストークンを取得できました。"))
    except MallError as exc:
        checks.append(_failed("認証（クライアントID・シークレット・リフレッシュトークン）", exc))
        return
    try:
        page = client.list(1, 1)
        signed = client.authorize_status
        checks.append(Check("質問一覧の取得権限", True, f"取得できました（質問 {page.count} 件）。"))
        if signed and signed.lower() != "authorized":
            checks.append(Check("公開鍵認証", False, f"公開鍵認証が受け付けられていません（{signed}）。公開鍵とバージョンを確認してください。"))
        else:
            checks.append(Check("公開鍵認証", True, "公開鍵による署名が受け付けられました。"))
        checks.append(Check("送信元IP", True, "このサーバーの送信元IPは登録済みです。"))
    except MallError as exc:
        if exc.code == "px-04306" or exc.status == 403:
            # Yahoo! refuses the address before it looks at permissions: say so, not "no permission".
            checks.append(Check("質問一覧の取得権限", False, IP_UNCHECKED))
            checks.append(Check("送信元IP", False, exc.explanation_ja))
        else:
            checks.append(_failed("質問一覧の取得権限", exc))


def status_text(account):
    """One-line status for `accounts list`: paused / error / ok, last poll and expiry."""
    if not account.enabled:
        state = "disabled"
    elif account.paused_reason:
        state = f"paused ({account.paused_reason})"
    elif account.last_error:
        state = "error"
    elif account.backfilled_at is None and account.backfill_total is not None:
        state = f"backfill {account.backfill_done or 0}/{account.backfill_total}"
    else:
        state = "ok" if account.last_success_at else "new"
    parts = [state, "last poll " + _iso(account.last_poll_at), "last success " + _iso(account.last_success_at)]
    if account.last_error:
        parts.append("last error: " + " ".join(account.last_error.split())[:160])
    expiry = expiry_of(account)
    if expiry:
        parts.append(f"{expiry[0]} expires {_iso(expiry[1])}")
    return ", ".join(parts)


def expiry_of(account):
    """(what, when) that expires next: the license key, or the refresh token (4 weeks after issue)."""
    if account.mall == "rakuten":
        return ("license key", account.license_expires_at) if account.license_expires_at else None
    if account.refresh_token_issued_at:
        return "refresh token", account.refresh_token_issued_at + dt.timedelta(days=28)
    return None


def _iso(value):
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"

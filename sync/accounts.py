"""Mall accounts: add, change, renew, list, the connection test (連携テスト), and client building.

Shared by `mallbridge accounts …` and the admin pages, so both validate the same way. What
differs per mall (fields, client, connection test, credential) is the mall adapter's
(sync.malls); this module is the same for every mall. Secrets are write-only: blank input keeps
the stored value.
"""
import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from plugin.invalid import InvalidInput
from plugin.models import Shop
from sync import malls, options
from sync.malls.base import Check, Client, MallAdapter
from sync.models import MallAccount, SyncCursor


def find_shop(code: str | None) -> Shop:
    """The shop with this code, or InvalidInput."""
    shop = db.session.scalar(select(Shop).where(Shop.code == (code or "").strip()))
    if shop is None:
        raise InvalidInput({"shop": f"店舗コード「{code}」の店舗がありません（mallbridge shops list で確認）。"})
    return shop


def _clean(adapter: MallAdapter, values: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    fields = adapter.clean_fields(values, errors, creating)
    if errors:
        raise InvalidInput(errors)
    return fields


def add(mall: str, shop_code: str, values: Mapping[str, Any]) -> MallAccount:
    """Create an account (flushed, not committed); raises InvalidInput."""
    if mall not in malls.MALLS:
        raise InvalidInput({"mall": f"モールは {' か '.join(malls.MALLS)} です。"})
    shop = find_shop(shop_code)
    adapter = malls.get(mall)
    fields = _clean(adapter, values, True)
    _refuse_duplicate(adapter, fields)
    account = MallAccount(shop=shop, mall=mall, enabled=True, failures=0)
    _apply(account, fields)
    if fields.get("refresh_token"):
        account.refresh_token_issued_at = clock.now()
    db.session.add(account)
    db.session.flush()
    db.session.add(SyncCursor(account_id=account.id))
    db.session.flush()
    return account


def _refuse_duplicate(adapter: MallAdapter, fields: Mapping[str, Any], account: MallAccount | None = None):
    # Two accounts polling one store would mail every message twice.
    key = adapter.external_id_field
    if not fields.get(key):
        return
    query = select(MallAccount).where(MallAccount.mall == adapter.name, getattr(MallAccount, key) == fields[key])
    if account is not None:
        query = query.where(MallAccount.id != account.id)
    if db.session.scalar(query):
        raise InvalidInput({"mall": f"この{adapter.external_id_label}のアカウントは登録済みです。"})


def update(account: MallAccount, values: Mapping[str, Any]) -> None:
    """Change an account from the admin form: blank secrets keep their stored values."""
    fields = _clean(account.adapter, values, False)
    _refuse_duplicate(account.adapter, fields, account)
    renewed = fields.get("license_key") or fields.get("refresh_token")
    _apply(account, fields)
    if "enabled" in values:
        account.enabled = bool(values["enabled"])
    if fields.get("refresh_token"):
        account.refresh_token_issued_at = clock.now()
        account.access_token = None
    if renewed or fields.get("service_secret") or fields.get("client_secret") or fields.get("public_key"):
        resume(account)


def _apply(account: MallAccount, fields: Mapping[str, Any]) -> None:
    for key, value in fields.items():
        if value is not None:
            setattr(account, key, value)


def renew(account: MallAccount, *, license_key: str | None = None, refresh_token: str | None = None) -> None:
    """Store a new license key / refresh token and resume polling (catch-up from the last success)."""
    field = account.adapter.credential.field
    problem = account.adapter.check_renewal({"license_key": license_key, "refresh_token": refresh_token}[field])
    if problem:
        raise InvalidInput({field: problem})
    if license_key:
        account.license_key = license_key.strip()
        account.license_expires_at = None  # learnt again from the expiry endpoint
    if refresh_token:
        account.refresh_token = refresh_token.strip()
        account.refresh_token_issued_at = clock.now()
        account.access_token = None
    resume(account)


def resume(account: MallAccount) -> None:
    """Clear a pause and the backoff so the next pass polls at once (the cursor is untouched,
    so it catches up on everything since the last complete pass)."""
    account.paused_reason = None
    account.failures = 0
    account.next_poll_at = None
    account.last_error = account.last_error_ja = None


def all_accounts() -> list[MallAccount]:
    """Every account, by id."""
    return list(db.session.scalars(select(MallAccount).order_by(MallAccount.id)))


def client_for(account: MallAccount) -> Client:
    """A mall client for the account with the configured base URLs and pacing."""
    pacing = options.get("pacing_ms")
    return account.adapter.client(account, current_app.config, 1000.0 / pacing if pacing else None)


def keep_client_state(account: MallAccount, client: Client) -> None:
    """Store what the client learnt (e.g. Yahoo!'s access token and a rotated refresh token)."""
    account.adapter.keep_client_state(account, client)


def connection_test(account: MallAccount) -> list[Check]:
    """Check auth, list permission and source IP against the mall; returns [Check] in Japanese."""
    client = client_for(account)
    try:
        checks = account.adapter.connection_test(account, client, clock.now())
        keep_client_state(account, client)
    finally:
        client.close()
    return checks


def status_text(account: MallAccount) -> str:
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


def expiry_of(account: MallAccount) -> tuple[str, dt.datetime] | None:
    """(what, when) that expires next: the license key, or the refresh token (4 weeks after issue)."""
    when = account.adapter.expires_at(account)
    return (account.adapter.credential.what, when) if when else None


def _iso(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"

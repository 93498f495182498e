"""Admin console: API tokens (create shown once, list, revoke; revoked tokens are refused)."""
import re

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.models import ApiToken, AuditLog
from tests import factories
from tests.console_helpers import OtherBrowser, post_form


@pytest.fixture
def admin(auth):
    """The test client logged in as admin@example.jp."""
    auth.login("admin@example.jp", "admin-password-1")
    return auth


def _create(client, name="自社サイト受注連携"):
    """Create a token through the console; returns (response, plain token or None)."""
    r = post_form(client, "/admin/tokens", {"name": name}, page="/admin/tokens")
    match = re.search(r'readonly value="([^"]+)"', r.get_data(as_text=True))
    return r, match.group(1) if match else None


def _lookup(app, token):
    """A JSON lookup from a program without a session, authenticated only by the token."""
    return OtherBrowser(app).get("/lookup/members?email=taro@example.jp",
                      headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})


@pytest.mark.parametrize("method, url", [("get", "/admin/tokens"), ("post", "/admin/tokens"),
                                         ("post", "/admin/tokens/1/revoke")])
def test_agent_gets_403_on_token_pages(client, auth, method, url):
    """Agents cannot see, create or revoke tokens."""
    auth.login()
    r = client.get(url) if method == "get" else post_form(client, url, {"name": "x"}, page="/login")
    assert r.status_code == 403
    assert db.session.scalar(select(db.func.count()).select_from(ApiToken)) == 0


def test_created_token_is_shown_once_and_stored_hashed(client, admin):
    """The new token is on the creation response only (no-store), the DB keeps its hash."""
    r, plain = _create(client)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert plain.startswith("mb_") and "一度だけ表示" in r.get_data(as_text=True)
    row = db.session.scalar(select(ApiToken))
    assert row.name == "自社サイト受注連携" and row.token_hash == ApiToken.hash(plain) and plain not in row.token_hash
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "自社サイト受注連携" in listing and plain not in listing and row.prefix in listing
    audit_row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert audit_row.action == "token.create" and plain not in str(audit_row.params)


def test_token_works_until_revoked(app, client, admin, clock_pinned):
    """A fresh token authenticates API calls and records its last use; after revoking it gets 401."""
    factories.make_member()
    _, plain = _create(client)
    assert _lookup(app, plain).status_code == 200
    row = db.session.scalar(select(ApiToken))
    assert row.last_used_at == clock_pinned.now()
    assert "2026/11/23 12:00" in client.get("/admin/tokens").get_data(as_text=True)
    r = post_form(client, f"/admin/tokens/{row.id}/revoke", page="/admin/tokens")
    assert r.status_code == 302
    assert "失効させました" in client.get("/admin/tokens").get_data(as_text=True)
    db.session.expire_all()
    assert row.revoked_at == clock_pinned.now()
    assert _lookup(app, plain).status_code == 401
    actions = [a.action for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[-1] == "token.revoke"


def test_revoking_twice_keeps_first_time_and_says_so(client, admin, clock_pinned):
    """Revoking an already revoked token changes nothing and tells the admin."""
    _create(client)
    row = db.session.scalar(select(ApiToken))
    post_form(client, f"/admin/tokens/{row.id}/revoke", page="/admin/tokens")
    first = clock_pinned.now()
    clock_pinned.advance(hours=1)
    post_form(client, f"/admin/tokens/{row.id}/revoke", page="/admin/tokens")
    assert "既に失効" in client.get("/admin/tokens").get_data(as_text=True)
    db.session.expire_all()
    assert row.revoked_at == first
    revokes = db.session.scalars(select(AuditLog).where(AuditLog.action == "token.revoke")).all()
    assert len(revokes) == 1


@pytest.mark.parametrize("name, message", [("", "用途を入力してください。"), ("   ", "用途を入力してください。"),
                                           ("あ" * 101, "用途は100文字以内にしてください。")])
def test_bad_token_name_is_refused(client, admin, name, message):
    """A missing or too long name: 400, Japanese message, typed value kept, no token created."""
    r, plain = _create(client, name)
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and message in page and plain is None
    if name.strip():
        assert name in page
    assert db.session.scalar(select(db.func.count()).select_from(ApiToken)) == 0


def test_revoking_unknown_token_is_404(client, admin):
    """An unknown token id gives the Japanese 404 page."""
    r = post_form(client, "/admin/tokens/999/revoke", page="/admin/tokens")
    assert r.status_code == 404 and "見つかりません" in r.get_data(as_text=True)


def test_revoke_without_csrf_is_refused(client, admin):
    """A forged revoke without the CSRF token leaves the token active."""
    _create(client)
    row = db.session.scalar(select(ApiToken))
    assert client.post(f"/admin/tokens/{row.id}/revoke").status_code == 400
    db.session.expire_all()
    assert row.revoked_at is None


def test_cli_created_token_is_listed_and_revocable(app, client, admin, runner):
    """Tokens made with `mallbridge tokens create` show up in the console and can be revoked there."""
    plain = runner.invoke(args=["tokens", "create", "--name", "cli-token"]).output.strip()
    assert "cli-token" in client.get("/admin/tokens").get_data(as_text=True)
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "cli-token"))
    post_form(client, f"/admin/tokens/{row.id}/revoke", page="/admin/tokens")
    assert _lookup(app, plain).status_code == 401

"""Login limits: per IP and per account across IPs, an admin notice, the same work for unknown
accounts, old failure rows pruned; and the login page says why it appeared."""
import pytest
from sqlalchemy import func, select

from plugin import login_limits
from plugin.extensions import db
from plugin.models import AuditLog, LoginFailure
from tests.conftest import csrf_token


def _try(client, ip, email="agent@example.jp", password="wrong-password"):
    """One login attempt from `ip`."""
    page = client.get("/login", environ_base={"REMOTE_ADDR": ip})
    data = {"email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": ip})


def test_guesses_spread_over_many_ips_lock_the_account(app, auth, client):
    """5 IPs × 4 guesses (20) lock the account's password login, even from a new IP with the right password."""
    for n in range(5):
        for _ in range(4):
            assert _try(client, f"192.0.2.{n}").status_code == 401
    locked = _try(client, "198.51.100.7", password="agent-password-1")
    assert locked.status_code == 429
    assert "このアカウントへのログインの失敗が続いたため" in locked.get_data(as_text=True)


def test_account_lock_ends_when_the_window_passes(app, auth, client, clock_pinned):
    """The account lock lasts while the failures are recent (15 minutes), then the right password works."""
    for n in range(20):
        _try(client, f"192.0.2.{n}")
    assert _try(client, "198.51.100.7", password="agent-password-1").status_code == 429
    clock_pinned.advance(minutes=16)
    assert _try(client, "198.51.100.7", password="agent-password-1").status_code == 302


def test_other_accounts_are_not_locked(app, auth, client):
    """Guessing at one account leaves the others alone."""
    for n in range(20):
        _try(client, f"192.0.2.{n}")
    assert _try(client, "192.0.2.1", email="admin@example.jp", password="admin-password-1").status_code == 302


def test_unknown_accounts_are_locked_the_same_way(app, auth, client):
    """An address without an account is counted and locked like a real one: the lock tells nothing."""
    for n in range(20):
        assert _try(client, f"192.0.2.{n}", email="nobody@example.jp").status_code == 401
    assert _try(client, "198.51.100.7", email="nobody@example.jp").status_code == 429


def test_account_lock_is_told_to_admins(app, auth, client):
    """When an account gets locked the audit log says so in Japanese, and the dashboard warns."""
    for n in range(20):
        _try(client, f"192.0.2.{n}")
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == login_limits.LOCKED_ACTION)).all()
    assert len(rows) == 1
    assert rows[0].params["email"] == "agent@example.jp" and "一時的に停止しました" in rows[0].detail
    admin = app.test_client()
    type(auth)(admin).login("admin@example.jp", "admin-password-1")
    dashboard = admin.get("/admin/").get_data(as_text=True)
    assert "パスワードでのログインを一時的に停止しているアカウントがあります: agent@example.jp" in dashboard
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "ログインの一時停止" in audit_page


def test_per_ip_limit_still_applies(app, auth, client):
    """Ten failures from one IP lock that IP out for the account before the account limit is reached."""
    for _ in range(10):
        _try(client, "192.0.2.1")
    assert _try(client, "192.0.2.1", password="agent-password-1").status_code == 429
    assert _try(client, "192.0.2.2", password="agent-password-1").status_code == 302


@pytest.mark.parametrize("email", ["agent@example.jp", "nobody@example.jp", "disabled@example.jp"])
def test_every_failed_login_checks_one_password_hash(app, auth, client, monkeypatch, email):
    """Known, unknown and disabled accounts cost the same: exactly one password hash check each."""
    from tests import factories

    factories.make_user("disabled@example.jp", "disabled-password-1", role="agent", active=False)
    checks = []
    real = login_limits.check_password_hash
    monkeypatch.setattr(login_limits, "check_password_hash", lambda h, p: checks.append(h) or real(h, p))
    monkeypatch.setattr("plugin.models.check_password_hash", lambda h, p: checks.append(h) or real(h, p))
    password = "disabled-password-1" if email.startswith("disabled") else "wrong-password"
    assert _try(client, "192.0.2.1", email=email, password=password).status_code == 401
    assert len(checks) == 1
    assert checks[0].split("$")[0] == app.config["PASSWORD_HASH_METHOD"]


def test_old_failure_rows_are_pruned(app, auth, client, clock_pinned):
    """Failures older than the window are deleted by the next failed login."""
    for n in range(5):
        _try(client, f"192.0.2.{n}")
    clock_pinned.advance(minutes=16)
    _try(client, "192.0.2.9")
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 1


@pytest.mark.parametrize("target, reason", [
    ("/lookup/members?email=a%40example.jp", "顧客情報を表示するにはログインしてください。ログイン後、元のページに戻ります。"),
    ("/default/admin_relation_order_search.html?tel=090", "顧客情報を表示するには"),
    ("/members/1", "顧客情報を表示するには"),
    ("/admin/", "このページを表示するにはログインしてください。"),
])
def test_login_page_says_why_it_appeared(app, auth, client, target, reason):
    """Guarding a lookup, the login page says so and promises the way back; then it returns there."""
    response = client.get(target.replace("%40", "@"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert reason in page
    back = auth.login(next_url=target)
    assert back.headers["Location"].replace("http://mallbridge.test", "") == target


def test_login_page_opened_directly_gives_no_reason(app, auth, client):
    """Without a `next` path the login page shows only the form."""
    page = client.get("/login").get_data(as_text=True)
    assert "表示するにはログインしてください" not in page

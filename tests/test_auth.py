"""Staff login: CSRF, throttle, cookies, logout and the same-site `next` rule."""
import pytest

from tests.conftest import TEST_KEY, csrf_token


def test_login_without_csrf_token_is_refused(app, auth, client):
    """A login post without the form's CSRF token is rejected with a Japanese message."""
    response = client.post("/login", data={"email": "agent@example.jp", "password": "agent-password-1"})
    assert response.status_code == 400
    assert "フォームの有効期限" in response.get_data(as_text=True) or "CSRF" not in response.get_data(as_text=True)
    assert client.get("/", follow_redirects=False).status_code == 302


def test_wrong_password_is_a_plain_message(app, auth):
    """A wrong password gives 401 and a message that does not say which half was wrong."""
    response = auth.login(password="wrong-password")
    assert response.status_code == 401
    assert "メールアドレスまたはパスワードが正しくありません" in response.get_data(as_text=True)


def test_throttle_locks_after_ten_failures_then_expires(app, auth, clock_pinned):
    """After 10 failures in 15 minutes even the right password is refused, until the window passes."""
    for _ in range(10):
        assert auth.login(password="wrong-password").status_code == 401
    locked = auth.login()
    assert locked.status_code == 429
    assert "一時的にロック" in locked.get_data(as_text=True)
    clock_pinned.advance(minutes=16)
    assert auth.login().status_code == 302


def test_session_cookie_flags(app, auth):
    """The session cookie is HttpOnly and SameSite=Lax."""
    response = auth.login()
    cookie = response.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_outside_demo(monkeypatch, tmp_path):
    """Outside demo mode the session cookie is marked Secure."""
    from plugin import create_app

    monkeypatch.setenv("MALLBRIDGE_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("MALLBRIDGE_ENCRYPTION_KEY", TEST_KEY)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("target, expected", [
    ("/lookup/members?email=a%40example.jp", "/lookup/members?email=a%40example.jp"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/\r\nX-Evil: 1", "/"),
    ("/\x00x", "/"),
])
def test_next_only_follows_same_site_paths(app, auth, target, expected):
    """After login, `next` is followed only when it is a path on this site."""
    response = auth.login(next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"].replace("http://mallbridge.test", "") == expected


def test_logout_ends_the_session(app, auth, client):
    """After logout the lookup asks for a login again."""
    auth.login()
    page = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert client.get("/lookup/members?email=a@example.jp").status_code == 302


def test_disabled_account_cannot_log_in(app, auth):
    """A disabled staff account is refused like a wrong password."""
    from plugin.extensions import db
    from plugin.models import User

    db.session.query(User).filter_by(email="agent@example.jp").update({"active": False})
    db.session.commit()
    assert auth.login().status_code == 401


def _elsewhere(sql, **params):
    """A change made by another process: its own connection, no ORM events in this one."""
    from sqlalchemy import text

    from plugin.extensions import db

    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize("change", [
    "UPDATE user_account SET active = false WHERE email = 'agent@example.jp'",
    "UPDATE user_account SET password_hash = 'changed' WHERE email = 'agent@example.jp'",
])
def test_session_ended_by_another_process_stops_working_within_seconds(app, auth, client, clock_pinned, change):
    """A user disabled (or given a new password) by another worker loses open sessions within CHECK_SECONDS."""
    from plugin.auth import CHECK_SECONDS

    auth.login()
    url, headers = "/lookup/members?email=a@example.jp", {"Accept": "application/json"}
    assert client.get(url, headers=headers).status_code == 200
    _elsewhere(change)
    clock_pinned.advance(seconds=CHECK_SECONDS)
    assert client.get(url, headers=headers).status_code == 401
    assert client.get(url).status_code == 302


def test_token_revoked_by_another_process_stops_working_within_seconds(app, client, clock_pinned):
    """A token revoked by another worker is refused within CHECK_SECONDS, on lookups and on the API."""
    from plugin.auth import CHECK_SECONDS
    from plugin.tokens import create_token

    plain = create_token("helpdesk")
    headers = {"Authorization": f"Bearer {plain}", "Accept": "application/json"}
    assert client.get("/lookup/members?email=a@example.jp", headers=headers).status_code == 200
    _elsewhere("UPDATE api_token SET revoked_at = :now", now=clock_pinned.now())
    clock_pinned.advance(seconds=CHECK_SECONDS)
    assert client.get("/lookup/members?email=a@example.jp", headers=headers).status_code == 401
    assert client.post("/api/v1/members", json=[{"customer_code": "M1"}], headers=headers).status_code == 401


def test_user_disabled_in_this_process_is_refused_at_once(app, auth, client):
    """Changes made through this process's own session are not served from its memory."""
    from plugin.extensions import db
    from plugin.models import User

    auth.login()
    url, headers = "/lookup/members?email=a@example.jp", {"Accept": "application/json"}
    assert client.get(url, headers=headers).status_code == 200
    db.session.query(User).filter_by(email="agent@example.jp").one().active = False
    db.session.commit()
    assert client.get(url, headers=headers).status_code == 401

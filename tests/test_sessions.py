"""Sessions end when they should: logout, disabling (and enabling) an account, the idle timeout;
and checking a session costs a lookup no extra database round trip."""
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from plugin import settings
from plugin.auth import CHECK_SECONDS
from plugin.extensions import db
from plugin.models import User
from tests.conftest import csrf_token

LOOKUP = "/lookup/members?email=a@example.jp"
JSON = {"Accept": "application/json"}


def _copy_of_cookie(app, client):
    """A second browser holding a copy of `client`'s session cookie (as an attacker would)."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session", domain="mallbridge.test").value, domain="mallbridge.test")
    return other


def _logout(client):
    page = client.get("/")
    return client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def test_cookie_copied_before_logout_no_longer_opens_admin(app, auth, client):
    """Logout ends the session server-side: a copy of the cookie taken before opens nothing afterwards."""
    auth.login("admin@example.jp", "admin-password-1")
    copy = _copy_of_cookie(app, client)
    assert copy.get("/admin/").status_code == 200
    _logout(client)
    assert copy.get("/admin/").status_code == 302
    assert copy.get(LOOKUP, headers=JSON).status_code == 401


def test_copied_cookie_stops_in_other_processes_within_seconds(app, auth, client, clock_pinned):
    """A process that remembered the session stops honouring it within CHECK_SECONDS of the logout."""
    auth.login()
    copy = _copy_of_cookie(app, client)
    assert copy.get(LOOKUP, headers=JSON).status_code == 200
    with db.engine.begin() as conn:  # the logout as another worker does it: no event in this process
        conn.exec_driver_sql("UPDATE user_account SET session_version = session_version + 1")
    clock_pinned.advance(seconds=CHECK_SECONDS)
    assert copy.get(LOOKUP, headers=JSON).status_code == 401


def test_logging_in_again_after_logout_works(app, auth, client):
    """Logout ends old cookies, not the account: the same user logs in again at once."""
    auth.login()
    _logout(client)
    assert auth.login().status_code == 302
    assert client.get(LOOKUP, headers=JSON).status_code == 200


@pytest.mark.parametrize("path", ["console", "model"])
def test_reenabling_a_user_does_not_revive_old_cookies(app, auth, client, path):
    """Disabling and enabling an account again leaves every cookie issued before it dead."""
    auth.login()
    copy = _copy_of_cookie(app, client)
    assert copy.get(LOOKUP, headers=JSON).status_code == 200
    agent = db.session.query(User).filter_by(email="agent@example.jp").one()
    if path == "console":
        admin = app.test_client()
        admin_auth = type(auth)(admin)
        admin_auth.login("admin@example.jp", "admin-password-1")
        for action in ("disable", "enable"):
            page = admin.get(f"/admin/users/{agent.id}")
            admin.post(f"/admin/users/{agent.id}/{action}", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    else:
        agent.active = False
        db.session.commit()
        agent.active = True
        db.session.commit()
    db.session.refresh(agent)
    assert agent.active
    assert copy.get(LOOKUP, headers=JSON).status_code == 401
    assert client.get(LOOKUP, headers=JSON).status_code == 401
    assert auth.login().status_code == 302


def test_idle_session_ends_after_the_setting(app, auth, client, clock_pinned):
    """Eight idle hours (the default) end a session; the login page says why and returns to the lookup."""
    auth.login()
    clock_pinned.advance(hours=8, minutes=1)
    response = client.get(LOOKUP)
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "一定時間操作がなかったため" in page
    assert "顧客情報を表示するにはログインしてください" in page


def test_activity_keeps_a_session_alive(app, auth, client, clock_pinned):
    """The idle clock restarts with each request (refreshed at most once a minute)."""
    auth.login()
    for _ in range(3):
        clock_pinned.advance(hours=7)
        assert client.get(LOOKUP, headers=JSON).status_code == 200


def test_idle_timeout_is_a_runtime_setting(app, auth, client, clock_pinned):
    """An admin can shorten the idle timeout; it applies to open sessions."""
    settings.set_value("login.idle_minutes", 30, actor="admin@example.jp")
    auth.login()
    clock_pinned.advance(minutes=29)
    assert client.get(LOOKUP, headers=JSON).status_code == 200
    clock_pinned.advance(minutes=31)
    assert client.get(LOOKUP, headers=JSON).status_code == 401


def test_idle_timeout_setting_refuses_nonsense(app):
    """The idle timeout must be between 5 minutes and 30 days."""
    with pytest.raises(Exception, match="5分から43200分"):
        settings.set_value("login.idle_minutes", 1, actor="admin@example.jp")


def test_a_remembered_session_costs_a_lookup_no_user_query(app, auth, client, clock_pinned):
    """The first lookup after login reads the user row; the next ones within CHECK_SECONDS do not."""
    auth.login()
    user_queries = []

    def capture(conn, cursor, statement, *args):
        if "user_account" in statement and "audit_log" not in statement:
            user_queries.append(statement)

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert client.get(LOOKUP, headers=JSON).status_code == 200
        first, user_queries[:] = len(user_queries), []
        clock_pinned.advance(seconds=CHECK_SECONDS / 2)
        assert client.get(LOOKUP, headers=JSON).status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert first >= 1, "the listener sees the session check"
    assert user_queries == []

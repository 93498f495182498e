"""Admin console: staff users (list, create, disable/enable, role, password reset)."""
import re

import pytest
from sqlalchemy import select

from plugin import staff
from plugin.extensions import db
from plugin.models import AuditLog, User
from tests import factories
from tests.console_helpers import OtherBrowser, post_form


def _user(email):
    return db.session.scalar(select(User).where(User.email == email))


def _actions():
    return [a.action for a in db.session.scalars(select(AuditLog).order_by(AuditLog.id))]


@pytest.fixture
def admin(auth):
    """The test client logged in as admin@example.jp."""
    auth.login("admin@example.jp", "admin-password-1")
    return auth


@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/new", "/admin/users/1"])
def test_agent_gets_403_page_on_user_pages(client, auth, url):
    """An agent opening a staff page gets the Japanese 403 page."""
    auth.login()
    r = client.get(url)
    assert r.status_code == 403
    assert "管理者専用" in r.get_data(as_text=True)


def test_agent_cannot_post_to_user_actions(client, auth):
    """An agent's valid-CSRF POST to disable someone is refused with 403 and changes nothing."""
    auth.login()
    admin_id = _user("admin@example.jp").id
    r = post_form(client, f"/admin/users/{admin_id}/disable", page="/login")
    assert r.status_code == 403
    db.session.expire_all()
    assert _user("admin@example.jp").active


def test_anonymous_is_sent_to_login(client):
    """Not logged in: the staff page redirects to the login form."""
    r = client.get("/admin/users")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_list_shows_email_name_role_state_and_last_login(client, admin, clock_pinned):
    """The list shows every account with role, active state and last login in JST."""
    factories.make_user("off@example.jp", "password-123", name="無効 花子", active=False)
    u = _user("agent@example.jp")
    u.last_login_at = clock_pinned.now()
    db.session.commit()
    page = client.get("/admin/users").get_data(as_text=True)
    for text in ("agent@example.jp", "admin@example.jp", "off@example.jp", "無効 花子", "管理者", "担当者",
                 "有効", "無効", "2026/11/23 12:00"):
        assert text in page


def test_create_user_then_they_can_log_in(client, admin, app):
    """A created account can log in with its initial password, and the creation is audit-logged."""
    r = post_form(client, "/admin/users/new", {"email": " New.Staff@Example.jp ", "name": "新人 一郎",
                                               "role": "agent", "password": "initial-pass-1"})
    assert r.status_code == 302
    user = _user("new.staff@example.jp")
    assert user.role == "agent" and user.active and user.name == "新人 一郎"
    assert _actions()[-1] == "user.create"
    other = OtherBrowser(app)
    assert other.login("new.staff@example.jp", "initial-pass-1").status_code == 302


@pytest.mark.parametrize("data, message", [
    ({"email": "not-an-address", "role": "agent", "password": "initial-pass-1"}, "メールアドレスの形式が正しくありません。"),
    ({"email": "", "role": "agent", "password": "initial-pass-1"}, "メールアドレスを入力してください。"),
    ({"email": "x@example.jp", "role": "agent", "password": "short"}, "パスワードは8文字以上にしてください。"),
    ({"email": "x@example.jp", "role": "owner", "password": "initial-pass-1"}, "権限を選んでください。"),
    ({"email": "AGENT@example.jp", "role": "agent", "password": "initial-pass-1"}, "既に登録されています"),
    ({"email": "x@example.jp", "name": "あ" * 201, "role": "agent", "password": "initial-pass-1"}, "氏名は200文字以内"),
])
def test_create_user_bad_input_is_refused_field_by_field(client, admin, data, message):
    """Bad input: 400, a Japanese message, nothing saved, and the typed e-mail is kept."""
    before = db.session.scalar(select(db.func.count()).select_from(User))
    r = post_form(client, "/admin/users/new", data)
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    assert message in page
    assert f'value="{data["email"]}"' in page
    assert db.session.scalar(select(db.func.count()).select_from(User)) == before


def test_disabled_user_cannot_log_in_and_open_session_ends(client, admin, app):
    """Disabling an agent ends their open session and refuses new logins; enabling restores access."""
    agent = OtherBrowser(app)
    agent.login()
    assert agent.get("/").status_code == 200
    agent_id = _user("agent@example.jp").id
    assert post_form(client, f"/admin/users/{agent_id}/disable").status_code == 302
    assert agent.get("/").status_code == 302  # back to the login page
    assert agent.login().status_code == 401
    assert _actions()[-1] == "user.disable"
    assert post_form(client, f"/admin/users/{agent_id}/enable").status_code == 302
    assert agent.login().status_code == 302
    assert "user.enable" in _actions()


def test_admin_cannot_disable_or_demote_themself(client, admin):
    """An admin's own account cannot be disabled or demoted from the console."""
    me = _user("admin@example.jp").id
    r = post_form(client, f"/admin/users/{me}/disable")
    assert r.status_code == 400 and "自分自身" in r.get_data(as_text=True)
    r = post_form(client, f"/admin/users/{me}/role", {"role": "agent"})
    assert r.status_code == 400 and "自分自身" in r.get_data(as_text=True)
    db.session.expire_all()
    assert _user("admin@example.jp").active and _user("admin@example.jp").role == "admin"


def test_another_admin_can_be_disabled_while_one_stays(client, admin):
    """With two active admins, one may disable the other."""
    other = factories.make_user("boss@example.jp", "password-123", role="admin")
    assert post_form(client, f"/admin/users/{other.id}/disable").status_code == 302
    db.session.expire_all()
    assert not _user("boss@example.jp").active


def test_last_active_admin_cannot_be_removed(app, auth):
    """The rule module refuses to disable or demote the only active admin."""
    agent, boss = _user("agent@example.jp"), _user("admin@example.jp")
    with pytest.raises(staff.StaffError, match="有効な管理者"):
        staff.set_active(agent, boss, False)
    with pytest.raises(staff.StaffError, match="有効な管理者"):
        staff.set_role(agent, boss, "agent")
    factories.make_user("off-admin@example.jp", "password-123", role="admin", active=False)
    with pytest.raises(staff.StaffError, match="有効な管理者"):
        staff.set_active(agent, boss, False)  # a disabled admin does not count


def test_change_role_promotes_agent_and_is_logged(client, admin):
    """Changing an agent to admin gives access to the console and writes an audit row."""
    agent_id = _user("agent@example.jp").id
    r = post_form(client, f"/admin/users/{agent_id}/role", {"role": "admin"})
    assert r.status_code == 302
    db.session.expire_all()
    assert _user("agent@example.jp").role == "admin"
    row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "user.role" and row.params == {"email": "agent@example.jp", "from": "agent", "to": "admin"}


def test_bad_role_value_is_a_field_error(client, admin):
    """An unknown role is refused with a Japanese message next to the field."""
    agent_id = _user("agent@example.jp").id
    r = post_form(client, f"/admin/users/{agent_id}/role", {"role": "root"})
    assert r.status_code == 400 and "権限を選んでください。" in r.get_data(as_text=True)


def test_reset_password_to_typed_value(client, admin, app):
    """The admin sets a new password: the old one stops working, the new one works."""
    agent_id = _user("agent@example.jp").id
    r = post_form(client, f"/admin/users/{agent_id}/password", {"password": "brand-new-pass"})
    assert r.status_code == 302
    other = OtherBrowser(app)
    assert other.login("agent@example.jp", "agent-password-1").status_code == 401
    assert other.login("agent@example.jp", "brand-new-pass").status_code == 302
    assert _actions()[-1] == "user.password_reset"


def test_generated_password_is_shown_once_and_works(client, admin, app):
    """A generated password is shown on an uncached page and lets the user log in."""
    agent_id = _user("agent@example.jp").id
    r = post_form(client, f"/admin/users/{agent_id}/password", {"generate": "y"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    page = r.get_data(as_text=True)
    assert "一度だけ表示" in page
    plain = re.search(r'readonly value="([^"]+)"', page).group(1)
    assert len(plain) >= 16
    assert plain not in client.get(f"/admin/users/{agent_id}").get_data(as_text=True)
    assert OtherBrowser(app).login("agent@example.jp", plain).status_code == 302


def test_short_reset_password_is_refused(client, admin, app):
    """A too-short new password is refused with a field message and the old one keeps working."""
    agent_id = _user("agent@example.jp").id
    r = post_form(client, f"/admin/users/{agent_id}/password", {"password": "1234567"})
    assert r.status_code == 400 and "8文字以上" in r.get_data(as_text=True)
    assert OtherBrowser(app).login().status_code == 302


def test_unknown_user_is_404_page(client, admin):
    """A user id that does not exist gives the Japanese 404 page, also for POSTs."""
    assert client.get("/admin/users/9999").status_code == 404
    assert post_form(client, "/admin/users/9999/disable").status_code == 404


def test_post_without_csrf_token_is_refused(client, admin):
    """A forged POST without the CSRF token changes nothing."""
    agent_id = _user("agent@example.jp").id
    r = client.post(f"/admin/users/{agent_id}/disable")
    assert r.status_code == 400
    db.session.expire_all()
    assert _user("agent@example.jp").active


def test_generated_passwords_are_long_and_differ():
    """Generated passwords have 16 random characters in groups of four and never repeat."""
    seen = {staff.generate_password() for _ in range(50)}
    assert len(seen) == 50
    assert all(len(p) == 19 and p.count("-") == 3 for p in seen)


def test_every_bad_field_is_marked_at_once(client, admin):
    """A form with several bad fields shows a message at each of them in one round trip."""
    r = post_form(client, "/admin/users/new", {"email": "bad", "name": "山田", "role": "root", "password": "x"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400
    for message in ("メールアドレスの形式が正しくありません。", "権限を選んでください。", "パスワードは8文字以上にしてください。"):
        assert page.count(message) == 1
    assert 'value="山田"' in page


def test_password_reset_ends_the_users_other_sessions(client, admin, app):
    """After a password reset the user's open sessions are logged out; the admin resetting their own stays in."""
    agent = OtherBrowser(app)
    assert agent.login().status_code == 302
    assert agent.get("/lookup/members?email=x@example.jp").status_code == 200
    agent_id = _user("agent@example.jp").id
    assert post_form(client, f"/admin/users/{agent_id}/password", {"password": "brand-new-pass"}).status_code == 302
    assert agent.get("/lookup/members?email=x@example.jp").status_code == 302  # back to the login page

    admin_id = _user("admin@example.jp").id
    second = OtherBrowser(app)
    assert second.login("admin@example.jp", "admin-password-1").status_code == 302
    assert post_form(client, f"/admin/users/{admin_id}/password", {"password": "admin-new-pass"}).status_code == 302
    assert client.get("/admin/users").status_code == 200
    assert second.get("/admin/users").status_code == 302

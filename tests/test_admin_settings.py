"""Admin console: helpdesk environment forms, activation, generated settings form, history, dashboard."""
import re

import pytest

from plugin import helpdesk, settings
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def admin(auth):
    """The test client logged in as the admin."""
    auth.login("admin@example.jp", "admin-password-1")
    return auth.client


def _post_env(client, env, **fields):
    page = client.get("/admin/helpdesk").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page)}
    data.update({f"helpdesk.{env}.{k}": v for k, v in fields.items()})
    return client.post(f"/admin/helpdesk/{env}", data=data)


def _post(client, path, data=None):
    page = client.get("/admin/helpdesk").get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page), **(data or {})})


def test_agents_get_403_on_settings_pages(auth):
    """Agents are refused every settings page with a 403 page."""
    auth.login()
    for path in ("/admin/", "/admin/helpdesk", "/admin/settings", "/admin/settings/history"):
        assert auth.client.get(path).status_code == 403


def test_admin_saves_demo_environment(admin):
    """Valid values are saved, normalised, and the environment shows as complete."""
    resp = _post_env(admin, "demo", url="HTTPS://Demo-Shop.relationapp.jp/", inbox_id="１",
                     forward_to="Demo-Inbox@mail.relationapp.jp", link_template="", api_token="")
    assert resp.status_code == 302
    env = helpdesk.environment("demo")
    assert (env.url, env.inbox_id, env.forward_to) == (
        "https://demo-shop.relationapp.jp", 1, "demo-inbox@mail.relationapp.jp")
    assert "設定済み" in admin.get("/admin/helpdesk").get_data(as_text=True)


@pytest.mark.parametrize("field,value,message", [
    ("url", "http://demo.relationapp.jp", "https://"),
    ("url", "javascript:alert(1)", "https://"),
    ("url", "https://user:pw@demo.relationapp.jp", "ユーザー名やパスワード"),
    ("url", "https://demo.relationapp.jp/#/1", "フラグメント"),
    ("url", "https://demo.relationapp.jp/" + "a" * 2100, "長すぎます"),
    ("url", "https://demo.relationapp.jp/\x00", "制御文字"),
    ("inbox_id", "abc", "半角数字"),
    ("inbox_id", "0", "1以上"),
    ("forward_to", "not-an-address", "メールアドレス"),
    ("link_template", "https://x.relationapp.jp/{nope}", "{url} と {inbox_id}"),
])
def test_bad_input_shows_field_error_and_keeps_typing(admin, field, value, message):
    """Bad input: 400, a Japanese message at that field, nothing saved, the other fields keep their text."""
    typed = {"url": "https://demo.relationapp.jp", "inbox_id": "5", "forward_to": "in@mail.relationapp.jp",
             "link_template": ""}
    typed[field] = value
    resp = _post_env(admin, "demo", **typed)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    error = re.search(rf'id="f-helpdesk-demo-{field}-error"[^>]*>([^<]+)<', html)
    assert error and message in error.group(1)
    for other, text in typed.items():
        if other != field and text and "\x00" not in text:
            assert f'value="{text}"' in html
    assert helpdesk.environment("demo").url is None and not settings.history("helpdesk.demo.")


def test_api_token_is_write_only(admin):
    """The token is never shown; a blank field keeps it; the clear box removes it."""
    _post_env(admin, "production", api_token="tok-123456")
    html = admin.get("/admin/helpdesk").get_data(as_text=True)
    assert "tok-123456" not in html and "設定済み（変更するときだけ入力）" in html
    _post_env(admin, "production", api_token="", url="https://shop.relationapp.jp")
    assert helpdesk.environment("production").api_token() == "tok-123456"
    _post_env(admin, "production", api_token__clear="1")
    assert not helpdesk.environment("production").has_api_token


def test_activate_environment_and_demo_banner(admin):
    """Activating a complete demo shows the demo banner on every page; activating production removes it."""
    _post_env(admin, "demo", url="https://demo.relationapp.jp", inbox_id="1", forward_to="demo@mail.relationapp.jp")
    _post_env(admin, "production", url="https://shop.relationapp.jp", inbox_id="2",
              forward_to="inbox@mail.relationapp.jp")
    _post(admin, "/admin/helpdesk/demo/activate")
    assert helpdesk.active_name() == "demo"
    assert "デモ環境のヘルプデスクが有効です" in admin.get("/").get_data(as_text=True)
    resp = _post(admin, "/admin/helpdesk/production/activate")
    assert resp.status_code == 302 and helpdesk.active_name() == "production"
    assert "デモ環境のヘルプデスクが有効です" not in admin.get("/").get_data(as_text=True)


def test_incomplete_environment_cannot_be_activated(admin):
    """The button refuses an environment without URL, inbox ID or forwarding address and names what is missing."""
    _post_env(admin, "demo", url="https://demo.relationapp.jp", inbox_id="1", forward_to="demo@mail.relationapp.jp")
    _post(admin, "/admin/helpdesk/demo/activate")
    _post_env(admin, "production", url="https://shop.relationapp.jp", inbox_id="2")
    resp = _post(admin, "/admin/helpdesk/production/activate")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and helpdesk.active_name() == "demo"
    alert = re.search(r'<p class="alert alert-error" role="alert" id="activate-production-error">([^<]*)</p>', html)
    assert alert and "受信箱の転送用アドレス" in alert.group(1) and "本番環境" in alert.group(1)
    assert "ヘルプデスクのURL" not in alert.group(1)  # only what is really missing
    empty = _post(admin, "/admin/helpdesk/production/activate")
    assert empty.status_code == 400


def test_unknown_environment_is_404(admin):
    """Posting to an environment other than production/demo is a 404 page, not a 500."""
    assert _post(admin, "/admin/helpdesk/staging/activate").status_code == 404


def test_concurrent_forms_do_not_undo_each_other(admin):
    """Two admins load the form; each changes a different field; both changes are kept and in the history."""
    page = admin.get("/admin/helpdesk").get_data(as_text=True)
    token = csrf_token(page)
    base = {"csrf_token": token, "_orig_helpdesk.demo.url": "", "_orig_helpdesk.demo.inbox_id": "",
            "helpdesk.demo.url": "", "helpdesk.demo.inbox_id": ""}
    admin.post("/admin/helpdesk/demo", data={**base, "helpdesk.demo.url": "https://a.relationapp.jp"})
    admin.post("/admin/helpdesk/demo", data={**base, "helpdesk.demo.inbox_id": "3"})
    env = helpdesk.environment("demo")
    assert (env.url, env.inbox_id) == ("https://a.relationapp.jp", 3)
    assert {r.key for r in settings.history("helpdesk.demo.")} == {"helpdesk.demo.url", "helpdesk.demo.inbox_id"}


def test_history_page_lists_changes(admin):
    """The history page shows who changed what, old → new, with secrets masked."""
    _post_env(admin, "demo", url="https://demo.relationapp.jp", api_token="very-secret-token")
    html = admin.get("/admin/settings/history").get_data(as_text=True)
    assert "admin@example.jp" in html and "https://demo.relationapp.jp" in html
    assert "very-secret-token" not in html and "●●●●" in html


def test_generated_settings_form_saves_and_validates(app, admin):
    """Settings declared by other features appear in the generated form; bad input is refused per field."""
    settings.init_app(app, [settings.section(
        "t", "テスト", settings.setting("t.days", type="int", default=90, label="保存日数"))])
    html = admin.get("/admin/settings").get_data(as_text=True)
    assert "テスト" in html and "保存日数" in html
    bad = admin.post("/admin/settings", data={"csrf_token": csrf_token(html), "t.days": "たくさん",
                                              "_orig_t.days": "90"})
    assert bad.status_code == 400 and "半角数字" in bad.get_data(as_text=True)
    assert 'value="たくさん"' in bad.get_data(as_text=True)
    ok = admin.post("/admin/settings", data={"csrf_token": csrf_token(html), "t.days": "30", "_orig_t.days": "90"})
    assert ok.status_code == 302 and settings.get("t.days") == 30


def test_dashboard_shows_environment_counts_and_warnings(admin, clock_pinned):
    """The dashboard shows the active environment, counts and the warnings of incomplete settings."""
    factories.make_member()
    factories.make_order()
    admin.get("/lookup/members?email=taro@example.jp")
    html = admin.get("/admin/").get_data(as_text=True)
    assert "本番環境" in html and "未設定の項目あり" in html
    assert re.search(r'id="count-members">1件', html) and re.search(r'id="count-orders">1件', html)
    assert re.search(r'id="count-lookups">1件', html)
    assert "受信箱IDが未設定" in html


def test_dashboard_survives_a_broken_warning_check(admin):
    """A registered warning check that raises shows as a warning; the dashboard still renders."""
    from plugin.admin import dashboard

    def broken():
        raise RuntimeError("boom")

    dashboard.register_warning(broken)
    try:
        resp = admin.get("/admin/")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "確認処理の一つでエラーが発生しました" in html
        assert "broken" not in html  # the function's name is for the log, not for the shop
    finally:
        dashboard._WARNINGS.remove(broken)

"""Admin pages as shop staff read them: a grouped menu, one form layout, errors that look like errors,
Japanese labels instead of internal keys, and templates whose server errors stay visible."""
import pathlib
import re

import pytest

import plugin
from plugin import audit_labels, helpdesk, mail_templates, outbox, settings
from plugin.admin import menu
from plugin.extensions import db
from plugin.models import AuditLog
from plugin.outbox import history
from tests.conftest import csrf_token
from tests.outbox.conftest import make_mail


@pytest.fixture
def admin(auth):
    """The test client logged in as the admin."""
    auth.login("admin@example.jp", "admin-password-1")
    return auth.client


def _menu(html):
    nav = html.split('<nav class="admin-menu"', 1)[1].split("</nav>", 1)[0]
    return [(label, re.findall(r">([^<>]+)</a>", body))
            for label, body in re.findall(r'<span class="group-label">([^<]+)</span>(.*?)</ul>', nav, re.DOTALL)]


def test_menu_is_grouped_and_marks_the_section_of_a_detail_page(admin):
    """Twelve links come in five labelled groups; on a mail's page the 送信履歴 entry is the current one."""
    groups = _menu(admin.get("/admin/").get_data(as_text=True))
    assert [label for label, _ in groups] == ["概要", "モール", "メール", "設定", "スタッフ・記録"]
    assert dict(groups)["モール"] == ["モール連携", "振り分けルール", "モールへの返信"]
    assert dict(groups)["メール"] == ["送信履歴", "メールテンプレート", "問い合わせフォーム"]
    assert sum(len(links) for _, links in groups) == 13
    html = admin.get("/admin/settings/history").get_data(as_text=True)
    assert re.search(r'aria-current="page">設定の変更履歴<', html) and 'aria-current="page">設定<' not in html


def test_menu_keeps_a_page_nobody_grouped():
    """An entry registered without a group still shows, under その他, and the longest matching link is current."""
    entries = [("admin.dashboard", "ダッシュボード"), ("admin.outbox", "送信履歴"), ("admin.new_thing", "新しい画面")]
    groups = menu.grouped(entries, "/admin/new-thing/3", lambda e: "/admin/" + e.split(".")[1].replace("_", "-"))
    assert groups[-1] == ("その他", [("/admin/new-thing", "新しい画面", True)])
    assert ("/admin/dashboard", "ダッシュボード", False) in groups[0][1]


def test_mall_account_and_routing_forms_use_the_console_field_layout(admin):
    """Every input of both forms sits in a div.field with its label right before it, like the settings pages."""
    for path in ("/admin/mall-accounts/new/rakuten", "/admin/mall-accounts/new/yahoo", "/admin/routing"):
        html = admin.get(path).get_data(as_text=True)
        form = html.split('class="card settings-form"', 1)[1].split("</form>", 1)[0]
        inputs = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', form)
        assert inputs, path
        for dom_id in inputs:
            assert re.search(rf'<div class="field[^"]*">\s*<label for="{dom_id}">', form), (path, dom_id)
        assert '<div class="form-actions">' in form


def test_settings_error_banner_is_an_error_not_a_success_note(app, admin):
    """A refused save shows a red alert (role=alert, its own class) listing the field; success stays green."""
    settings.init_app(app, [settings.section(
        "t", "テスト", settings.setting("t.days", type="int", default=90, label="保存日数"))])
    page = admin.get("/admin/settings").get_data(as_text=True)
    bad = admin.post("/admin/settings", data={"csrf_token": csrf_token(page), "t.days": "たくさん",
                                              "_orig_t.days": "90"}).get_data(as_text=True)
    banner = re.search(r'<div class="([^"]+)" role="alert" id="settings-errors">(.*?)</div>', bad, re.DOTALL)
    assert banner and "alert-error" in banner.group(1) and "flash" not in banner.group(1)
    assert "保存されていません" in banner.group(2) and "保存日数" in banner.group(2)
    ok = admin.post("/admin/settings", data={"csrf_token": csrf_token(page), "t.days": "30", "_orig_t.days": "90"},
                    follow_redirects=True).get_data(as_text=True)
    assert re.search(r'class="flash alert-success" role="status">設定を保存しました', ok)


def test_audit_log_page_shows_labels_never_codes(admin):
    """Actions, parameter names and coded values read in Japanese; even an action nobody labelled."""
    for action in ("helpdesk.test", "mail_template.save", "user.role", "outbox.release_all", "member.view",
                   "brand_new.thing"):
        db.session.add(AuditLog(actor="cli", action=action, params={"env": "production", "kind": "form_ack",
                                                                    "from": "agent", "to": "admin", "id": 3}))
    db.session.commit()
    html = admin.get("/admin/audit").get_data(as_text=True)
    table = html.split("<tbody>", 1)[1]
    for label in ("ヘルプデスクの接続テスト", "メールテンプレート保存", "スタッフ権限変更", "保留中のメールの送信承認",
                  "会員の操作", "その他の操作", "環境=本番環境", "種類=フォーム：お客様への自動返信", "変更後=管理者",
                  "コマンドライン"):
        assert label in table, label
    for code in ("helpdesk.test", "mail_template", "member.view", "brand_new", "production", "form_ack", "env=",
                 ">cli<"):
        assert code not in table, code


def test_every_recorded_action_has_a_label():
    """Each action code the console and commands write has its own Japanese label."""
    codes = {"lookup.members", "lookup.orders", "user.create", "user.update", "user.enable", "user.disable",
             "user.role", "user.password_reset", "token.create", "token.revoke", "audit.export", "routing.add",
             "routing.up", "routing.down", "routing.toggle", "routing.delete", "mail_template.save",
             "mail_template.reset", "helpdesk.test", "form.save", "outbox.release", "outbox.release_all",
             "outbox.requeue", "outbox.discard", "replies.mail_requeue", "replies.mail_discard", "replies.requeue",
             "replies.discard", "mall_account.add", "mall_account.update", "mall_account.test", "api.members",
             "api.orders", "import.members", "import.orders", "inquiry.complete"}
    assert codes <= set(audit_labels.ACTION_LABELS)
    assert all(re.search(r"[ぁ-んァ-ン一-龥]", audit_labels.action_label(c)) for c in codes)


def test_outbox_shows_kind_labels_and_a_sent_mail_as_tried_once(admin):
    """Kinds read in Japanese; a mail sent before attempts counted the success shows 1回, not 0."""
    row = outbox.enqueue(make_mail(subject="差し戻し"), kind="reply_bounce")
    row.state, row.attempts = "sent", 0
    waiting = outbox.enqueue(make_mail(subject="待ち"), kind="reminder")
    db.session.commit()
    html = admin.get("/admin/outbox").get_data(as_text=True)
    assert "返信の差し戻し（担当者宛て）" in html and "期限切れの予告（管理者宛て）" in html
    assert "reply_bounce" not in html and "reminder" not in html
    rows = dict(re.findall(r'outbox/(\d+)">\d+</a></td>.*?<td class="num">(\d+)回</td>', html, re.DOTALL))
    assert rows == {str(row.id): "1", str(waiting.id): "0"}
    detail = admin.get(f"/admin/outbox/{row.id}").get_data(as_text=True)
    assert "<dt>送信試行</dt><dd>1回" in detail and "reply_bounce" not in detail
    assert history.kind_label("something_new") == "その他のメール"


def test_settings_history_and_template_list_hide_keys(admin):
    """The history names settings by section and label, choices by their label; template kinds by name."""
    helpdesk.update_environment("demo", {"url": "https://demo.relationapp.jp", "inbox_id": 1,
                                         "forward_to": "demo@mail.relationapp.jp"}, actor="t")
    helpdesk.activate("demo", actor="admin@example.jp")
    html = admin.get("/admin/settings/history").get_data(as_text=True)
    table = html.split("<tbody>", 1)[1]
    assert "ヘルプデスク › 使用中の環境" in table and "デモ環境" in table
    assert "helpdesk." not in table and "（demo）" not in table and "（production）" not in table
    assert '<option value="helpdesk.">ヘルプデスク</option>' in html  # the filter is by kind of setting
    listing = re.sub(r"<[^>]+>", " ", admin.get("/admin/mail-templates").get_data(as_text=True))  # text only
    assert all(key not in listing for key in mail_templates.KINDS)


def test_template_errors_stay_outside_the_preview_box(admin):
    """A failed save answers with the error in its own alert; the live-preview script writes only elsewhere."""
    page = admin.get("/admin/mail-templates/default/form_ack").get_data(as_text=True)
    res = admin.post("/admin/mail-templates/default/form_ack",
                     data={"csrf_token": csrf_token(page), "subject": "", "body": "x", "action": "save"})
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    alert = re.search(r'<div id="template-errors" class="alert alert-error" role="alert">(.*?)</div>', html, re.DOTALL)
    assert alert and "件名を入力してください。" in alert.group(1) and "保存できませんでした" in alert.group(1)
    assert 'src="/static/template_preview.js"' in html  # a static file: the CSP forbids inline scripts
    script = (pathlib.Path(plugin.__file__).parent / "static" / "template_preview.js").read_text(encoding="utf-8")
    assert 'getElementById("template-errors")' not in script and 'getElementById("preview-errors")' in script


def test_form_notice_subject_is_natural_and_unique():
    """The shop's notice subject names the form, the customer and the receipt number, without 【お問い合わせ】お問い合わせ."""
    subject = mail_templates.KINDS["form_to_shop"].subject
    ctx = {"form": {"title": "お問い合わせ"}, "customer": {"name": "山田 花子"}, "inquiry": {"id": 12}}
    assert mail_templates.render_text(subject, ctx) == "お問い合わせ（山田 花子 様・受付番号 12）"
    assert mail_templates.render_text(subject, {**ctx, "customer": {"name": ""}}) == "お問い合わせ（受付番号 12）"

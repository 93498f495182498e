"""Mail templates: bracket aliases, refusal of unknown placeholders at save time, the sandbox, admin preview."""
import pytest
from sqlalchemy import select

from plugin import mail_templates
from plugin.extensions import db
from plugin.mail_templates import MailTemplate, TemplateError
from tests.conftest import csrf_token
from tests.factories import default_shop

CTX = mail_templates.sample_context()


@pytest.mark.parametrize("alias, expected", [
    ("[出店モール店舗名]", "緑茶本舗"), ("[担当者名]", "佐藤 花子"), ("[店舗電話番号]", "03-1234-5678"),
    ("[店舗メールアドレス]", "info@example.jp"), ("[お客様名]", "山田 太郎"), ("[注文番号]", "1001-20261123-0001"),
    ("［担当者名］", "佐藤 花子"),
])
def test_bracket_aliases_render_like_placeholders(alias, expected):
    """Each bracket alias renders the value of its Jinja placeholder."""
    assert mail_templates.render_text(f"{alias}です", CTX) == f"{expected}です"


def test_ascii_brackets_stay_text():
    """ASCII brackets such as [1] or [重要 ] with a space are ordinary text, not placeholders."""
    assert mail_templates.check("[1] [x] 【重要】") == []
    assert mail_templates.render_text("[1] 【重要】", CTX) == "[1] 【重要】"


@pytest.mark.parametrize("source, named", [
    ("{{ shop.nmae }}", "shop.nmae"), ("{{ customer_name }}", "customer_name"), ("[店長名]", "[店長名]"),
    ("{{ shop['fax'] }}", "shop.fax"),
])
def test_unknown_placeholder_refused_when_saved(app, source, named):
    """Saving a template with an unknown placeholder (either syntax) fails with a Japanese message naming it."""
    with pytest.raises(TemplateError) as exc:
        mail_templates.save(default_shop().id, "form_ack", "件名", "本文 " + source)
    assert any(named in m and "不明な差し込み項目" in m for m in exc.value.messages)
    assert db.session.scalars(select(MailTemplate)).all() == []


def test_syntax_error_refused_with_line_number(app):
    """A template syntax error is refused at save time and names the line."""
    with pytest.raises(TemplateError) as exc:
        mail_templates.save(default_shop().id, "form_ack", "件名", "1行目\n{% if shop.name %}閉じない")
    assert "2行目" in exc.value.messages[0]


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}", "{{ shop.name.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}", "{{ 'x' * 100000000 }}", "{{ 9 ** 999999 }}",
])
def test_sandbox_blocks_attribute_escapes(source):
    """Internal attributes and memory bombs are refused by the sandbox (at save time already)."""
    assert mail_templates.check(source) != []


def test_shop_template_replaces_default_and_renders(app):
    """A saved shop template is used instead of the built-in default; other shops keep the default."""
    shop = default_shop()
    mail_templates.save(shop.id, "form_ack", "[出店モール店舗名]より", "{{ customer.name }} 様\n[担当者名]")
    db.session.commit()
    ctx = mail_templates.sample_context(shop)
    assert mail_templates.render(shop.id, "form_ack", ctx) == ("本店より", "山田 太郎 様\n佐藤 花子")
    assert mail_templates.render(None, "form_ack", ctx)[0] == "【本店】お問い合わせありがとうございます"


def test_builtin_defaults_are_valid():
    """Every built-in default passes the same checks as a saved template."""
    for kind, spec in mail_templates.KINDS.items():
        mail_templates.validate(kind, spec.subject, spec.body)


def test_subject_renders_as_one_line(app):
    """A rendered subject is one line even if the template or a value has line breaks."""
    ctx = mail_templates.sample_context()
    ctx["customer"]["name"] = "太郎\nBcc: x@example.com"
    mail_templates.save(default_shop().id, "form_to_shop", "問い合わせ {{ customer.name }}", "x")
    subject, _ = mail_templates.render(default_shop().id, "form_to_shop", ctx)
    assert "\n" not in subject


def test_admin_edit_refuses_unknown_placeholder_and_previews(client, auth):
    """The admin page refuses an unknown placeholder with a message, previews without JS, and saves valid text."""
    auth.login("admin@example.jp", "admin-password-1")
    page = client.get("/admin/mail-templates/default/form_ack")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    res = client.post("/admin/mail-templates/default/form_ack",
                      data={"csrf_token": token, "subject": "件名", "body": "{{ shop.nam }}", "action": "save"})
    assert res.status_code == 400 and "不明な差し込み項目「{{ shop.nam }}」" in res.get_data(as_text=True)
    res = client.post("/admin/mail-templates/default/form_ack",
                      data={"csrf_token": token, "subject": "[出店モール店舗名]", "body": "[担当者名]", "action": "preview"})
    assert res.status_code == 200 and "本店" in res.get_data(as_text=True)
    res = client.post("/admin/mail-templates/default/form_ack",
                      data={"csrf_token": token, "subject": "[出店モール店舗名]", "body": "x", "action": "save"})
    assert res.status_code == 302
    assert mail_templates.find(default_shop().id, "form_ack").subject == "[出店モール店舗名]"


def test_admin_preview_json(client, auth):
    """The live-preview endpoint returns rendered text as JSON, or the problems with 422."""
    auth.login("admin@example.jp", "admin-password-1")
    token = csrf_token(client.get("/admin/mail-templates/default/form_ack").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    res = client.post("/admin/mail-templates/default/form_ack/preview", headers=headers,
                      json={"subject": "{{ shop.name }}", "body": "[お客様名] 様"})
    assert res.status_code == 200 and res.get_json() == {"subject": "本店", "body": "山田 太郎 様"}
    res = client.post("/admin/mail-templates/default/form_ack/preview", headers=headers,
                      json={"subject": "x", "body": "{{ nope }}"})
    assert res.status_code == 422 and "nope" in res.get_json()["errors"][0]


def test_agents_cannot_edit_templates(client, auth):
    """Template pages are admin-only."""
    auth.login()
    assert client.get("/admin/mail-templates").status_code == 403

"""Forms in the admin console and the `forms` CLI: validation of address lists, origins, defaults."""
import pytest
from sqlalchemy import select

from plugin import helpdesk
from plugin.extensions import db
from plugin.forms import addresses, service
from plugin.forms.models import InquiryForm
from tests.conftest import csrf_token
from tests.factories import make_shop


@pytest.mark.parametrize("text, expected", [
    ("a@example.jp, b@example.jp", ["a@example.jp", "b@example.jp"]),
    ("a@example.jp、b@example.jp；c@example.jp", ["a@example.jp", "b@example.jp", "c@example.jp"]),
    ("a@example.jp\n b@example.jp  A@example.jp", ["a@example.jp", "b@example.jp"]),
    ("ｓｈｏｐ＠example.jp", ["shop@example.jp"]),
    ("inbox@mail.relation.test", ["inbox@mail.relation.test"]),
    ("", []),
])
def test_address_lists_as_staff_type_them(text, expected):
    """Commas, Japanese commas, semicolons, spaces and full-width characters separate and normalise addresses."""
    assert addresses.parse_addresses(text) == (expected, [])


def test_invalid_address_is_named():
    """Each invalid address is named in a Japanese message."""
    found, errors = addresses.parse_addresses("ok@example.jp, bad@, @x")
    assert found == ["ok@example.jp"] and len(errors) == 2 and "「bad@」" in errors[0]


@pytest.mark.parametrize("text, expected", [
    ("https://Shop.Example.jp/", "https://shop.example.jp"), ("http://localhost:8080", "http://localhost:8080"),
    ("https://shop.example.jp:443", "https://shop.example.jp"), ("ftp://x.jp", None), ("https://x.jp/path", None),
    ("javascript:alert(1)", None),
])
def test_origins(text, expected):
    """Origins are normalised scheme://host[:port]; anything else is refused."""
    found, errors = addresses.parse_origins(text)
    assert (found[0] if found else None) == expected and bool(errors) == (expected is None)


def test_cli_add_defaults_bcc_to_forwarding_address_and_lists(app, runner):
    """`forms add` with --to only: BCC is the active environment's forwarding address; `forms list` shows it."""
    helpdesk.update_environment("production", {"forward_to": "fwd@inbox.example.test"})
    make_shop("tea", "緑茶本舗")
    res = runner.invoke(args=["forms", "add", "contact", "--to", "a@example.jp、b@example.jp", "--shop", "tea",
                              "--origin", "https://tea.example.jp"])
    assert res.exit_code == 0, res.output
    assert "bcc fwd@inbox.example.test" in res.output
    form = service.find_form("contact")
    assert form.to_list == ["a@example.jp", "b@example.jp"] and form.bcc_addresses is None
    assert form.origin_list == ["https://tea.example.jp"] and form.shop.code == "tea"
    out = runner.invoke(args=["forms", "list"]).output
    assert out.startswith("contact\ttea\tenabled\tto=a@example.jp, b@example.jp\t"
                          "bcc=(helpdesk: fwd@inbox.example.test)")


def test_cli_add_refuses_bad_input(app, runner):
    """Bad addresses, an unknown shop or a bad slug are refused with a message and exit code 2."""
    res = runner.invoke(args=["forms", "add", "contact", "--to", "nope", "--bcc", "x@"])
    assert res.exit_code == 2 and "to:" in res.output and "bcc:" in res.output
    res = runner.invoke(args=["forms", "add", "contact", "--to", "a@example.jp", "--shop", "zzz"])
    assert res.exit_code == 2 and "zzz" in res.output
    res = runner.invoke(args=["forms", "add", "bad slug", "--to", "a@example.jp"])
    assert res.exit_code == 2
    assert db.session.scalars(select(InquiryForm)).all() == []


def test_cli_add_updates_existing(app, runner):
    """Running `forms add` again for a slug updates that form."""
    runner.invoke(args=["forms", "add", "contact", "--to", "a@example.jp", "--bcc", "x@example.jp"])
    res = runner.invoke(args=["forms", "add", "contact", "--to", "b@example.jp"])
    assert "updated form contact" in res.output
    form = service.find_form("contact")
    assert form.to_list == ["b@example.jp"] and form.bcc_list == ["x@example.jp"]


def test_admin_creates_and_edits_form(client, auth):
    """An admin creates a form (errors per field first), edits it, and sees it in the list."""
    auth.login("admin@example.jp", "admin-password-1")
    page = client.get("/admin/forms/new")
    token = csrf_token(page.get_data(as_text=True))
    data = {"csrf_token": token, "slug": "contact", "shop": "default", "title": "お問い合わせ", "to": "bad",
            "bcc": "", "from_address": "", "origins": "", "ack_template": "form_ack", "enabled": "1",
            "enabled_name": "1", "required_name": "1", "enabled_email": "1", "required_email": "1",
            "enabled_message": "1", "required_message": "1", "label_message": "ご用件"}
    res = client.post("/admin/forms/new", data=data)
    assert res.status_code == 400 and "「bad」はメールアドレスとして正しくありません" in res.get_data(as_text=True)
    res = client.post("/admin/forms/new", data={**data, "to": "shop@example.jp, staff@example.jp"})
    assert res.status_code == 302
    form = service.find_form("contact")
    assert form.to_list == ["shop@example.jp", "staff@example.jp"]
    shown = {f["name"]: f for f in form.fields}
    assert not shown["tel"]["enabled"] and shown["message"]["label"] == "ご用件"
    assert "ご用件" in client.get("/forms/contact").get_data(as_text=True)
    listing = client.get("/admin/forms").get_data(as_text=True)
    assert "contact" in listing and "shop@example.jp, staff@example.jp" in listing


def test_admin_sees_submissions(client, auth):
    """Submissions are listed newest first and shown with their values and mails."""
    auth.login("admin@example.jp", "admin-password-1")
    from tests.factories import default_shop

    form = service.save_form(slug="contact", shop=default_shop(), to="shop@example.jp", bcc="in@example.test")
    db.session.commit()
    client.post("/forms/contact", json={"name": "山田 太郎", "email": "taro@example.jp", "message": "到着日は？"})
    listing = client.get(f"/admin/forms/{form.id}/submissions").get_data(as_text=True)
    assert "山田 太郎" in listing and "2通" in listing
    sub_id = service.db.session.scalar(select(service.FormSubmission.id))
    detail = client.get(f"/admin/forms/submissions/{sub_id}").get_data(as_text=True)
    assert "到着日は？" in detail and "127.0.0.1" in detail


def test_agents_cannot_manage_forms(client, auth):
    """Form administration is admin-only."""
    auth.login()
    assert client.get("/admin/forms").status_code == 403


def test_submissions_page_number_is_bounded(client, auth):
    """An absurd or unreadable page number on the submissions list gives a normal page, never a 500."""
    auth.login("admin@example.jp", "admin-password-1")
    from tests.factories import default_shop

    form = service.save_form(slug="contact", shop=default_shop(), to="shop@example.jp", bcc="in@example.test")
    db.session.commit()
    for page in ("99999999999999999999", "-5", "abc"):
        assert client.get(f"/admin/forms/{form.id}/submissions?page={page}").status_code == 200

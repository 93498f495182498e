"""Wherever an address is typed (form, form set-up, settings, staff, routing, CLI) its domain needs a dot:
`tanaka@gmail` and `hanako.sato@example` can never receive mail. Our own reserved names still work."""
import pytest
from sqlalchemy import select

from plugin import settings, staff
from plugin.extensions import db
from plugin.forms import service
from plugin.forms.models import FormSubmission
from plugin.invalid import InvalidInput
from plugin.normalize import is_valid_email
from sync import routing
from tests.factories import default_shop
from tests.forms_support import VALID, make_contact_form

DOTLESS = ["tanaka@gmail", "hanako.sato@example", "taro@localhost", "a@test"]


@pytest.mark.parametrize("address, accepted", [
    *[(a, False) for a in DOTLESS],
    ("taro@example.jp", True), ("hanako.sato@example.com", True), ("taro@例え.jp", True),
    # Ours, never typed by customers: the default reply domain and the shops' test domains.
    ("r+abc.def@reply.localhost", True), ("shop@mail.example.test", True), ("a@shop.example", True),
])
def test_the_shared_check_wants_a_dot_separated_domain(address, accepted):
    """is_valid_email refuses a domain without a dot and keeps reserved names under a domain of ours."""
    assert is_valid_email(address) is accepted


@pytest.mark.parametrize("address", ["tanaka@gmail", "hanako.sato@example"])
def test_public_form_refuses_a_domain_without_a_dot(client, app, address):
    """The customer is told the domain stops short (422, their input kept) instead of a promise that cannot arrive."""
    make_contact_form()
    res = client.post("/forms/contact", json={**VALID, "email": address})
    assert res.status_code == 422
    assert "途中で終わっています" in res.get_json()["fields"]["email"]
    page = client.post("/forms/contact", data={**VALID, "email": address}).get_data(as_text=True)
    assert "「gmail.com」「docomo.ne.jp」のように" in page and f'value="{address}"' in page
    assert db.session.scalars(select(FormSubmission)).all() == []


def test_form_set_up_refuses_dotless_addresses(app):
    """To, BCC and From of a form are checked the same way."""
    for field, kwargs in (("to", {"to": "shop@gmail"}), ("bcc", {"to": "shop@example.jp", "bcc": "inbox@relation"}),
                          ("from_address", {"to": "shop@example.jp", "from_address": "noreply@shop"})):
        with pytest.raises(InvalidInput) as caught:
            service.save_form(slug="contact", shop=default_shop(), **kwargs)
        assert field in caught.value.errors
    db.session.rollback()


@pytest.mark.parametrize("key, value", [
    ("forms.sender", "forms@shop"),
    ("outbox.sandbox_address", "tanaka@gmail"),
    ("helpdesk.production.forward_to", "inbox@relation"),
    ("helpdesk.production.reply_from", "agent@example.jp, @relationapp"),
])
def test_settings_refuse_dotless_addresses(app, key, value):
    """Email, address-list and sender settings refuse a domain without a dot, naming the problem."""
    with pytest.raises(InvalidInput) as caught:
        settings.set_value(key, value, actor="admin@example.jp")
    assert "途中で終わっています" in caught.value.errors[key]


def test_settings_keep_our_reserved_domains(app):
    """The reply domain's own addresses and `@domain` senders under reserved names are still accepted."""
    settings.set_value("forms.sender", "noreply@reply.localhost", actor="admin@example.jp")
    settings.set_value("helpdesk.production.reply_from", "@reply.localhost, agent@shop.test", actor="admin@example.jp")
    assert settings.get("helpdesk.production.reply_from") == ["@reply.localhost", "agent@shop.test"]


def test_staff_and_routing_refuse_dotless_addresses(app):
    """A new staff account and a routing rule's destination need a dot-separated domain."""
    with pytest.raises(staff.StaffError) as caught:
        staff.check_new_user("tanaka@gmail", "agent", "long-password-1")
    assert caught.value.field == "email"
    with pytest.raises(InvalidInput) as caught:
        routing.clean_values({"address": "inbox@relation"})
    assert "address" in caught.value.errors


def test_cli_refuses_dotless_addresses(app, runner):
    """`users create` and `forms add` refuse `tanaka@gmail` with a non-zero exit."""
    result = runner.invoke(args=["users", "create", "--email", "tanaka@gmail", "--password-stdin"],
                           input="long-password-1\n")
    assert result.exit_code != 0 and "e-mail" in result.output
    result = runner.invoke(args=["forms", "add", "contact", "--to", "shop@gmail"])
    assert result.exit_code == 2 and "途中で終わっています" in result.output


def test_lookups_and_imports_keep_addresses_a_shop_already_has(client, auth):
    """A stored `tanaka@gmail` (a shop's own data) is still found by a lookup and kept by an import row."""
    from lookups.records import clean

    values, errors = clean("members", {"customer_code": "C9", "name": "田中", "email": "tanaka@gmail"})
    assert errors == {} and "tanaka@gmail" in str(values)
    auth.login()
    r = client.get("/lookup/members?email=tanaka@gmail&format=json")
    assert r.status_code == 200 and r.get_json()["members"] == []

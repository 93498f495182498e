"""Demo mall accounts for make run."""
def test_demo_mall_accounts_are_added_once(app):
    """The fake mall's demo accounts are added to the default shop once, however often seed runs."""
    from plugin.demo.malls import seed_mall_accounts
    from plugin.extensions import db
    from sync.models import MallAccount

    assert sorted(seed_mall_accounts()) == ["rakuten", "yahoo"]
    assert seed_mall_accounts() == []
    assert db.session.query(MallAccount).count() == 2


def test_demo_contact_form_is_created_once(app):
    """demo seed's sample inquiry form exists once and renders publicly."""
    from plugin.demo.malls import seed_contact_form
    from tests import factories

    shop = factories.default_shop()
    assert seed_contact_form(shop) is not None
    assert seed_contact_form(shop) is None
    assert app.test_client().get("/forms/contact").status_code == 200

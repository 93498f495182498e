"""Demo mall accounts for make run."""
def test_demo_mall_accounts_are_added_once(app):
    """The fake mall's demo accounts are added to the default shop once, however often seed runs."""
    from plugin.demo_malls import seed_mall_accounts
    from sync.models import MallAccount
    from plugin.extensions import db

    assert sorted(seed_mall_accounts()) == ["rakuten", "yahoo"]
    assert seed_mall_accounts() == []
    assert db.session.query(MallAccount).count() == 2

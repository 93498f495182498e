"""Accounts: CLI add/list/test/renew, write-only secrets, and the admin pages."""
from plugin.extensions import db
from sync.fake_mall.seed import DEMO_RAKUTEN
from sync.models import MallAccount
from tests.conftest import csrf_token


def _add_rakuten(runner, key=DEMO_RAKUTEN["license_key"]):
    return runner.invoke(args=["accounts", "add", "rakuten", "--shop", "default", "--shop-id",
                               str(DEMO_RAKUTEN["shop_id"]), "--service-secret", DEMO_RAKUTEN["service_secret"],
                               "--license-key", key])


def test_add_list_and_secrets_encrypted(runner, app):
    """`accounts add rakuten` stores the secrets encrypted; `accounts list` starts each line with the ID."""
    out = _add_rakuten(runner)
    assert out.exit_code == 0, out.output
    account = db.session.query(MallAccount).one()
    assert account.license_key == DEMO_RAKUTEN["license_key"]
    assert DEMO_RAKUTEN["license_key"] not in account.license_key_enc
    line = runner.invoke(args=["accounts", "list"]).output.splitlines()[0]
    assert line.startswith(f"{account.id}\trakuten\tdefault")


def test_bad_input_gives_clear_errors(runner, app):
    """An unknown shop, a non-numeric shop ID or a duplicate account is refused with a message, not a trace."""
    out = runner.invoke(args=["accounts", "add", "rakuten", "--shop", "nope", "--shop-id", "x",
                              "--service-secret", "a", "--license-key", "b"])
    assert out.exit_code == 2 and "店舗コード" in out.output
    assert _add_rakuten(runner).exit_code == 0
    dup = _add_rakuten(runner)
    assert dup.exit_code == 2 and "登録済み" in dup.output
    assert runner.invoke(args=["accounts", "renew", "999", "--license-key", "k"]).exit_code == 2


def test_connection_test_reports_in_japanese(sync_app, runner):
    """`accounts test` passes with good credentials and explains a bad key in Japanese."""
    assert _add_rakuten(runner).exit_code == 0
    account = db.session.query(MallAccount).one()
    out = runner.invoke(args=["accounts", "test", str(account.id)])
    assert out.exit_code == 0, out.output
    assert "OK\t認証" in out.output and db.session.get(MallAccount, account.id).license_expires_at
    account = db.session.get(MallAccount, account.id)
    account.license_key = "wrong-key"
    db.session.commit()
    out = runner.invoke(args=["accounts", "test", str(account.id)])
    assert out.exit_code == 1 and "NG" in out.output and "licenseKey" in out.output


def test_admin_pages_keep_secrets_write_only(client, auth, runner, app):
    """The account page never shows a secret; saving with blank secrets keeps them."""
    assert _add_rakuten(runner).exit_code == 0
    account = db.session.query(MallAccount).one()
    auth.login("admin@example.jp", "admin-password-1")
    assert client.get("/admin/mall-accounts").status_code == 200
    page = client.get(f"/admin/mall-accounts/{account.id}")
    html = page.get_data(as_text=True)
    assert DEMO_RAKUTEN["license_key"] not in html and DEMO_RAKUTEN["service_secret"] not in html
    resp = client.post(f"/admin/mall-accounts/{account.id}", data={
        "csrf_token": csrf_token(html), "rakuten_shop_id": str(DEMO_RAKUTEN["shop_id"]), "service_secret": "",
        "license_key": "", "enabled": "1"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(MallAccount, account.id).license_key == DEMO_RAKUTEN["license_key"]


def test_agents_cannot_open_mall_accounts(client, auth):
    """Agents get 403 on the mall account pages."""
    auth.login()
    assert client.get("/admin/mall-accounts").status_code == 403

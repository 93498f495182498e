"""Admin UI for mall accounts (issue 6 §3): creating Rakuten and Yahoo! accounts through the real form with
CSRF, secrets encrypted at rest, Japanese validation errors with nothing half-saved, and the 連携テスト
button reporting auth, list permission and source IP in Japanese."""
import html as html_lib
import re

import pytest
from sqlalchemy import func, select, text

from plugin.extensions import db
from plugin.models import AuditLog, Shop
from sync.fake_mall.seed import DEMO_RAKUTEN, DEMO_YAHOO, demo_public_key_pem
from sync.malls.base import IP_UNCHECKED
from sync.models import MallAccount, SyncCursor
from tests.conftest import csrf_token

RAKUTEN_FORM = {"shop": "default", "rakuten_shop_id": str(DEMO_RAKUTEN["shop_id"]),
                "service_secret": DEMO_RAKUTEN["service_secret"], "license_key": DEMO_RAKUTEN["license_key"]}


def _yahoo_form():
    return {"shop": "default", "seller_id": DEMO_YAHOO["seller_id"], "client_id": DEMO_YAHOO["client_id"],
            "client_secret": DEMO_YAHOO["client_secret"], "refresh_token": DEMO_YAHOO["refresh_token"],
            "public_key": demo_public_key_pem(), "key_version": str(DEMO_YAHOO["key_version"])}


@pytest.fixture
def admin(auth):
    """The test client logged in as the admin through the login form."""
    assert auth.login("admin@example.jp", "admin-password-1").status_code == 302
    return auth.client


def _create(client, mall, data):
    """GET the new-account form, then POST it with the page's CSRF token."""
    page = client.get(f"/admin/mall-accounts/new/{mall}")
    assert page.status_code == 200
    return client.post(f"/admin/mall-accounts/new/{mall}", data={**data, "csrf_token": csrf_token(page.get_data(
        as_text=True))})


def _test_button(client, account_id):
    """Press 連携テスト on the account page; returns the page text with the report."""
    page = client.get(f"/admin/mall-accounts/{account_id}").get_data(as_text=True)
    assert "連携テスト" in page
    resp = client.post(f"/admin/mall-accounts/{account_id}", data={"action": "test", "csrf_token": csrf_token(page)})
    assert resp.status_code == 200
    return html_lib.unescape(resp.get_data(as_text=True))


def _report(page):
    """[(label, OK|NG, detail)] from the connection-test table."""
    body = page.split('class="console-table test-report"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>.*?>(OK|NG)<.*?</td><td>(.*?)</td></tr>", body, re.DOTALL)
    return [(label, result, detail) for label, result, detail in rows]


def _raw_row():
    """Every column of the single mall_account row as stored, joined as text."""
    row = db.session.execute(text("SELECT * FROM mall_account")).one()
    return " ".join(str(v) for v in row)


def _count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_rakuten_account_created_through_the_form_with_secrets_encrypted(admin):
    """The Rakuten form creates the account and its cursor, redirects to its page; the DB holds no plaintext secret."""
    resp = _create(admin, "rakuten", RAKUTEN_FORM)
    assert resp.status_code == 302
    account = db.session.scalars(select(MallAccount)).one()
    assert resp.headers["Location"].endswith(f"/admin/mall-accounts/{account.id}")
    assert (account.mall, account.shop.code, account.rakuten_shop_id) == ("rakuten", "default",
                                                                          str(DEMO_RAKUTEN["shop_id"]))
    assert account.service_secret == DEMO_RAKUTEN["service_secret"]
    assert account.license_key == DEMO_RAKUTEN["license_key"]
    stored = _raw_row()
    assert DEMO_RAKUTEN["service_secret"] not in stored and DEMO_RAKUTEN["license_key"] not in stored
    assert _count(SyncCursor) == 1
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "mall_account.add"))
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "モールアカウントを追加しました" in page
    assert DEMO_RAKUTEN["service_secret"] not in page and DEMO_RAKUTEN["license_key"] not in page


def test_yahoo_account_created_through_the_form_with_secrets_encrypted(admin):
    """The Yahoo! form stores client secret, refresh token and public key encrypted, and starts the 4-week clock."""
    form = _yahoo_form()
    resp = _create(admin, "yahoo", form)
    assert resp.status_code == 302
    account = db.session.scalars(select(MallAccount)).one()
    assert (account.mall, account.seller_id, account.key_version) == ("yahoo", DEMO_YAHOO["seller_id"], "1")
    assert account.client_secret == form["client_secret"] and account.refresh_token == form["refresh_token"]
    assert account.public_key.strip() == form["public_key"].strip()
    assert account.refresh_token_issued_at is not None
    stored = _raw_row()
    for secret in (form["client_secret"], form["refresh_token"], "BEGIN PUBLIC KEY"):
        assert secret not in stored


@pytest.mark.parametrize("mall, change, field_message", [
    ("rakuten", {"rakuten_shop_id": "abc"}, "楽天の店舗IDの形式が正しくありません。"),
    ("rakuten", {"license_key": ""}, "licenseKeyを入力してください。"),
    ("rakuten", {"service_secret": "has space"}, "serviceSecretは空白を含まない50文字以内の英数字記号です。"),
    ("rakuten", {"shop": "nope"}, "店舗コード「nope」の店舗がありません"),
    ("yahoo", {"public_key": "not a key"}, "公開鍵はPEM形式"),
    ("yahoo", {"refresh_token": ""}, "リフレッシュトークンを入力してください。"),
    ("yahoo", {"key_version": "v1"}, "公開鍵のバージョンの形式が正しくありません。"),
])
def test_invalid_input_is_explained_in_japanese_and_nothing_is_saved(admin, mall, change, field_message):
    """A bad field: 400, the Japanese notice and the field's message; no account, cursor or audit row is left."""
    form = {**(RAKUTEN_FORM if mall == "rakuten" else _yahoo_form()), **change}
    resp = _create(admin, mall, form)
    assert resp.status_code == 400
    page = html_lib.unescape(resp.get_data(as_text=True))
    assert "入力内容を確認してください。" in page and field_message in page
    for secret in ("service_secret", "license_key", "client_secret", "refresh_token"):
        if form.get(secret):
            assert form[secret] not in page  # secrets are never echoed back
    assert _count(MallAccount) == 0 and _count(SyncCursor) == 0
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "mall_account.add")) is None


def test_duplicate_account_is_refused_without_a_second_row(admin):
    """Adding the same Rakuten shop ID twice shows 登録済み and keeps one account."""
    assert _create(admin, "rakuten", RAKUTEN_FORM).status_code == 302
    resp = _create(admin, "rakuten", RAKUTEN_FORM)
    assert resp.status_code == 400 and "登録済み" in resp.get_data(as_text=True)
    assert _count(MallAccount) == 1 and _count(SyncCursor) == 1


def test_form_without_csrf_token_is_refused(admin):
    """A POST without the CSRF token is rejected and creates nothing."""
    resp = admin.post("/admin/mall-accounts/new/rakuten", data=RAKUTEN_FORM)
    assert resp.status_code == 400
    assert _count(MallAccount) == 0


def test_agent_cannot_create_accounts(auth):
    """An agent gets 403 on the new-account form."""
    auth.login()
    assert auth.client.get("/admin/mall-accounts/new/rakuten").status_code == 403


def test_form_keeps_the_chosen_shop_after_an_error(admin):
    """After a validation error the shop chosen before stays selected, so a second shop's admin does not re-pick it."""
    db.session.add(Shop(code="tea", name="緑茶本舗"))
    db.session.commit()
    resp = _create(admin, "rakuten", {**RAKUTEN_FORM, "shop": "tea", "license_key": ""})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert re.search(r'<option value="tea"[^>]*selected', page)
    assert resp.get_data(as_text=True).count("selected") == 1


def test_rakuten_connection_test_reports_each_check_in_japanese(sync_app, admin, mall):
    """連携テスト on a working Rakuten account: auth, list permission and source IP are OK, with the key's expiry."""
    assert _create(admin, "rakuten", RAKUTEN_FORM).status_code == 302
    account = db.session.scalars(select(MallAccount)).one()
    report = _report(_test_button(admin, account.id))
    assert [(label, result) for label, result, _ in report] == [
        ("認証（serviceSecret・licenseKey）", "OK"), ("問い合わせ一覧の取得権限", "OK"), ("送信元IP", "OK")]
    assert "有効期限" in report[0][2] and "日本時間" in report[0][2]
    db.session.expire_all()
    assert db.session.get(MallAccount, account.id).license_expires_at is not None


def test_rakuten_connection_test_explains_a_rejected_key(sync_app, admin, mall):
    """A wrong licenseKey: the auth line is NG with a Japanese explanation, and nothing further is claimed."""
    assert _create(admin, "rakuten", {**RAKUTEN_FORM, "license_key": "SL391234_wrongKey"}).status_code == 302
    account = db.session.scalars(select(MallAccount)).one()
    report = _report(_test_button(admin, account.id))
    assert [(label, result) for label, result, _ in report] == [("認証（serviceSecret・licenseKey）", "NG")]
    assert "licenseKey" in report[0][2] and re.search(r"[ぁ-んァ-ン]", report[0][2])


def test_yahoo_connection_test_reports_each_check_in_japanese(sync_app, admin, mall):
    """連携テスト on a working Yahoo! store: token, list permission, public-key signature and source IP are OK."""
    assert _create(admin, "yahoo", _yahoo_form()).status_code == 302
    account = db.session.scalars(select(MallAccount)).one()
    report = _report(_test_button(admin, account.id))
    assert [(label, result) for label, result, _ in report] == [
        ("認証（クライアントID・シークレット・リフレッシュトークン）", "OK"), ("質問一覧の取得権限", "OK"),
        ("公開鍵認証", "OK"), ("送信元IP", "OK")]


def test_yahoo_connection_test_names_an_unregistered_source_ip(sync_app, admin, mall):
    """A store that only accepts another source IP (403 px-04306): auth works, the source IP line is NG in
    Japanese, and the list line does not claim a missing permission it could not check."""
    assert _create(admin, "yahoo", _yahoo_form()).status_code == 302
    with mall.state.lock:
        mall.state.sellers[DEMO_YAHOO["seller_id"]].allowed_ips = {"192.0.2.10"}
    account = db.session.scalars(select(MallAccount)).one()
    report = {label: (result, detail) for label, result, detail in _report(_test_button(admin, account.id))}
    assert report["認証（クライアントID・シークレット・リフレッシュトークン）"][0] == "OK"
    result, detail = report["送信元IP"]
    assert result == "NG" and "送信元IP" in detail and "登録されていません" in detail
    listing = report["質問一覧の取得権限"]
    assert listing[0] == "NG" and "確認できません" in listing[1]


def test_yahoo_connection_test_explains_a_wrong_public_key(sync_app, admin, mall):
    """A public key that is not the store's (signature refused, px-04102) is reported NG in Japanese."""
    from cryptography.hazmat.primitives import serialization

    from sync.fake_mall.state import new_private_key

    other = new_private_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert _create(admin, "yahoo", {**_yahoo_form(), "public_key": other}).status_code == 302
    account = db.session.scalars(select(MallAccount)).one()
    report = _report(_test_button(admin, account.id))
    assert ("質問一覧の取得権限", "NG") in [(label, result) for label, result, _ in report]
    assert all(re.search(r"[ぁ-んァ-ン一-龥]", detail) for _, _, detail in report)


def test_rakuten_connection_test_names_a_refused_source(sync_app, admin, mall):
    """RMS answering the list with 403: auth is OK, the source IP line is NG with what to check in RMS."""
    assert _create(admin, "rakuten", RAKUTEN_FORM).status_code == 302
    with mall.state.lock:
        mall.state.add_fault("status", 1, "rakuten", "inquiries/count", 403, None, None, None)
    account = db.session.scalars(select(MallAccount)).one()
    report = {label: (result, detail) for label, result, detail in _report(_test_button(admin, account.id))}
    assert report["認証（serviceSecret・licenseKey）"][0] == "OK"
    assert report["送信元IP"][0] == "NG" and "IP制限" in report["送信元IP"][1]
    assert report["問い合わせ一覧の取得権限"] == ("NG", IP_UNCHECKED)


def test_editing_an_account_to_another_accounts_shop_id_is_refused(admin):
    """Changing a Rakuten account's shop ID to one already registered is refused in Japanese; nothing changes."""
    assert _create(admin, "rakuten", RAKUTEN_FORM).status_code == 302
    assert _create(admin, "rakuten", {**RAKUTEN_FORM, "rakuten_shop_id": "500001"}).status_code == 302
    second = db.session.scalars(select(MallAccount).where(MallAccount.rakuten_shop_id == "500001")).one()
    page = admin.get(f"/admin/mall-accounts/{second.id}").get_data(as_text=True)
    resp = admin.post(f"/admin/mall-accounts/{second.id}", data={
        "csrf_token": csrf_token(page), "rakuten_shop_id": str(DEMO_RAKUTEN["shop_id"]), "enabled": "1"})
    assert resp.status_code == 400 and "登録済み" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MallAccount, second.id).rakuten_shop_id == "500001"

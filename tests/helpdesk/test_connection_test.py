"""管理 › ヘルプデスク環境's connection test against the fake helpdesk: the address books the token sees."""
from plugin import helpdesk
from plugin.helpdesk import check
from plugin.helpdesk.fake.seed import DEMO_TOKEN
from tests.conftest import csrf_token
from tests.helpdesk.conftest import URL


def _test_page(auth):
    auth.login("admin@example.jp", "admin-password-1")
    page = auth.client.get("/admin/helpdesk").get_data(as_text=True)
    return auth.client.post("/admin/helpdesk/production/test", data={"csrf_token": csrf_token(page)}).get_data(
        as_text=True)


def test_the_admin_sees_the_address_books_the_token_can_see(push_app, fake_helpdesk, auth):
    """The report lists each book (ID and name) and names the book members go to."""
    html = _test_page(auth)
    assert "API（アドレス帳）: 成功" in html
    assert "<li>ID 1「デモ店舗のお客様」</li>" in html and "<li>ID 2「卸売の取引先」</li>" in html
    assert "会員の送信先はアドレス帳ID 1 です" in html


def test_an_unknown_address_book_is_explained(push_app, fake_helpdesk, auth):
    """A book ID the token does not see: a failure in Japanese naming the books there are."""
    helpdesk.update_environment("production", {"address_book_id": 42})
    html = _test_page(auth)
    assert "API（アドレス帳）: 失敗" in html and "アドレス帳ID 42 はこのトークンでは見えません" in html
    assert "ID 1「デモ店舗のお客様」" in html


def test_a_wrong_token_is_explained(push_app, fake_helpdesk, auth):
    """The fake answers 401 to an unknown token: the page says the token is invalid."""
    helpdesk.update_environment("production", {"api_token": "not-the-token"})
    html = _test_page(auth)
    assert "APIトークンが無効です（401）" in html


def test_the_api_base_is_derived_from_the_helpdesk_url(app):
    """Without MALLBRIDGE_HELPDESK_API_BASE the API lives at <URL>/api/v2."""
    helpdesk.update_environment("production", {"url": URL, "api_token": DEMO_TOKEN})
    assert check.targets.api_base(helpdesk.environment("production")) == URL + "/api/v2"
    app.config["HELPDESK_API_BASE"] = "http://127.0.0.1:8901/api/v2/"
    assert check.targets.api_base(helpdesk.environment("production")) == "http://127.0.0.1:8901/api/v2"

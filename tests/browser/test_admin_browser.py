"""End to end in headless Chromium: the admin sets up the demo helpdesk and the inbox button follows."""
import pytest

from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_admin_switches_helpdesk_environments(app, auth, live_server, page):
    """No button at first; demo env set in the form → button with the right link; an empty production is
    refused with the missing fields named; completed, it takes over the button."""
    member = factories.make_member(customer_code="C-2001", name="佐藤 一郎", emails=("ichiro@example.jp",))
    member_url = f"{live_server}/members/{member.id}"

    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "admin@example.jp")
    page.fill("input[name=password]", "admin-password-1")
    page.click("button[type=submit]")
    page.wait_for_load_state()

    page.goto(member_url)
    assert "佐藤 一郎" in page.inner_text("main")
    assert page.locator("#inbox-button").count() == 0

    # A mistake first: field-level message, nothing saved, the other fields keep what was typed.
    page.goto(f"{live_server}/admin/helpdesk")
    form = page.locator("#form-demo")
    form.locator('input[name="helpdesk.demo.url"]').fill("http://demo-shop.relationapp.jp")
    form.locator('input[name="helpdesk.demo.inbox_id"]').fill("1")
    form.locator('input[name="helpdesk.demo.forward_to"]').fill("demo-inbox@mail.relationapp.jp")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "https:// で始まるURL" in page.inner_text("#f-helpdesk-demo-url-error")
    assert page.locator('input[name="helpdesk.demo.inbox_id"]').input_value() == "1"

    form = page.locator("#form-demo")
    form.locator('input[name="helpdesk.demo.url"]').fill("https://demo-shop.relationapp.jp")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    page.click("#activate-demo")
    page.wait_for_load_state()
    assert "デモ環境のヘルプデスクが有効です" in page.inner_text("body")

    page.goto(member_url)
    button = page.locator("#inbox-button")
    assert button.count() == 1 and button.inner_text() == "Re:lation受信箱を開く"
    assert button.get_attribute("href") == "https://demo-shop.relationapp.jp/tickets/#/1/tickets/open/p1"
    assert button.get_attribute("target") == "_blank"
    assert "noopener" in button.get_attribute("rel")
    screenshot(page, "member-inbox-button-demo.png")

    page.goto(f"{live_server}/admin/helpdesk")
    screenshot(page, "admin-helpdesk.png")
    # An empty production environment is refused with the missing fields named; demo stays in use.
    page.click("#activate-production")
    page.wait_for_load_state()
    refusal = page.inner_text("#activate-production-error")
    assert "ヘルプデスクのURL" in refusal and "受信箱の転送用アドレス" in refusal
    assert page.locator("#activate-production-error").is_visible()
    screenshot(page, "admin-helpdesk-refused.png")

    # Once complete, production can be used, and the member page follows it.
    form = page.locator("#form-production")
    form.locator('input[name="helpdesk.production.url"]').fill("https://shop.relationapp.jp")
    form.locator('input[name="helpdesk.production.inbox_id"]').fill("5")
    form.locator('input[name="helpdesk.production.forward_to"]').fill("inbox@mail.relationapp.jp")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    page.click("#activate-production")
    page.wait_for_load_state()
    assert "本番環境を使用中にしました" in page.inner_text("main")

    page.goto(member_url)
    assert page.locator("#inbox-button").get_attribute("href") == "https://shop.relationapp.jp/tickets/#/5/tickets/open/p1"
    assert "デモ環境のヘルプデスクが有効です" not in page.inner_text("body")
    screenshot(page, "member-inbox-button-production.png")

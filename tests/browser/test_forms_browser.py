"""The hosted form in headless Chromium: a mistyped address is explained, reloading the thanks page sends nothing."""
import pytest
from sqlalchemy import func, select

from plugin.extensions import db
from plugin.forms.models import FormSubmission
from plugin.outbox import OutboxMessage
from tests.browser.conftest import screenshot
from tests.forms_support import make_contact_form

pytestmark = pytest.mark.browser


def _count(model):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_customer_fixes_the_address_and_reloads_the_thank_you_page(app, live_server, page):
    """`tanaka@gmail` → a message beside the field, input kept; fixed → thanks page; reloading it twice adds nothing."""
    make_contact_form()
    page.goto(f"{live_server}/forms/contact")
    page.fill("#f-name", "田中 一郎")
    page.fill("#f-email", "tanaka@gmail")
    page.fill("#f-message", "在庫はありますか。")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "途中で終わっています" in page.inner_text("#e-email")
    assert page.input_value("#f-message") == "在庫はありますか。"
    assert _count(FormSubmission) == 0

    page.fill("#f-email", "tanaka@gmail.com")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/forms/contact/thanks" in page.url
    assert "受付番号" in page.inner_text("main")
    screenshot(page, "form-thanks.png")
    for _ in range(2):
        page.reload()
        page.wait_for_load_state()
        assert "お問い合わせを受け付けました。" in page.inner_text("h1")
    assert _count(FormSubmission) == 1 and _count(OutboxMessage) == 2

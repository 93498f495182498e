"""Under the Content-Security-Policy, in headless Chromium: the live preview, the confirmations and the
public form's error focus still work, and no page reports a blocked script or style."""
import pytest

from plugin.tokens import create_token
from tests import factories
from tests.forms_support import make_contact_form

pytestmark = pytest.mark.browser


def _watch_csp(page):
    """Collect every console message about a Content-Security-Policy violation."""
    blocked = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    return blocked


def _login_admin(page, base):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "admin@example.jp")
    page.fill("input[name=password]", "admin-password-1")
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_console_scripts_work_under_the_policy(app, auth, live_server, page):
    """Template live preview updates, a dismissed confirmation keeps the token, an accepted one revokes it."""
    blocked = _watch_csp(page)
    member = factories.make_member(customer_code="C-3001", name="山本 花子", emails=("hanako@example.jp",))
    create_token("shop-system")
    _login_admin(page, live_server)

    page.goto(f"{live_server}/admin/mail-templates/default/form_ack")
    page.fill("#t-subject", "ご連絡ありがとうございます（CSP確認）")
    # A selector wait, not wait_for_function: the policy forbids the eval() that one needs.
    page.wait_for_selector("#preview-subject:has-text('CSP確認')")

    page.goto(f"{live_server}/admin/tokens")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("text=失効させる")
    assert page.locator("text=失効させる").count() == 1  # nothing was sent
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("text=失効させる")
    assert page.locator("text=失効させる").count() == 0

    for path in ["/admin/", f"/members/{member.id}", "/lookup/members?email=hanako@example.jp", "/"]:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
    assert blocked == []


def test_public_form_focuses_its_error_summary(app, live_server, page):
    """After a refused post the error summary has the focus (form.js), with no policy violation."""
    blocked = _watch_csp(page)
    make_contact_form()
    page.goto(f"{live_server}/forms/contact")
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("#error-summary:focus")
    assert blocked == []

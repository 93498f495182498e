"""End to end in real headless Chromium: an agent logs in through the login page and opens a lookup."""
import pytest

from tests import factories
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_agent_logs_in_and_reads_a_lookup(app, auth, live_server, page):
    """The helpdesk's lookup URL sends a logged-out agent to /login and back to the member list."""
    member = factories.make_member(customer_code="C-1001", name="山田 花子", name_kana="ヤマダ ハナコ",
                                   emails=("hanako@example.jp",))
    factories.make_order(order_number="ORD-1", customer_code=member.customer_code, email="hanako@example.jp",
                         total=3980)

    page.goto(f"{live_server}/lookup/members?email=Hanako@Example.jp")
    assert "/login" in page.url
    page.fill("input[name=email]", "agent@example.jp")
    page.fill("input[name=password]", "agent-password-1")
    page.click("button[type=submit]")
    page.wait_for_load_state()

    assert "/lookup/members" in page.url
    body = page.inner_text("main")
    assert "山田 花子" in body and "C-1001" in body and "ORD-1" in body
    screenshot(page, "lookup-members.png")
    page.click("text=山田 花子")
    page.wait_for_load_state()
    assert "/members/" in page.url and "hanako@example.jp" in page.inner_text("main")

"""The lookup page of a mall customer in real headless Chromium, at a phone's and a desktop's width."""
import pytest

from tests.browser.conftest import live_server, page, screenshot  # noqa: F401 - browser fixtures
from tests.browser.test_pages_browser import BROKEN_CELLS
from tests.lookups.test_relay import MASKED, ORDER, hanako  # noqa: F401 - the fixture is shared
from tests.sync.helpers import deliver_rakuten, reply_address

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("kind", ["members", "orders"])
def test_relay_lookup_page_reads_right_at_both_widths(hanako, mall, auth, live_server, page, kind):  # noqa: F811 - fixtures
    """Inquiry first, then its order and the member; nothing runs off the side, no short cell breaks."""
    _, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "agent@example.jp")
    page.fill("input[name=password]", "agent-password-1")
    with page.expect_navigation():
        page.click("button[type=submit]")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server}/lookup/{kind}?email={reply_address(mail).replace('+', '%2B')}")
        main = page.inner_text("main")
        assert main.index(number) < main.index("有機緑茶 100g") and "未完了" in main
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert page.evaluate(BROKEN_CELLS) == []
        screenshot(page, f"lookup-relay-{kind}-{width}.png")

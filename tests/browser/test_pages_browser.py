"""Every admin and agent page in real headless Chromium at a phone's and a desktop's width: nothing
runs off the side, no short table cell breaks a word over lines, no internal English key is on
screen, and no server error is hidden by a script.
Then the forms that answer with an error, checked the same way. Screenshots go to artifacts/pages/."""
import os
import re

import pytest
from playwright.sync_api import sync_playwright

from plugin import helpdesk
from tests.browser import pagecheck, seeding
from tests.browser.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
WIDTHS = (1280, 390)
# What a page's visible text is, leaving out [translate=no] (raw mail headers, placeholders typed as code).
VISIBLE_TEXT = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('[translate=no], script, style').forEach(e => e.remove());
  document.body.appendChild(body); body.style.position = 'absolute'; body.style.left = '-99999px';
  const text = body.innerText; body.remove(); return text;
}"""


# Short table cells (a state, a name, a date) whose text runs over more than one line: 「正/常」, 「田中 太/郎」.
BROKEN_CELLS = """() => [...document.querySelectorAll('td, th')].filter(cell => {
  const text = cell.innerText.trim();
  if (!text || text.length > 12 || cell.querySelector('div, br, ul, form, input, select, textarea, button')) return false;
  const range = document.createRange(); range.selectNodeContents(cell);
  const style = getComputedStyle(cell);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6;
  return range.getBoundingClientRect().height > line * 1.5;
}).map(cell => cell.innerText.trim())"""


def _login(page, base, email, password):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def _check(page, response_body, label, width, keys, problems):
    """Run the three checks on the loaded page; append what is wrong to `problems`."""
    if page.locator("script").count():
        # A page with a script (the template editor's live preview) is checked once its requests are done.
        page.wait_for_load_state("networkidle")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(f"{width}px {label}: {overflow}px wider than the window")
    broken = page.evaluate(BROKEN_CELLS)
    if broken:
        problems.append(f"{width}px {label}: short table cells broken over lines: {broken[:8]}")
    found = pagecheck.visible_keys(page.evaluate(VISIBLE_TEXT), *keys)
    if found:
        problems.append(f"{width}px {label}: internal keys on screen: {found}")
    shown = re.sub(r"\s+", "", page.inner_text("body"))
    for alert in pagecheck.server_alerts(response_body):
        if alert not in shown:
            problems.append(f"{width}px {label}: the server's alert is hidden after load: {alert[:60]}")
    name = re.sub(r"[^\w.-]+", "_", label.strip("/")) or "index"
    page.screenshot(path=os.path.join(ARTIFACTS, "pages", str(width), f"{name[:120]}.png"), full_page=True)


def _submit(page, selector):
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value.text()


def _error_pages(page, base):
    """Submit forms that the server answers with an error; yields (label, server HTML, text that must show)."""
    page.goto(f"{base}/admin/mail-templates/default/form_ack")
    page.fill("#t-subject", "")
    yield "template save without subject", _submit(page, "button[value=save]"), "件名を入力してください。"
    page.goto(f"{base}/admin/settings")
    page.locator(".settings-form input[inputmode=numeric]").first.fill("たくさん")
    yield "settings with a bad number", _submit(page, ".settings-form button[type=submit]"), "保存されていません"
    page.goto(f"{base}/admin/helpdesk")
    yield "activate incomplete production", _submit(page, "#activate-production"), "受信箱の転送用アドレス"
    page.goto(f"{base}/admin/mall-accounts/new/rakuten")
    yield ("rakuten account without fields", _submit(page, ".settings-form button[type=submit]"),
           "入力内容を確認してください")
    page.goto(f"{base}/admin/routing")
    page.fill("#address", "not-an-address")
    yield ("routing rule with a bad address", _submit(page, "form[action$='/admin/routing'] button"),
           "入力内容を確認してください")


def test_every_staff_page_reads_right_at_both_widths(app, client, live_server):
    """All admin and agent pages at 1280 and 390 px: no overflow, no broken short cell, no internal key, no
    hidden server error."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    app.instance_path = os.path.join(app.instance_path, "browser")  # its own demo mailbox folder
    ids = seeding.seed_everything(app, client)
    ids["query"].update({"lookups.members": {"email": "hanako.sato@example.jp"},
                         "lookups.orders": {"email": "hanako.sato@example.jp"},
                         "lookups.ebisumart_members": {"email": "hanako.sato@example.jp"},
                         "lookups.ebisumart_orders": {"customer_code": "100001"}})
    pages = pagecheck.pages(app, ids)
    keys = pagecheck.internal_keys()
    assert len(pages) > 40 and helpdesk.active_name() == "demo"
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for width in WIDTHS:
                os.makedirs(os.path.join(ARTIFACTS, "pages", str(width)), exist_ok=True)
                context = browser.new_context(locale="ja-JP", viewport={"width": width, "height": 900})
                page = context.new_page()
                _login(page, live_server, *seeding.ADMIN)
                for endpoint, path in pages:
                    response = page.goto(live_server + path)
                    if response.status >= 400:
                        problems.append(f"{width}px {path}: HTTP {response.status}")
                        continue
                    _check(page, response.text(), path, width, keys, problems)
                for label, body, expected in _error_pages(page, live_server):
                    if expected not in page.inner_text("main"):
                        problems.append(f"{width}px {label}: 「{expected}」 is not on the page")
                    _check(page, body, label, width, keys, problems)
                context.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)

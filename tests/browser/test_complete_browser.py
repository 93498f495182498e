"""In headless Chromium: the completion link of a delivered Yahoo! question, through login to the mall."""
import re

import pytest

from plugin import settings
from tests.browser.conftest import screenshot
from tests.sync.helpers import deliver_yahoo

pytestmark = pytest.mark.browser


def test_complete_link_from_mail_to_mall(sync_app, mall, auth, live_server, page, runner):
    """The link in the delivered mail asks for login, shows reasons and the no-reopen warning, and completes on the mall."""
    settings.set_value("replies.public_url", live_server, actor="test")
    _account, mail, topic_id = deliver_yahoo(mall)
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"この問い合わせを完了にする: (\S+)", text).group(1)
    assert link.startswith(live_server + "/complete/")

    page.goto(link)
    assert "/login" in page.url
    page.fill("input[name=email]", "agent@example.jp")
    page.fill("input[name=password]", "agent-password-1")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == link
    main = page.inner_text("main")
    assert "完了にした質問を元に戻す（再開する）ことはできません" in main
    assert "mallbridgeからの返信がまだない" in main
    assert page.locator('input[name=reason][value="3"]').is_checked()  # 通常完了 is not possible yet
    screenshot(page, "complete-yahoo-confirm.png")

    page.check('input[name=reason][value="5"]')
    page.click(".complete-form button[type=submit]")
    page.wait_for_load_state()
    assert "完了の依頼を受け付けました" in page.inner_text("main")

    assert runner.invoke(args=["sync", "run", "--once"]).exit_code == 0
    page.reload()
    assert "Yahoo!で完了になりました" in page.inner_text("main")
    screenshot(page, "complete-yahoo-done.png")
    with mall.state.lock:
        assert mall.state.topics[topic_id]["isComplete"] is True

"""Helpdesk environments: inbox button, CLI, demo values, and the connection test (SMTP + the
address books the API token can see)."""
import datetime as dt
from email import message_from_bytes
from email.utils import parsedate_to_datetime

import pytest
import requests
import responses

from plugin import helpdesk
from plugin.helpdesk import check as helpdesk_check
from plugin.invalid import InvalidInput
from tests import factories
from tests.smtp_server import ScriptedHandler, free_port, start_server

URL = "https://shop.relationapp.jp"
API = f"{URL}/api/v2/customer_groups"
BOOKS = [{"customer_group_id": 1, "name": "お客様", "message_box_ids": [7]},
         {"customer_group_id": 2, "name": "取引先", "message_box_ids": []}]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server (aiosmtpd) in a thread that refuses nobody@refused.example; SMTP_URL points at it."""
    handler = ScriptedHandler()
    handler.rcpt_replies["nobody@refused.example"] = ["550 5.1.1 no such user here"]
    controller = start_server(handler)
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    controller.stop()


def _configure(env="production", token=None, forward_to="inbox@mail.relationapp.jp", book=None):
    values = {"url": URL, "inbox_id": 7, "forward_to": forward_to}
    if token:
        values["api_token"] = token
    if book:
        values["address_book_id"] = book
    helpdesk.update_environment(env, values, actor="t")


def test_member_page_has_no_button_while_incomplete(auth):
    """With no URL and inbox ID in the active environment, the member page shows no inbox button."""
    member = factories.make_member()
    auth.login()
    html = auth.client.get(f"/members/{member.id}").get_data(as_text=True)
    assert "Re:lation受信箱を開く" not in html


def test_member_page_button_opens_inbox_in_new_tab(auth):
    """A complete active environment gives the button <URL>/tickets/#/<ID>/tickets/open/p1, new tab, noopener."""
    _configure()
    member = factories.make_member()
    auth.login()
    html = auth.client.get(f"/members/{member.id}").get_data(as_text=True)
    assert (f'href="{URL}/tickets/#/7/tickets/open/p1" target="_blank" rel="noopener"') in html


def test_link_template_overrides_the_default(app):
    """An environment's link template replaces the default inbox link."""
    _configure()
    helpdesk.update_environment("production", {"link_template": "{url}/tickets/#/{inbox_id}/tickets/ongoing/p1"})
    assert helpdesk.inbox_link() == f"{URL}/tickets/#/7/tickets/ongoing/p1"


def test_inactive_environment_does_not_give_the_button(app):
    """Only the active environment counts: a complete demo env is ignored while production is active."""
    _configure("demo")
    assert helpdesk.inbox_link() is None
    helpdesk.activate("demo")
    assert helpdesk.inbox_link().startswith(URL)
    assert helpdesk.active_forwarding_address() == "inbox@mail.relationapp.jp"


def test_configure_demo_fills_and_activates_demo(app):
    """configure_demo() (used by `demo seed`) makes a complete, active demo environment."""
    env = helpdesk.configure_demo()
    assert env.active and env.complete and env.forward_to.endswith("@mail.relationapp.jp")
    assert helpdesk.banners()


def test_cli_set_use_show(runner):
    """`helpdesk set|use|show` edit and print the same data as the admin UI; bad values exit 2, nothing saved."""
    result = runner.invoke(args=["helpdesk", "set", "--env", "demo", "--url", URL + "/", "--inbox-id", "7",
                                 "--forward-to", "inbox@mail.relationapp.jp"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["helpdesk", "use", "demo"]).exit_code == 0
    shown = runner.invoke(args=["helpdesk", "show"]).output
    assert "* demo (active)" in shown and f"{URL}/tickets/#/7/tickets/open/p1" in shown
    bad = runner.invoke(args=["helpdesk", "set", "--env", "demo", "--url", "http://x.example", "--inbox-id", "x"])
    assert bad.exit_code == 2 and "--url" in bad.output and "--inbox-id" in bad.output
    assert helpdesk.environment("demo").url == URL


def test_incomplete_environment_is_not_activated(app):
    """activate() refuses an environment that lacks URL, inbox ID or forwarding address; nothing changes."""
    helpdesk.update_environment("demo", {"url": URL, "inbox_id": 7}, actor="t")
    with pytest.raises(InvalidInput) as refused:
        helpdesk.activate("demo")
    assert "受信箱の転送用アドレス" in refused.value.errors["active"]
    assert helpdesk.active_name() == "production"
    helpdesk.update_environment("demo", {"forward_to": "inbox@mail.relationapp.jp"}, actor="t")
    helpdesk.activate("demo")
    assert helpdesk.active_name() == "demo"


def test_cli_use_refuses_an_incomplete_environment(runner):
    """`helpdesk use` of an empty environment exits 2 with the Japanese names of the missing fields."""
    result = runner.invoke(args=["helpdesk", "use", "demo"])
    assert result.exit_code == 2
    for label in ("ヘルプデスクのURL", "受信箱ID", "受信箱の転送用アドレス"):
        assert label in result.output
    assert helpdesk.active_name() == "production"


def test_cli_reads_api_token_from_stdin_and_never_prints_it(runner):
    """--api-token-stdin stores the token encrypted; `show` says only that it is set."""
    result = runner.invoke(args=["helpdesk", "set", "--env", "production", "--api-token-stdin"], input="tok-xyz\n")
    assert result.exit_code == 0, result.output
    assert helpdesk.environment("production").api_token() == "tok-xyz"
    shown = runner.invoke(args=["helpdesk", "show"]).output
    assert "tok-xyz" not in shown and "(set)" in shown


def test_test_mail_reaches_the_smtp_server_with_unique_code(app, smtp_server):
    """The connection test mails the forwarding address; the subject carries the report's unique code."""
    _configure()
    report = helpdesk_check.run("production")
    assert report.ok, report.steps
    assert report.steps[0].ok and "受け付けました" in report.steps[0].message
    assert report.steps[1].ok is None  # no token: API ping skipped
    ((_sender, rcpt_tos, content),) = smtp_server.messages
    assert rcpt_tos == ["inbox@mail.relationapp.jp"]
    assert report.code.encode() in content
    assert helpdesk_check.run("production").code != report.code


def test_test_mail_reports_what_the_server_said(app, smtp_server):
    """A refused forwarding address is reported with the server's reply."""
    _configure(forward_to="nobody@refused.example")
    step = helpdesk_check.run("production").steps[0]
    assert step.ok is False and "550" in step.message and "no such user" in step.message


def test_test_mail_unreachable_server(app):
    """An SMTP server that is not there gives a clear failure, not an exception."""
    _configure()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    step = helpdesk_check.run("production").steps[0]
    assert step.ok is False and "接続できない" in step.message


def test_test_mail_without_smtp_url_says_so_in_japanese(app):
    """No MALLBRIDGE_SMTP_URL on the server: the admin reads a Japanese sentence naming the variable."""
    _configure()
    app.config["SMTP_URL"] = None
    step = helpdesk_check.run("production").steps[0]
    assert step.ok is False and "MALLBRIDGE_SMTP_URL" in step.message and "設定されていません" in step.message
    assert "empty" not in step.message


def test_test_mail_is_dated_in_japan_time(app, smtp_server, clock_pinned):
    """The test mail's Date is +0900 like every other mail of mallbridge (not -0000)."""
    _configure()
    helpdesk_check.run("production")
    ((_sender, _rcpt, content),) = smtp_server.messages
    date = message_from_bytes(content)["Date"]
    assert date.endswith("+0900"), date
    assert parsedate_to_datetime(date) == dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


@responses.activate
def test_api_step_lists_the_address_books_with_the_bearer_token(app):
    """With a token, the test lists the address books the token sees (Bearer, JSON content type)."""
    _configure(token="tok-1", book=1)
    responses.get(API, json=BOOKS, headers={"X-RateLimit-Remaining": "59"}, match=[responses.matchers.header_matcher(
        {"Authorization": "Bearer tok-1", "Content-Type": "application/json"})])
    step = helpdesk_check.ping_api(helpdesk.environment("production"))
    assert step.ok is True, step.message
    assert "ID 1「お客様」" in step.message and "ID 2「取引先」" in step.message and "アドレス帳ID 1" in step.message
    assert step.details == ["ID 1「お客様」", "ID 2「取引先」"]


@responses.activate
def test_api_step_explains_an_address_book_the_token_cannot_see(app):
    """A configured address-book ID that is not in the token's list is a failure naming the books it sees."""
    _configure(token="tok-1", book=5)
    responses.get(API, json=BOOKS)
    step = helpdesk_check.ping_api(helpdesk.environment("production"))
    assert step.ok is False
    assert "アドレス帳ID 5 はこのトークンでは見えません" in step.message and "ID 2「取引先」" in step.message


@responses.activate
def test_api_step_without_address_book_asks_to_choose_one(app):
    """Without an address-book ID the test succeeds and asks the admin to pick one of the listed books."""
    _configure(token="tok-1")
    responses.get(API, json=BOOKS)
    step = helpdesk_check.ping_api(helpdesk.environment("production"))
    assert step.ok is True and "この中からアドレス帳IDを設定してください" in step.message


@pytest.mark.parametrize("status,text", [(401, "トークンが無効"), (404, "アドレス帳の一覧がありません"),
                                         (500, "エラーを返しました"), (503, "エラーを返しました"),
                                         (302, "転送（302）")])
@responses.activate
def test_api_errors_are_explained(app, status, text):
    """401/404/5xx/redirects each get a Japanese explanation."""
    _configure(token="tok-1")
    responses.get(API, status=status, json={"message": "x"}, headers={"Location": "https://elsewhere.example/"})
    step = helpdesk_check.ping_api(helpdesk.environment("production"))
    assert step.ok is False and text in step.message


@responses.activate
def test_api_403_blocks_further_calls_until_the_reset(app, clock_pinned):
    """A 403 (the helpdesk's rate-limit answer) is reported with the wait, and no call is made before
    X-RateLimit-Reset, whichever process asks (the count is in the database)."""
    _configure(token="tok-1")
    reset = int(clock_pinned.now().replace(tzinfo=dt.UTC).timestamp()) + 30
    responses.get(API, status=403, json={"message": "rate limit exceeded"},
                  headers={"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    env = helpdesk.environment("production")
    first = helpdesk_check.ping_api(env)
    assert first.ok is False and "上限" in first.message and "31秒後" in first.message
    second = helpdesk_check.ping_api(env)
    assert second.ok is False and "上限" in second.message and len(responses.calls) == 1
    clock_pinned.advance(seconds=31)
    responses.replace(responses.GET, API, json=BOOKS)
    assert helpdesk_check.ping_api(env).ok is True and len(responses.calls) == 2


@responses.activate
def test_api_calls_are_capped_at_60_per_minute(app, clock_pinned):
    """At most 60 API calls per minute per token; the 61st is not sent and says when to try again."""
    _configure(token="tok-1")
    responses.get(API, json=BOOKS)
    env = helpdesk.environment("production")
    for _ in range(60):
        assert helpdesk_check.ping_api(env).ok is True
    refused = helpdesk_check.ping_api(env)
    assert refused.ok is False and "上限" in refused.message and len(responses.calls) == 60
    clock_pinned.advance(seconds=61)
    assert helpdesk_check.ping_api(env).ok is True and len(responses.calls) == 61


@responses.activate
def test_api_timeout_is_reported_within_10_seconds(app):
    """A slow or dead API gives a clear timeout message; the request uses a timeout of at most 10 s."""
    _configure(token="tok-1")
    responses.get(API, body=requests.ConnectTimeout("slow"))
    step = helpdesk_check.ping_api(helpdesk.environment("production"))
    assert step.ok is False and "10秒以内に応答しませんでした" in step.message
    assert sum(helpdesk_check.HTTP_TIMEOUT) <= 10
    assert len(responses.calls) == 1  # one attempt: the admin's page answers at once


def test_cli_test_command_exit_code(runner, smtp_server):
    """`helpdesk test ENV` prints each step and exits 0 on success, 1 on failure."""
    _configure()
    ok = runner.invoke(args=["helpdesk", "test", "production"])
    assert ok.exit_code == 0 and "OK   smtp" in ok.output
    failed = runner.invoke(args=["helpdesk", "test", "demo"])
    assert failed.exit_code == 1 and "FAIL smtp" in failed.output


def test_admin_test_button_shows_report(auth, smtp_server):
    """The admin's connection-test button shows the result on the page."""
    from tests.conftest import csrf_token

    _configure()
    auth.login("admin@example.jp", "admin-password-1")
    page = auth.client.get("/admin/helpdesk").get_data(as_text=True)
    html = auth.client.post("/admin/helpdesk/production/test", data={"csrf_token": csrf_token(page)}).get_data(
        as_text=True)
    assert "接続テストの結果" in html and "受け付けました" in html


def test_api_ping_with_undecryptable_token_is_reported(app):
    """A token encrypted under a key that is gone gives a clear failure, not a 500."""
    from cryptography.fernet import Fernet

    from plugin import settings

    _configure(token="tok-1")
    app.config["ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    settings.invalidate()
    step = helpdesk_check.ping_api(helpdesk.environment("production"))
    assert step.ok is False and "復号できません" in step.message


def test_cli_sets_reply_senders_address_book_and_push(runner):
    """`helpdesk set` keeps reply senders, the API token (never printed), the address book and push."""
    result = runner.invoke(args=["helpdesk", "set", "--env", "production", "--reply-from",
                                 "Agent@Shop.example.jp, @mail.relationapp.jp", "--api-token-stdin",
                                 "--address-book", "12", "--push", "on"], input="tok-123\n")
    assert result.exit_code == 0, result.output
    env = helpdesk.environment("production")
    assert env.reply_from == ("agent@shop.example.jp", "@mail.relationapp.jp")
    assert (env.address_book_id, env.push, env.api_token()) == (12, True, "tok-123")
    shown = runner.invoke(args=["helpdesk", "show"]).output
    assert "@mail.relationapp.jp" in shown and "address_book_id 12" in shown and "tok-123" not in shown
    assert runner.invoke(args=["helpdesk", "set", "--env", "production", "--push", "off"]).exit_code == 0
    assert helpdesk.environment("production").push is False


@pytest.mark.parametrize("option, value, message", [
    ("--reply-from", "agent@", "@ドメイン"),
    ("--reply-from", "@", "@ドメイン"),
    ("--address-book", "0", "1以上"),
    ("--address-book", "abc", "半角数字"),
])
def test_cli_refuses_bad_reply_senders_and_address_books(runner, option, value, message):
    """A malformed sender or address-book ID is refused with a Japanese message naming the option."""
    result = runner.invoke(args=["helpdesk", "set", "--env", "demo", option, value])
    assert result.exit_code == 2 and option in result.output and message in result.output


@pytest.mark.parametrize("sender, accepted", [
    ("agent@shop.example.jp", True),
    ("AGENT@shop.example.jp", True),
    ("someone@mail.relationapp.jp", True),
    ("someone@evil.mail.relationapp.jp", False),
    ("stranger@evil.example", False),
    ("", False),
    (None, False),
])
def test_reply_senders_match_addresses_and_whole_domains(app, sender, accepted):
    """A reply sender matches an exact address or an @domain entry (case-insensitive, no subdomains)."""
    helpdesk.update_environment("production", {"reply_from": "agent@shop.example.jp, @mail.relationapp.jp"})
    assert helpdesk.environment("production").accepts_reply_from(sender) is accepted

"""The push when the helpdesk says no: wrong token, unknown book, maintenance, the rate limit."""
import datetime as dt

import pytest

from plugin import helpdesk
from plugin.helpdesk import push, status
from plugin.helpdesk.fake.seed import DEMO_TOKEN
from plugin.helpdesk.fake.server import FakeHelpdeskServer
from plugin.helpdesk.fake.state import FakeHelpdeskState
from plugin.helpdesk.ratelimit import unix_now
from tests import factories
from tests.helpdesk.conftest import URL
from tests.helpdesk.helpers import api_requests, book, inquiry, rakuten_account, run

MASK = "pc.fw.rakuten.ne.jp"


def _members(n):
    for i in range(1, n + 1):
        factories.make_member(f"{100000 + i}", emails=(f"m{i}@example.jp",))


def test_a_wrong_token_pauses_the_push_until_another_is_saved(push_app, fake_helpdesk, auth):
    """401: the push stops (no retry loop), the dashboard says why in Japanese, and a new token resumes it."""
    _members(2)
    helpdesk.update_environment("production", {"api_token": "revoked-token"})
    first = run()
    assert first.status == "paused" and "APIトークンが無効です（401）" in first.message_ja
    calls = len(api_requests(fake_helpdesk))
    assert run().status == "paused" and len(api_requests(fake_helpdesk)) == calls  # no crash loop
    auth.login("admin@example.jp", "admin-password-1")
    page = auth.client.get("/admin/").get_data(as_text=True)
    assert "APIトークンが無効です（401）" in page and "停止中" in page
    helpdesk.update_environment("production", {"api_token": DEMO_TOKEN})
    assert run().created == 2 and len(book(fake_helpdesk)) == 2


def test_an_unknown_address_book_pauses_with_the_books_the_token_sees(push_app, fake_helpdesk, clock_pinned):
    """Book 99 does not exist: paused, the message lists the books there are; looked at again after 10 min."""
    _members(1)
    helpdesk.update_environment("production", {"address_book_id": 99})
    report = run()
    assert report.status == "paused"
    assert "アドレス帳ID 99 がヘルプデスクに見つかりません" in report.message_ja and "1「デモ店舗のお客様」" in report.message_ja
    assert status.summary().warning == report.message_ja
    calls = len(api_requests(fake_helpdesk))
    assert run().status == "paused" and len(api_requests(fake_helpdesk)) == calls
    clock_pinned.advance(minutes=11)
    run()
    assert len(api_requests(fake_helpdesk)) == calls + 1  # one look at the list, still paused
    helpdesk.update_environment("production", {"address_book_id": 1})
    assert run().created == 1


def test_maintenance_is_retried_with_backoff(push_app, fake_helpdesk, waits):
    """Two 503s are retried within the pass (waits 1 s, 2 s) and the contact arrives."""
    _members(1)
    with fake_helpdesk.state.lock:
        fake_helpdesk.state.add_fault(503, 2, path="/customers/create", message="maintenance")
    report = run(waits)
    assert report.created == 1 and waits == [1.0, 2.0]


def test_a_helpdesk_that_stays_down_ends_the_pass_and_waits(push_app, fake_helpdesk, waits, clock_pinned):
    """Still 503 after the retries: the pass ends with a Japanese error, the next pass waits, then resumes."""
    _members(2)
    with fake_helpdesk.state.lock:
        fake_helpdesk.state.add_fault(503, 8, path="/customers/create", message="maintenance")
    report = run(waits)
    assert report.status == "error" and "メンテナンス中です（503）" in report.message_ja
    summary = status.summary()
    assert summary.last_error_ja == report.message_ja and summary.state_ja.startswith("エラー")
    calls = len(api_requests(fake_helpdesk))
    assert run(waits).status == "waiting" and len(api_requests(fake_helpdesk)) == calls
    clock_pinned.advance(seconds=31)
    assert run(waits).created == 2


def test_one_contact_the_helpdesk_keeps_failing_on_is_reported_after_three_passes(push_app, fake_helpdesk,
                                                                                  clock_pinned, monkeypatch):
    """A contact answered 500 on every try stops holding up the rest after three passes."""
    monkeypatch.setattr(push, "THREADS", 1)  # one after another, as under the helpdesk's limit
    factories.make_member("X1", emails=("x1@example.jp",))
    factories.make_member("X2", emails=("x2@example.jp",))
    with fake_helpdesk.state.lock:
        fake_helpdesk.state.add_fault(500, 100, path="/customers/create")
    for _ in range(3):
        clock_pinned.advance(minutes=11)
        report = run([])
    assert [label for label, _ in report.refused] == ["会員 X1 山田 太郎"]
    with fake_helpdesk.state.lock:
        fake_helpdesk.state.faults.clear()
    clock_pinned.advance(minutes=11)
    assert run([]).created == 1 and list(book(fake_helpdesk)) == ["X2"]


@pytest.fixture
def limited_helpdesk(app, clock_pinned):
    """The fake helpdesk with its real limit, on mallbridge's pinned clock; the app pushes into it with
    the real client limit too."""
    with FakeHelpdeskServer(FakeHelpdeskState(clock=unix_now)) as server:
        app.config["HELPDESK_API_BASE"] = server.api_base
        helpdesk.update_environment("production", {"url": URL, "api_token": DEMO_TOKEN, "address_book_id": 1,
                                                   "push": True})
        yield server


def _sleep(clock_pinned, log):
    def sleep(seconds):
        log.append(seconds)
        clock_pinned.advance(seconds=seconds)
    return sleep


def test_a_403_waits_for_the_reset_and_goes_on(app, limited_helpdesk, clock_pinned):
    """Another client used up the token's minute: the push gets 403, waits for X-RateLimit-Reset, goes on."""
    _members(2)
    with limited_helpdesk.state.lock:
        for _ in range(60):
            limited_helpdesk.state.count_request(DEMO_TOKEN)
    slept = []
    report = push.run_pass(budget=None, max_wait=120, sleep=_sleep(clock_pinned, slept))
    assert report.created == 2 and 55 <= sum(slept) <= 61
    statuses = [s for _, _, _, s in limited_helpdesk.state.requests]
    assert statuses.count(403) == 1


def test_new_inquiry_reaches_the_book_within_two_minutes_of_a_large_backlog(app, limited_helpdesk, clock_pinned):
    """At 60 requests a minute with 150 members pending, an inquiry arriving mid-backlog is in the book
    well within 2 minutes, and no minute ever sees more than 60 requests."""
    _members(150)
    account = rakuten_account()
    start = clock_pinned.now()
    arrived = {}

    def sleep(seconds):
        clock_pinned.advance(seconds=seconds)
        if not arrived and clock_pinned.now() - start >= dt.timedelta(seconds=70):
            arrived["at"] = clock_pinned.now()
            arrived["row"] = inquiry(account, "391234-20261123-1", name="急ぎ 顧客", address=f"rush@{MASK}")
    report = push.run_pass(budget=None, max_wait=120, sleep=sleep)
    assert report.created == 151 and report.refused == []
    key = f"rakuten-{account.id}-{arrived['row'].customer}"
    landed = dt.datetime.strptime(book(limited_helpdesk)[key]["last_updated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert landed - arrived["at"].replace(microsecond=0) <= dt.timedelta(seconds=20)
    times = sorted(t for t, *_ in limited_helpdesk.state.requests)
    assert max(sum(1 for u in times if t <= u < t + 60) for t in times) <= 60
    assert 403 not in [s for *_, s in limited_helpdesk.state.requests]

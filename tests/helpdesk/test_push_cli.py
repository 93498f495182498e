"""`helpdesk push`, `sync run`'s pass, `fake-helpdesk`, the dashboard card and the demo wiring."""
import os
import subprocess
import sys
import time
import urllib.request

from plugin import helpdesk
from plugin.helpdesk.fake.seed import DEMO_BOOK, DEMO_TOKEN
from plugin.helpdesk.worker import PushWorker
from sync.runner import SyncRunner
from tests import factories
from tests.helpdesk.helpers import book, emails
from tests.smtp_server import free_port
from tests.sync.helpers import deliver_rakuten


def test_push_once_pushes_everything_and_summarises(push_app, fake_helpdesk, runner):
    """`helpdesk push --once` pushes all pending members, prints the progress and exits 0."""
    factories.make_member("C1", emails=("c1@example.jp",))
    factories.make_member("C2", emails=("c2@example.jp",))
    result = runner.invoke(args=["helpdesk", "push", "--once"])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output and "2 / 2" in result.output and "2 pushed" in result.output
    assert set(book(fake_helpdesk)) == {"C1", "C2"}
    again = runner.invoke(args=["helpdesk", "push", "--once", "--all"])
    assert again.exit_code == 0 and "2 updated" in again.output


def test_push_once_explains_why_it_cannot_run(app, runner):
    """Push off or not configured: exit 1 with the Japanese reason, nothing sent."""
    result = runner.invoke(args=["helpdesk", "push", "--once"])
    assert result.exit_code == 1 and "オフです" in result.output
    helpdesk.update_environment("production", {"push": True})
    result = runner.invoke(args=["helpdesk", "push", "--once"])
    assert result.exit_code == 1 and "APIトークン・アドレス帳ID" in result.output


def test_push_once_lists_refused_contacts(push_app, fake_helpdesk, runner):
    """A contact the helpdesk refuses is named on stderr; the command still pushes the others."""
    factories.make_member("B1", emails=("bad@@example",))
    factories.make_member("B2", emails=("b2@example.jp",))
    result = runner.invoke(args=["helpdesk", "push", "--once"])
    assert "refused: 会員 B1" in result.output and "1 refused" in result.output
    assert set(book(fake_helpdesk)) == {"B2"}


def test_worker_keeps_going_while_work_is_left(push_app, fake_helpdesk, monkeypatch):
    """The worker starts the next pass at once while a pass ran out of time, without sleeping."""
    from plugin.helpdesk import worker

    for i in range(12):
        factories.make_member(f"W{i}", emails=(f"w{i}@example.jp",))
    push_app.config["HELPDESK_RATE_LIMIT"] = 60  # chunks of 5 contacts
    monkeypatch.setattr(worker, "PASS_SECONDS", 0.0)  # every pass does one chunk, then "more"
    ticks = iter(range(10_000))
    slept, passes = [], []
    pusher = PushWorker(sleep=slept.append, clock=lambda: float(next(ticks)), report=passes.append)
    assert pusher.run(once=True) == 12 and slept == []
    assert len(passes) == 3 and len(book(fake_helpdesk)) == 12


def test_sync_run_puts_the_new_inquirys_customer_in_the_book(sync_app, mall, smtp_sink, fake_helpdesk):
    """fake mall → `sync run` pass → the customer of the new inquiry is a contact whose e-mail is the
    From address of the mail the inbox received (the relay address), with the masked address archived."""
    sync_app.config["HELPDESK_API_BASE"] = fake_helpdesk.api_base
    sync_app.config["HELPDESK_RATE_LIMIT"] = 0
    helpdesk.update_environment("production", {"url": "https://shop.relationapp.jp", "api_token": DEMO_TOKEN,
                                               "address_book_id": DEMO_BOOK, "push": True})
    from plugin.helpdesk import push
    from plugin.helpdesk import state as st

    st.load(push.targets.current().key)
    _account, mail, _number = deliver_rakuten(mall, user_mask_email="hanako1@pc.fw.rakuten.ne.jp")
    SyncRunner(sleep=lambda s: None).run(once=True)
    ((contact),) = book(fake_helpdesk).values()
    sender = mail["From"].addresses[0].addr_spec
    assert emails(contact) == ([sender], ["hanako1@pc.fw.rakuten.ne.jp"])
    assert contact["last_name"] == "山田" and contact["first_name"] == "花子"


def test_dashboard_shows_progress_and_the_last_error(push_app, fake_helpdesk, auth):
    """管理 › ダッシュボード: the push's n / N, contacts pushed and refused, and the last error."""
    factories.make_member("D1", emails=("d1@example.jp",))
    factories.make_member("D2", emails=("broken@@example",))
    from plugin.helpdesk import push

    push.run_pass(budget=None, max_wait=0)
    auth.login("admin@example.jp", "admin-password-1")
    html = auth.client.get("/admin/").get_data(as_text=True)
    assert 'id="push-progress">2 / 2<' in html and 'id="push-ok">1件' in html and 'id="push-refused">1件' in html
    assert "会員 D2" in html and "受け付けなかったお客様が1件" in html
    helpdesk_page = auth.client.get("/admin/helpdesk").get_data(as_text=True)
    assert 'id="push-progress">2 / 2<' in helpdesk_page


def test_demo_seed_points_the_demo_environment_at_the_fake_helpdesk(app, runner):
    """With MALLBRIDGE_DEMO the seed sets the fake's token, book 1 and push on; the API base is the fake."""
    from plugin.demo.malls import seed_helpdesk_push

    env = seed_helpdesk_push()
    assert (env.api_token(), env.address_book_id, env.push) == (DEMO_TOKEN, DEMO_BOOK, True)
    from plugin import create_app
    from tests.conftest import base_config

    demo = create_app({**base_config("sqlite://"), "DEMO": True, "TESTING": False})
    assert demo.config["HELPDESK_API_BASE"] == "http://127.0.0.1:8901/api/v2"
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "Procfile.demo"), encoding="utf-8") as fh:
        procfile = fh.read()
    assert "mallbridge fake-helpdesk --port 8901" in procfile and "mallbridge helpdesk push" in procfile


def test_fake_helpdesk_command_serves_the_api_and_the_page():
    """`python -m plugin.helpdesk.fake --port P` serves the address-book page and the API."""
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-m", "plugin.helpdesk.fake", "--port", str(port)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "fake-helpdesk did not start"
                time.sleep(0.05)  # polling for the port to open (a condition), not a fixed wait
        assert "デモ店舗のお客様" in page
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/customer_groups",
                                         headers={"Authorization": f"Bearer {DEMO_TOKEN}"})
        assert b"customer_group_id" in urllib.request.urlopen(request, timeout=5).read()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_a_stop_signal_ends_a_wait_for_the_rate_limit_at_once(push_app, fake_helpdesk):
    """SIGTERM while the worker waits for a free slot: the pass ends at once (no spinning until the
    window frees), nothing is sent, the worker stops."""
    from plugin.helpdesk import target
    from plugin.helpdesk.ratelimit import SharedLimit

    factories.make_member("S1", emails=("s1@example.jp",))
    push_app.config["HELPDESK_RATE_LIMIT"] = 60
    limit = SharedLimit(target.current().token_fp)
    for _ in range(60):
        limit.reserve()  # the token's minute is used up by another process
    slept = []
    pusher = PushWorker()

    def sleep(seconds):
        slept.append(seconds)
        pusher.stopping = True  # the signal handler's doing
    pusher.sleep = sleep
    pusher.run()
    assert pusher.last.status == "stopped" and len(slept) == 1
    assert book(fake_helpdesk) == {}

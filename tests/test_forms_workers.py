"""The per-IP form limit holds across two real gunicorn workers (before: 2 workers let 10 posts through
a "5 per minute" limit, each counting in its own memory)."""
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import delete, func, select

from plugin.extensions import db
from plugin.forms.models import FormSubmission, RateCounter
from tests.conftest import TEST_KEY
from tests.forms_support import VALID, make_contact_form
from tests.smtp_server import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")
POSTS = 12


def _wait_for(condition, timeout=60.0, what="condition"):
    """Poll `condition` until it is true (a deadline, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def _serving(url):
    try:
        return requests.get(url, timeout=10).status_code == 200
    except requests.RequestException:  # not listening yet, or still loading the app
        return False


def _start_gunicorn(database_url, tmp_path, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLBRIDGE_")}
    env.update(MALLBRIDGE_DATABASE_URL=database_url, MALLBRIDGE_SECRET_KEY="s" * 40,
               MALLBRIDGE_ENCRYPTION_KEY=TEST_KEY, MALLBRIDGE_FORMS_RATE_LIMIT="5 per minute;30 per hour")
    # The access log names the worker (%(p)s is its pid) that answered each request.
    args = [GUNICORN, "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "info",
            "--error-logfile", str(tmp_path / "error.log"), "--access-logfile", str(tmp_path / "access.log"),
            "--access-logformat", "%(p)s %(m)s %(U)s %(s)s", "wsgi:app"]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_per_ip_limit_holds_across_two_gunicorn_workers(app, database_url, tmp_path):
    """12 posts at once from one IP to 2 workers: exactly 5 accepted, 7 refused (429), and both workers answered."""
    make_contact_form()
    db.session.remove()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_gunicorn(database_url, tmp_path, port)
    try:
        _wait_for(lambda: sum("Booting worker" in line for line in _lines(tmp_path / "error.log")) >= 2,
                  what="two gunicorn workers")
        _wait_for(lambda: _serving(f"{base}/forms/contact"), what="gunicorn to answer")
        with requests.Session() as http, ThreadPoolExecutor(POSTS) as pool:
            # Which worker takes a request is up to the kernel: repeat (with fresh counters)
            # until both answered posts of one round, so the round proves the counts are shared.
            for _ in range(10):
                seen = len(_lines(tmp_path / "access.log"))
                statuses = sorted(pool.map(lambda _: http.post(f"{base}/forms/contact", json=VALID,
                                                               timeout=30).status_code, range(POSTS)))
                assert statuses == [201] * 5 + [429] * (POSTS - 5)
                _wait_for(lambda seen=seen: len(_lines(tmp_path / "access.log")) >= seen + POSTS, what="the access log")
                posts = [line.split() for line in _lines(tmp_path / "access.log")[seen:] if " POST " in line]
                if len({pid for pid, *_ in posts}) == 2:
                    break
                with db.engine.begin() as conn:
                    conn.execute(delete(RateCounter))
            else:
                raise AssertionError("the posts of no round were spread over both workers")
        assert {status for *_, status in posts} == {"201", "429"}
        assert db.session.scalar(select(func.count()).select_from(FormSubmission)) % 5 == 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

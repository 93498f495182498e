"""The per-token rate limit shared through the database: by every app instance and process."""
import os
import subprocess
import sys
import textwrap

from plugin import create_app
from plugin.extensions import db
from plugin.helpdesk.models import HelpdeskRateLimit
from plugin.helpdesk.ratelimit import LIMIT, WINDOW, SharedLimit, seconds_until_reset, token_fingerprint, unix_now
from tests.conftest import base_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sixty_calls_then_a_wait_until_the_oldest_leaves_the_window(app, clock_pinned):
    """60 calls are granted at once; the 61st waits until the first is a window old; then it is granted."""
    limit = SharedLimit("fp-1")
    assert [limit.reserve() for _ in range(LIMIT)] == [0.0] * LIMIT
    assert limit.reserve() == WINDOW
    clock_pinned.advance(seconds=30)
    assert limit.reserve() == WINDOW - 30
    clock_pinned.advance(seconds=31)
    assert limit.reserve() == 0.0 and limit.calls_in_window() == 1


def test_the_token_itself_is_never_stored(app):
    """Only a fingerprint of the token names its row."""
    fp = token_fingerprint("secret-token-123")
    SharedLimit(fp).reserve()
    row = db.session.query(HelpdeskRateLimit).one()
    assert row.token_fp == fp and "secret-token-123" not in (row.token_fp + row.calls)


def test_remaining_zero_blocks_until_the_reset(app, clock_pinned):
    """X-RateLimit-Remaining 0 stops every call until X-RateLimit-Reset, even with slots left here."""
    limit = SharedLimit("fp-2")
    reset = int(unix_now()) + 40
    assert limit.learn({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}, 200) == 40
    assert 39 <= limit.reserve() <= 40
    clock_pinned.advance(seconds=40)
    assert limit.reserve() == 0.0


def test_a_403_without_reset_blocks_a_minute(app, clock_pinned):
    """A 403 that names no reset time blocks the token for 60 s."""
    limit = SharedLimit("fp-3")
    assert limit.learn({}, 403) == 60.0
    assert limit.reserve() == 60.0


def test_a_lower_limit_announced_by_the_server_is_adopted(app, clock_pinned):
    """X-RateLimit-Limit: 30 makes mallbridge stop at 30 a window."""
    limit = SharedLimit("fp-4")
    limit.reserve()
    limit.learn({"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "29"}, 200)
    granted = sum(1 for _ in range(40) if limit.reserve() == 0.0)
    assert granted == 29


def test_reset_header_as_unix_time_or_delay():
    """X-RateLimit-Reset is UNIX time; a small number is read as seconds; garbage as unknown."""
    now = 1_800_000_000.0
    assert seconds_until_reset("1800000030", now) == 30
    assert seconds_until_reset("15", now) == 15
    assert seconds_until_reset("1799999990", now) == 0
    assert seconds_until_reset("soon", now) is None


def test_two_app_instances_on_one_database_share_the_limit(database_url, clock_pinned):
    """Two apps (as two gunicorn workers or a worker and the web app) on one database: 60 calls in all."""
    one, two = create_app(base_config(database_url)), create_app(base_config(database_url))
    granted = 0
    for _ in range(40):
        for instance in (one, two):
            with instance.app_context():
                granted += SharedLimit("fp-shared").reserve() == 0.0
    assert granted == LIMIT
    for instance in (one, two):
        with instance.app_context():
            db.engine.dispose()


SCRIPT = textwrap.dedent("""
    import sys
    from plugin import create_app
    from plugin.helpdesk.ratelimit import SharedLimit
    from tests.conftest import base_config
    app = create_app(base_config(sys.argv[1]))
    with app.app_context():
        limit = SharedLimit("fp-processes")
        print(sum(1 for _ in range(int(sys.argv[2])) if limit.reserve() == 0.0))
""")


def test_two_processes_never_take_more_than_the_limit_together(database_url):
    """Two processes racing for slots of one token get exactly 60 between them."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, database_url, "90"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) for _ in range(2)]
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    counts = [int(out.strip()) for out, err in results]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert sum(counts) == LIMIT, counts

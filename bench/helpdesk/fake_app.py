"""The fake helpdesk as a WSGI app for gunicorn (`bench.helpdesk.fake_app:app`): the benchmark serves it
with keep-alive connections (gthread), which werkzeug's development server does not offer.
BENCH_FAKE_LIMIT sets its requests per minute (0: unlimited)."""
import os

from plugin.helpdesk.fake import create_fake_helpdesk
from plugin.helpdesk.fake.state import FakeHelpdeskState

app = create_fake_helpdesk(FakeHelpdeskState(limit=int(os.environ.get("BENCH_FAKE_LIMIT", "60"))))

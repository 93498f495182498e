"""Shared fixtures: app (SQLite per test, or PostgreSQL when MALLBRIDGE_TEST_DATABASE_URL is set),
client, runner, auth helper, clock.

On PostgreSQL each run creates its own database on that server (mbrun_<pid>_<hex>) and drops it
at the end, so two runs against one server do not disturb each other."""
import os
import re
import secrets
import shutil

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from plugin import clock, create_app
from plugin.config import normalize_database_url
from plugin.extensions import db
from tests import factories

# The sync fixtures (fake mall, SMTP sink, smtp-in) serve tests/sync and one browser test.
pytest_plugins = ["tests.sync.fixtures"]
PG_SERVER_URL = os.environ.get("MALLBRIDGE_TEST_DATABASE_URL")
TEST_KEY = Fernet.generate_key().decode()
# As long as a production key must be (plugin.config.MIN_SECRET_KEY): worker subprocesses get it too.
TEST_SECRET = "test-secret-for-mallbridge-tests-only"
RUN_PREFIX = "mbrun_"


def _run_database_url(server_url):
    """This run's own database on the test server, so two runs on one server never collide."""
    url = make_url(normalize_database_url(server_url))
    return url.set(database=f"{RUN_PREFIX}{os.getpid()}_{secrets.token_hex(3)}")


PG_URL = _run_database_url(PG_SERVER_URL).render_as_string(hide_password=False) if PG_SERVER_URL else None


def base_config(url):
    """The test configuration every app fixture starts from."""
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": TEST_SECRET,
            "ENCRYPTION_KEY": TEST_KEY, "SERVER_NAME": "mallbridge.test",
            # Cheap hashing keeps the suite fast; production uses scrypt.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def migrate_to_head(url):
    """Apply every migration to the database at `url` (the same path as `mallbridge db upgrade`)."""
    app = create_app(base_config(url))
    with app.app_context():
        upgrade(revision="head")
        db.engine.dispose()


def _server_engine():
    return create_engine(normalize_database_url(PG_SERVER_URL), isolation_level="AUTOCOMMIT")


def _create_run_database():
    """Create this run's database; drop those left by runs whose process is gone (a killed run)."""
    engine = _server_engine()
    with engine.connect() as conn:
        names = conn.scalars(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": RUN_PREFIX + "%"})
        for name in list(names):
            pid = name[len(RUN_PREFIX):].split("_")[0]
            if pid.isdigit() and not _alive(int(pid)):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{make_url(PG_URL).database}"'))
    engine.dispose()


def _drop_run_database():
    engine = _server_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(PG_URL).database}" WITH (FORCE)'))
    engine.dispose()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database to start each test from: a SQLite file, or the PostgreSQL URL."""
    if PG_URL:
        _create_run_database()
        migrate_to_head(PG_URL)
        yield PG_URL
        _drop_run_database()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate_to_head(f"sqlite:///{path}")
    yield path


def _reset_postgres(url):
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO shop (code, name) VALUES ('default', '本店')"))
    engine.dispose()


@pytest.fixture
def database_url(database_template, tmp_path):
    """A clean, migrated database for one test."""
    if PG_URL:
        _reset_postgres(database_template)
        return database_template
    path = tmp_path / "mallbridge.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


class IsolatedClient(FlaskClient):
    """Each request gets its own app context, as in production.

    The `app` fixture keeps an app context pushed for direct model access; without this, every
    request would share its `g` (Flask-Login's user, Flask-WTF's CSRF token) and its DB session.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(database_url, tmp_path):
    """The app on a clean database, with an app context pushed for direct model access."""
    app = create_app(base_config(database_url))
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


@pytest.fixture
def clock_pinned():
    """A pinned clock (naive UTC) that tests advance instead of sleeping."""
    import datetime as dt

    clock.pin(dt.datetime(2026, 11, 23, 3, 0, 0))
    yield clock
    clock.pin(None)


def csrf_token(html):
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Auth:
    """Logs the test client in through the real login form."""

    def __init__(self, client):
        self.client = client

    def login(self, email="agent@example.jp", password="agent-password-1", next_url=None):
        """Submit the login form (with its CSRF token); returns the response."""
        page = self.client.get("/login")
        data = {"email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))}
        if next_url is not None:
            data["next"] = next_url
        return self.client.post("/login", data=data)

    def logout(self):
        """End the session."""
        return self.client.get("/logout")


@pytest.fixture
def auth(app, client):
    """Auth helper with an agent (agent@example.jp) and an admin (admin@example.jp) account."""
    factories.make_user("agent@example.jp", "agent-password-1", role="agent")
    factories.make_user("admin@example.jp", "admin-password-1", role="admin")
    return Auth(client)

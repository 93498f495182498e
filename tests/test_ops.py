"""Ops: health check, Prometheus metrics, config errors at startup, the CLI."""
import os
import subprocess
import sys

import pytest

from plugin import create_app
from plugin.config import ConfigError, normalize_database_url
from tests.conftest import TEST_KEY


def test_healthz_reports_database_ok(client):
    """/healthz answers 200 with the database status."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_unreachable_database(tmp_path):
    """A database that cannot be opened gives 503, not a 500 page."""
    app = create_app({"TESTING": True, "SECRET_KEY": "s", "ENCRYPTION_KEY": TEST_KEY,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing-dir/none.db"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
    with app.app_context():
        from plugin.extensions import db

        db.engine.dispose()


def test_metrics_count_requests_lookups_and_login_failures(app, auth, client):
    """/metrics exposes request counts and latency per endpoint, lookups and login failures."""
    auth.login(password="wrong-password")
    auth.login()
    client.get("/lookup/members?email=nobody@example.jp")
    text = client.get("/metrics").get_data(as_text=True)
    assert "mallbridge_http_requests_total" in text
    assert "mallbridge_http_request_duration_seconds" in text
    assert "mallbridge_lookups_total" in text
    assert "mallbridge_login_failures_total" in text


def test_refuses_to_start_without_keys(monkeypatch):
    """Outside demo mode a missing secret or encryption key stops startup with a clear message."""
    monkeypatch.delenv("MALLBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("MALLBRIDGE_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("MALLBRIDGE_DEMO", raising=False)
    with pytest.raises(ConfigError, match="MALLBRIDGE_SECRET_KEY and MALLBRIDGE_ENCRYPTION_KEY"):
        create_app()


def test_cli_reports_missing_keys_without_a_traceback(monkeypatch, capsys):
    """`mallbridge` prints the configuration error and exits 2 instead of a stack trace."""
    from plugin.cli import _create_app

    monkeypatch.delenv("MALLBRIDGE_DEMO", raising=False)
    monkeypatch.delenv("MALLBRIDGE_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as exc:
        _create_app()
    assert exc.value.code == 2
    assert "MALLBRIDGE_SECRET_KEY" in capsys.readouterr().err


def test_demo_mode_derives_stable_keys(monkeypatch):
    """MALLBRIDGE_DEMO=1 starts without keys, with the same derived keys each time."""
    monkeypatch.setenv("MALLBRIDGE_DEMO", "1")
    first, second = create_app(), create_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("url, expected", [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_url_spellings(url, expected):
    """The usual PostgreSQL URL spellings all use the psycopg 3 driver."""
    assert normalize_database_url(url) == expected


def test_cli_creates_users_and_shops(runner):
    """`users create` and `shops add|list` work from the command line."""
    result = runner.invoke(args=["users", "create", "--email", "Boss@Example.jp", "--role", "admin",
                                 "--password-stdin"], input="long-password-1\n")
    assert result.exit_code == 0, result.output
    assert "created admin boss@example.jp" in result.output
    assert runner.invoke(args=["shops", "add", "rakuten-1", "--name", "楽天店"]).exit_code == 0
    assert "rakuten-1\t楽天店" in runner.invoke(args=["shops", "list"]).output
    bad = runner.invoke(args=["shops", "add", "bad code", "--name", "x"])
    assert bad.exit_code != 0 and "letters" in bad.output


def test_cli_account_and_token_changes_are_audited(app, runner):
    """Staff accounts and API tokens made on the command line appear in the audit log like console ones."""
    from plugin.extensions import db
    from plugin.models import AuditLog

    runner.invoke(args=["users", "create", "--email", "boss@example.jp", "--role", "admin", "--password-stdin"],
                  input="long-password-1\n")
    runner.invoke(args=["users", "create", "--email", "boss@example.jp", "--role", "agent", "--password-stdin"],
                  input="long-password-2\n")
    runner.invoke(args=["tokens", "create", "--name", "受注連携"])
    rows = [(r.actor, r.action, r.params) for r in db.session.query(AuditLog).order_by(AuditLog.id)]
    assert rows[0] == ("cli", "user.create", {"email": "boss@example.jp", "role": "admin"})
    assert rows[1] == ("cli", "user.update", {"email": "boss@example.jp", "role": "agent"})
    assert rows[2][:2] == ("cli", "token.create") and rows[2][2]["name"] == "受注連携"


@pytest.mark.parametrize("args", [["tokens", "create", "--name", "x" * 101], ["tokens", "create", "--name", " "],
                                  ["users", "create", "--email", "a@example.jp", "--name", "x" * 201, "--password-stdin"]])
def test_cli_refuses_names_that_do_not_fit(runner, args):
    """Overlong or empty names are a usage error (exit 2), not a database traceback."""
    result = runner.invoke(args=args, input="long-password-1\n")
    assert result.exit_code == 2 and "--name" in result.output


@pytest.mark.parametrize("key", ["not-a-fernet-key", TEST_KEY + ",short"])
def test_refuses_to_start_with_a_malformed_encryption_key(monkeypatch, tmp_path, key):
    """A malformed MALLBRIDGE_ENCRYPTION_KEY stops startup with a message naming the variable, not later."""
    monkeypatch.delenv("MALLBRIDGE_DEMO", raising=False)
    monkeypatch.setenv("MALLBRIDGE_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("MALLBRIDGE_ENCRYPTION_KEY", key)
    with pytest.raises(ConfigError, match="MALLBRIDGE_ENCRYPTION_KEY is malformed"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})


def test_wsgi_reports_config_errors_without_a_traceback(tmp_path):
    """`gunicorn wsgi:app` without keys: one clear line on stderr and exit 4 (gunicorn stops), no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLBRIDGE_")}
    env["MALLBRIDGE_DATABASE_URL"] = f"sqlite:///{tmp_path}/x.db"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", "import wsgi"], check=False, cwd=root, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 4
    assert "MALLBRIDGE_SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


def test_unexpected_database_error_still_shows_the_japanese_500_page(app, client, auth):
    """A view that breaks the DB session mid-request still gets the Japanese 500 page (not werkzeug's English one)."""
    from plugin.extensions import db
    from plugin.models import User

    def broken():
        db.session.add(User(email=None, role="agent"))
        db.session.flush()  # IntegrityError: the session now refuses every query until rolled back

    app.add_url_rule("/test-broken", "test_broken", broken)
    auth.login()
    r = client.get("/test-broken")
    assert r.status_code == 500 and "サーバーでエラーが発生しました" in r.get_data(as_text=True)


def test_a_value_the_database_refuses_is_a_400(app, client, auth):
    """PostgreSQL refusing a value (NUL, too long) that slipped past validation is a 400 that says so, not a 500."""
    from sqlalchemy.exc import DataError

    def refused():
        raise DataError("INSERT …", {}, ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))

    app.add_url_rule("/test-refused", "test_refused", refused)
    auth.login()
    r = client.get("/test-refused")
    assert r.status_code == 400 and "使えない文字" in r.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/users/new", "/admin/tokens"])
def test_nul_in_a_name_field_is_never_a_500(client, auth, path):
    """A NUL byte in a staff or token name: never a 500 (a 400 on PostgreSQL, which refuses NUL)."""
    from tests.conftest import csrf_token

    auth.login("admin@example.jp", "admin-password-1")
    token = csrf_token(client.get(path).get_data(as_text=True))
    data = {"csrf_token": token, "email": "nul@example.jp", "role": "agent", "password": "longpassword1",
            "name": "a\x00b"}
    assert client.post(path, data=data).status_code < 500


def test_create_app_starts_no_thread(tmp_path):
    """Building the app starts no thread (the forms' rate-limit storage is built on the first post)."""
    import threading

    before = {t.ident for t in threading.enumerate()}
    create_app({"TESTING": True, "SECRET_KEY": "s", "ENCRYPTION_KEY": TEST_KEY,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/t.db"})
    assert {t.ident for t in threading.enumerate()} - before == set()

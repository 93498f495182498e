"""Pooled database connections: checked before use only after sitting idle (plugin/pool.py)."""
import psycopg
import pytest

from plugin import pool
from plugin.extensions import db


def _backend_pid(conn):
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _terminate(pid):
    """Close a backend from outside the pool, as a database restart or a firewall would."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.fixture
def postgres(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a SQLite file has no server that could drop a connection")
    return app


def test_a_connection_dropped_while_idle_is_replaced_before_use(postgres, monkeypatch):
    """The server closed a pooled connection while it sat idle: the next user gets a fresh one, no error."""
    monkeypatch.setattr(pool, "IDLE_BEFORE_PING", 0)
    with db.engine.connect() as conn:
        dropped = _backend_pid(conn)
    _terminate(dropped)
    with db.engine.connect() as conn:
        assert _backend_pid(conn) != dropped
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_a_connection_used_a_moment_ago_is_handed_out_unchecked(postgres, monkeypatch):
    """Within the idle allowance the pool returns the same connection without a ping round trip."""
    monkeypatch.setattr(pool, "IDLE_BEFORE_PING", 3600)
    pings = []
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda dbapi_connection: pings.append(1) or True)
    with db.engine.connect() as conn:
        first = _backend_pid(conn)
    with db.engine.connect() as conn:
        assert _backend_pid(conn) == first
    assert pings == []


def test_the_ping_after_idle_runs_once_per_checkout(postgres, monkeypatch):
    """Past the idle allowance each checkout pings once, so a long-idle worker pays one round trip, not more."""
    monkeypatch.setattr(pool, "IDLE_BEFORE_PING", 0)
    pings = []
    original = db.engine.dialect.do_ping
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda c: pings.append(1) or original(c))
    for _ in range(3):
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    assert len(pings) == 2  # the first checkout opened a new connection: nothing to check


def _synchronous_commit(engine):
    with engine.connect() as conn:
        return conn.exec_driver_sql("SHOW synchronous_commit").scalar()


def test_lookups_commit_their_audit_rows_without_waiting_for_the_disk(postgres):
    """Only the lookups' own pool commits asynchronously; every other write keeps durable commits."""
    lookups = pool.lookup_engine(db.engine)
    assert lookups is not db.engine
    assert _synchronous_commit(lookups) == "off"
    assert _synchronous_commit(db.engine) == "on"
    assert pool.lookup_engine(db.engine) is lookups  # one pool per app, not one per request


"""Database connection pools: a ping only after idle, and the lookups' own pool.

Connections are pinged before use only after they sat idle in the pool.

SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip per request, about 7 %
of a lookup's CPU (bench/lookup/cpu.py). A connection that served a request a moment ago is
almost always still good; the ones that break are those that sat idle through a database restart,
a failover or a firewall's idle timeout. So a connection is pinged only when it comes out of the
pool after more than IDLE_BEFORE_PING seconds; a broken one is replaced before the request uses it.
"""
import logging
import threading
import time

from flask import current_app
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine

log = logging.getLogger(f"mallbridge.{__name__}")
IDLE_BEFORE_PING = 5.0  # seconds a connection may sit in the pool and still be used unchecked
_CHECKED_IN = "mallbridge_checked_in"
_LOOKUP_ENGINE = "mallbridge.lookup_engine"
_creating = threading.Lock()


def watch(engine: Engine) -> None:
    """Ping this engine's connections that come out of the pool after sitting idle."""
    if engine.dialect.name == "sqlite":
        return  # a file has no server that could drop the connection

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record):
        if record is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy):
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            alive = False
            log.info("an idle database connection was dropped (%s); opening a new one", type(error).__name__)
        if not alive:
            # The pool discards this connection and hands out a fresh one (SQLAlchemy's documented
            # pessimistic-disconnect recipe).
            raise exc.DisconnectionError("idle connection no longer usable")


def lookup_engine(main: Engine) -> Engine:
    """The engine lookups run on: on PostgreSQL a pool of its own whose commits do not wait for the disk.

    Every lookup commits its audit row before it answers. With the server's default
    synchronous_commit each of those commits waits for a WAL flush, and that wait, not CPU, was half
    of a lookup's time under load (bench/README.md). Lookup audit rows are committed asynchronously
    instead: a crash of the application loses none of them; a crash of the PostgreSQL server itself
    may lose the last fraction of a second of them (3 × wal_writer_delay at most), never leaves the
    database inconsistent, and never touches other data, because only this pool's connections carry
    the setting — outbox, inquiries, settings and the rest keep durable commits on the main pool.
    """
    if main.dialect.name != "postgresql":
        return main
    app = current_app._get_current_object()
    with _creating:
        engine = app.extensions.get(_LOOKUP_ENGINE)
        if engine is None:
            engine = create_engine(main.url, connect_args={"options": "-c synchronous_commit=off"},
                                   **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
            watch(engine)
            app.extensions[_LOOKUP_ENGINE] = engine
    return engine


def dispose(app) -> None:
    """Close the lookups' pool of this app, if it has one (the main pool is Flask-SQLAlchemy's)."""
    engine = app.extensions.pop(_LOOKUP_ENGINE, None)
    if engine is not None:
        engine.dispose()

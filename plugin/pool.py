"""Database connections are pinged before use only after they sat idle in the pool.

SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip per request, about 7 %
of a lookup's CPU (bench/lookup/cpu.py). A connection that served a request a moment ago is
almost always still good; the ones that break are those that sat idle through a database restart,
a failover or a firewall's idle timeout. So a connection is pinged only when it comes out of the
pool after more than IDLE_BEFORE_PING seconds; a broken one is replaced before the request uses it.
"""
import logging
import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

log = logging.getLogger(f"mallbridge.{__name__}")
IDLE_BEFORE_PING = 5.0  # seconds a connection may sit in the pool and still be used unchecked
_CHECKED_IN = "mallbridge_checked_in"


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


"""A lookup's audit row is committed without waiting for a disk flush; nothing else is."""
import pytest
from sqlalchemy import select

from lookups import params, search
from plugin import audit
from plugin.extensions import db
from plugin.models import AuditLog
from tests import factories


def _synchronous_commit(conn):
    return conn.exec_driver_sql("SHOW synchronous_commit").scalar()


@pytest.mark.parametrize("kind", ["members", "orders"])
def test_only_the_lookups_own_transaction_skips_the_wal_flush(app, kind):
    """Inside the lookup's transaction synchronous_commit is off; the next transaction on the same
    connection is durable again, and the audit row is there."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite inserts the audit row in a statement of its own")
    factories.make_member(emails=("taro@example.jp",))
    factories.make_order()
    q = params.validate({"email": "taro@example.jp"})
    with app.test_request_context(), db.engine.connect() as conn:
        with conn.begin():
            assert _synchronous_commit(conn) == "on"
            search.search(conn, kind, q, audit=audit.entry(f"lookup.{kind}", q.as_dict(), actor="agent@example.jp"))
            assert _synchronous_commit(conn) == "off"
        with conn.begin():
            assert _synchronous_commit(conn) == "on"
            assert conn.scalar(select(AuditLog.actor).where(AuditLog.action == f"lookup.{kind}")) == "agent@example.jp"

"""Account leases: a mall account is polled by one `sync run` process at a time.

Several sync workers may share one database (docs/operations.md). Before polling an account a
worker takes its lease with one conditional UPDATE — the lease is free, run out or already its
own, and the account is still enabled, unpaused and (in the loop) due — so two workers that both
saw the account due cannot both poll it: the second one's UPDATE matches nothing, and once the
first has polled, the account is no longer due. The worker's heartbeat renews the lease while the
pass runs (`renew`), and `release` gives it back. A killed worker's lease runs out after
plugin.queue.LEASE_SECONDS and another worker polls the account.
"""
import datetime as dt
import os
import secrets
import socket

from sqlalchemy import Connection, or_, update

from plugin import clock
from plugin.extensions import db
from plugin.queue import LEASE_SECONDS
from sync.models import MallAccount


def owner_name() -> str:
    """A name for this worker in the lease column: host, process id and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def take(account_id: int, owner: str, *, due_only: bool = True, now: dt.datetime | None = None) -> bool:
    """Lease the account to `owner` when it is free (committed); True when this worker got it."""
    now = now or clock.now()
    table = MallAccount
    where = [table.id == account_id, table.enabled.is_(True), table.paused_reason.is_(None),
             or_(table.lease_until.is_(None), table.lease_until < now, table.lease_owner == owner)]
    if due_only:
        where.append(or_(table.next_poll_at.is_(None), table.next_poll_at <= now))
    got = db.session.execute(
        update(table).where(*where).values(lease_owner=owner, lease_until=now + dt.timedelta(seconds=LEASE_SECONDS))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return got == 1


def renew(connection: Connection, account_id: int, owner: str) -> int:
    """Extend the owner's lease (the heartbeat, on its own connection, committed); 1 when held."""
    stmt = (update(MallAccount.__table__)
            .where(MallAccount.id == account_id, MallAccount.lease_owner == owner)
            .values(lease_until=clock.now() + dt.timedelta(seconds=LEASE_SECONDS)))
    with connection.begin():
        return connection.execute(stmt).rowcount


def release(account_id: int, owner: str) -> None:
    """Give the lease back (committed), so another worker may poll the account when it is next due."""
    db.session.rollback()  # whatever the pass left open is not ours to commit here
    db.session.execute(update(MallAccount).where(MallAccount.id == account_id, MallAccount.lease_owner == owner)
                       .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
    db.session.commit()

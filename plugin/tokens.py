"""Bearer API tokens (`mallbridge tokens create`): authenticate a request by its token."""
import datetime as dt
from dataclasses import dataclass

from flask import request
from sqlalchemy import event, select, update

from plugin import auth, clock
from plugin.extensions import db
from plugin.models import ApiToken

_TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Token:
    """An active API token as a request sees it."""
    id: int
    name: str


def bearer_token() -> Token | None:
    """The active token named by `Authorization: Bearer …`, or None.

    A token the database confirmed moments ago is not asked for again (auth.RecentChecks): a
    revoked token stops working within auth.CHECK_SECONDS, at once in the process that revoked it.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    digest = ApiToken.hash(value.strip())
    checks = auth.recent("tokens")
    token = checks.get(digest)
    if token is None:
        token = _check(digest)
        if token is not None:
            checks.put(digest, token)
    return token


def _check(digest: str) -> Token | None:
    """Ask the database; record the use at most once a minute (a write per call would cost more than the call)."""
    row = db.session.execute(select(ApiToken.id, ApiToken.name, ApiToken.revoked_at, ApiToken.last_used_at)
                             .where(ApiToken.token_hash == digest)).first()
    if row is None or row.revoked_at is not None:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.session.commit()
    return Token(row.id, row.name)


@event.listens_for(ApiToken, "after_update")
@event.listens_for(ApiToken, "after_delete")
def _forget_tokens(mapper, connection, target):
    # A revoked token must not be served from this process's memory.
    auth.forget("tokens")


def create_token(name):
    """Store a new token and return the plain value (shown once)."""
    row, plain = ApiToken.issue(name)
    db.session.add(row)
    db.session.commit()
    return plain

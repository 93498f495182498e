"""Bearer API tokens (`mallbridge tokens create`): authenticate a request by its token."""
import datetime as dt

from flask import request
from sqlalchemy import select

from plugin import clock
from plugin.extensions import db
from plugin.models import ApiToken

_TOUCH_EVERY = dt.timedelta(minutes=1)


def bearer_token():
    """The active ApiToken named by `Authorization: Bearer …`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(value.strip())))
    if token is None or token.revoked_at is not None:
        return None
    now = clock.now()
    # Record use at most once a minute: a write on every API call would cost more than the call.
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token


def create_token(name):
    """Store a new token and return the plain value (shown once)."""
    row, plain = ApiToken.issue(name)
    db.session.add(row)
    db.session.commit()
    return plain

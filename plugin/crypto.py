"""Secrets at rest: Fernet under MALLBRIDGE_ENCRYPTION_KEY, with key rotation.

MALLBRIDGE_ENCRYPTION_KEY holds one or more comma-separated Fernet keys. The first key
encrypts; every key decrypts (MultiFernet), so an operator rotates by putting a new key
first, running `mallbridge secrets rotate`, and later dropping the old key.

Features that keep secrets in their own columns call `register_secret_column(Model, "attr")`
at import time so that `rotate_all()` re-encrypts those columns too.
"""
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import select

from plugin.extensions import db

log = logging.getLogger(f"mallbridge.{__name__}")

# (model, attribute name, optional callable returning an extra WHERE criterion)
_SECRET_COLUMNS = []
# MultiFernet objects by key string: building them is cheap, but get() runs on every request.
_FERNETS = {}


class CryptoError(RuntimeError):
    """The encryption key is missing or wrong, or a stored secret cannot be decrypted."""


def _keys(raw):
    return [k.strip() for k in str(raw or "").split(",") if k.strip()]


def fernet():
    """The MultiFernet for the app's configured key list (first key encrypts)."""
    raw = current_app.config.get("ENCRYPTION_KEY")
    cached = _FERNETS.get(raw)
    if cached is not None:
        return cached
    keys = _keys(raw)
    if not keys:
        raise CryptoError("MALLBRIDGE_ENCRYPTION_KEY is not set: secrets cannot be stored or read.")
    try:
        multi = MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise CryptoError(
            "MALLBRIDGE_ENCRYPTION_KEY must be comma-separated Fernet keys "
            "(32 url-safe base64-encoded bytes each, e.g. from Fernet.generate_key())."
        ) from exc
    _FERNETS[raw] = multi
    return multi


def encrypt(text):
    """Encrypt a string with the first configured key; returns the token as str."""
    if text is None:
        return None
    return fernet().encrypt(str(text).encode("utf-8")).decode("ascii")


def decrypt(token):
    """Decrypt a token made by encrypt() under any configured key; returns str."""
    if token is None:
        return None
    try:
        return fernet().decrypt(token.encode("ascii") if isinstance(token, str) else token).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise CryptoError(
            "a stored secret cannot be decrypted with MALLBRIDGE_ENCRYPTION_KEY "
            "(was the key replaced instead of rotated?)"
        ) from exc


def register_secret_column(model, attr, where=None):
    """Declare that `model.attr` holds encrypt() tokens, so rotate_all() re-encrypts it.

    `where` is an optional zero-argument callable returning a SQLAlchemy criterion that
    selects the rows whose column is encrypted (for tables mixing secret and plain rows).
    """
    entry = (model, attr, where)
    if not any(m is model and a == attr for m, a, _ in _SECRET_COLUMNS):
        _SECRET_COLUMNS.append(entry)


def secret_columns():
    """The registered (model, attr, where) entries."""
    return list(_SECRET_COLUMNS)


def rotate_all(session=None):
    """Re-encrypt every registered secret under the first key; returns how many were rewritten.

    All rows are rewritten in one transaction: either every secret moves to the new key or
    none does, so a failure never leaves a mix the operator cannot reason about.
    """

    session = session or db.session
    multi = fernet()
    count = 0
    try:
        for model, attr, where in _SECRET_COLUMNS:
            column = getattr(model, attr)
            query = select(model).where(column.is_not(None))
            if where is not None:
                query = query.where(where())
            for row in session.scalars(query):
                token = getattr(row, attr)
                try:
                    fresh = multi.rotate(token.encode("ascii")).decode("ascii")
                except InvalidToken as exc:
                    raise CryptoError(
                        f"{model.__tablename__}.{attr} (row {_row_id(row)}) cannot be decrypted with any configured key"
                    ) from exc
                setattr(row, attr, fresh)
                count += 1
        session.commit()
    except Exception:
        session.rollback()
        raise
    log.info("re-encrypted %d secrets under the first configured key", count)
    # Cached plaintext stays valid (rotation does not change values), so no invalidation.
    return count


def _row_id(row):
    return getattr(row, "id", None) or getattr(row, "key", None) or "?"

"""Runtime settings: declared once in code, stored in the DB, read through a per-process cache.

    SETTINGS = [section("outbox", "メール送信",
                        setting("outbox.sandbox", type="email", default=None, label="サンドボックス宛先"))]
    settings.get("outbox.sandbox")            # typed value (default when unset, decrypted if secret)
    settings.set_value("outbox.sandbox", "x@example.jp", actor="admin@example.jp")

Each feature module declares its sections as data (a `SETTINGS` list); create_app registers them
all from one list (plugin.features), so nothing is declared as a side effect of an import.
The cache lives on the app object (one per gunicorn worker). A write clears it at once in the
writing process and bumps the `setting_version` row; every other process compares that counter
at most once per second and reloads when it moved, so changes spread within about a second.
"""
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from plugin import clock, crypto
from plugin.extensions import db
from plugin.invalid import InvalidInput
from plugin.settings import types as settings_types
from plugin.settings.models import Setting, SettingChange, SettingVersion
from plugin.settings.types import SettingValueError

CHECK_SECONDS = 1.0
GENERAL = "general"


@dataclasses.dataclass(frozen=True)
class Declaration:
    """One declared setting."""

    key: str
    type: str
    default: Any
    label: str
    help: str = ""
    secret: bool = False
    section: str = GENERAL
    choices: Any = None
    validate: Callable | None = None


@dataclasses.dataclass(frozen=True)
class Section:
    """A heading of the generated admin form and the settings under it."""

    name: str
    label: str
    settings: tuple[Declaration, ...]



def setting(key, *, type, default, label, help="", secret=False, choices=None, validate=None) -> Declaration:
    """Declare one setting (a value: it takes effect when create_app registers its section)."""
    if type not in settings_types.TYPES:
        raise ValueError(f"unknown setting type {type!r} for {key}")
    if type == "choice" and not choices:
        raise ValueError(f"choice setting {key} needs choices")
    return Declaration(key, type, default, label, help, secret, GENERAL, choices, validate)


def section(name, label, *declarations) -> Section:
    """A section of settings; each declaration is filed under `name`."""
    return Section(name, label, tuple(dataclasses.replace(d, section=name) for d in declarations))


def init_app(app, sections):
    """Register the declared sections with `app` (create_app passes its one list)."""
    registry = app.extensions.setdefault("mallbridge.settings.registry", {"keys": {}, "labels": {}})
    for sec in sections:
        registry["labels"][sec.name] = sec.label
        for decl in sec.settings:
            registry["keys"][decl.key] = decl


def _registry():
    return current_app.extensions["mallbridge.settings.registry"]


def section_label(name):
    """The heading of a section (its name when no label was declared)."""
    return _registry()["labels"].get(name, name)


def declaration(key):
    """The declaration of `key`; KeyError names undeclared keys."""
    try:
        return _registry()["keys"][key]
    except KeyError:
        raise KeyError(f"setting {key!r} is not declared") from None


def declared(section=None):
    """Declarations in registration order, optionally of one section."""
    return [d for d in _registry()["keys"].values() if section is None or d.section == section]


def sections():
    """Section names in registration order."""
    return list(dict.fromkeys(d.section for d in _registry()["keys"].values()))


# --- reading ------------------------------------------------------------------------------

class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.rows = None  # key -> (secret, stored text)
        self.values = {}  # key -> decoded typed value
        self.version = None
        self.checked_at = None


def _cache():
    return current_app.extensions.setdefault("mallbridge_settings", _Cache())


def _fresh(cache):
    """Reload the stored rows if this process never loaded them or another one wrote since."""
    now = clock.now()
    if _admin_request_unchecked():
        # An admin who just saved is redirected to a page that another worker may serve:
        # console pages compare the version once per request instead of once per second.
        g._mb_settings_checked = True
        cache.checked_at = None
    if cache.rows is not None and cache.checked_at is not None:
        age = (now - cache.checked_at).total_seconds()
        if 0 <= age < CHECK_SECONDS:
            return
    # A short connection of its own: the request's session may hold an older snapshot.
    with db.engine.connect() as conn:
        version = conn.scalar(select(SettingVersion.version).where(SettingVersion.id == 1)) or 0
        if cache.rows is None or version != cache.version:
            rows = conn.execute(select(Setting.key, Setting.secret, Setting.value)).all()
            cache.rows = {key: (secret, value) for key, secret, value in rows}
            cache.values = {}
            cache.version = version
    cache.checked_at = now


def _admin_request_unchecked():
    return has_request_context() and request.path.startswith("/admin") and not g.get("_mb_settings_checked")


def get(key):
    """The typed value of a declared setting: stored value, else its default."""
    decl = declaration(key)
    cache = _cache()
    with cache.lock:
        _fresh(cache)
        if key in cache.values:
            return cache.values[key]
        stored = cache.rows.get(key)
        if stored is None or stored[1] is None:
            return decl.default
        secret, text = stored
        value = settings_types.load(crypto.decrypt(text) if secret else text)
        cache.values[key] = value
        return value


def is_set(key):
    """True when the setting has a stored value (for secrets: without decrypting it)."""
    cache = _cache()
    with cache.lock:
        _fresh(cache)
        stored = cache.rows.get(declaration(key).key)
    return stored is not None and stored[1] is not None


def invalidate():
    """Forget this process's cached values (the next get() reloads)."""
    cache = _cache()
    with cache.lock:
        cache.rows, cache.values, cache.checked_at = None, {}, None


# --- writing ------------------------------------------------------------------------------

def parse_all(values):
    """Typed values for {key: input}; raises InvalidInput with every field's message."""
    parsed, errors = {}, {}
    for key, raw in values.items():
        try:
            parsed[key] = settings_types.parse(declaration(key), raw)
        except SettingValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise InvalidInput(errors)
    return parsed


def set_value(key, value, actor=None):
    """Validate and store one setting, with a history entry; returns True when it changed."""
    return bool(set_many({key: value}, actor=actor))


def set_many(values, actor=None):
    """Validate all values first, then store them in one transaction; returns the changed keys.

    A value of None (or blank input) removes the stored value, so the default applies again.
    """
    parsed = parse_all(values)
    actor = actor or _current_actor()
    session = db.session
    changed = []
    try:
        # Bump first: on PostgreSQL the row lock makes concurrent writers take turns, so
        # each history entry's "old" value is the one really replaced.
        _bump_version(session)
        for key, value in parsed.items():
            decl = declaration(key)
            row = session.get(Setting, key, populate_existing=True)
            old = None
            if row is not None and row.value is not None:
                old = settings_types.load(crypto.decrypt(row.value) if row.secret else row.value)
            if old == value:
                continue
            if value is None:
                if row is not None:
                    session.delete(row)
            else:
                text = settings_types.dump(value)
                if row is None:
                    row = Setting(key=key)
                    session.add(row)
                row.value = crypto.encrypt(text) if decl.secret else text
                row.secret, row.updated_at, row.updated_by = decl.secret, clock.now(), actor
            session.add(SettingChange(
                key=key, actor=actor, at=clock.now(),
                old_value=_shown(decl, old),
                new_value=_shown(decl, value, secret_changed=old is not None)))
            changed.append(key)
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        invalidate()
    return changed


def _shown(decl, value, secret_changed=False):
    """History text of a value; an unset value shows the default that applies instead."""
    if value is None and decl.default not in (None, "", []):
        return settings_types.display(decl, decl.default) + "（既定値）"
    return settings_types.display(decl, value, secret_changed=secret_changed)


def _bump_version(session):
    bump = update(SettingVersion).where(SettingVersion.id == 1).values(version=SettingVersion.version + 1)
    if session.execute(bump, execution_options={"synchronize_session": False}).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(SettingVersion(id=1, version=1))
    except IntegrityError:
        # Another process created the row between our UPDATE and INSERT.
        session.execute(bump, execution_options={"synchronize_session": False})


def _current_actor():
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.email
    return "system"


def history(key_prefix=None, limit=200, offset=0):
    """Change history rows, newest first, optionally for keys starting with `key_prefix`."""
    query = select(SettingChange).order_by(SettingChange.at.desc(), SettingChange.id.desc())
    if key_prefix:
        query = query.where(SettingChange.key.startswith(key_prefix, autoescape=True))
    return list(db.session.scalars(query.limit(limit).offset(offset)))


# Stored secrets are re-encrypted by `mallbridge secrets rotate`.
crypto.register_secret_column(Setting, "value", where=lambda: Setting.secret.is_(True))

"""Tables of the runtime settings: current values, the change history and a version counter."""
from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin import clock
from plugin.extensions import db


class Setting(db.Model):
    """The stored value of one declared setting; a key without a row has its default."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # JSON text, or for secrets a Fernet token of the JSON text (plugin.crypto).
    value: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at = mapped_column(DateTime, default=clock.now)
    updated_by: Mapped[str | None] = mapped_column(String(254))


class SettingChange(db.Model):
    """One change of one setting: who, when, old → new (secrets masked)."""

    __tablename__ = "setting_change"
    __table_args__ = (Index("ix_setting_change_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at = mapped_column(DateTime, default=clock.now, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    key: Mapped[str] = mapped_column(String(128))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)


class SettingVersion(db.Model):
    """A single row (id 1) bumped on every write, so other processes know to reload their cache.

    The row is created by the first write, not by the migration (tests truncate tables).
    The UPDATE also serialises concurrent writers on PostgreSQL, so history "old" values are exact.
    """

    __tablename__ = "setting_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)

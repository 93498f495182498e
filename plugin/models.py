"""Shell models: shops, staff users, API tokens, the audit log and login failures."""
import hashlib
import secrets

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from plugin import clock
from plugin.extensions import db

ROLES = ("admin", "agent")


class Shop(db.Model):
    __tablename__ = "shop"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at = mapped_column(DateTime, default=clock.now)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(DateTime, default=clock.now)
    last_login_at = mapped_column(DateTime)
    # Part of the session key: raised on logout and when the account is disabled or enabled, so
    # every cookie issued before stops working (plugin.sessions).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def is_active(self):
        return bool(self.active)

    @property
    def is_admin(self):
        return self.role == "admin"

    def get_id(self):
        """Flask-Login's session key: the id plus a digest of the password hash and session version.

        A new password or a new session version changes the digest, so every other session of this
        user (and any remember cookie) stops working at once; the salted hash never leaves the server.
        """
        return f"{self.id}.{self.session_key()}"

    def session_key(self):
        """16 hex digits derived from the current password hash and session version."""
        material = f"{self.password_hash or ''}:{self.session_version or 0}"
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    def set_password(self, password):
        """Store a salted hash; the plain password is never kept."""
        self.password_hash = generate_password_hash(password, current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password):
        """True when `password` matches the stored hash."""
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Only a SHA-256 of the token is stored: the token is shown once and cannot be recovered.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at = mapped_column(DateTime, default=clock.now)
    last_used_at = mapped_column(DateTime)
    revoked_at = mapped_column(DateTime)

    @staticmethod
    def hash(token):
        """The stored form of a token."""
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, name):
        """Create a token row and return (row, plain token)."""
        token = "mb_" + secrets.token_urlsafe(32)
        return cls(name=name, token_hash=cls.hash(token), prefix=token[:10]), token


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_at", "actor", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at = mapped_column(DateTime, default=clock.now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    params = mapped_column(JSON)
    result_count: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class LoginFailure(db.Model):
    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_email_ip_at", "email", "ip", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at = mapped_column(DateTime, default=clock.now, index=True)  # index: pruning old rows

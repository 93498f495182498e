"""Staff account rules for the admin console: create, enable/disable, role, password reset.

No request objects here: the views pass plain values in and show StaffError messages next to
the named form field.
"""
import secrets

from sqlalchemy import func, select

from plugin.extensions import db
from plugin.models import ROLES, User
from plugin.normalize import is_valid_email

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # the login form's limit: a longer password could never be typed in
ROLE_LABELS = {"admin": "管理者", "agent": "担当者"}
# No 0/O, 1/l/I: a generated password is read off the screen and typed or dictated.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


class StaffError(ValueError):
    """A rule was broken; `field` names the form field the message belongs to (None: whole form)."""

    def __init__(self, message, field=None, more=()):
        super().__init__(message)
        self.message, self.field = message, field
        # Every (field, message) found, so a form can mark all bad fields at once.
        self.all = [(field, message), *more]


def normalize_email(value):
    """Staff e-mails are stored trimmed and lower-cased (the login compares them that way)."""
    return (value or "").strip().lower()


def check_password(password):
    """Raise StaffError unless the password is acceptable."""
    if len(password or "") < MIN_PASSWORD:
        raise StaffError(f"パスワードは{MIN_PASSWORD}文字以上にしてください。", "password")
    if len(password) > MAX_PASSWORD:
        raise StaffError(f"パスワードは{MAX_PASSWORD}文字以内にしてください。", "password")


def generate_password():
    """A random 16-character password in groups of four, e.g. `Xk7m-pQ3r-T9wz-4fHa`."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(chars[i:i + 4] for i in range(0, 16, 4))


def check_new_user(email, role, password):
    """The normalised e-mail of an acceptable new account; StaffError lists every offending field."""
    email = normalize_email(email)
    problems = []
    if not email:
        problems.append(("email", "メールアドレスを入力してください。"))
    elif len(email) > 254 or not is_valid_email(email):
        problems.append(("email", "メールアドレスの形式が正しくありません。"))
    elif db.session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        problems.append(("email", "このメールアドレスのスタッフは既に登録されています。"))
    if role not in ROLES:
        problems.append(("role", "権限を選んでください。"))
    try:
        check_password(password)
    except StaffError as exc:
        problems.append((exc.field, exc.message))
    if problems:
        (field, message), *more = problems
        raise StaffError(message, field, more)
    return email


def create_user(email, name, role, password):
    """Add an active staff account; StaffError lists every offending field."""
    email = check_new_user(email, role, password)
    user = User(email=email, name=(name or "").strip() or None, role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def _other_active_admins(user):
    """Ids of active admins other than `user`, row-locked so two admins cannot both step down."""
    # Locking every active admin row in id order (PostgreSQL; SQLite serialises writers anyway)
    # makes concurrent demotions wait for each other instead of both seeing "one admin left".
    stmt = (select(User.id).where(User.role == "admin", User.active.is_(True))
            .order_by(User.id).with_for_update())
    return [uid for uid in db.session.scalars(stmt) if uid != user.id]


def _guard_last_admin(actor, user, field):
    """An admin may not lock themself out, and the console must keep one active admin."""
    if user.id == actor.id:
        raise StaffError("自分自身のアカウントは変更できません。別の管理者に依頼してください。", field)
    if user.role == "admin" and user.active and not _other_active_admins(user):
        raise StaffError("有効な管理者が1人もいなくなるため、変更できません。", field)


def set_active(actor, user, active):
    """Enable or disable `user`; True when something changed."""
    if bool(user.active) == bool(active):
        return False
    if not active:
        _guard_last_admin(actor, user, "active")
    user.active = bool(active)
    return True


def set_role(actor, user, role):
    """Change `user`'s role; True when something changed."""
    if role not in ROLES:
        raise StaffError("権限を選んでください。", "role")
    if user.role == role:
        return False
    if role != "admin":
        _guard_last_admin(actor, user, "role")
    user.role = role
    return True


def reset_password(user, password=None):
    """Set a new password (generated when none is given); returns the plain password."""
    if password is None:
        password = generate_password()
    check_password(password)
    user.set_password(password)
    return password


def list_users():
    """Every staff account: admins first, then by e-mail."""
    return db.session.scalars(select(User).order_by(User.role, User.email)).all()

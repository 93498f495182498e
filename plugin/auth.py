"""Staff login with Flask-Login: login/logout views, a failure throttle, role decorators, and the
short per-process memory of checked sessions and API tokens that keeps them off every request."""
import datetime as dt
import functools
import hmac
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, has_app_context, redirect, render_template, request, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import event
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from plugin import clock, login_limits, sessions
from plugin.errors import error_response, wants_json
from plugin.extensions import db, login_manager
from plugin.models import User

bp = Blueprint("auth", __name__)
# How long a session or token the database confirmed is trusted without asking again. A user
# disabled or a token revoked by another process stops working within this time; in the process
# that made the change, at once (see _forget).
CHECK_SECONDS = 2
_MAX_REMEMBERED = 10_000


class RecentChecks:
    """Credentials the database confirmed in the last CHECK_SECONDS, per process (and per app).

    Asking the database who the caller is costs a round trip on every request, as much as the
    lookup's own search; a few seconds of memory make it one round trip per caller per interval.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[Any, dt.datetime]] = {}

    def get(self, key: str) -> Any:
        """The remembered value, or None when unknown or older than CHECK_SECONDS."""
        hit = self._entries.get(key)
        if hit is None:
            return None
        value, checked_at = hit
        if not 0 <= (clock.now() - checked_at).total_seconds() < CHECK_SECONDS:
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: str, value: Any) -> None:
        """Remember a value the database just confirmed."""
        if len(self._entries) >= _MAX_REMEMBERED:
            self._entries.clear()  # many distinct callers: start over rather than grow without bound
        self._entries[key] = (value, clock.now())

    def clear(self) -> None:
        """Forget everything (a user or token changed)."""
        self._entries.clear()


def recent(name: str) -> RecentChecks:
    """This app's memory of checked `name` credentials ("users", "tokens")."""
    store = current_app.extensions.setdefault("mallbridge_recent_checks", {})
    checks = store.get(name)
    if checks is None:
        checks = store[name] = RecentChecks()
    return checks


def forget(name: str) -> None:
    """Drop the remembered `name` credentials of the current app, if there is one."""
    if has_app_context():
        recent(name).clear()


@event.listens_for(User, "after_update")
@event.listens_for(User, "after_delete")
def _forget_users(mapper, connection, target):
    # A disabled account, a new password or a new role must not be served from memory here.
    forget("users")


@dataclass(frozen=True, eq=False)
class StaffUser(UserMixin):
    """The logged-in staff member as requests see it: a copy of the checked user row, so a request
    can be answered without loading the row again (see RecentChecks)."""
    id: int
    email: str
    name: str | None
    role: str
    key: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        """The same session key as User.get_id()."""
        return f"{self.id}.{self.key}"


class LoginForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired("メールアドレスを入力してください。"), Length(max=254)])
    password = PasswordField("パスワード", validators=[DataRequired("パスワードを入力してください。"), Length(max=1024)])
    next = HiddenField()


@login_manager.user_loader
def load_user(user_id):
    """Flask-Login hook: the staff user stored in the session, if still there and unchanged."""
    if sessions.idle_expired():
        return None
    checks = recent("users")
    staff = checks.get(str(user_id))
    if staff is not None:
        return staff
    ident, _, key = str(user_id).partition(".")
    try:
        user = db.session.get(User, int(ident))
    except (TypeError, ValueError):
        return None
    # A disabled account loses its open sessions (within CHECK_SECONDS), not only future logins;
    # so does every session opened before the password was changed or the user logged out (the
    # key no longer matches: plugin.sessions).
    if user is None or not user.is_active or not hmac.compare_digest(key, user.session_key()):
        return None
    staff = StaffUser(user.id, user.email, user.name, user.role, user.session_key())
    checks.put(str(user_id), staff)
    return staff


@login_manager.unauthorized_handler
def unauthorized():
    """HTML requests go to the login page and come back; programs get a JSON 401."""
    if wants_json():
        return error_response(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target):
    """Only same-site paths are followed after login; anything else goes to the start page."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("web.index")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return url_for("web.index")  # CR/LF cannot go into a Location header; nothing legitimate has them
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("web.index")
    return target


def normalize_login_email(value):
    """Staff e-mails are compared trimmed and lower-cased."""
    return (value or "").strip().lower()


# The pages behind a login that show customer data: the login page says why it appeared.
_LOOKUP_PATHS = re.compile(r"^/(lookup/|members/|orders/|[^/?]+/admin_relation_(member|order)_search\.html)")


def login_reason(target):
    """Why the login page appeared, for a `next` path; None when it was opened directly."""
    if not target:
        return None
    if _LOOKUP_PATHS.match(safe_next(target)):
        return "顧客情報を表示するにはログインしてください。ログイン後、元のページに戻ります。"
    return "このページを表示するにはログインしてください。ログイン後、元のページに戻ります。"


def _page(form, status=200):
    return render_template("login.html", form=form, reason=login_reason(form.next.data)), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on success return to the same-site `next` path."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated and form.next.data:
            return redirect(safe_next(form.next.data))
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, 400)
    email, ip = normalize_login_email(form.email.data), request.remote_addr or "-"
    refused = login_limits.refusal(email, ip)
    if refused:
        form.form_errors.append(refused)
        return _page(form, 429)
    user = db.session.query(User).filter_by(email=email).one_or_none()
    # The password is checked first, also for unknown and disabled accounts: the time of the
    # answer must not tell which addresses have an (active) account.
    if not login_limits.password_matches(user, form.password.data) or not user.is_active:
        login_limits.record_failure(email, ip)
        form.form_errors.append("メールアドレスまたはパスワードが正しくありません。")
        return _page(form, 401)
    login_limits.succeeded(email, ip)
    user.last_login_at = clock.now()
    db.session.commit()
    login_user(user)
    sessions.started()
    return redirect(safe_next(form.next.data))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the session (and every copy of its cookie) and show the login page."""
    if current_user.is_authenticated:
        # Raising the session version ends this user's sessions server-side: a copy of the
        # cookie taken before logout opens nothing afterwards.
        sessions.end_all(current_user.id)
        db.session.commit()
        forget("users")
    logout_user()
    flash("ログアウトしました。")
    return redirect(url_for("auth.login"))


def admin_required(view):
    """Admins only: anonymous users log in first, agents get a 403 page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            return error_response(403, "このページは管理者専用です。")
        return view(*args, **kwargs)

    return wrapped

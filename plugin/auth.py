"""Staff login with Flask-Login: login/logout views, a failure throttle and role decorators."""
import datetime as dt
import functools
import hmac
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from plugin import clock, metrics
from plugin.errors import error_response, wants_json
from plugin.extensions import db, login_manager
from plugin.models import LoginFailure, User

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField("メールアドレス", validators=[DataRequired("メールアドレスを入力してください。"), Length(max=254)])
    password = PasswordField("パスワード", validators=[DataRequired("パスワードを入力してください。"), Length(max=1024)])
    next = HiddenField()


@login_manager.user_loader
def load_user(user_id):
    """Flask-Login hook: the staff user stored in the session, if still there and unchanged."""
    ident, _, key = str(user_id).partition(".")
    try:
        user = db.session.get(User, int(ident))
    except (TypeError, ValueError):
        return None
    # A disabled account loses its open sessions at once, not only future logins; so does
    # every session opened before the password was changed (the key no longer matches).
    if user is None or not user.is_active or not hmac.compare_digest(key, user.session_key()):
        return None
    return user


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


def is_throttled(email, ip):
    """True after too many recent failures for this account from this IP."""
    cfg = current_app.config
    since = clock.now() - dt.timedelta(minutes=cfg["LOGIN_FAILURE_WINDOW_MINUTES"])
    count = db.session.query(LoginFailure).filter(
        LoginFailure.email == email, LoginFailure.ip == ip, LoginFailure.at >= since
    ).count()
    return count >= cfg["LOGIN_MAX_FAILURES"]


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on success return to the same-site `next` path."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated and form.next.data:
            return redirect(safe_next(form.next.data))
        return render_template("login.html", form=form)
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400
    email, ip = normalize_login_email(form.email.data), request.remote_addr or "-"
    if is_throttled(email, ip):
        minutes = current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"]
        form.form_errors.append(f"ログインの失敗が続いたため、一時的にロックしています。{minutes}分ほど待ってからもう一度お試しください。")
        return render_template("login.html", form=form), 429
    user = db.session.query(User).filter_by(email=email).one_or_none()
    if user is None or not user.is_active or not user.check_password(form.password.data):
        db.session.add(LoginFailure(email=email, ip=ip))
        db.session.commit()
        metrics.LOGIN_FAILURES.inc()
        form.form_errors.append("メールアドレスまたはパスワードが正しくありません。")
        return render_template("login.html", form=form), 401
    db.session.query(LoginFailure).filter_by(email=email, ip=ip).delete()
    user.last_login_at = clock.now()
    db.session.commit()
    login_user(user)
    return redirect(safe_next(form.next.data))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the session and show the login page."""
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

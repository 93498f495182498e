"""Login failures: the per-IP and per-account limits, pruning, the admin notice, and a password
check that costs the same whether or not the account exists.

Two limits, both over the last LOGIN_FAILURE_WINDOW_MINUTES: LOGIN_MAX_FAILURES for one account
from one IP (a typing user is not locked out by others), and LOGIN_ACCOUNT_MAX_FAILURES for one
account from any IPs (guessing spread over many addresses). Unknown accounts are counted like
known ones, so neither the answer nor the lock tells whether an address has an account.
"""
import datetime as dt
import functools

from flask import current_app
from sqlalchemy import case, delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from plugin import audit, clock, metrics
from plugin.extensions import db
from plugin.models import LoginFailure

LOCKED_ACTION = "login.locked"


def window_minutes():
    """How far back failures count (minutes)."""
    return current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"]


def account_limit():
    """Failures of one account, from any IPs, that lock its password login."""
    return int(current_app.config["LOGIN_ACCOUNT_MAX_FAILURES"])


def _since():
    return clock.now() - dt.timedelta(minutes=window_minutes())


def failures(email, ip):
    """(failures of this account from this IP, from any IP) within the window, in one query."""
    row = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((LoginFailure.ip == ip, 1), else_=0)), 0))
        .where(LoginFailure.email == email, LoginFailure.at >= _since())).one()
    return int(row[1]), int(row[0])


def refusal(email, ip):
    """None when a password may be tried now; else the Japanese reason it may not."""
    from_ip, from_all = failures(email, ip)
    minutes = window_minutes()
    if from_ip >= current_app.config["LOGIN_MAX_FAILURES"]:
        return f"ログインの失敗が続いたため、一時的にロックしています。{minutes}分ほど待ってからもう一度お試しください。"
    if from_all >= account_limit():
        return ("このアカウントへのログインの失敗が続いたため、パスワードでのログインを一時的に停止しています。"
                f"{minutes}分ほど待ってからもう一度お試しいただくか、管理者に連絡してください。")
    return None


@functools.cache
def _dummy_hash(method):
    # A real hash of the configured kind: checking it costs what checking a user's hash costs.
    return generate_password_hash("mallbridge-no-such-account", method)


def password_matches(user, password):
    """True when `user` exists and `password` is its password; as slow for a missing user."""
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return user.check_password(password)


def record_failure(email, ip):
    """Store one failure, drop the expired ones, and tell the admins when the account just got locked."""
    db.session.add(LoginFailure(email=email, ip=ip))
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < _since()))
    db.session.flush()
    metrics.LOGIN_FAILURES.inc()
    _, from_all = failures(email, ip)
    if from_all == account_limit():
        audit.record(LOCKED_ACTION, {"email": email, "failures": from_all, "minutes": window_minutes()},
                     actor="system", commit=False,
                     detail=f"{window_minutes()}分間に{from_all}回ログインに失敗したため、このアカウントの"
                            "パスワードでのログインを一時的に停止しました。")
    db.session.commit()


def succeeded(email, ip):
    """A successful login clears this IP's failures for the account (not other IPs')."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email, LoginFailure.ip == ip))


def locked_accounts():
    """Accounts whose password login is locked now, most failures first."""
    count = func.count()
    rows = db.session.execute(
        select(LoginFailure.email, count).where(LoginFailure.at >= _since())
        .group_by(LoginFailure.email).having(count >= account_limit()).order_by(count.desc())).all()
    return [(email, n) for email, n in rows]


def dashboard_warning():
    """The admin dashboard's line about locked accounts, or None."""
    locked = locked_accounts()
    if not locked:
        return None
    names = "、".join(email for email, _ in locked[:5]) + (f" ほか{len(locked) - 5}件" if len(locked) > 5 else "")
    return (f"ログインの失敗が続いたため、パスワードでのログインを一時的に停止しているアカウントがあります: {names}。"
            "パスワードを推測されようとしている可能性があります。監査ログで失敗の状況を確認してください。")

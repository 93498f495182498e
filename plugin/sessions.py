"""When a staff session ends: logout, disabling or enabling the account, and an idle timeout.

A session cookie names the user and a key derived from the password hash and the user's
session version (User.get_id). Logout and a change of the account's active flag raise the
version, so every cookie issued before, copied or not, stops opening pages (within
plugin.auth.CHECK_SECONDS in other processes). The idle timeout needs no database at all: the
session carries when it was last seen, refreshed at most once a minute.
"""
import datetime as dt

from flask import flash, session
from sqlalchemy import event, update
from sqlalchemy.orm.attributes import NO_VALUE

from plugin import clock, settings
from plugin.extensions import db
from plugin.models import User

SEEN_KEY = "_mb_seen"
# Refreshing the last-seen time on every request would rewrite the cookie on every request.
TOUCH_SECONDS = 60
# Flask-Login's own keys of a logged-in session (login_user); dropped when the session times out.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id")


def _validate_idle(minutes):
    if not 5 <= minutes <= 60 * 24 * 30:
        return "5分から43200分（30日）までの範囲で指定してください。"
    return None


SETTINGS = [settings.section(
    "login", "ログイン",
    settings.setting(
        "login.idle_minutes", type="int", default=8 * 60, label="操作がないときに自動でログアウトするまでの時間（分）",
        help="最後の操作からこの時間が過ぎると、もう一度ログインが必要になります（初期値 480分＝8時間）。",
        validate=_validate_idle),
)]


def _now_seconds():
    return int(clock.now().replace(tzinfo=dt.UTC).timestamp())


def started():
    """Mark a session that has just logged in as seen now."""
    session[SEEN_KEY] = _now_seconds()


def idle_expired():
    """True when this session was idle longer than the setting allows; then it is logged out.

    A session without a last-seen time (issued before this rule existed) counts as expired.
    Otherwise the last-seen time moves to now, at most once a minute.
    """
    seen, now = session.get(SEEN_KEY), _now_seconds()
    if not isinstance(seen, int) or now - seen > settings.get("login.idle_minutes") * 60:
        for key in (*_LOGIN_KEYS, SEEN_KEY):
            session.pop(key, None)
        if seen is not None:
            flash("一定時間操作がなかったため、自動的にログアウトしました。もう一度ログインしてください。", "warning")
        return True
    if now - seen >= TOUCH_SECONDS:
        session[SEEN_KEY] = now
    return False


def end_all(user_id):
    """End every session of this user, in every process (not committed)."""
    db.session.execute(update(User).where(User.id == user_id)
                       .values(session_version=User.session_version + 1))


@event.listens_for(User.active, "set", active_history=True)
def _active_changed(target, value, oldvalue, initiator):
    # Disabling ends the account's sessions; enabling it again must not bring old cookies back,
    # whichever path (admin console, CLI) changed the flag.
    if oldvalue is not NO_VALUE and oldvalue is not None and bool(oldvalue) != bool(value):
        target.session_version = (target.session_version or 0) + 1

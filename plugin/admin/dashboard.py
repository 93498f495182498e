"""The admin dashboard: the active helpdesk environment, today's numbers and warnings.

Other features add warnings with `register_warning(fn)`: `fn()` returns None, a Japanese
sentence, or a list of them. A failing check shows as a warning instead of breaking the page.
"""
import datetime as dt
import logging

from flask import current_app, render_template
from sqlalchemy import func, select

from lookups.models import Member, Order
from plugin import clock, helpdesk
from plugin.admin import bp
from plugin.extensions import db
from plugin.helpdesk import status as push_status
from plugin.models import AuditLog
from plugin.outbox import history

log = logging.getLogger(f"mallbridge.{__name__}")
_WARNINGS = []


def register_warning(check):
    """Add a dashboard check: a callable returning None, a message or a list of messages."""
    if check not in _WARNINGS:
        _WARNINGS.append(check)
    return check


def warnings():
    """All current warning messages, built-in checks first."""
    found = []
    for check in _WARNINGS:
        try:
            result = check()
        except Exception:  # one broken check must not hide the others or the dashboard
            log.exception("dashboard check %r failed", check)
            result = "確認処理の一つでエラーが発生しました（サーバーのログを確認してください）。"
        if isinstance(result, str):
            found.append(result)
        elif result:
            found.extend(str(r) for r in result)
    return found


def today_start_utc():
    """Midnight of today in Japan, as stored naive UTC."""
    today_jst = clock.to_jst(clock.now()).date()
    return clock.from_jst_naive(dt.datetime.combine(today_jst, dt.time()))


def counts():
    """Members, orders and today's lookups (audit rows of lookup.*)."""
    return {
        "members": db.session.scalar(select(func.count(Member.id))),
        "orders": db.session.scalar(select(func.count(Order.id))),
        "lookups_today": db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action.like("lookup.%"), AuditLog.at >= today_start_utc())),
    }


@bp.route("/")
def dashboard():
    """Landing page of the console."""
    return render_template("admin/dashboard.html", env=helpdesk.active_environment(), counts=counts(),
                           warnings=warnings(), push=push_status.summary(), staged=len(history.staged_ids()))


@register_warning
def _helpdesk_incomplete():
    env = helpdesk.active_environment()
    found = []
    if not env.complete:
        found.append(f"使用中の{env.label}はヘルプデスクのURLまたは受信箱IDが未設定です。会員ページに受信箱ボタンが表示されません。")
    if not env.forward_to:
        found.append(f"使用中の{env.label}の転送用アドレスが未設定です。モールの問い合わせを受信箱に届けられません。")
    return found


@register_warning
def _demo_environment_active():
    if helpdesk.active_name() == "demo":
        return "デモ環境のヘルプデスクを使用中です。本番運用の前に本番環境を設定して切り替えてください。"
    return None


@register_warning
def _smtp_unset():
    if not current_app.config.get("SMTP_URL"):
        return "送信用SMTP（MALLBRIDGE_SMTP_URL）が設定されていません。メールを送信できません。"
    return None


# --- Reply path (sync/replies): smtp-in refuses every reply while no reply senders are set. ---
@register_warning
def _no_reply_senders():
    env = helpdesk.active_environment()
    if not env.reply_from:
        return (f"使用中の{env.label}に「返信の差出人」が設定されていないため、ヘルプデスクからの返信をすべて受け付けていません"
                "（モールのお客様に返信が届きません）。管理 › ヘルプデスク環境で、ヘルプデスクが返信に使うアドレスか @ドメイン を設定してください。")
    return None

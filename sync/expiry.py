"""Expiry of mall credentials: reminder mails 14, 7, 3 and 1 days ahead, and dashboard warnings.

Which credential expires and when is the mall adapter's business (Rakuten license keys live 90
days and the expiry endpoint tells the date; Yahoo! refresh tokens 4 weeks from issue). Each reminder is recorded (account, kind, expiry, days), so a restart or
a second worker never repeats one, and a renewed key starts a fresh series.
"""
import datetime as dt
import logging

from sqlalchemy import select

from plugin import clock, compose, outbox
from plugin.extensions import db
from plugin.models import User
from sync import accounts, malls, options
from sync.models import MallAccount, ReminderSent

log = logging.getLogger(f"mallbridge.{__name__}")
DAYS = (14, 7, 3, 1)


def recipients():
    """The admin address and the fallback address; active admins when neither is set."""
    found = [a for a in (options.get("reminder_to"), options.get("reminder_fallback")) if a]
    if not found:
        found = list(db.session.scalars(select(User.email).where(User.role == "admin", User.active.is_(True))))
    return list(dict.fromkeys(found))


def due_threshold(expires_at, now):
    """The most urgent reminder step reached (14/7/3/1, 0 = expired), or None when not yet."""
    left = expires_at - now
    if left <= dt.timedelta(0):
        return 0
    reached = [d for d in DAYS if left <= dt.timedelta(days=d)]
    return min(reached) if reached else None


def check_account(account, now=None):
    """Queue the reminder this account needs now, if any (not committed); returns the step or None."""
    now = now or clock.now()
    expiry = accounts.expiry_of(account)
    if expiry is None:
        return None
    expires_at = expiry[1]
    kind, label = account.adapter.credential.kind, account.adapter.credential.label
    step = due_threshold(expires_at, now)
    if step is None:
        return None
    sent = set(db.session.scalars(select(ReminderSent.days_before).where(
        ReminderSent.account_id == account.id, ReminderSent.kind == kind, ReminderSent.expires_at == expires_at)))
    if step in sent:
        return None
    to = recipients()
    if to:
        _send(account, label, expires_at, step, to)
    else:
        log.warning("account %s: %s expires %s but no reminder address is set", account.id, kind, expires_at)
    # The earlier steps are covered by this mail: never send "14 days" after "3 days".
    for days in [d for d in DAYS + (0,) if d >= step and d not in sent]:
        db.session.add(ReminderSent(account_id=account.id, kind=kind, expires_at=expires_at, days_before=days,
                                    sent_at=now))
    return step


def _send(account, label, expires_at, step, to):
    when = clock.to_jst(expires_at).strftime("%Y-%m-%d %H:%M")
    head = "期限が切れました" if step == 0 else f"期限まであと{step}日です"
    mall = malls.label(account.mall)
    how = account.adapter.renew_how(account)
    body = (f"{account.shop.name}（{mall} {account.external_id}）の{label}の{head}。\n\n"
            f"有効期限: {when}（日本時間）\n\n{how}\n\n"
            "期限が切れると、このアカウントの問い合わせ取り込みは停止します。更新後、停止中の問い合わせもまとめて取り込みます。\n")
    msg = compose.build_message(sender=outbox.system_sender(), to=to,
                                subject=f"【mallbridge】{mall}の{label}の{head}（{account.shop.name}）", body=body)
    outbox.enqueue(msg, kind="reminder", shop_id=account.shop_id,
                   dedupe_key=f"reminder:{account.id}:{expires_at:%Y%m%d%H%M%S}:{step}")


def run(now=None):
    """Check every enabled account and commit; returns how many reminders were queued."""
    count = 0
    for account in db.session.scalars(select(MallAccount).where(MallAccount.enabled.is_(True))):
        if check_account(account, now) is not None:
            count += 1
    db.session.commit()
    return count


def warnings():
    """Dashboard lines: credentials expiring within 14 days, expired, or paused accounts."""
    now = clock.now()
    lines = []
    for account in db.session.scalars(select(MallAccount).where(MallAccount.enabled.is_(True))):
        name = f"{account.shop.name}（{account.label}）"
        if account.paused_reason:
            lines.append(f"{name}: 取り込みを停止中です。{account.last_error_ja or ''}")
            continue
        expiry = accounts.expiry_of(account)
        if expiry is None:
            continue
        step = due_threshold(expiry[1], now)
        label = account.adapter.credential.label
        if step == 0:
            lines.append(f"{name}: {label}の有効期限が切れています。")
        elif step is not None:
            left = (expiry[1] - now).days
            lines.append(f"{name}: {label}の有効期限まであと{left + 1}日以内です（{clock.to_jst(expiry[1]):%Y-%m-%d}）。")
    return lines

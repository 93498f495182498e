"""Expiry of mall credentials: reminder mails 14, 7, 3 and 1 days ahead, and dashboard warnings.

Which credential expires and when is the mall adapter's business (Rakuten license keys live 90
days and the expiry endpoint tells the date; Yahoo! refresh tokens 4 weeks from issue). Each
reminder is recorded (account, kind, expiry, days), so a restart or a second worker never
repeats one, and a renewed key starts a fresh series.

Days are counted as shop staff count them: calendar days in Japan time from today to the
expiry date (`days_left`). The mail and the dashboard say the same words (`left_ja`); the
steps 14/7/3/1 only decide when a mail goes out, never what it says.
"""
import datetime as dt
import logging

from sqlalchemy import select

from plugin import clock, compose, outbox
from plugin.extensions import db
from plugin.models import User
from sync import accounts, options
from sync.models import MallAccount, ReminderSent

log = logging.getLogger(f"mallbridge.{__name__}")
DAYS = (14, 7, 3, 1)


def recipients():
    """The admin address and the fallback address; active admins when neither is set."""
    found = [a for a in (options.get("reminder_to"), options.get("reminder_fallback")) if a]
    if not found:
        found = list(db.session.scalars(select(User.email).where(User.role == "admin", User.active.is_(True))))
    return list(dict.fromkeys(found))


def days_left(expires_at, now):
    """Calendar days in Japan time from today to the last day of validity (0 on that day), None once expired."""
    if expires_at <= now:
        return None
    # The last day is the day of the last valid second: a token that dies at 00:00 lives its last day before.
    last_day = clock.to_jst(expires_at - dt.timedelta(seconds=1)).date()
    return (last_day - clock.to_jst(now).date()).days


def left_ja(expires_at, now):
    """How long is left, in the words the mail and the dashboard share, e.g. 「有効期限まであと3日です」."""
    left = days_left(expires_at, now)
    if left is None:
        return "有効期限が切れています"
    if left == 0:
        return "有効期限は本日までです"
    return f"有効期限まであと{left}日です"


def left_short(expires_at, now):
    """The same count for a table cell: 「あと3日」, 「本日まで」 or 「期限切れ」."""
    left = days_left(expires_at, now)
    if left is None:
        return "期限切れ"
    return "本日まで" if left == 0 else f"あと{left}日"


def due_threshold(expires_at, now):
    """The most urgent reminder step reached (14/7/3/1, 0 = expired), or None when not yet."""
    left = days_left(expires_at, now)
    if left is None:
        return 0
    reached = [d for d in DAYS if left <= d]
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
        _send(account, label, expires_at, step, to, now)
    else:
        log.warning("account %s: %s expires %s but no reminder address is set", account.id, kind, expires_at)
    # The earlier steps are covered by this mail: never send "14 days" after "3 days".
    for days in [d for d in DAYS + (0,) if d >= step and d not in sent]:
        db.session.add(ReminderSent(account_id=account.id, kind=kind, expires_at=expires_at, days_before=days,
                                    sent_at=now))
    return step


def _send(account, label, expires_at, step, to, now):
    # The label names the mall already (楽天のライセンスキー): the subject must not repeat it.
    when = clock.to_jst(expires_at).strftime("%Y-%m-%d %H:%M")
    head = left_ja(expires_at, now)
    how = account.adapter.renew_how(account)
    body = (f"{account.shop.name}（{account.label}）の{label}の{head}。\n\n"
            f"有効期限: {when}（日本時間）\n\n{how}\n\n"
            "期限が切れると、このアカウントの問い合わせ取り込みは停止します。更新後、停止中の問い合わせもまとめて取り込みます。\n")
    msg = compose.build_message(sender=outbox.system_sender(), to=to,
                                subject=f"【mallbridge】{label}の{head}（{account.shop.name}）", body=body)
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
        if due_threshold(expiry[1], now) is None:
            continue
        label = account.adapter.credential.label
        when = f"（{clock.to_jst(expiry[1]):%Y-%m-%d %H:%M}）" if expiry[1] > now else ""
        lines.append(f"{name}: {label}の{left_ja(expiry[1], now)}{when}。")
    return lines

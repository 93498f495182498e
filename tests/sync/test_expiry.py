"""Expiry reminders 14/7/3/1 days ahead, once each, stating the days left like the dashboard does."""
import datetime as dt
import email
from email import policy

import pytest
from sqlalchemy import select

from plugin import clock, settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import expiry, malls, status
from tests.sync.helpers import rakuten_account, yahoo_account


def _mails():
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")))


def test_reminders_at_each_step_once(app, clock_pinned):
    """Reminders go to the admin and fallback addresses at 14, 7, 3 and 1 days, never twice for one step."""
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    settings.set_value("sync.reminder_fallback", "backup@example.jp", actor="t")
    account = rakuten_account()
    account.license_expires_at = clock_pinned.now() + dt.timedelta(days=20)
    db.session.commit()
    assert expiry.run() == 0
    steps = []
    for days_left in (13.5, 13, 6.9, 2.5, 0.5, 0.4):
        clock_pinned.pin(account.license_expires_at - dt.timedelta(days=days_left))
        expiry.run()
        steps.append(len(_mails()))
    assert steps == [1, 1, 2, 3, 4, 4]
    mail = _mails()[0]
    assert mail.recipients == ["admin@example.jp", "backup@example.jp"]
    assert "ライセンスキー" in mail.subject


def test_late_first_check_skips_earlier_steps(app, clock_pinned):
    """A first check 5 days before expiry sends one reminder, not the missed 14-day one as well."""
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    account = rakuten_account()
    account.license_expires_at = clock_pinned.now() + dt.timedelta(days=5)
    db.session.commit()
    expiry.run()
    expiry.run()
    assert len(_mails()) == 1
    assert any("ライセンスキー" in line for line in expiry.warnings())


EXPIRY_JST = dt.datetime(2026, 12, 11, 23, 59, 59)  # how Rakuten states a key's expiry (JST, end of day)
TIMES = {"00:05": dt.time(0, 5), "12:00": dt.time(12, 0), "23:55": dt.time(23, 55)}
WORDS = {0: "有効期限は本日までです", **{n: f"有効期限まであと{n}日です" for n in (1, 2, 3, 6, 7, 13, 14)}}


def _account_expiring(mall, expires_at):
    if mall == "rakuten":
        account = rakuten_account()
        account.license_expires_at = expires_at
    else:
        account = yahoo_account()
        account.refresh_token_issued_at = expires_at - dt.timedelta(days=28)  # tokens live 4 weeks
    db.session.commit()
    return account


@pytest.mark.parametrize("mall", ["rakuten", "yahoo"])
@pytest.mark.parametrize("days", [0, 1, 2, 3, 6, 7, 13, 14, 15])
@pytest.mark.parametrize("time_of_day", sorted(TIMES))
def test_reminder_states_the_days_left_like_the_dashboard(app, clock_pinned, mall, days, time_of_day):
    """Whatever the time of day, a reminder, the dashboard and the mall accounts page all state the
    calendar days left in Japan time (「本日」 on the last day), the mail names the mall once, and
    nothing is sent or warned 15 days ahead."""
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    expires_at = clock.from_jst_naive(EXPIRY_JST)
    account = _account_expiring(mall, expires_at)
    today = EXPIRY_JST.date() - dt.timedelta(days=days)
    clock_pinned.pin(clock.from_jst_naive(dt.datetime.combine(today, TIMES[time_of_day])))
    expiry.run()
    dashboard = [line for line in expiry.warnings() if account.label in line]
    short = "本日まで" if days == 0 else f"あと{days}日"
    assert status.account_row(account).expiry == f"2026-12-11 23:59（{short}）"  # the mall accounts page
    if days == 15:
        assert _mails() == [] and dashboard == []
        return
    label, shop = account.adapter.credential.label, account.shop.name
    words = WORDS[days]
    (mail,) = _mails()
    assert mail.subject == f"【mallbridge】{label}の{words}（{shop}）"
    body = email.message_from_bytes(mail.raw, policy=policy.default).get_content()
    assert f"（{account.label}）の{label}の{words}。" in body
    assert "有効期限: 2026-12-11 23:59（日本時間）" in body
    assert dashboard == [f"{shop}（{account.label}）: {label}の{words}（2026-12-11 23:59）。"]
    mall_name = malls.label(mall).split("!")[0]  # 楽天, Yahoo
    assert mail.subject.count(mall_name) == 1 and body.count(f"{mall_name}の{mall_name}") == 0


@pytest.mark.parametrize("expires_jst, when_jst, words", [
    (dt.datetime(2026, 12, 11, 10, 0), dt.datetime(2026, 12, 10, 23, 55), "有効期限まであと1日です"),
    (dt.datetime(2026, 12, 11, 10, 0), dt.datetime(2026, 12, 11, 0, 5), "有効期限は本日までです"),
    (dt.datetime(2026, 12, 11, 10, 0), dt.datetime(2026, 12, 11, 9, 59), "有効期限は本日までです"),
    (dt.datetime(2026, 12, 11, 0, 0), dt.datetime(2026, 12, 10, 0, 5), "有効期限は本日までです"),
    (dt.datetime(2026, 12, 11, 0, 0), dt.datetime(2026, 12, 9, 23, 55), "有効期限まであと1日です"),
])
def test_a_token_expiring_at_another_hour_counts_days_the_same_way(app, clock_pinned, expires_jst, when_jst, words):
    """A Yahoo! token expiring at 10:00 JST reads 「本日」 from midnight of that day until it expires;
    one expiring at 00:00 has its last day the day before."""
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    _account_expiring("yahoo", clock.from_jst_naive(expires_jst))
    clock_pinned.pin(clock.from_jst_naive(when_jst))
    expiry.run()
    (mail,) = _mails()
    shown = f"{expires_jst:%Y-%m-%d %H:%M}"
    assert words in mail.subject and any(f"{words}（{shown}）。" in line for line in expiry.warnings())


def test_expired_credential_reads_naturally(app, clock_pinned):
    """After the expiry the mail and the dashboard say the credential has expired, with no date to come."""
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    account = _account_expiring("rakuten", clock_pinned.now() - dt.timedelta(minutes=1))
    expiry.run()
    (mail,) = _mails()
    assert mail.subject == f"【mallbridge】{account.adapter.credential.label}の有効期限が切れています（{account.shop.name}）"
    assert f"{account.adapter.credential.label}の有効期限が切れています。" in expiry.warnings()[0]


def test_the_mail_between_two_steps_states_the_real_days_left(app, clock_pinned):
    """A first check 2 days before expiry sends the 3-day step's mail, which says 「あと2日」, not 「あと3日」."""
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    _account_expiring("rakuten", clock.from_jst_naive(EXPIRY_JST))
    clock_pinned.pin(clock.from_jst_naive(dt.datetime(2026, 12, 9, 19, 10)))
    expiry.run()
    (mail,) = _mails()
    assert "あと2日" in mail.subject and "あと3日" not in mail.subject

"""Expiry reminders 14/7/3/1 days ahead, once each, and the dashboard warning."""
import datetime as dt

from sqlalchemy import select

from plugin import settings
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import expiry
from tests.sync.helpers import rakuten_account


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

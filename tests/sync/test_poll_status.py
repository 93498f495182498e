"""What a working poll pass still reports on the account's status for staff."""
from plugin.extensions import db
from sync import poller
from sync.models import MallAccount
from tests.sync.helpers import yahoo_account


def _poll(account_id):
    return poller.poll_account(db.session.get(MallAccount, account_id))


def test_signature_not_accepted_by_yahoo_shows_on_the_account_status(sync_app, mall, monkeypatch):
    """A pass that works while Yahoo! reports the public-key signature as not accepted leaves a Japanese warning."""
    from sync.malls.yahoo.client import YahooClient

    original = YahooClient._note_authorize_status

    def not_accepted(self, reply):
        reply.headers["X-SWS-Authorize-Status"] = "unauthorized"
        return original(self, reply)

    monkeypatch.setattr(YahooClient, "_note_authorize_status", not_accepted)
    account = yahoo_account()
    result = _poll(account.id)
    assert result.error is None
    account = db.session.get(MallAccount, account.id)
    assert account.failures == 0 and "公開鍵" in account.last_error_ja

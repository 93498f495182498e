"""Plain helpers of the push tests: contacts in the fake helpdesk, mall accounts and inquiries as rows."""
import datetime as dt

from plugin.demo.malls import demo_account_values
from plugin.extensions import db
from plugin.helpdesk import push
from sync import accounts, identity
from sync.models import MallInquiry


def book(server, book_id=1):
    """The contacts of a fake helpdesk book, by system_id1 (or customer_id when it has none)."""
    with server.state.lock:
        return {c.get("system_id1") or c["customer_id"]: dict(c) for c in server.state.contacts(book_id).values()}


def emails(contact):
    """(main addresses, archived addresses) of a fake contact."""
    return [e["email"] for e in contact["emails"]], [e["email"] for e in contact["archived_emails"]]


def api_requests(server):
    """(method, path) of every API request the fake saw."""
    with server.state.lock:
        return [(m, p) for _, m, p, _ in server.state.requests]


def run(waits=None, **kwargs):
    """A push pass without a time budget that records its sleeps."""
    kwargs.setdefault("budget", None)
    kwargs.setdefault("max_wait", 120)
    return push.run_pass(sleep=(waits.append if waits is not None else _no_sleep), **kwargs)


def _no_sleep(seconds):
    raise AssertionError(f"the push slept {seconds}s")


def rakuten_account(enabled=True):
    """The demo Rakuten account of the default shop (no network)."""
    account = accounts.add("rakuten", "default", demo_account_values("rakuten"))
    account.enabled = enabled
    db.session.commit()
    return account


def inquiry(account, number, *, name="楽天 花子", address="a1b2c3d4s1@pc.fw.rakuten.ne.jp", order_number=None,
            days_ago=0):
    """A mall inquiry as the poller stores it."""
    row = MallInquiry(account_id=account.id, inquiry_id=number, first_message_id=f"<{number}@reply.localhost>",
                      subject="【楽天】商品問い合わせ", inbox="inbox@example.jp",
                      customer=identity.customer_key(account.mall, account.id, address or number),
                      customer_name=name, customer_address=address, order_number=order_number,
                      started_at=dt.datetime(2026, 11, 20, 3, 0) - dt.timedelta(days=days_ago))
    db.session.add(row)
    db.session.commit()
    return row


def relay(row):
    """The signed relay address of an inquiry's customer."""
    return identity.reply_address("rakuten", row.account_id, row.customer)

"""Fixtures for the reply tests: smtp-in on a free port, a delivered inquiry, reply mails."""
import email
from email import policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import poller
from sync.fake_mall.seed import DEMO_RAKUTEN
from tests.smtp_server import free_port
from sync.models import MallAccount
from sync.reply_models import ReplyJob, ReplyMail
from tests.sync.poller_helpers import add, rakuten_account, world, yahoo_account  # noqa: F401

AGENT = "agent@helpdesk.example"
SHOP = DEMO_RAKUTEN["shop_id"]


@pytest.fixture
def smtp_in(app):
    """The real smtp-in handler in an in-process aiosmtpd Controller; yields its port."""
    from aiosmtpd.controller import Controller

    from sync.smtp_in import ReplyHandler, smtp_options

    options = smtp_options(app, max_size=256 * 1024)
    options["server_hostname"] = options.pop("hostname")
    port = free_port()
    controller = Controller(ReplyHandler(app), hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield port
    controller.stop()


def send(port, msg, rcpt=None, mail_from=AGENT):
    """Send with smtplib; returns the refused dict (empty when every recipient was accepted)."""
    import smtplib

    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.send_message(msg, from_addr=mail_from, to_addrs=[rcpt] if rcpt else None)


def deliver_rakuten(mall, message="在庫はありますか？", **extra):
    """A customer inquiry on the fake mall, polled into the outbox; returns (account, mail, number)."""
    inq = add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "山田 花子", "item_name": "有機緑茶 100g",
                                        "message": message, **extra})
    account = rakuten_account()
    account = db.session.get(MallAccount, account.id)
    account.backfilled_at = account.created_at  # live mail, not a staged backfill
    db.session.commit()
    poller.poll_account(db.session.get(MallAccount, account.id))
    return account, last_mail(), inq["inquiryNumber"]


def last_mail():
    """The newest outbox mail, parsed."""
    row = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(1)).first()
    return email.message_from_bytes(row.raw, policy=policy.default)


def reply_to(original, body, *, html=None, thread=True, sender=AGENT, headers=None):
    """The agent's reply to a delivered mail, as a helpdesk would send it."""
    msg = EmailMessage()
    msg["From"] = f"担当 太郎 <{sender}>"
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = email.utils.make_msgid(domain="helpdesk.example")
    if thread:
        msg["In-Reply-To"] = original["Message-ID"]
        msg["References"] = original["Message-ID"]
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def reply_address(original):
    """The signed r+… address of a delivered mail."""
    return original["Reply-To"].addresses[0].addr_spec


def mails():
    """Every stored reply mail, oldest first (fresh from the DB)."""
    db.session.expire_all()
    return list(db.session.scalars(select(ReplyMail).order_by(ReplyMail.id)))


def jobs():
    """Every reply job, oldest first (fresh from the DB)."""
    db.session.expire_all()
    return list(db.session.scalars(select(ReplyJob).order_by(ReplyJob.id)))


def posted(mall, kind=None):
    """What the fake mall received through its reply APIs."""
    with mall.state.lock:
        return [p for p in mall.state.posted if kind in (None, p["mall"])]


__all__ = ["smtp_in", "send", "deliver_rakuten", "deliver_yahoo", "reply_to", "reply_address", "mails", "jobs", "posted",
           "last_mail", "AGENT", "SHOP", "yahoo_account"]


def deliver_yahoo(mall, body="在庫ありますか", **extra):
    """A customer question on the fake Yahoo! store, polled into the outbox; returns (account, mail, topic id)."""
    topic = add(mall, world.add_topic, {"title": "在庫について", "body": body, **extra})
    account = yahoo_account()
    account = db.session.get(MallAccount, account.id)
    account.backfilled_at = account.created_at
    db.session.commit()
    poller.poll_account(db.session.get(MallAccount, account.id))
    return account, last_mail(), topic["topicId"]

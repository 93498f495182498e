"""Plain helpers of the sync tests (the fixtures are in tests/sync/fixtures.py): demo accounts on
the fake mall, an inquiry polled into the outbox, an agent's reply mail and what came of it."""
import email
import smtplib
from email import policy
from email.message import EmailMessage

from sqlalchemy import select

from plugin.demo.malls import demo_account_values
from plugin.extensions import db
from plugin.outbox import OutboxMessage
from sync import accounts, poller
from sync.fake_mall import world
from sync.fake_mall.seed import DEMO_RAKUTEN
from sync.models import MallAccount
from sync.replies.models import ReplyJob, ReplyMail

INBOX = "inbox@example.jp"
AGENT = "agent@helpdesk.example"
SHOP = DEMO_RAKUTEN["shop_id"]


def add(mall, fn, *args):
    """Call a fake-mall world function under its lock."""
    with mall.state.lock:
        return fn(mall.state, *args)


def rakuten_account():
    """The demo Rakuten shop as a mall account of the default shop (committed)."""
    account = accounts.add("rakuten", "default", demo_account_values("rakuten"))
    db.session.commit()
    return account


def yahoo_account():
    """The demo Yahoo! store as a mall account of the default shop (committed)."""
    account = accounts.add("yahoo", "default", demo_account_values("yahoo"))
    db.session.commit()
    return account


def send(port, msg, rcpt=None, mail_from=AGENT):
    """Send with smtplib; returns the refused dict (empty when every recipient was accepted)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.send_message(msg, from_addr=mail_from, to_addrs=[rcpt] if rcpt else None)


def _live(account):
    account = db.session.get(MallAccount, account.id)
    account.backfilled_at = account.created_at  # live mail, not a staged backfill
    db.session.commit()
    poller.poll_account(db.session.get(MallAccount, account.id))
    return account


def deliver_rakuten(mall, message="在庫はありますか？", **extra):
    """A customer inquiry on the fake mall, polled into the outbox; returns (account, mail, number)."""
    inq = add(mall, world.add_inquiry, {"shop_id": SHOP, "user_name": "山田 花子", "item_name": "有機緑茶 100g",
                                        "message": message, **extra})
    account = _live(rakuten_account())
    return account, last_mail(), inq["inquiryNumber"]


def deliver_yahoo(mall, body="在庫ありますか", **extra):
    """A customer question on the fake Yahoo! store, polled into the outbox; returns (account, mail, topic id)."""
    topic = add(mall, world.add_topic, {"title": "在庫について", "body": body, **extra})
    account = _live(yahoo_account())
    return account, last_mail(), topic["topicId"]


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

"""Every mail mallbridge composes (mall mail, reminder, form notice and acknowledgement, reply
bounce, helpdesk test mail), filled with long Japanese subjects and names, has no header line
over 76 characters as the outbox stores it, and reads back exactly."""
import datetime as dt
from email import policy
from email.parser import BytesParser

from sqlalchemy import select

from plugin import clock, helpdesk, settings
from plugin.extensions import db
from plugin.helpdesk import check as helpdesk_check
from plugin.outbox import OutboxMessage
from sync import expiry, identity, mailer
from sync.messages import MallMessage
from sync.replies import bounce
from sync.replies.models import ReplyMail
from tests.forms_support import make_contact_form
from tests.sync.helpers import rakuten_account

LONG_ITEM = "【送料無料】京都宇治産 有機緑茶 一番摘み 特上 100g×3袋 お徳用パック 大容量 ギフト対応 のし無料"
LONG_NAME = "山田 花子（やまだ はなこ）株式会社みどり商事 購買部 第二課 課長代理"
LONG_SHOP = "京都宇治 お茶の専門店 茶房みどり 本店・二号店・オンラインショップ"

# CPython writes these MIME structure lines itself (no encoded words in them): RFC 5322's 78.
MIME_STRUCTURE = ("Content-Type: multipart/", " boundary=", " filename*")


def _header_lines(raw):
    """The header lines of every part of a stored mail (the parts' own headers included)."""
    lines, in_header = [], True
    for line in raw.decode("ascii").split("\r\n"):
        if in_header and line == "":
            in_header = False
        elif not in_header and line.startswith("--=") and not line.endswith("--"):
            in_header = True
        elif in_header:
            lines.append(line)
    return lines


def _check(raw):
    for line in _header_lines(raw):
        limit = 78 if line.startswith(MIME_STRUCTURE) else 76
        assert len(line) <= limit, line
    return BytesParser(policy=policy.default).parsebytes(raw)


def _mall_mails(account):
    common = {"mall": "rakuten", "inquiry_id": "391234-20261128-10001", "customer_name": LONG_NAME,
              "customer_identity": "abc@pc.fw.rakuten.ne.jp", "inquiry_type": "商品問い合わせ",
              "item_name": LONG_ITEM, "order_number": "391234-20261128-00000001", "text": "在庫はありますか？"}
    first = MallMessage(message_id="q", sender="customer", **common)
    subject = mailer.base_subject(account.shop_id, first)
    first_id = identity.message_id_of(account.external_id, first, "reply.localhost")
    chain = [f"<rakuten.391234.391234-20261128-10001.{i}@reply.localhost>" for i in range(12)]
    yield mailer.build(account, first, to="inbox@example.jp", subject=subject)
    for sender in ("customer", "shop"):
        follow = MallMessage(message_id="20", sender=sender, **common)
        yield mailer.build(account, follow, to="inbox@example.jp", subject=subject, first_id=first_id, chain=chain)


def test_no_header_line_of_any_mail_is_over_76(app, client, clock_pinned):
    """Mall mails (first, follow-up, shop's own), a reminder, both form mails, a bounce and the
    helpdesk test mail: lines of at most 76, subjects and names read back as written."""
    account = rakuten_account()
    account.shop.name = LONG_SHOP
    account.license_expires_at = clock.now() + dt.timedelta(days=3)
    settings.set_value("sync.reminder_to", "admin@example.jp", actor="t")
    db.session.commit()
    mails = list(_mall_mails(account))
    expiry.run()
    make_contact_form()
    response = client.post("/forms/contact", data={"name": LONG_NAME, "email": "hanako@example.jp", "tel": "",
                                                   "order_number": "", "message": LONG_ITEM})
    assert response.status_code == 303
    row = ReplyMail(id=5, rcpt="r+x@reply.localhost", subject="Re: " + mails[0]["Subject"],
                    message_id="<agent.reply.1@helpdesk.example>", text="返信です")
    mails.append(bounce.bounce_message(row, ["本文が長すぎます。"], "agent@helpdesk.example",
                                       [f"<x{i}.{'a' * 40}@reply.localhost>" for i in range(15)]))
    helpdesk.update_environment("production", {"forward_to": "inbox@example.jp"})
    mails.append(helpdesk_check.build_test_mail(helpdesk.environment("production"), "MB-0A1B2C3D",
                                                "mallbridge@reply.localhost"))
    stored = [row.raw for row in db.session.scalars(select(OutboxMessage))]
    assert len(stored) == 3  # the reminder, the shop's notice, the acknowledgement
    parsed = [_check(msg.as_bytes(policy=policy.SMTP)) for msg in mails] + [_check(bytes(raw)) for raw in stored]
    subjects = [str(p["Subject"]) for p in parsed]
    assert subjects[0] == f"【楽天】商品問い合わせ {LONG_ITEM} [391234-20261128-10001]"
    assert subjects[1] == "Re: " + subjects[0] and subjects[2] == "Re: 【店舗の返信】" + subjects[0]
    assert any(LONG_SHOP in s for s in subjects)
    assert parsed[0]["From"].addresses[0].addr_spec.startswith("r+")

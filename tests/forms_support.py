"""What the form tests share: a valid submission, the 'contact' form of the default shop, mail parsing."""
from email import policy
from email.parser import BytesParser

from plugin import helpdesk
from plugin.extensions import db
from plugin.forms import service
from tests.factories import default_shop

INBOX = "inbox-fwd@mail.example.test"
VALID = {"name": "山田 太郎", "email": "taro@example.jp", "tel": "090-1234-5678", "order_number": "1001",
         "message": "注文した商品の到着日を教えてください。\n急ぎです。"}


def make_contact_form():
    """A form 'contact' of the default shop mailing shop@example.jp, BCC = the helpdesk forwarding address."""
    helpdesk.update_environment("production", {"forward_to": INBOX})
    shop = default_shop()
    shop.email, shop.phone = "info@example.jp", "03-1234-5678"
    form = service.save_form(slug="contact", shop=shop, to="shop@example.jp、staff@example.jp", bcc="",
                             title="お問い合わせ", origins="https://shop.example.jp")
    db.session.commit()
    return form


def parse(row):
    """An outbox row's stored mail as an EmailMessage."""
    return BytesParser(policy=policy.default).parsebytes(row.raw)

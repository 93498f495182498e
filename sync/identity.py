"""A mall message's identity in mail, computed in this one place: its Message-ID, the customer
key, and the signed reply address `r+…@REPLY_DOMAIN` (and reading that address back).

The poller, the mail composer and reply intake all use these, so a thread the poller starts is
the thread intake recognises. Flask-light: the reply domain and the signing secret are passed in,
or read from the current app's config (REPLY_DOMAIN, SECRET_KEY) when left out.

    <rakuten.391234.391234-20261128-1w.0@reply.example.jp>   mail_message_id(…)
    r+r12.0c1f9a2b3c4d.9f86d081884c7d65@reply.example.jp      reply_address(…)
"""
import hashlib
import hmac
import re
from typing import NamedTuple

from flask import current_app
from itsdangerous import Signer

from plugin import compose
from sync import malls
from sync.messages import MallMessage

SALT = "mallbridge.reply-address"
_ADDRESS = re.compile(r"^r\+([a-z])(\d{1,9})\.([0-9a-f]{12})\.([0-9a-f]{16})@(.+)$")


class ReplyAddress(NamedTuple):
    """What a signed reply address names: the mall, the account and the customer of that account."""

    mall: str
    account_id: int
    customer_key: str


def _domain(domain: str | None) -> str:
    return domain or current_app.config["REPLY_DOMAIN"]


def mail_message_id(mall: str, mall_shop_id: str, inquiry_id: str, message_id: str, domain: str | None = None) -> str:
    """`<mall.shopId.inquiryId.messageId@REPLY_DOMAIN>`: the same message always gets the same ID."""
    return compose.make_msgid(f"{mall}.{mall_shop_id}.{inquiry_id}.{message_id}", _domain(domain))


def message_id_of(mall_shop_id: str, msg: MallMessage, domain: str | None = None) -> str:
    """The Message-ID of the mail that carries `msg` (mall_shop_id: the account's external ID)."""
    return mail_message_id(msg.mall, mall_shop_id, msg.inquiry_id, msg.message_id, domain)


def customer_key(mall: str, account_id: int, identity: str) -> str:
    """A short, stable, lowercase key for one customer of one account (no personal data in it)."""
    digest = hashlib.sha256(f"{mall}:{account_id}:{identity}".encode()).hexdigest()
    return digest[:12]


def customer_of(account_id: int, msg: MallMessage) -> str:
    """The customer key of a message's sender (the inquiry itself when the mall names no customer)."""
    return customer_key(msg.mall, account_id, msg.customer_identity or msg.inquiry_id)


def is_own_message_id(message_id: str, domain: str | None = None) -> bool:
    """Whether a Message-ID is one of ours (it ends in @REPLY_DOMAIN): our own mail came back."""
    return (message_id or "").lower().rstrip(">").endswith("@" + _domain(domain).lower())


def _signature(payload: str, secret: str | None) -> str:
    signer = Signer(secret or current_app.config["SECRET_KEY"], salt=SALT, digest_method=hashlib.sha256)
    # Lowercase hex of the itsdangerous signature: helpdesks may lower-case addresses.
    return hashlib.sha256(signer.get_signature(payload)).hexdigest()[:16]


def reply_address(mall: str, account_id: int, key: str, domain: str | None = None, *,
                  secret: str | None = None) -> str:
    """`r+<token>@REPLY_DOMAIN` naming mall, account and customer, signed so it cannot be forged."""
    payload = f"{malls.get(mall).address_code}{int(account_id)}.{key}"
    return f"r+{payload}.{_signature(payload, secret)}@{_domain(domain)}"


def read_reply_address(addr: str | None, *, domain: str | None = None,
                       secret: str | None = None) -> ReplyAddress | None:
    """What a signed reply address names, or None when it is forged, altered or not ours."""
    match = _ADDRESS.match((addr or "").strip().lower())
    if not match:
        return None
    code, account_id, key, sig, found_domain = match.groups()
    if found_domain != _domain(domain).lower():
        return None
    if not hmac.compare_digest(sig, _signature(f"{code}{account_id}.{key}", secret)):
        return None
    mall = malls.by_address_code(code)
    if mall is None:
        return None
    return ReplyAddress(mall, int(account_id), key)

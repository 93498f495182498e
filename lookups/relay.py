"""Lookups by the customer of a mall inquiry: a signed relay address (`r+…@REPLY_DOMAIN`) or, in the
`customer` from_mode, Rakuten's masked address, which is then the ticket's address. No Flask: the
reply domain and the signing secret are passed in.

A relay address names a mall account and one customer key of it (sync.identity reads and checks
it); a masked address is stored on the inquiries it wrote. The seeks here find those inquiries
(only of an enabled account: a disabled account's addresses resolve to nobody), the orders they
name (Rakuten order number, Yahoo! order ID, in the account's shop) and the orders that carry the
customer's masked address; lookups.keys turns them into search keys like any other parameter.
"""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, bindparam, func, select, true, union_all

from lookups.models import Member, Order
from lookups.params import LookupQuery
from lookups.results import InquiryInfo, OrderInfo, ShopInfo
from sync import identity, malls
from sync.messages import MallMessage
from sync.models import MallAccount, MallInquiry

# Rakuten hands out masked addresses under this domain (…@pc.fw.rakuten.ne.jp).
RAKUTEN_MASKED = "fw.rakuten.ne.jp"
_ACCOUNT = bindparam("relay_account")
_CUSTOMER = bindparam("relay_customer")
_MALL = bindparam("relay_mall")
_MASKED = bindparam("masked_address")
_MASKED_NORM = bindparam("email_norm")
INQUIRY_LIMIT = 20  # the newest inquiries of one customer a lookup reads (and shows)
INQUIRY_FIELDS = ("id", "inquiry_id", "account_id", "subject", "customer_name", "customer_address", "order_number",
                  "inquiry_type", "started_at")


def resolve(q: LookupQuery, domain: str, secret: str) -> str | None:
    """Set `q.relay` when `q.email` is a valid relay address of ours; returns what the address named,
    in words for the audit log (None when it is no address of our reply domain).

    A forged or altered address keeps `q.relay` unset: it stays an e-mail nobody has, a plain no-match.
    """
    if not q.email_norm or not q.email_norm.endswith("@" + domain.lower()):
        return None
    found = identity.read_reply_address(q.email_norm, domain=domain, secret=secret)
    if found is None:
        return "返信用アドレス: 署名が一致しません（該当なし）"
    q.relay = found
    return f"返信用アドレス: {malls.label(found.mall)} アカウント{found.account_id} のお客様 {found.customer_key}"


def relay_values(q: LookupQuery) -> dict[str, Any]:
    """The placeholders of the relay seeks."""
    return {"relay_mall": q.relay.mall, "relay_account": q.relay.account_id, "relay_customer": q.relay.customer_key}


def is_masked(q: LookupQuery) -> bool:
    """Whether the looked-up e-mail is a Rakuten masked address (the ticket's address in `customer` mode)."""
    return q.relay is None and bool(q.email_norm) and q.email_norm.endswith(RAKUTEN_MASKED)


def masked_values(q: LookupQuery) -> dict[str, Any]:
    """The placeholders of the masked-address seeks (as sent and normalised: stored as Rakuten sent it)."""
    return {"masked_address": q.email, "email_norm": q.email_norm}


def _inquiries(condition, name: str):
    """The newest inquiries of an enabled account matching `condition`, as a CTE: every seek of the
    lookup (its members, its orders, the inquiry list) reads the one set (PostgreSQL computes it once)."""
    return (select(*(MallInquiry.__table__.c[f] for f in INQUIRY_FIELDS), MallAccount.shop_id, MallAccount.mall,
                   MallAccount.rakuten_shop_id, MallAccount.seller_id)
            .join(MallAccount, MallAccount.id == MallInquiry.account_id)
            .where(condition, MallAccount.enabled == true())
            .order_by(MallInquiry.started_at.desc(), MallInquiry.id.desc()).limit(INQUIRY_LIMIT)
            .cte(name))


def orders_of(inquiries) -> list[Select[Any]]:
    """Order ids the inquiries lead to: by order number in the account's shop, and by masked address."""
    by_number = select(Order.id).join(inquiries, (Order.shop_id == inquiries.c.shop_id)
                                      & (Order.order_number == inquiries.c.order_number))
    # Masked addresses are ASCII; email_norm is the lower-cased address. A join (an index probe per
    # inquiry) rather than IN (…), which PostgreSQL would first hash and de-duplicate.
    by_address = select(Order.id).join(inquiries, Order.email_norm == func.lower(inquiries.c.customer_address))
    return [by_number, by_address]


class Seeks:
    """The inquiries one kind of address finds and the orders they lead to, each a CTE built once (the
    placeholders are bound per lookup), so a statement that names them several times reads them once."""

    def __init__(self, condition, name: str) -> None:
        self.found = _inquiries(condition, f"{name}_inquiries")
        # UNION ALL: the ids only feed IN (…), where a repeated id costs nothing, a de-duplication does.
        self.orders_found = union_all(*orders_of(self.found)).cte(f"{name}_orders")

    def order_ids(self) -> Select[Any]:
        """Ids of the orders the inquiries name or that carry their masked address."""
        return select(self.orders_found.c.id)

    def member_ids(self) -> Select[Any]:
        """Ids of the members who placed those orders."""
        return (select(Member.id).select_from(self.orders_found)
                .join(Order, Order.id == self.orders_found.c.id)
                .join(Member, (Member.shop_id == Order.shop_id) & (Member.customer_code == Order.customer_code)))


# The relay address names (mall, account, customer key): one seek on (account_id, customer).
BY_RELAY = Seeks((MallInquiry.account_id == _ACCOUNT) & (MallInquiry.customer == _CUSTOMER)
                 & (MallAccount.mall == _MALL), "relay")
# A masked address is stored on the inquiries it wrote (index on customer_address).
BY_MASKED = Seeks(MallInquiry.customer_address.in_([_MASKED, _MASKED_NORM]), "masked")


# Inquiries stored before the type had a column of its own: the default subject begins with it.
_TYPE = re.compile(r"^【[^】]*】\s*(\S+)")


def inquiry_info(d: dict[str, Any], shop: ShopInfo, when, orders: list[OrderInfo]) -> InquiryInfo:
    """An inquiry document of the lookup statement as an InquiryInfo, with the mall's back-office links
    and the order it names among `orders` (same shop and number)."""
    state = {"posted": "completed", None: "open"}.get(d["completion"], "completing")
    account = SimpleNamespace(rakuten_shop_id=d["rakuten_shop_id"], seller_id=d["seller_id"])
    msg = MallMessage(mall=d["mall"], inquiry_id=d["inquiry_id"], message_id="", sender="customer", text="",
                      order_number=d["order_number"])
    try:
        links = malls.get(d["mall"]).links(account, msg)
    except KeyError:  # a mall this version no longer knows: the inquiry is still shown
        links = {}
    kind = d.get("inquiry_type") or (m.group(1) if (m := _TYPE.match(d["subject"] or "")) else None)
    order = next((o for o in orders if d["order_number"] and o.order_number == d["order_number"]
                  and o.shop.id == shop.id), None)
    return InquiryInfo(d["id"], shop, d["mall"], malls.label(d["mall"]), d["account_id"], d["inquiry_id"],
                       d["subject"], kind, d["customer_name"], d["customer_address"],
                       d["order_number"], when(d["started_at"]), state, links, order)

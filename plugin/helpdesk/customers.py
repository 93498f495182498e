"""Who goes into the address book, as plugin.helpdesk.mapping.Contact values, built in batches.

Two kinds of customers (`subject` in the push state):
- a member (`m:<member id>`): system_id1 = its customer code (`<shop code>:<customer code>` for
  shops other than `default`, whose codes may repeat); name and kana; the first e-mail and phone.
  Archived e-mails: the member's other addresses, the masked Rakuten addresses of its orders and
  the signed relay addresses (sync.identity) of its mall inquiries, newest first, at most 6 (the
  member's own addresses count as of the member's last update; the oldest ones are left out).
  Archived phones: the member's other phones, then its orders' phones, newest first, at most 3.
- a mall customer mallbridge cannot tie to a member (`c:<account id>:<customer key>`), only known
  from an inquiry: system_id1 = `<mall>-<account id>-<customer key>`; the name the mall gave; the
  relay address as e-mail (the address the helpdesk's tickets show) and Rakuten's masked address
  archived; the phone of its order when the order is known.
An inquiry belongs to a member through its order number, or else through the masked address on
one of the member's orders. Inquiries of a disabled mall account are left out: their relay
addresses resolve to nobody any more.
"""
import dataclasses
import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from lookups.models import Member, Order
from plugin.helpdesk.mapping import MAX_ARCHIVED_EMAILS, MAX_ARCHIVED_TELS, Contact
from plugin.normalize import normalize_email, normalize_tel
from sync import identity, malls
from sync.models import MallAccount, MallInquiry

DEFAULT_SHOP = "default"
_OLDEST = dt.datetime.min


def member_subject(member_id: int) -> str:
    """The push-state key of a member."""
    return f"m:{member_id}"


def mall_subject(account_id: int, key: str) -> str:
    """The push-state key of a mall customer without a member."""
    return f"c:{account_id}:{key}"


def member_system_id(shop_code: str, customer_code: str) -> str:
    """system_id1 of a member: the customer code (prefixed by the shop code outside `default`)."""
    return customer_code if shop_code == DEFAULT_SHOP else f"{shop_code}:{customer_code}"


@dataclasses.dataclass(frozen=True)
class _Account:
    id: int
    mall: str
    shop_id: int
    enabled: bool


class Customers:
    """Builds contacts for one pass; caches the mall accounts (few) for the pass's duration."""

    def __init__(self, session):
        self.session = session
        self.accounts = {a.id: _Account(a.id, a.mall, a.shop_id, bool(a.enabled))
                         for a in session.scalars(select(MallAccount))}

    def relay_address(self, inquiry) -> str | None:
        """The signed relay address of an inquiry's customer; None for a disabled or unknown account."""
        account = self.accounts.get(inquiry.account_id)
        if account is None or not account.enabled or not inquiry.customer:
            return None
        return identity.reply_address(account.mall, account.id, inquiry.customer)

    # --- members ------------------------------------------------------------------------------

    def members(self, member_ids) -> list[Contact]:
        """Contacts of these members (in the given order; unknown ids are skipped)."""
        ids = list(dict.fromkeys(member_ids))
        if not ids:
            return []
        rows = {m.id: m for m in self.session.scalars(
            select(Member).where(Member.id.in_(ids)).options(selectinload(Member.emails),
                                                             selectinload(Member.phones)))}
        members = [rows[i] for i in ids if i in rows]
        orders = self._orders_of(members)
        inquiries = self._inquiries_of(members, orders)
        return [self._member_contact(m, orders.get((m.shop_id, m.customer_code), []),
                                     inquiries.get(m.id, [])) for m in members]

    def _orders_of(self, members):
        by_shop = {}
        for m in members:
            by_shop.setdefault(m.shop_id, []).append(m.customer_code)
        found = {}
        for shop_id, codes in by_shop.items():
            query = (select(Order.shop_id, Order.customer_code, Order.mall, Order.email, Order.tel, Order.ordered_at,
                            Order.order_number, Order.name)
                     .where(Order.shop_id == shop_id, Order.customer_code.in_(codes)))
            for row in self.session.execute(query):
                found.setdefault((row.shop_id, row.customer_code), []).append(row)
        return found

    def _inquiries_of(self, members, orders):
        """{member id: [MallInquiry]} through order numbers and masked addresses of its orders."""
        owner = {}  # (shop_id, "o"|"a", value) → member id
        for m in members:
            for o in orders.get((m.shop_id, m.customer_code), []):
                owner[(m.shop_id, "o", o.order_number)] = m.id
                if o.mall == "rakuten" and o.email:
                    owner[(m.shop_id, "a", normalize_email(o.email))] = m.id
        numbers = [k[2] for k in owner if k[1] == "o"]
        addresses = [k[2] for k in owner if k[1] == "a"]
        if not numbers and not addresses:
            return {}
        query = select(MallInquiry).where(or_(MallInquiry.order_number.in_(numbers),
                                              MallInquiry.customer_address.in_(addresses)))
        found = {}
        for inquiry in self.session.scalars(query):
            account = self.accounts.get(inquiry.account_id)
            if account is None:
                continue
            member_id = owner.get((account.shop_id, "o", inquiry.order_number)) or owner.get(
                (account.shop_id, "a", normalize_email(inquiry.customer_address)))
            if member_id is not None:
                found.setdefault(member_id, []).append(inquiry)
        return found

    def _member_contact(self, member, orders, inquiries) -> Contact:
        own = [e.email for e in member.emails]
        stamp = member.updated_at or member.created_at or _OLDEST
        candidates = [(stamp, -i, e) for i, e in enumerate(own[1:])]
        for o in orders:
            if o.mall == "rakuten" and o.email and "@" in o.email:
                candidates.append((o.ordered_at or _OLDEST, 0, o.email))
        for inquiry in inquiries:
            relay = self.relay_address(inquiry)
            if relay:
                candidates.append((inquiry.started_at or inquiry.created_at or _OLDEST, 0, relay))
        archived = _newest_unique([c[2] for c in sorted(candidates, key=lambda c: (c[0], c[1]), reverse=True)],
                                  normalize_email)
        main = own[0] if own else (archived[0] if archived else None)
        archived = [a for a in archived if normalize_email(a) != normalize_email(main)]
        phones = [p.tel for p in member.phones] or ([member.tel] if member.tel else [])
        order_tels = [o.tel for o in sorted(orders, key=lambda o: o.ordered_at or _OLDEST, reverse=True) if o.tel]
        tels = _newest_unique(phones + order_tels, normalize_tel)
        name = member.name or next((o.name for o in orders if o.name), None) or f"会員 {member.customer_code}"
        return Contact(subject=member_subject(member.id),
                       system_id1=member_system_id(member.shop.code, member.customer_code),
                       name=name, kana=member.name_kana or "", email=main, tel=tels[0] if tels else None,
                       archived_emails=tuple(archived[:MAX_ARCHIVED_EMAILS]),
                       archived_tels=tuple(tels[1:1 + MAX_ARCHIVED_TELS]),
                       label=f"会員 {member.customer_code} {member.name or ''}".strip())

    # --- mall inquiries -----------------------------------------------------------------------------

    def resolve(self, inquiries) -> list[tuple[str, object]]:
        """For each inquiry, ("member", member id) or ("mall", Contact); inquiries of disabled
        accounts are left out."""
        inquiries = [i for i in inquiries if self.relay_address(i)]
        numbers, addresses = {}, {}
        for i in inquiries:
            shop_id = self.accounts[i.account_id].shop_id
            if i.order_number:
                numbers.setdefault(shop_id, set()).add(i.order_number)
            if i.customer_address:
                addresses.setdefault(shop_id, set()).add(normalize_email(i.customer_address))
        by_number, by_address = {}, {}
        for shop_id, values in numbers.items():
            for o in self.session.scalars(select(Order).where(Order.shop_id == shop_id,
                                                              Order.order_number.in_(values))):
                by_number[(shop_id, o.order_number)] = o
        for shop_id, values in addresses.items():
            query = select(Order).where(Order.shop_id == shop_id, Order.email_norm.in_(values)).order_by(
                Order.ordered_at.desc())
            for o in self.session.scalars(query):
                key = (shop_id, o.email_norm)
                if key not in by_address or (o.customer_code and not by_address[key].customer_code):
                    by_address[key] = o
        codes = {}
        for o in list(by_number.values()) + list(by_address.values()):
            if o.customer_code:
                codes.setdefault(o.shop_id, set()).add(o.customer_code)
        member_ids = {}
        for shop_id, values in codes.items():
            for mid, code in self.session.execute(select(Member.id, Member.customer_code).where(
                    Member.shop_id == shop_id, Member.customer_code.in_(values))):
                member_ids[(shop_id, code)] = mid
        result = []
        for i in inquiries:
            shop_id = self.accounts[i.account_id].shop_id
            order = by_number.get((shop_id, i.order_number)) or by_address.get(
                (shop_id, normalize_email(i.customer_address)))
            member_id = member_ids.get((shop_id, order.customer_code)) if order and order.customer_code else None
            result.append(("member", member_id) if member_id else ("mall", self._mall_contact(i, order)))
        return result

    def _mall_contact(self, inquiry, order) -> Contact:
        account = self.accounts[inquiry.account_id]
        adapter = malls.get(account.mall)
        name = inquiry.customer_name or (order.name if order else None) or adapter.customer_name
        masked = inquiry.customer_address if inquiry.customer_address and "@" in inquiry.customer_address else None
        return Contact(subject=mall_subject(account.id, inquiry.customer),
                       system_id1=f"{account.mall}-{account.id}-{inquiry.customer}",
                       name=name, email=self.relay_address(inquiry), tel=order.tel if order and order.tel else None,
                       archived_emails=(masked,) if masked else (),
                       label=f"{adapter.label}のお客様 {name}（問い合わせ {inquiry.inquiry_id}）")


def _newest_unique(values, normalize) -> list[str]:
    """Values in the given order without repeats (compared normalised) or empties."""
    seen, result = set(), []
    for value in values:
        key = normalize(value) if value else None
        if key and key not in seen:
            seen.add(key)
            result.append(value)
    return result

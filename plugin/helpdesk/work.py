"""What to push next, in the order the design gives, one chunk at a time:

1. the customers of new mall inquiries (MallInquiry rows above `inquiry_cursor`), so an agent sees
   the customer in the address book within a minute or two of the mail, whatever else is pending;
2. members changed since the last look (a keyset on (updated_at, id), checked at most every
   CHANGED_EVERY seconds), and the members of new orders (a new masked address to archive);
3. the backlog: a sweep over every member by id, then over every mall inquiry by id for the
   customers without a member; a finished sweep starts again after SWEEP_EVERY, which also
   catches whatever the other two could not see (an order edited in place).

Each Chunk carries the cursor move that is applied, in the same transaction as the chunk's
results, once every contact of the chunk is done: a pass cut short redoes the chunk, and contacts
already sent then count as unchanged.
"""
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select

from lookups.models import Member, Order
from plugin import clock
from plugin.extensions import db
from plugin.helpdesk.customers import Customers
from plugin.helpdesk.mapping import Contact
from plugin.helpdesk.models import PushState
from sync.models import MallInquiry

CHANGED_EVERY = 30.0  # seconds between looks for changed members
# A member written in a transaction that commits later than others may carry an older updated_at;
# rows this young are left for the next look.
CHANGED_LAG = dt.timedelta(seconds=15)
SWEEP_EVERY = dt.timedelta(hours=6)


@dataclass
class Chunk:
    """Contacts to push now and the cursor move to apply once they are done."""

    kind: str  # inquiry | changed | members | mall
    contacts: list[Contact] = field(default_factory=list)
    advance: Callable[[PushState], None] = lambda state: None


def next_chunk(state: PushState, customers: Customers, size: int) -> Chunk | None:
    """The most urgent chunk of work, or None when everything is pushed for now."""
    return new_inquiries(state, customers, size) or changed(state, customers, size) or sweep(state, customers, size)


def _dedupe(contacts):
    seen, result = set(), []
    for c in contacts:
        if c.subject not in seen:
            seen.add(c.subject)
            result.append(c)
    return result


def _contacts_of_inquiries(customers: Customers, inquiries, *, members_too: bool) -> list[Contact]:
    resolved = customers.resolve(inquiries)
    member_ids = [v for kind, v in resolved if kind == "member"] if members_too else []
    mall = [v for kind, v in resolved if kind == "mall"]
    return _dedupe(customers.members(member_ids) + mall)


def new_inquiries(state: PushState, customers: Customers, size: int) -> Chunk | None:
    """Customers of inquiries that arrived since the last look (members and mall-only alike)."""
    rows = list(db.session.scalars(select(MallInquiry).where(MallInquiry.id > state.inquiry_cursor)
                                   .order_by(MallInquiry.id).limit(size)))
    if not rows:
        return None
    last = rows[-1].id

    def advance(s):
        """Past the inquiries of this chunk."""
        s.inquiry_cursor = max(s.inquiry_cursor, last)
    return Chunk("inquiry", _contacts_of_inquiries(customers, rows, members_too=True), advance)


def changed(state: PushState, customers: Customers, size: int) -> Chunk | None:
    """Members updated, or with new orders, since the last look."""
    now = clock.now()
    if state.changed_checked_at and (now - state.changed_checked_at).total_seconds() < CHANGED_EVERY:
        return None
    since, after_id = state.changed_since or dt.datetime.min, state.changed_member_id or 0
    members = db.session.execute(
        select(Member.id, Member.updated_at)
        .where(or_(Member.updated_at > since, and_(Member.updated_at == since, Member.id > after_id)),
               Member.updated_at <= now - CHANGED_LAG)
        .order_by(Member.updated_at, Member.id).limit(size)).all()
    orders = db.session.execute(
        select(Order.id, Order.shop_id, Order.customer_code).where(Order.id > (state.changed_order_id or 0))
        .order_by(Order.id).limit(size)).all()
    ids = [m.id for m in members]
    codes = {}
    for o in orders:
        if o.customer_code:
            codes.setdefault(o.shop_id, set()).add(o.customer_code)
    for shop_id, values in codes.items():
        ids += db.session.scalars(select(Member.id).where(Member.shop_id == shop_id,
                                                          Member.customer_code.in_(values))).all()
    more = len(members) == size or len(orders) == size

    def advance(s):
        """Past the members and orders read (and the look noted when nothing more was pending)."""
        if members:
            s.changed_since, s.changed_member_id = members[-1].updated_at, members[-1].id
        if orders:
            s.changed_order_id = max(s.changed_order_id or 0, orders[-1].id)
        if not more:
            s.changed_checked_at = now
    if not ids:
        advance(state)  # nothing to send: note the look at once
        db.session.commit()
        return None
    return Chunk("changed", customers.members(ids), advance)


def sweep(state: PushState, customers: Customers, size: int) -> Chunk | None:
    """The next piece of the backlog: members by id, then mall customers without a member."""
    now = clock.now()
    if state.sweep_done_at is not None:
        if now - state.sweep_done_at < SWEEP_EVERY:
            return None
        state.member_cursor = state.mall_cursor = 0
        state.sweep_done_at = None
        state.sweep_started_at = now
    elif state.sweep_started_at is None:
        state.sweep_started_at = now
    ids = list(db.session.scalars(select(Member.id).where(Member.id > state.member_cursor)
                                  .order_by(Member.id).limit(size)))
    if ids:
        last = ids[-1]

        def advance_members(s):
            """Past the members of this chunk."""
            s.member_cursor = max(s.member_cursor, last)
        return Chunk("members", customers.members(ids), advance_members)
    rows = list(db.session.scalars(select(MallInquiry).where(MallInquiry.id > state.mall_cursor)
                                   .order_by(MallInquiry.id).limit(size)))
    if rows:
        last = rows[-1].id

        def advance_mall(s):
            """Past the inquiries of this chunk."""
            s.mall_cursor = max(s.mall_cursor, last)
        return Chunk("mall", _contacts_of_inquiries(customers, rows, members_too=False), advance_mall)
    state.sweep_done_at = now
    db.session.commit()
    return None


def restart_sweep(state: PushState) -> None:
    """Start the backlog sweep from the first member again (`helpdesk push --all`)."""
    state.member_cursor = state.mall_cursor = 0
    state.sweep_started_at, state.sweep_done_at = clock.now(), None
    db.session.commit()

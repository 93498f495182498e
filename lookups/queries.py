"""Member and order search for the helpdesk; every branch is an index seek. No Flask here."""
from sqlalchemy import and_, bindparam, or_, select, tuple_, union
from sqlalchemy.orm import joinedload

from lookups.models import Member, MemberEmail, MemberPhone, Order
from plugin.extensions import db
from plugin.models import Shop

MEMBER_LIMIT = 200
LATEST_ORDERS = 5


class UnknownShop(LookupError):
    """The `shop` parameter names no shop."""


def shop_id_for(code):
    """Shop id for a shop code; None when no filter is asked; UnknownShop when it does not exist."""
    if not code:
        return None
    if len(code) > 64 or "\x00" in code:
        raise UnknownShop(code[:64])  # no shop has such a code, and PostgreSQL refuses NUL
    shop_id = db.session.scalar(select(Shop.id).where(Shop.code == code))
    if shop_id is None:
        raise UnknownShop(code)
    return shop_id


def _code_keys(code, shop_id):
    """(shop_id, customer_code) pairs for a customer code in the searched shop, or in every shop.

    The only index on customer_code is (shop_id, customer_code); without the shop a lookup by
    code would read the whole index (a scan that grows with the table). Shops are few.
    """
    shop_ids = [shop_id] if shop_id else list(db.session.scalars(select(Shop.id)))
    return [(sid, code) for sid in shop_ids]


# Placeholders, so a statement of each shape is built once and reused: building it again on
# every lookup cost about 0.2 ms CPU (a tenth of the lookup's Python time).
_EMAIL, _TEL, _SHOP, _MEMBER_SHOP = bindparam("email_norm"), bindparam("tel_norm"), bindparam("shop_id"), \
    bindparam("member_shop_id")
_CODE_KEYS = bindparam("code_keys", expanding=True)
_statements = {}


def _params(q, shop_id):
    """Values for the placeholders of the statements below."""
    params = {"email_norm": q.email_norm, "tel_norm": q.tel_norm, "shop_id": shop_id}
    if q.customer_code:
        params["code_keys"] = _code_keys(q.customer_code, shop_id)
    return params


def _member_ids(q):
    """One subquery for the ids of members matching directly or through their orders.

    A UNION of index seeks: one round trip instead of one per branch (the lookup's cost is
    mostly round trips, not the seeks themselves). Values come from `_params`.
    """
    parts, order_conds = [], []
    if q.email_norm:
        parts.append(select(MemberEmail.member_id).where(MemberEmail.email_norm == _EMAIL))
        order_conds.append(Order.email_norm == _EMAIL)
    if q.tel_norm:
        parts.append(select(MemberPhone.member_id).where(MemberPhone.tel_norm == _TEL))
        order_conds.append(Order.tel_norm == _TEL)
    if order_conds:
        # Members whose orders carry the address or phone (e.g. a Rakuten relay address).
        parts.append(select(Member.id).join(Order, and_(Order.shop_id == Member.shop_id,
                                                        Order.customer_code == Member.customer_code))
                     .where(or_(*order_conds)))
    if q.customer_code:
        parts.append(select(Member.id).where(tuple_(Member.shop_id, Member.customer_code).in_(_CODE_KEYS)))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else union(*parts)


def _cached(kind, q, shop_id, build):
    """The statement of this lookup's shape (which keys, shop filter or not), built once."""
    shape = (kind, bool(q.email_norm), bool(q.tel_norm), bool(q.customer_code), bool(shop_id))
    stmt = _statements.get(shape)
    if stmt is None:
        stmt = _statements[shape] = build()
    return stmt


def _members_stmt(q, shop_id):
    ids = _member_ids(q)
    if ids is None:
        return None
    # Joined (not selectin) eager loads: one statement instead of three; a member has few
    # e-mails and phones, so the joined rows stay few. The LIMIT still counts members.
    stmt = select(Member).where(Member.id.in_(ids)).options(joinedload(Member.emails), joinedload(Member.phones))
    if shop_id:
        stmt = stmt.where(Member.shop_id == _SHOP)
    return stmt.order_by(Member.shop_id, Member.customer_code).limit(MEMBER_LIMIT)


def find_members(q):
    """Members matching any given e-mail, phone or customer code (also via their orders)."""
    shop_id = shop_id_for(q.shop)
    stmt = _cached("members", q, shop_id, lambda: _members_stmt(q, shop_id))
    if stmt is None:
        return []
    return list(db.session.scalars(stmt, _params(q, shop_id)).unique())


_LATEST = (select(Order).where(Order.shop_id == _MEMBER_SHOP, Order.customer_code == bindparam("member_code"))
           .order_by(Order.ordered_at.desc(), Order.id.desc()).limit(bindparam("latest_limit")))


def latest_orders(member, limit=LATEST_ORDERS):
    """A member's newest orders (by customer code within the member's shop)."""
    params = {"member_shop_id": member.shop_id, "member_code": member.customer_code, "latest_limit": limit}
    return list(db.session.scalars(_LATEST, params))


def find_orders(q, limit=50):
    """Orders placed with the e-mail/phone/customer code, or by members who have them; newest first."""
    shop_id = shop_id_for(q.shop)
    conds = []
    if q.email_norm:
        conds.append(Order.email_norm == q.email_norm)
    if q.tel_norm:
        conds.append(Order.tel_norm == q.tel_norm)
    if q.customer_code:
        conds.append(tuple_(Order.shop_id, Order.customer_code).in_(_code_keys(q.customer_code, shop_id)))
    keys = []
    if q.email_norm or q.tel_norm:
        # Also the orders of the members found (placed under another address): keys only, one query.
        key_stmt = select(Member.shop_id, Member.customer_code).where(Member.id.in_(_member_ids(q)))
        if shop_id:
            key_stmt = key_stmt.where(Member.shop_id == _SHOP)
        keys = [tuple(k) for k in db.session.execute(key_stmt.limit(MEMBER_LIMIT), _params(q, shop_id))]
    if keys:
        conds.append(tuple_(Order.shop_id, Order.customer_code).in_(keys))
    stmt = select(Order).where(or_(*conds)).options(joinedload(Order.items))
    if shop_id:
        stmt = stmt.where(Order.shop_id == shop_id)
    stmt = stmt.order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit + 1)
    orders = list(db.session.scalars(stmt).unique())
    return orders[:limit], len(orders) > limit

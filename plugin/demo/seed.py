"""`mallbridge demo seed`: a believable tea shop with members, orders from three channels and staff logins.

The data is generated from a fixed random seed and upserted by key (customer code, order number,
staff e-mail), so running the command twice changes nothing and every machine gets the same shop.
"""
import datetime as dt
import os
import random
from urllib.parse import quote

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from lookups.models import Member, MemberEmail, MemberPhone, Order, OrderItem
from plugin import helpdesk
from plugin.clock import from_jst_naive
from plugin.demo import data as D
from plugin.demo.malls import seed_contact_form, seed_helpdesk_push, seed_mall_accounts
from plugin.extensions import db
from plugin.models import Shop, User
from plugin.normalize import normalize_email, normalize_tel
from sync.fake_mall.seed import DEMO_RAKUTEN, DEMO_YAHOO

RANDOM_SEED = 20261120
MEMBER_COUNT = 300
ORDER_COUNT = 600
MALL_WEIGHTS = (("own", 5), ("rakuten", 3), ("yahoo", 2))
DEFAULT_PASSWORDS = {"admin": "admin-demo-pass", "agent": "agent-demo-pass"}


def _pick_weighted(rng, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _mobile(rng):
    return f"{rng.choice(D.MOBILE_PREFIXES)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"


def _landline(rng, area):
    # Japanese numbers have ten digits: area code + local exchange + subscriber.
    middle = 6 - len(area)
    return f"{area}-{rng.randint(10 ** (middle - 1), 10 ** middle - 1)}-{rng.randint(1000, 9999)}"


def _jst(rng, days_ago, first_hour=8):
    """A naive-UTC timestamp `days_ago` days before the anchor, at a daytime JST hour."""
    day = dt.datetime(*D.ANCHOR) - dt.timedelta(days=days_ago)
    return from_jst_naive(day.replace(hour=rng.randint(first_hour, 22), minute=rng.randint(0, 59)))


def build_members(rng):
    """Member dicts: families sharing an e-mail, some with several e-mails/phones, a few tricky texts."""
    members = []
    for i in range(MEMBER_COUNT):
        sur, given = rng.choice(D.SURNAMES), rng.choice(D.GIVEN_NAMES)
        city, postal, area = rng.choice(D.PLACES)
        if i == 0:  # the family head README.md points newcomers to
            sur, given = D.SURNAMES[0], D.GIVEN_NAMES[1]
        m = {
            "customer_code": str(100001 + i),
            "name": f"{sur[0]} {given[0]}", "name_kana": f"{sur[1]} {given[1]}",
            "postal_code": f"{postal}{rng.randint(10, 99)}",
            "address": f"{city}{rng.randint(1, 5)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}{rng.choice(D.BUILDINGS)}",
            "emails": [f"{given[2]}.{sur[2]}{rng.randint(1, 999)}@{rng.choice(D.EMAIL_DOMAINS)}"],
            "phones": [_mobile(rng) if rng.random() < 0.75 else _landline(rng, area)],
            "registered_at": _jst(rng, rng.randint(30, 2000)),
            "note": rng.choice(D.NOTES) or None,
            # Rakuten hands the shop a relay address per buyer, never the real one.
            "relay": f"{rng.getrandbits(64):016x}s{rng.randint(1, 9)}@{D.RAKUTEN_RELAY}",
        }
        if i == 0:
            m["emails"] = [D.README_EMAIL]
        if i % 25 == 1:
            # A family: same surname, address, home phone and one shared e-mail address.
            head = members[-1]
            m["name"] = f"{head['name'].split()[0]} {given[0]}"
            m["name_kana"] = f"{head['name_kana'].split()[0]} {given[1]}"
            m["postal_code"], m["address"] = head["postal_code"], head["address"]
            m["emails"], m["phones"] = [head["emails"][0]], [head["phones"][0]]
        elif i % 9 == 4:
            m["emails"].append(f"{sur[2]}.{given[2]}@work.{rng.choice(D.EMAIL_DOMAINS)}")
        if i % 7 == 3 and i % 25 != 1:
            m["phones"].append(_landline(rng, area) if m["phones"][0][:2] in ("09", "08", "07") else _mobile(rng))
        members.append(m)
    for index, tricky in zip((7, 77, 177), D.TRICKY):
        members[index].update(tricky)
    return members


def _items(rng):
    picks = rng.sample(D.ITEMS, k=_pick_weighted(rng, ((1, 6), (2, 3), (3, 1))))
    return [{"sku": sku, "name": name, "quantity": rng.choice((1, 1, 1, 2, 3)), "price": price}
            for sku, name, price in picks]


def build_orders(rng, members):
    """Order dicts, numbered in date order the way each channel numbers them."""
    drafts = []
    for _ in range(ORDER_COUNT):
        # A power-law pick: some regulars order often, many members once or never.
        member = members[int(len(members) * rng.random() ** 1.6)]
        drafts.append((rng.randint(0, 720), _pick_weighted(rng, MALL_WEIGHTS), member, rng.random()))
    drafts.sort(key=lambda d: -d[0])
    counters = {"own": 20001, "rakuten": 12345, "yahoo": 10000101}
    orders = []
    for days_ago, mall, member, luck in drafts:
        ordered_at = _jst(rng, days_ago)
        n, counters[mall] = counters[mall], counters[mall] + rng.randint(1, 40)
        date = (ordered_at + dt.timedelta(hours=9)).strftime("%Y%m%d")
        number = {"own": f"YE-{date}-{n}", "rakuten": f"{D.RAKUTEN_SHOP_ID}-{date}-{n:010d}",
                  "yahoo": f"{D.YAHOO_STORE}-{n}"}[mall]
        status = D.STATUSES[mall][0][0] if days_ago < 2 else _pick_weighted(rng, D.STATUSES[mall])
        items = _items(rng)
        subtotal = sum(i["price"] * i["quantity"] for i in items)
        gift = luck < 0.1
        giftee = rng.choice(members)
        orders.append({
            "order_number": number, "mall": mall,
            # Every 12th Rakuten buyer is a guest the shop cannot tie to a member.
            "customer_code": None if mall == "rakuten" and luck > 0.92 else member["customer_code"],
            "name": member["name"], "email": member["relay"] if mall == "rakuten" else member["emails"][0],
            "tel": member["phones"][0], "ordered_at": ordered_at, "status": status,
            "total": subtotal + (0 if subtotal >= D.FREE_SHIPPING_FROM else D.SHIPPING_FEE),
            "shipping_name": giftee["name"] if gift else member["name"],
            "shipping_address": f"〒{(giftee if gift else member)['postal_code']} "
                                f"{(giftee if gift else member)['address']}",
            "tracking_number": f"{rng.randint(10 ** 11, 10 ** 12 - 1)}" if status in D.SHIPPED else None,
            "items": items,
        })
    return orders


def inquiry_customers():
    """The two buyers the fake mall's sample inquiries name an order of (sync/fake_mall/seed.py), as a
    member with that order each: a lookup by such an inquiry's relay address then shows the inquiry,
    its order with items and shipping, and the member, as it does for a real shop."""
    rakuten, yahoo = str(DEMO_RAKUTEN["shop_id"]), DEMO_YAHOO["seller_id"]
    buyers = [
        ("100901", "佐藤 一郎", "サトウ イチロウ", "ichiro.sato@example.net", "090-3141-5926",
         f"{rakuten}-20261120-0000012345", "rakuten", ("tea-bag-50", "水出し緑茶ティーバッグ 5g×50", 1500), 2),
        ("100902", "木村 健太", "キムラ ケンタ", "kenta.kimura@example.org", "080-2718-2818",
         f"{yahoo}-10000123", "yahoo", ("sweet-daifuku", "お茶大福 8個入り", 1680), 3),
    ]
    members, orders = [], []
    for code, name, kana, email, tel, number, mall, (sku, item, price), quantity in buyers:
        # Rakuten hands the shop the buyer's masked relay address, never the real one.
        order_email = f"5a7e0c91d2b3f468s2@{D.RAKUTEN_RELAY}" if mall == "rakuten" else email
        members.append({"customer_code": code, "name": name, "name_kana": kana, "postal_code": "4200031",
                        "address": "静岡県静岡市葵区呉服町2-1-5", "emails": [email], "phones": [tel],
                        "registered_at": from_jst_naive(dt.datetime(2025, 4, 1, 10, 0)), "note": None})
        orders.append({"order_number": number, "mall": mall, "customer_code": code, "name": name, "email": order_email,
                       "tel": tel, "ordered_at": from_jst_naive(dt.datetime(2026, 11, 20, 9, 30)), "status": "発送済み",
                       "total": price * quantity + D.SHIPPING_FEE, "shipping_name": name,
                       "shipping_address": "〒4200031 静岡県静岡市葵区呉服町2-1-5", "tracking_number": "467012345678",
                       "items": [{"sku": sku, "name": item, "quantity": quantity, "price": price}]})
    return members, orders


def _member_row(shop, m):
    row = Member(shop=shop, tel=m["phones"][0], **{k: m[k] for k in (
        "customer_code", "name", "name_kana", "postal_code", "address", "registered_at", "note")})
    row.emails = [MemberEmail(email=e, email_norm=normalize_email(e), position=i) for i, e in enumerate(m["emails"])]
    row.phones = [MemberPhone(tel=p, tel_norm=normalize_tel(p), position=i) for i, p in enumerate(m["phones"])]
    return row


def _order_row(shop, o):
    fields = {k: v for k, v in o.items() if k != "items"}
    row = Order(shop=shop, email_norm=normalize_email(o["email"]), tel_norm=normalize_tel(o["tel"]), **fields)
    row.items = [OrderItem(position=i, **item) for i, item in enumerate(o["items"])]
    return row


def _upsert_user(email, role, password):
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=f"デモ{'管理者' if role == 'admin' else '担当者'}")
        db.session.add(user)
    # Reset on every run so the passwords printed below are always the ones that work.
    user.role, user.active = role, True
    user.set_password(password)


def seed(admin_password=DEFAULT_PASSWORDS["admin"], agent_password=DEFAULT_PASSWORDS["agent"]):
    """Create (or complete) the demo data; returns counts and the generated data for the summary."""
    rng = random.Random(RANDOM_SEED)
    members = build_members(rng)
    orders = build_orders(rng, members)
    buyers, their_orders = inquiry_customers()
    members, orders = members + buyers, orders + their_orders
    shop = db.session.scalar(select(Shop).where(Shop.code == "default"))
    if shop is None:
        shop = Shop(code="default")
        db.session.add(shop)
    shop.name, shop.phone, shop.email = D.SHOP["name"], D.SHOP["phone"], D.SHOP["email"]
    have = set(db.session.scalars(select(Member.customer_code).where(Member.shop == shop)))
    new_members = [_member_row(shop, m) for m in members if m["customer_code"] not in have]
    have = set(db.session.scalars(select(Order.order_number).where(Order.shop == shop)))
    new_orders = [_order_row(shop, o) for o in orders if o["order_number"] not in have]
    db.session.add_all(new_members + new_orders)
    _upsert_user("admin@example.jp", "admin", admin_password)
    _upsert_user("agent@example.jp", "agent", agent_password)
    db.session.commit()
    environment = helpdesk.configure_demo()
    db.session.commit()

    # The fake mall's accounts and a sample form, so `make run` shows mall sync and BCC forwarding.
    malls = seed_mall_accounts() if current_app.config.get("DEMO") else []
    if current_app.config.get("DEMO"):
        # …and the fake helpdesk's address book, so the demo shows members arriving there.
        environment = seed_helpdesk_push()
    seed_contact_form(shop)
    return {"malls": malls, "members": members, "orders": orders, "new_members": len(new_members),
            "new_orders": len(new_orders), "shop": shop, "helpdesk": environment}


def sample_urls(base, members, orders):
    """Lookup URLs that show something interesting in the seeded data."""
    family = members[1]["emails"][0]
    multi = next(m for m in members if len(m["phones"]) > 1)
    rakuten = next(o for o in orders if o["mall"] == "rakuten" and o["customer_code"])
    yahoo = next(o for o in orders if o["mall"] == "yahoo" and o["email"] != family)
    return [
        ("家族で共有のメールアドレス", f"{base}/lookup/members?email={quote(family, safe='@')}"),
        ("楽天のマスクされたアドレス", f"{base}/lookup/orders?email={quote(rakuten['email'], safe='@')}"),
        ("Yahoo! の購入者", f"{base}/lookup/members?email={quote(yahoo['email'], safe='@')}"),
        ("電話番号（固定・携帯どちらでも）", f"{base}/lookup/members?tel={quote(multi['phones'][-1], safe='@')}"),
        ("会員番号", f"{base}/lookup/orders?customer_code={members[0]['customer_code']}"),
        ("エスケープ表示の確認", f"{base}/lookup/members?customer_code={members[7]['customer_code']}"),
        ("ebisumart 互換 URL", f"{base}/default/admin_relation_member_search.html?email={quote(family, safe='@')}"),
    ]


@click.group("demo", help="Demo data for trying mallbridge locally.")
def demo():
    """The `demo` command group."""


@demo.command("seed")
@click.option("--admin-password", default=DEFAULT_PASSWORDS["admin"], show_default=True)
@click.option("--agent-password", default=DEFAULT_PASSWORDS["agent"], show_default=True)
@click.option("--force", is_flag=True, help="Seed even without MALLBRIDGE_DEMO=1 (adds sample rows to this DB).")
@with_appcontext
def seed_command(admin_password, agent_password, force):
    """Sample shop, members, orders and admin/agent logins; safe to run again."""
    cfg = current_app.config
    if not (cfg.get("DEMO") or cfg.get("TESTING") or force):
        raise click.UsageError("demo seed adds sample customers; run it with MALLBRIDGE_DEMO=1, "
                               "or pass --force to seed this database anyway.")
    for role, password in (("admin", admin_password), ("agent", agent_password)):
        if len(password) < 8:
            raise click.BadParameter("at least 8 characters", param_hint=f"--{role}-password")
    result = seed(admin_password, agent_password)
    click.echo(f"shop: {result['shop'].name} (code default)")
    click.echo(f"members: {len(result['members'])} ({result['new_members']} new), "
               f"orders: {len(result['orders'])} ({result['new_orders']} new)")
    env = result["helpdesk"]
    if env is not None:
        click.echo(f"helpdesk: demo environment active ({getattr(env, 'url', env)}, "
                   f"forwarding to {getattr(env, 'forward_to', '-')})")
    if result["malls"]:
        click.echo(f"mall accounts (fake mall): {', '.join(result['malls'])}")
    if env is not None and getattr(env, "push", False):
        click.echo(f"address book: members are pushed into book {env.address_book_id} of the fake helpdesk "
                   f"({current_app.config.get('FAKE_HELPDESK_URL')}/)")
    click.echo("inquiry form: /forms/contact")
    click.echo("logins:")
    click.echo(f"  admin  admin@example.jp  {admin_password}")
    click.echo(f"  agent  agent@example.jp  {agent_password}")
    base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('MALLBRIDGE_DEMO_PORT', '5000')}"
    click.echo("sample lookups:")
    for label, url in sample_urls(base, result["members"], result["orders"]):
        click.echo(f"  {label}: {url}")


COMMANDS = [demo]

"""A database for the push benchmark: N members (a fifth with a second address), their orders (a third
on Rakuten with a masked address) and a few mall inquiries, written with bulk inserts."""
import datetime as dt
import random

from flask_migrate import upgrade
from sqlalchemy import insert, select

from lookups.models import Member, MemberEmail, MemberPhone, Order
from plugin import create_app, helpdesk
from plugin.extensions import db
from plugin.models import Shop

BATCH = 5000
TOKEN = "demo-helpdesk-token"  # the fake helpdesk's demo token


def config(url, api_base, key, rate_limit):
    """The app config of the benchmark's processes."""
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-not-for-production-use", "ENCRYPTION_KEY": key,
            "HELPDESK_API_BASE": api_base, "HELPDESK_RATE_LIMIT": rate_limit, "REPLY_DOMAIN": "reply.localhost"}


def prepare(url, api_base, key, members, rate_limit):
    """Migrate, fill and point the production environment's push at the fake (book 1, push on)."""
    app = create_app(config(url, api_base, key, rate_limit))
    with app.app_context():
        upgrade(revision="heads")
        fill(members)
        helpdesk.update_environment("production", {"url": "https://bench.relationapp.jp", "api_token": TOKEN,
                                                   "address_book_id": 1, "push": True}, actor="bench")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def fill(n, seed=13):
    """n members with e-mails, phones and orders (bulk inserts, one transaction per batch)."""
    rng = random.Random(seed)
    shop_id = db.session.scalar(select(Shop.id).where(Shop.code == "default"))
    now = dt.datetime(2026, 11, 20, 3, 0)
    for start in range(0, n, BATCH):
        ids = range(start + 1, min(start + BATCH, n) + 1)
        db.session.execute(insert(Member), [
            {"id": i, "shop_id": shop_id, "customer_code": f"{100000 + i}", "name": f"山田 太郎{i}",
             "name_kana": "ヤマダ タロウ", "tel": f"090-{i // 10000:04d}-{i % 10000:04d}", "created_at": now,
             "updated_at": now} for i in ids])
        emails = [{"member_id": i, "position": 0, "email": f"m{i}@example.jp", "email_norm": f"m{i}@example.jp"}
                  for i in ids]
        emails += [{"member_id": i, "position": 1, "email": f"w{i}@work.example.jp",
                    "email_norm": f"w{i}@work.example.jp"} for i in ids if i % 5 == 0]
        db.session.execute(insert(MemberEmail), emails)
        db.session.execute(insert(MemberPhone), [
            {"member_id": i, "position": 0, "tel": f"090-{i // 10000:04d}-{i % 10000:04d}",
             "tel_norm": f"090{i // 10000:04d}{i % 10000:04d}"} for i in ids])
        orders = []
        for i in ids:
            if i % 3 == 0:
                masked = f"{rng.getrandbits(48):012x}s1@pc.fw.rakuten.ne.jp"
                orders.append({"shop_id": shop_id, "order_number": f"R{i}", "mall": "rakuten",
                               "customer_code": f"{100000 + i}", "name": f"山田 太郎{i}", "email": masked,
                               "email_norm": masked, "ordered_at": now - dt.timedelta(days=i % 300),
                               "created_at": now, "updated_at": now})
        if orders:
            db.session.execute(insert(Order), orders)
        db.session.commit()

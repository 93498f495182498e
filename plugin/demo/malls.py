"""Demo mall accounts (the fake mall's Rakuten shop and Yahoo! store, so `make run` shows mall sync)
and the demo helpdesk's address book (the fake helpdesk, so it shows members arriving there)."""
from sqlalchemy import select

from plugin import helpdesk
from plugin.extensions import db
from plugin.forms.service import find_form, save_form
from plugin.helpdesk.fake.seed import DEMO_BOOK, DEMO_TOKEN
from sync import accounts
from sync.fake_mall.seed import DEMO_RAKUTEN, DEMO_YAHOO, demo_public_key_pem
from sync.models import MallAccount


def demo_account_values(mall):
    """The fields `sync.accounts.add` takes for the fake mall's demo Rakuten shop or Yahoo! store."""
    if mall == "rakuten":
        return {"rakuten_shop_id": str(DEMO_RAKUTEN["shop_id"]), "service_secret": DEMO_RAKUTEN["service_secret"],
                "license_key": DEMO_RAKUTEN["license_key"]}
    return {"seller_id": DEMO_YAHOO["seller_id"], "client_id": DEMO_YAHOO["client_id"],
            "client_secret": DEMO_YAHOO["client_secret"], "refresh_token": DEMO_YAHOO["refresh_token"],
            "public_key": demo_public_key_pem(), "key_version": str(DEMO_YAHOO["key_version"])}


def seed_mall_accounts(shop_code="default"):
    """Add the fake mall's demo accounts to a shop unless they exist; returns the names added."""
    added = []
    for mall, column, key in (("rakuten", MallAccount.rakuten_shop_id, "rakuten_shop_id"),
                              ("yahoo", MallAccount.seller_id, "seller_id")):
        values = demo_account_values(mall)
        exists = db.session.scalar(select(MallAccount).where(MallAccount.mall == mall, column == values[key]))
        if exists is None:
            accounts.add(mall, shop_code, values)
            added.append(mall)
    db.session.commit()
    return added


def seed_contact_form(shop):
    """A hosted inquiry form `/forms/contact` whose mail reaches the inbox by BCC; None if it exists."""
    if find_form("contact") is not None:
        return None
    form = save_form(slug="contact", shop=shop, to=shop.email or "shop@example.jp",
                     title="お問い合わせ", from_address=shop.email or "")
    db.session.commit()
    return form


def seed_helpdesk_push(actor="demo seed"):
    """Point the demo environment's address-book push at `mallbridge fake-helpdesk`: token, book, on."""
    helpdesk.update_environment("demo", {"api_token": DEMO_TOKEN, "address_book_id": DEMO_BOOK, "push": True},
                                actor=actor)
    db.session.commit()
    return helpdesk.environment("demo")

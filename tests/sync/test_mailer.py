"""Mail per mall message: identities, signed reply addresses, threading and safe headers."""
import email
from email import policy

from plugin import mail_templates
from plugin.extensions import db
from sync import identity, mailer
from sync.messages import MallFile, MallMessage
from tests.sync.helpers import rakuten_account


def _parsed(mail):
    return email.message_from_bytes(mail.as_bytes(), policy=policy.default)


def _msg(**kw):
    base = {"mall": "rakuten", "inquiry_id": "391234-20261120-1", "message_id": "q", "sender": "customer",
                "text": "在庫は\nありますか", "customer_name": "山田 花子", "customer_identity": "abc@pc.fw.rakuten.ne.jp",
                "inquiry_type": "受注問い合わせ", "category": "配送", "item_name": "有機緑茶 100g",
                "order_number": "391234-20261120-0001"}
    base.update(kw)
    return MallMessage(**base)


def test_message_id_is_deterministic(app):
    """The same mall message always gets `<mall.shopId.inquiryId.messageId@REPLY_DOMAIN>`."""
    assert identity.mail_message_id("rakuten", "391234", "391234-1", "q") == "<rakuten.391234.391234-1.q@reply.localhost>"


def test_reply_address_round_trip_and_forgery(app):
    """A signed reply address names mall, account and customer; a tampered one is refused."""
    addr = identity.reply_address("yahoo", 7, "0123456789ab")
    assert addr == addr.lower() and len(addr.split("@")[0]) <= 64
    assert identity.read_reply_address(addr.upper()) == ("yahoo", 7, "0123456789ab")
    assert identity.read_reply_address(addr.replace("y7", "y8")) is None
    assert identity.read_reply_address("r+nonsense@reply.localhost") is None


def test_follow_up_threads_and_shows_order_link(app):
    """A follow-up has Re:, In-Reply-To = first ID, References chain, the order header and back-office link."""
    account = rakuten_account()
    first = identity.mail_message_id("rakuten", "391234", "391234-20261120-1", "q")
    mail = mailer.build(account, _msg(message_id="0"), to="inbox@example.jp", subject="【楽天】受注問い合わせ 有機緑茶 100g",
                        first_id=first, chain=[first])
    mail = _parsed(mail)
    assert str(mail["Subject"]).startswith("Re: ")
    assert mail["In-Reply-To"] == first and first in mail["References"]
    assert mail["X-Mallbridge-Order"] == "391234-20261120-0001"
    body = mail.get_body().get_content().replace("\r\n", "\n")
    assert "orderNumber=391234-20261120-0001" in body and "在庫は\nありますか" in body


def test_shop_reply_is_marked_and_from_the_shop(app):
    """A reply the shop made on the mall comes from the shop and is marked as the shop's."""
    account = rakuten_account()
    mail = _parsed(mailer.build(account, _msg(sender="shop", message_id="0"), to="inbox@example.jp", subject="件名"))
    assert mailer.SHOP_MARK in str(mail["Subject"])
    assert mail["From"].addresses[0].display_name == account.shop.name


def test_customer_mode_uses_masked_address_with_signed_reply_to(app):
    """from_mode=customer puts the masked relay address in From and keeps the signed Reply-To."""
    account = rakuten_account()
    mail = mailer.build(account, _msg(customer_address="abc@pc.fw.rakuten.ne.jp"), to="inbox@example.jp",
                        subject="s", from_mode="customer")
    mail = _parsed(mail)
    assert mail["From"].addresses[0].addr_spec == "abc@pc.fw.rakuten.ne.jp"
    assert mail["Reply-To"].addresses[0].addr_spec.startswith("r+r")


def test_large_attachment_becomes_a_note(app):
    """An attachment that was not fetched is described in the body with the mall link instead."""
    account = rakuten_account()
    files = (MallFile("big.pdf", "p", note="5120KBを超えるため添付していません"),
             MallFile("photo.png", "k", 3, "image/png", b"png"))
    mail = _parsed(mailer.build(account, _msg(attachments=files), to="inbox@example.jp", subject="s"))
    body = mail.get_body().get_content().replace("\r\n", "\n")
    assert "big.pdf" in body and "5120KB" in body
    names = [p.get_filename() for p in mail.iter_attachments()]
    assert names == ["photo.png"]
    db.session.rollback()


def test_rakuten_links_follow_the_rms_and_r_messe_patterns(app):
    """Rakuten: the order opens RMS's order detail by number, the inquiry its R-Messe page, the item its store page."""
    account = rakuten_account()
    link = mailer.links(account, _msg(item_url="/greentea-honpo/green-tea-100/"))
    assert link["order"] == ("https://order-rp.rms.rakuten.co.jp/order-rb/individual-order-detail-sc/init"
                             "?orderNumber=391234-20261120-0001")
    assert link["inquiry"] == "https://rmesse.rms.rakuten.co.jp/inquiry/391234-20261120-1"
    assert link["item"] == "https://item.rakuten.co.jp/greentea-honpo/green-tea-100/"
    assert "order" not in mailer.links(account, _msg(order_number=None))


def test_yahoo_links_use_the_store_creator_pro_account(app):
    """Yahoo!: order detail and Q&A pages live under pro.store.yahoo.co.jp/pro.<seller>, the item on the storefront."""
    from tests.sync.helpers import yahoo_account

    account = yahoo_account()
    msg = _msg(mall="yahoo", inquiry_id="33c2dfab10ef4a", order_number="mallbridge-demo-10000123",
               item_code="matcha-latte-200", item_url=None)
    link = mailer.links(account, msg)
    assert link["order"] == ("https://pro.store.yahoo.co.jp/pro.mallbridge-demo/order/manage/detail/"
                             "mallbridge-demo-10000123")
    assert link["inquiry"].startswith("https://pro.store.yahoo.co.jp/pro.mallbridge-demo/")
    assert "33c2dfab10ef4a" in link["inquiry"]
    assert link["item"] == "https://store.shopping.yahoo.co.jp/mallbridge-demo/matcha-latte-200.html"


def test_mall_values_cannot_change_which_page_a_link_opens(app):
    """An order number or item code with spaces, slashes or query characters is percent-encoded in the link."""
    account = rakuten_account()
    link = mailer.links(account, _msg(order_number="1-2 3&x=/y", inquiry_id="a/b?c"))
    assert link["order"].endswith("orderNumber=1-2%203%26x%3D%2Fy")
    assert link["inquiry"].endswith("/inquiry/a%2Fb%3Fc")


def test_body_shows_the_order_and_inquiry_links(app):
    """The mail body names the order with its back-office link and offers the mall's inquiry page."""
    account = rakuten_account()
    body = mailer.body(account, _msg())
    assert "注文番号: 391234-20261120-0001  https://order-rp.rms.rakuten.co.jp/" in body
    assert "モールで開く: https://rmesse.rms.rakuten.co.jp/inquiry/391234-20261120-1" in body
    db.session.rollback()


def test_default_subject_carries_the_inquiry_number(app):
    """Two 店舗問い合わせ with the same words get distinct subjects: the inquiry number joins them."""
    account = rakuten_account()
    first = mailer.base_subject(account.shop_id, _msg(inquiry_type="店舗問い合わせ", item_name=None,
                                                      inquiry_id="391234-20261128-1"))
    second = mailer.base_subject(account.shop_id, _msg(inquiry_type="店舗問い合わせ", item_name=None,
                                                       inquiry_id="391234-20261128-2"))
    assert first == "【楽天】店舗問い合わせ [391234-20261128-1]"
    assert second == "【楽天】店舗問い合わせ [391234-20261128-2]"
    assert mailer.base_subject(account.shop_id, _msg()) == "【楽天】受注問い合わせ 有機緑茶 100g [391234-20261120-1]"


def test_shop_templates_keep_working_and_never_lose_the_number(app):
    """A shop template saved before the number was in the default still renders, with the number
    added; one that places the number itself gets it once."""
    account = rakuten_account()
    mail_templates.save(account.shop_id, "mall_subject", "[店舗名] {{ mall.label }} {{ inquiry.type }}", "")
    db.session.commit()
    assert mailer.base_subject(account.shop_id, _msg()) == f"{account.shop.name} 楽天 受注問い合わせ [391234-20261120-1]"
    mail_templates.save(account.shop_id, "mall_subject", "No.{{ inquiry.id }} {{ inquiry.item_name }}", "")
    db.session.commit()
    assert mailer.base_subject(account.shop_id, _msg()) == "No.391234-20261120-1 有機緑茶 100g"

"""What a member or a mall customer becomes in the address book (the field mapping)."""
import datetime as dt

from plugin.extensions import db
from plugin.helpdesk import mapping
from plugin.helpdesk.customers import Customers
from tests import factories
from tests.helpdesk.helpers import inquiry, rakuten_account, relay

MASK = "pc.fw.rakuten.ne.jp"


def _member_contact(member):
    return Customers(db.session).members([member.id])[0]


def test_member_fields(app):
    """system_id1 = customer code; name and kana split at the space; first e-mail and phone; the rest archived."""
    member = factories.make_member("100001", emails=("taro@example.jp", "work@example.jp"),
                                   phones=("090-1111-2222", "03-1234-5678"))
    body = mapping.body(_member_contact(member))
    assert body == {"last_name": "山田", "first_name": "太郎", "last_name_kana": "ヤマダ", "first_name_kana": "タロウ",
                    "emails": [{"email": "taro@example.jp"}], "archived_emails": [{"email": "work@example.jp"}],
                    "tels": [{"tel": "090-1111-2222"}], "archived_tels": [{"tel": "03-1234-5678"}],
                    "system_id1": "100001"}


def test_names_outside_jis_x_0208_are_kept(app):
    """髙橋 𠮷 and a name without a space are sent as they are (the latter all in last_name)."""
    odd = factories.make_member("2", emails=("y@example.jp",), name="髙橋 𠮷", name_kana="タカハシ ヨシ")
    single = factories.make_member("3", emails=("z@example.jp",), name="ＡＢＣ商店", name_kana=None)
    assert mapping.body(_member_contact(odd))["last_name"] == "髙橋"
    assert mapping.body(_member_contact(odd))["first_name"] == "𠮷"
    body = mapping.body(_member_contact(single))
    assert (body["last_name"], body["first_name"], body["last_name_kana"]) == ("ＡＢＣ商店", "", "")


def test_other_shops_prefix_the_customer_code(app):
    """Customer codes are unique per shop: outside `default` the system_id1 is `<shop>:<code>`."""
    member = factories.make_member("100001", shop=factories.make_shop("tea"), emails=("t@example.jp",))
    assert _member_contact(member).system_id1 == "tea:100001"


def test_archived_addresses_newest_first_at_most_six(app):
    """Other addresses, masked Rakuten addresses of its orders and relay addresses of its inquiries,
    newest first; with more than 6 the oldest are left out."""
    member = factories.make_member("M1", emails=("main@example.jp", "second@example.jp"))
    account = rakuten_account()
    for day in range(1, 7):  # six Rakuten orders, each with its own masked address
        factories.make_order(f"R{day}", customer_code="M1", mall="rakuten", email=f"m{day}@{MASK}",
                             ordered_at=dt.datetime(2026, 11, day, 3, 0))
    asked = inquiry(account, "391234-20261120-1", address=f"m6@{MASK}", order_number="R6", days_ago=0)
    contact = _member_contact(member)
    assert contact.email == "main@example.jp"
    assert len(contact.archived_emails) == mapping.MAX_ARCHIVED_EMAILS
    # The member record is newest (updated now), then the inquiry of 11-20, then orders newest first.
    assert contact.archived_emails == ("second@example.jp", relay(asked), f"m6@{MASK}", f"m5@{MASK}",
                                       f"m4@{MASK}", f"m3@{MASK}")
    assert f"m1@{MASK}" not in contact.archived_emails


def test_a_member_without_email_gets_its_newest_mall_address(app):
    """A Rakuten-only member (no own e-mail) gets its newest masked or relay address as main e-mail."""
    member = factories.make_member("M2", emails=())
    factories.make_order("R9", customer_code="M2", mall="rakuten", email=f"only@{MASK}")
    contact = _member_contact(member)
    assert contact.email == f"only@{MASK}" and contact.archived_emails == ()


def test_at_most_three_archived_phones(app):
    """The member's other phones then its orders' phones, newest first, at most 3, no repeats."""
    member = factories.make_member("M3", phones=("090-0000-0001", "090-0000-0002", "09000000001"))
    for day in range(1, 5):
        factories.make_order(f"O{day}", customer_code="M3", tel=f"080-0000-000{day}",
                             ordered_at=dt.datetime(2026, 11, day, 3, 0))
    contact = _member_contact(member)
    assert contact.tel == "090-0000-0001"
    assert contact.archived_tels == ("090-0000-0002", "080-0000-0004", "080-0000-0003")


def test_relay_address_of_a_disabled_account_is_not_pushed(app):
    """An inquiry of a disabled mall account adds no relay address (it resolves to nobody any more)."""
    member = factories.make_member("M4", emails=("m4@example.jp",))
    factories.make_order("R40", customer_code="M4", mall="rakuten", email=f"x@{MASK}")
    account = rakuten_account(enabled=False)
    asked = inquiry(account, "391234-1", address=f"x@{MASK}", order_number="R40")
    contact = _member_contact(member)
    assert relay(asked) not in contact.archived_emails and f"x@{MASK}" in contact.archived_emails
    assert Customers(db.session).resolve([asked]) == []


def test_inquiry_resolves_to_the_member_of_its_order_or_masked_address(app):
    """By order number first, else by the masked address on one of the member's orders."""
    member = factories.make_member("M5", emails=("m5@example.jp",))
    factories.make_order("R50", customer_code="M5", mall="rakuten", email=f"m5@{MASK}")
    account = rakuten_account()
    by_order = inquiry(account, "q1", address=f"other@{MASK}", order_number="R50")
    by_address = inquiry(account, "q2", address=f"M5@{MASK}")
    assert Customers(db.session).resolve([by_order, by_address]) == [("member", member.id), ("member", member.id)]


def test_mall_customer_without_member(app):
    """Only an inquiry: system_id1 `<mall>-<account>-<key>`, the mall's name, the relay address as
    e-mail, the masked address archived, the phone of a guest order."""
    factories.make_order("R60", customer_code=None, mall="rakuten", email=f"guest@{MASK}", tel="080-9999-0000")
    account = rakuten_account()
    asked = inquiry(account, "q3", name="佐藤 一郎", address=f"guest@{MASK}", order_number="R60")
    ((kind, contact),) = Customers(db.session).resolve([asked])
    assert kind == "mall"
    assert contact.system_id1 == f"rakuten-{account.id}-{asked.customer}" and mapping.is_mall_contact(contact.system_id1)
    assert mapping.body(contact)["last_name"] == "佐藤" and contact.email == relay(asked)
    assert contact.archived_emails == (f"guest@{MASK}",) and contact.tel == "080-9999-0000"


def test_content_hash_follows_the_content(app):
    """Same content, same hash; any sent field changes it."""
    member = factories.make_member("M7", emails=("a@example.jp",))
    first = _member_contact(member)
    assert mapping.content_hash(first) == mapping.content_hash(_member_contact(member))
    member.name = "山田 次郎"
    db.session.commit()
    assert mapping.content_hash(first) != mapping.content_hash(_member_contact(member))

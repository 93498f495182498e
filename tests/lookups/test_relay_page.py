"""The lookup page of a mall customer (opened with the ticket's relay address) starts with the inquiry."""
import datetime as dt

import pytest
from sqlalchemy import select

from plugin.extensions import db
from sync.models import MallInquiry
from tests import factories
from tests.lookups.test_relay import MASKED, ORDER, hanako  # noqa: F401 - the fixture is shared
from tests.sync.helpers import deliver_rakuten, reply_address


@pytest.mark.parametrize("kind", ["members", "orders"])
def test_inquiry_first_then_its_order_then_member_and_other_orders(hanako, mall, client, auth, kind):  # noqa: F811
    """Newest inquiry first with its state and mall link, then the order with items, shipping and
    tracking, then the member (or the customer's orders), all in Japanese."""
    _, mail, number = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    auth.login()
    page = client.get(f"/lookup/{kind}", query_string={"email": reply_address(mail)}).get_data(as_text=True)
    inquiry, order, rest = page.index("お問い合わせ</h2>"), page.index("問い合わせの注文"), page.index(
        "山田 花子</a>" if kind == "members" else "このお客様の受注")
    assert inquiry < order < rest
    section = page[inquiry:order]
    assert number in section and "未完了" in section and "商品問い合わせ" in section
    assert 'href="https://' in section and 'target="_blank"' in section
    card = page[order:rest]
    assert "有機緑茶 100g" in card and "東京都千代田区1-1" in card and "1234-5678-9012" in card


def test_newest_inquiry_comes_first(hanako, mall, client, auth):  # noqa: F811
    """Two inquiries of one customer: the newer one heads the page, the older one follows."""
    account, mail, first = deliver_rakuten(mall, order_number=ORDER, user_mask_email=MASKED)
    older = db.session.scalar(select(MallInquiry).where(MallInquiry.inquiry_id == first))
    db.session.add(MallInquiry(account_id=account.id, inquiry_id="391234-20261130-9", customer=older.customer,
                               subject="【楽天】その他 送料について [391234-20261130-9]", inbox=older.inbox,
                               customer_address=MASKED, started_at=older.started_at + dt.timedelta(days=1)))
    db.session.commit()
    auth.login()
    page = client.get("/lookup/members", query_string={"email": reply_address(mail)}).get_data(as_text=True)
    assert 0 < page.index("391234-20261130-9") < page.index(first)
    assert "「その他」" in page  # the lead line names the newest inquiry's type


def test_plain_e_mail_page_has_no_inquiry_section(client, auth):
    """A lookup by an ordinary address looks as before: no inquiry section."""
    factories.make_member()
    auth.login()
    page = client.get("/lookup/members?email=taro@example.jp").get_data(as_text=True)
    assert "お問い合わせ</h2>" not in page and "山田 太郎" in page

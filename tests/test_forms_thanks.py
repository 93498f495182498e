"""An HTML post is answered with a redirect (303) to the thank-you page: showing it again sends nothing."""
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from plugin.extensions import db
from plugin.forms.models import FormSubmission
from plugin.outbox import OutboxMessage
from tests.forms_support import VALID, make_contact_form


@pytest.fixture
def contact(app):
    """The 'contact' form of the default shop (tests.forms_support)."""
    return make_contact_form()


def _counts():
    return (db.session.scalar(select(func.count()).select_from(FormSubmission)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)))


def test_post_redirects_and_reloading_the_thanks_page_sends_nothing(client, contact):
    """303 to /forms/contact/thanks; loading that page three times leaves one submission and its two mails."""
    res = client.post("/forms/contact", data=VALID, headers={"Origin": "https://shop.example.jp"})
    assert res.status_code == 303
    location = urlsplit(res.headers["Location"])
    assert location.path == "/forms/contact/thanks"
    [submission] = db.session.scalars(select(FormSubmission)).all()
    for _ in range(3):
        page = client.get(res.headers["Location"])
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "お問い合わせを受け付けました。" in html
        assert f"受付番号: <strong>{submission.id}</strong>" in html
        assert "受付確認のメールをお送りしました" in html
    assert _counts() == (1, 2)


def test_json_posts_keep_their_documented_answer(client, contact):
    """fetch() clients still get 201 with the id and message (docs/forms.md), no redirect."""
    res = client.post("/forms/contact", json=VALID)
    assert res.status_code == 201 and set(res.get_json()) == {"id", "message"}


def test_an_edited_receipt_shows_a_plain_thank_you(client, contact):
    """A tampered or foreign receipt link shows the thanks without a number or a promise of mail."""
    res = client.post("/forms/contact", data=VALID)
    token = parse_qs(urlsplit(res.headers["Location"]).query)["r"][0]
    html = client.get(f"/forms/contact/thanks?r={token[:-2]}xx").get_data(as_text=True)
    assert "お問い合わせを受け付けました。" in html and "受付番号" not in html and "受付確認のメール" not in html
    assert client.get("/forms/contact/thanks").status_code == 200
    assert client.get("/forms/nope/thanks").status_code == 404


def test_thanks_page_promises_no_mail_when_no_acknowledgement_goes_out(client, contact):
    """A form without acknowledgements (or an address past its daily limit) is not told a mail is coming."""
    contact.ack_template = None
    db.session.commit()
    page = client.post("/forms/contact", data=VALID, follow_redirects=True).get_data(as_text=True)
    assert "受け付けました" in page and "受付確認のメール" not in page

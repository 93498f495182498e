"""Inquiry forms: hosted form, HTML/JSON submissions, spam and size limits, CORS, outbox mail."""
import base64
import io
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.forms import service
from plugin.forms.models import FormSubmission
from plugin.outbox import OutboxMessage
from tests.forms_support import INBOX, VALID, make_contact_form

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64


@pytest.fixture
def contact(app):
    """A form 'contact' of the default shop mailing shop@example.jp, BCC = the helpdesk forwarding address."""
    return make_contact_form()


def _outbox():
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def _parse(row):
    return BytesParser(policy=policy.default).parsebytes(row.raw)


def _submissions():
    return db.session.scalars(select(FormSubmission)).all()


def test_get_renders_accessible_japanese_form(client, contact):
    """GET shows labels, required markers, the honeypot hidden from screen readers, no CSRF needed."""
    res = client.get("/forms/contact")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert '<html lang="ja">' in html
    assert '<label for="f-name">お名前<span class="req">必須</span>' in html
    assert 'id="f-email" name="email"' in html and 'aria-required="true"' in html
    assert '<div class="hp" aria-hidden="true">' in html and 'tabindex="-1"' in html
    assert 'enctype="multipart/form-data"' in html


def test_get_json_describes_fields(client, contact):
    """GET with Accept: application/json lists the fields, so a shop site can build its own form."""
    res = client.get("/forms/contact", headers={"Accept": "application/json"})
    names = [f["name"] for f in res.get_json()["fields"]]
    assert names == ["name", "email", "tel", "order_number", "message", "attachment"]


def test_html_submission_stores_and_queues_mail_to_shop_and_ack(client, contact):
    """A valid post stores the submission and queues a mail to the shop (inbox in BCC, Reply-To customer) and an ack."""
    res = client.post("/forms/contact", data=VALID, follow_redirects=True)
    assert res.status_code == 200
    assert "お問い合わせを受け付けました" in res.get_data(as_text=True)
    [sub] = _submissions()
    assert sub.values["message"] == VALID["message"] and not sub.spam and sub.ip == "127.0.0.1"
    shop_mail, ack = _outbox()
    assert sub.outbox_ids == [shop_mail.id, ack.id]
    assert shop_mail.recipients == ["shop@example.jp", "staff@example.jp", INBOX]
    msg = _parse(shop_mail)
    assert msg["Bcc"] is None and INBOX.encode() not in shop_mail.raw
    assert msg["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert msg["Reply-To"].addresses[0].display_name == "山田 太郎"
    assert msg["From"].addresses[0].addr_spec == "info@example.jp"
    assert msg["Subject"] == f"お問い合わせ（山田 太郎 様・受付番号 {sub.id}）"
    assert msg["X-Mallbridge-Order"] == "1001"
    assert "急ぎです。" in msg.get_body().get_content()
    assert ack.recipients == ["taro@example.jp"]
    ack_msg = _parse(ack)
    assert ack_msg["Subject"] == "【本店】お問い合わせありがとうございます"
    assert ack_msg["Auto-Submitted"] == "auto-replied"
    assert "山田 太郎 様" in ack_msg.get_body().get_content()


def test_json_submission_returns_201(client, contact):
    """A JSON post gets 201 with the submission id."""
    res = client.post("/forms/contact", json=VALID)
    assert res.status_code == 201
    assert res.get_json()["id"] == _submissions()[0].id


def test_invalid_html_shows_form_again_with_messages_and_values(client, contact):
    """Invalid values: the form again (422) with Japanese messages tied to the fields, values kept."""
    res = client.post("/forms/contact", data={**VALID, "email": "taro@", "message": ""})
    html = res.get_data(as_text=True)
    assert res.status_code == 422
    assert "メールアドレスの形式が正しくありません" in html and "お問い合わせ内容を入力してください。" in html
    assert 'aria-invalid="true" aria-describedby="e-email"' in html and 'id="e-email"' in html
    assert 'value="山田 太郎"' in html and 'value="taro@"' in html
    assert _submissions() == [] and _outbox() == []


def test_invalid_json_422_names_fields(client, contact):
    """Invalid JSON values: 422 with an error and a message per field."""
    res = client.post("/forms/contact", json={"name": "", "email": "x", "tel": "abc", "message": ["x"]})
    body = res.get_json()
    assert res.status_code == 422 and body["error"]
    assert set(body["fields"]) == {"name", "email", "tel", "message"}


def test_malformed_json_is_400_not_500(client, contact):
    """A body that is not a JSON object gets a JSON 400."""
    res = client.post("/forms/contact", data="[1,2", content_type="application/json")
    assert res.status_code == 400 and "JSON" in res.get_json()["error"]


def test_crlf_in_name_never_becomes_a_header(client, contact):
    """A name carrying CR/LF and 'Bcc:' stays inside the display name."""
    res = client.post("/forms/contact", json={**VALID, "name": "太郎\r\nBcc: evil@example.com"})
    assert res.status_code == 422  # a name must be one line
    res = client.post("/forms/contact", json={**VALID, "name": "太郎\u2028Bcc: evil@example.com"})
    assert res.status_code == 201
    for row in _outbox():
        assert "evil@example.com" not in row.recipients
        assert all(name.lower() != "bcc" for name in _parse(row))


def test_honeypot_pretends_success_stores_spam_sends_nothing(client, contact):
    """A filled honeypot: success answer, stored flagged as spam, nothing queued."""
    res = client.post("/forms/contact", data={**VALID, "website": "http://spam.example"}, follow_redirects=True)
    assert res.status_code == 200 and "受け付けました" in res.get_data(as_text=True)
    [sub] = _submissions()
    assert sub.spam and _outbox() == []


def test_ten_megabyte_body_is_413(client, contact):
    """A 10 MB body gets a Japanese 413, as HTML and as JSON, and nothing is stored."""
    big = b"x" * (10 * 1024 * 1024)
    # The multipart body is built by hand: the test client would spool it to an unclosed temp file.
    body = (b'--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nTaro\r\n--B\r\n'
            b'Content-Disposition: form-data; name="attachment"; filename="big.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n%PDF-" + big + b"\r\n--B--\r\n")
    res = client.post("/forms/contact", data=body, content_type="multipart/form-data; boundary=B")
    assert res.status_code == 413 and "大きすぎます" in res.get_data(as_text=True)
    res = client.post("/forms/contact", data=b'{"message": "' + big + b'"}', content_type="application/json")
    assert res.status_code == 413 and "大きすぎます" in res.get_json()["error"]
    assert _submissions() == []


def test_unknown_slug_is_404(client, app):
    """An unknown slug is a 404 page, or a JSON 404 for JSON posts."""
    assert client.get("/forms/nope").status_code == 404
    res = client.post("/forms/nope", json=VALID)
    assert res.status_code == 404 and res.get_json()["error"]


def test_cors_only_for_configured_origins(client, contact):
    """Preflight and posts from a configured origin get CORS headers; other origins are refused."""
    pre = client.options("/forms/contact", headers={
        "Origin": "https://shop.example.jp", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, X-Evil"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "https://shop.example.jp"
    assert pre.headers["Access-Control-Allow-Headers"] == "content-type"
    res = client.post("/forms/contact", json=VALID, headers={"Origin": "https://shop.example.jp"})
    assert res.status_code == 201 and res.headers["Access-Control-Allow-Origin"] == "https://shop.example.jp"
    bad = client.options("/forms/contact", headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in bad.headers
    res = client.post("/forms/contact", json=VALID, headers={"Origin": "https://evil.example"})
    assert res.status_code == 403 and "Access-Control-Allow-Origin" not in res.headers
    assert len(_submissions()) == 1


def test_hosted_form_posts_from_own_origin(client, contact):
    """The hosted form posts with our own Origin and is accepted."""
    res = client.post("/forms/contact", data=VALID, headers={"Origin": "http://mallbridge.test"})
    assert res.status_code == 303


def test_rate_limit_per_ip(client, app, contact):
    """Past the per-IP limit, posts get a Japanese 429 (JSON for JSON clients)."""
    app.config["FORMS_RATE_LIMIT"] = "2 per minute"
    assert client.post("/forms/contact", json=VALID).status_code == 201
    assert client.post("/forms/contact", json=VALID).status_code == 201
    res = client.post("/forms/contact", json=VALID)
    assert res.status_code == 429 and "待ってから" in res.get_json()["error"]
    other = client.post("/forms/contact", json=VALID, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 201
    assert client.get("/forms/contact").status_code == 200


def test_submission_is_stored_even_when_mail_cannot_be_built(client, contact, monkeypatch):
    """If composing the mail fails, the submission is still stored (with the error) and the customer gets success."""
    def broken(form, submission, *args, **kwargs):
        # The submission row is already in the database (flushed) when the mail is built.
        assert db.session.get(FormSubmission, submission.id) is not None and submission.id
        raise ValueError("template exploded")

    monkeypatch.setattr(service, "build_mails", broken)
    res = client.post("/forms/contact", json=VALID)
    assert res.status_code == 201
    [sub] = _submissions()
    assert sub.mail_error == "template exploded" and _outbox() == []


def test_attachments_sniffed_and_japanese_names_kept(client, contact):
    """PNG/PDF pass by content (Japanese names in RFC 2231); an executable named .png is refused."""
    res = client.post("/forms/contact", data={**VALID, "attachment": [
        (io.BytesIO(PNG), "写真.png"), (io.BytesIO(PDF), "見積書.pdf")]})
    assert res.status_code == 303
    msg = _parse(_outbox()[0])
    assert [(a.get_filename(), a.get_content_type()) for a in msg.iter_attachments()] == [
        ("写真.png", "image/png"), ("見積書.pdf", "application/pdf")]
    assert b"filename*=utf-8''" in _outbox()[0].raw
    res = client.post("/forms/contact", data={**VALID, "attachment": (io.BytesIO(b"MZ\x90\x00evil"), "evil.png")})
    assert res.status_code == 422 and "送信できない形式" in res.get_data(as_text=True)
    res = client.post("/forms/contact", data={**VALID, "attachment": (io.BytesIO(PNG), "photo.pdf")})
    assert res.status_code == 422


def test_json_attachments_base64(client, contact):
    """JSON posts may carry base64 attachments; bad base64 is a 422 on the attachment field."""
    good = {"filename": "画像.png", "content": base64.b64encode(PNG).decode()}
    assert client.post("/forms/contact", json={**VALID, "attachments": [good]}).status_code == 201
    res = client.post("/forms/contact", json={**VALID, "attachments": [{"filename": "a.png", "content": "!!"}]})
    assert res.status_code == 422 and "attachment" in res.get_json()["fields"]


def test_explicit_bcc_replaces_forwarding_address(client, contact):
    """A form with its own BCC list uses it instead of the helpdesk forwarding address."""
    service.save_form(contact, slug="contact", shop=contact.shop, to="shop@example.jp",
                      bcc="a@example.jp; b@example.jp", origins="")
    db.session.commit()
    client.post("/forms/contact", json=VALID)
    assert _outbox()[0].recipients == ["shop@example.jp", "a@example.jp", "b@example.jp"]


def test_disabled_form_is_404(client, contact):
    """A disabled form is not shown and accepts nothing."""
    contact.enabled = False
    db.session.commit()
    assert client.get("/forms/contact").status_code == 404
    assert client.post("/forms/contact", json=VALID).status_code == 404


@pytest.fixture
def smtp_sink():
    """A real in-process aiosmtpd server that accepts everything (tests/smtp_server.py)."""
    from tests.smtp_server import ScriptedHandler, start_server

    controller = start_server(ScriptedHandler())
    yield controller
    controller.stop()


def test_end_to_end_delivery_through_real_smtp(app, client, runner, contact, smtp_sink):
    """Submission → outbox → `outbox run --once` → SMTP: the inbox gets it by envelope only, the customer an ack."""
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp_sink.port}"
    assert client.post("/forms/contact", json=VALID).status_code == 201
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    received = {tuple(rcpts): BytesParser(policy=policy.default).parsebytes(content)
                for _sender, rcpts, content in smtp_sink.handler.messages}
    shop_mail = received[("shop@example.jp", "staff@example.jp", INBOX)]
    assert shop_mail["Bcc"] is None and INBOX not in str(shop_mail)
    assert shop_mail["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert shop_mail["Subject"].startswith("お問い合わせ（山田 太郎 様・受付番号 ")
    assert "急ぎです。" in shop_mail.get_body().get_content()
    ack = received[("taro@example.jp",)]
    assert ack["To"].addresses[0].display_name == "山田 太郎"


def test_success_answer_survives_smtp_outage(app, client, runner, contact, smtp_sink):
    """With SMTP down the customer still gets success; the mail waits in the outbox and goes out later."""
    from tests.smtp_server import free_port

    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    assert client.post("/forms/contact", data=VALID).status_code == 303
    runner.invoke(args=["outbox", "run", "--once"])
    db.session.expire_all()
    assert {row.state for row in _outbox()} <= {"queued", "failed"} and len(_submissions()) == 1
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{smtp_sink.port}"
    for row in _outbox():
        row.next_attempt_at = None
    db.session.commit()
    runner.invoke(args=["outbox", "run", "--once"])
    db.session.expire_all()
    assert {row.state for row in _outbox()} == {"sent"} and len(smtp_sink.handler.messages) == 2


def test_hosted_form_accepted_behind_tls_proxy(client, contact):
    """Our own host is recognised whatever the scheme (a TLS proxy may hide https from the app)."""
    res = client.post("/forms/contact", data=VALID, headers={"Origin": "https://mallbridge.test"})
    assert res.status_code == 303
    res = client.post("/forms/contact", data=VALID, headers={"Origin": "https://mallbridge.test.evil.example"})
    assert res.status_code == 403


def test_sender_falls_back_to_configured_default(client, contact):
    """Without a form or shop address, From is the `forms.sender` setting, else noreply@REPLY_DOMAIN."""
    from plugin import settings

    contact.shop.email = None
    db.session.commit()
    client.post("/forms/contact", json=VALID)
    assert _parse(_outbox()[0])["From"].addresses[0].addr_spec == "noreply@reply.localhost"
    settings.set_value("forms.sender", "forms@example.jp")
    client.post("/forms/contact", json=VALID)
    assert _parse(_outbox()[-1])["From"].addresses[0].addr_spec == "forms@example.jp"


def test_extra_fields_from_shop_site_are_kept_and_mailed(client, contact):
    """Fields the shop's own form adds (e.g. a category) are stored and appear in the mail; the honeypot is not."""
    res = client.post("/forms/contact", data={**VALID, "category": "配送について", "website": ""})
    assert res.status_code == 303
    [sub] = _submissions()
    assert sub.values["category"] == "配送について" and "website" not in sub.values
    assert "category: 配送について" in _parse(_outbox()[0]).get_body().get_content()
    res = client.post("/forms/contact", json={**VALID, "category": "x" * 3000})
    assert res.status_code == 422 and "category" in res.get_json()["fields"]


def test_html_errors_of_extra_fields_are_listed(client, contact):
    """An error on a field the hosted form does not show is still listed in the error summary."""
    res = client.post("/forms/contact", data={**VALID, "category": "x" * 3000})
    assert res.status_code == 422 and "categoryは2000文字以内" in res.get_data(as_text=True)
    res = client.post("/forms/contact", data={**VALID, "email": "bad", "category": "配送"})
    assert '<input type="hidden" name="category" value="配送">' in res.get_data(as_text=True)


def test_customer_addresses_mail_can_carry(client, contact):
    """A non-ASCII local part is refused (422); an IDN domain is stored and mailed as punycode."""
    res = client.post("/forms/contact", json={**VALID, "email": "山田@example.jp"})
    assert res.status_code == 422 and "email" in res.get_json()["fields"]
    assert client.post("/forms/contact", json={**VALID, "email": "taro@例え.jp"}).status_code == 201
    [sub] = _submissions()
    assert sub.values["email"] == "taro@xn--r8jz45g.jp" and sub.mail_error is None
    assert _outbox()[1].recipients == ["taro@xn--r8jz45g.jp"]

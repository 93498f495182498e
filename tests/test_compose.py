"""plugin.compose: Japanese headers survive a round trip, CR/LF never makes a header, attachments, threading."""
import copy
from email import policy
from email.parser import BytesParser

import pytest

from plugin.compose import (
    Attachment,
    ComposeError,
    build_message,
    clean_header,
    envelope_recipients,
    format_address,
    make_msgid,
    thread_headers,
)
from plugin.mime_headers import encoded_words


def _roundtrip(msg):
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes(policy=policy.SMTP))


def _mail(**kw):
    values = {"sender": ("shop@example.jp", "緑茶本舗"), "to": [("taro@example.jp", "山田 太郎")],
                  "subject": "【楽天】商品問い合わせ 有機緑茶 100g", "body": "お問い合わせありがとうございます。\n二行目"}
    values.update(kw)
    return build_message(**values)


@pytest.mark.parametrize("subject", [
    "【楽天】商品問い合わせ 有機緑茶 100g",
    "【お問い合わせ】お問い合わせ 山田 太郎 様",
    "Re: 【Yahoo!】配送について 玉露 とても長い件名がここから続きます。さらに 長く 長く 長く 続きます。",
    "plain ascii subject",
])
def test_japanese_subject_round_trip_keeps_spaces(subject):
    """A Japanese subject (with spaces between words, folded) decodes back exactly."""
    msg = _roundtrip(_mail(subject=subject))
    assert msg["Subject"] == subject


def test_japanese_display_names_round_trip():
    """Japanese display names are RFC 2047 encoded and decode back; the raw headers are ASCII."""
    raw = _mail(reply_to=("c@example.jp", "顧客, 様")).as_bytes(policy=policy.SMTP)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii() and b"=?utf-8?b?" in headers
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg["From"].addresses[0].display_name == "緑茶本舗"
    assert msg["To"].addresses[0].display_name == "山田 太郎"
    assert msg["Reply-To"].addresses[0].display_name == "顧客, 様"
    assert msg["Reply-To"].addresses[0].addr_spec == "c@example.jp"


def test_body_is_utf8_never_iso_2022_jp():
    """The body is text/plain; charset=utf-8 (base64 for Japanese) and decodes unchanged."""
    msg = _roundtrip(_mail())
    part = msg.get_body()
    assert part.get_content_charset() == "utf-8" and part["Content-Transfer-Encoding"] == "base64"
    assert part.get_content().replace("\r\n", "\n") == "お問い合わせありがとうございます。\n二行目\n"
    assert b"iso-2022-jp" not in _mail().as_bytes().lower()


@pytest.mark.parametrize("evil", ["太郎\r\nBcc: evil@example.com", "太郎\nBcc: evil@example.com",
                                  "太郎\rBcc: evil@example.com", "太郎\u2028Bcc: evil@example.com",
                                  "太郎\x00\x85Bcc: evil@example.com"])
def test_crlf_in_outside_values_never_becomes_a_header(evil):
    """CR/LF (and other line breaks) in a name, subject or extra header stay inside that header's value."""
    msg = _roundtrip(_mail(sender=("shop@example.jp", evil), subject=evil, headers={"X-Mallbridge-Shop": evil}))
    assert msg["Bcc"] is None
    assert "evil@example.com" not in envelope_recipients(msg)
    assert "Bcc: evil@example.com" in msg["Subject"] and "\n" not in msg["Subject"]


def test_clean_header_makes_one_line():
    """clean_header removes control characters and collapses whitespace."""
    assert clean_header(" a\r\n\tb\x00c\u2029d ") == "a b c d"
    assert clean_header(None) == ""


def test_invalid_addresses_are_refused():
    """An address with CR/LF, spaces or no @ is a ComposeError, not a header."""
    for bad in ["a@example.jp\r\nBcc: x@example.com", "a b@example.jp", "no-at-sign", ""]:
        with pytest.raises(ComposeError):
            format_address(bad, "x")


def test_attachments_with_japanese_file_names():
    """Attachments keep bytes, type and a Japanese file name (RFC 2231)."""
    pdf = b"%PDF-1.4 test"
    raw_msg = _mail(attachments=[Attachment(pdf, "見積書 2026年11月.pdf", "application/pdf"),
                                 Attachment(b"\x89PNG\r\n\x1a\n", "写真.png", "image/png")])
    raw = raw_msg.as_bytes(policy=policy.SMTP)
    assert b"filename*=utf-8''%E8%A6%8B" in raw
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    found = [(a.get_filename(), a.get_content_type(), a.get_content()) for a in msg.iter_attachments()]
    assert found[0] == ("見積書 2026年11月.pdf", "application/pdf", pdf)
    assert found[1][:2] == ("写真.png", "image/png")


def test_make_msgid_is_deterministic_and_safe():
    """make_msgid keeps dot-atom characters and is the same for the same input."""
    assert make_msgid("rakuten.123.456.789", "reply.localhost") == "<rakuten.123.456.789@reply.localhost>"
    assert make_msgid("a b<c>\r\n", "reply.localhost") == "<a-b-c-@reply.localhost>"


def test_thread_headers():
    """In-Reply-To names the first message; References is the chain starting with it, without duplicates."""
    assert thread_headers("<a@x>", ["<a@x>", "<b@x>", "<c@x>"]) == {
        "In-Reply-To": "<a@x>", "References": "<a@x> <b@x> <c@x>"}
    assert thread_headers(None) == {}
    long_chain = [f"<{i}@x>" for i in range(50)]
    refs = thread_headers("<first@x>", long_chain)["References"].split()
    assert refs[0] == "<first@x>" and refs[-1] == "<49@x>" and len(refs) == 20


def test_threading_headers_survive_serialisation():
    """Message-ID, In-Reply-To and References are written as given."""
    msg = _roundtrip(_mail(message_id="<b@reply.localhost>", headers=thread_headers("<a@reply.localhost>")))
    assert msg["Message-ID"] == "<b@reply.localhost>"
    assert msg["In-Reply-To"] == "<a@reply.localhost>" and msg["References"] == "<a@reply.localhost>"


def test_bcc_is_envelope_only_after_deepcopy():
    """Bcc is a header on the built message (for the outbox), and survives copying like other headers."""
    msg = _mail(bcc="inbox@example.test")
    clone = copy.deepcopy(msg)
    assert envelope_recipients(clone) == ["taro@example.jp", "inbox@example.test"]
    del clone["Bcc"]
    assert b"inbox@example.test" not in clone.as_bytes(policy=policy.SMTP)
    assert str(clone["Subject"]) == "【楽天】商品問い合わせ 有機緑茶 100g"


def test_encoded_words_never_split_a_character():
    """Each encoded word holds whole characters and stays within 75 characters."""
    import base64

    words = encoded_words("あい" * 20 + "x")
    assert len(words) > 1 and all(len(w) <= 75 for w in words)
    decoded = [base64.b64decode(w[len("=?utf-8?b?"):-2]).decode("utf-8") for w in words]
    assert "".join(decoded) == "あい" * 20 + "x"

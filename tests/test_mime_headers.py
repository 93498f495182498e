"""plugin.mime_headers: every header line with encoded words is at most 76 characters, every
space survives an RFC 2047 decoder, and text that looks like an encoded word stays as typed."""
import random
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.parser import BytesParser

import pytest

from plugin.compose import build_message
from plugin.mime_headers import LIMIT, address_header, text_header

ALPHABET = list("山田花子お問い合わせ有機緑茶京都宇治産一番摘み特上【】（）「」、。・ーｱｲｳ😀") + list("abXY09-[]()") + [" "] * 6
NAMES = ["Subject", "X-Mallbridge-Inquiry", "References"]


def _texts(n=300, seed=7):
    rng = random.Random(seed)
    for _ in range(n):
        text = " ".join("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 140))).split())
        if text:
            yield text


def _written(header):
    return header.fold(policy=policy.SMTP).removesuffix("\r\n")


def _rfc2047(value):
    """What a standard RFC 2047 decoder shows (whitespace between encoded words dropped)."""
    return str(make_header(decode_header(value.replace("\r\n", ""))))


@pytest.mark.parametrize("name", NAMES)
def test_long_japanese_text_folds_within_76_and_keeps_every_space(name):
    """Hundreds of long mixed Japanese/ASCII values: no line over 76, and a decoder gets the text back exactly."""
    for text in _texts():
        written = _written(text_header(name, text))
        assert max(map(len, written.split("\r\n"))) <= LIMIT, written
        assert _rfc2047(written.split(":", 1)[1].strip()) == text


def test_long_japanese_display_names_fold_within_76():
    """From/To with long Japanese names and long addresses: lines of at most 76, the name decodes exactly."""
    for text in _texts(100, seed=11):
        name = text.replace("<", "").replace(">", "") or "山田"
        addr = Address(display_name=name, addr_spec="r+r7.0123456789abcdef0123456789@reply.example.jp")
        written = _written(address_header("From", [addr, Address(display_name="佐藤 一郎", addr_spec="s@example.jp")]))
        assert max(map(len, written.split("\r\n"))) <= LIMIT, written
        first = written.split(":", 1)[1].split(",\r\n")[0]
        assert _rfc2047(first.rsplit(" <", 1)[0].strip()) == name
        assert first.endswith("<r+r7.0123456789abcdef0123456789@reply.example.jp>")


@pytest.mark.parametrize("subject", ["=?utf-8?b?5Lu25ZCN?=", "件名は =?utf-8?b?5Lu25ZCN?= のままです"])
def test_text_that_looks_like_an_encoded_word_stays_as_typed(subject):
    """A customer's literal `=?utf-8?b?…?=` is encoded itself, so a reader decoding once sees it as typed."""
    msg = build_message(sender="shop@example.jp", to="to@example.jp", subject=subject, body="x")
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes(policy=policy.SMTP))
    assert str(parsed["Subject"]) == subject
    assert str(msg["Subject"]) == subject


def test_long_ascii_references_are_folded_at_spaces_never_encoded():
    """A long References chain is folded between Message-IDs and never turned into encoded words."""
    ids = " ".join(f"<rakuten.391234.391234-20261128-{i}.{i}@reply.example.jp>" for i in range(8))
    written = _written(text_header("References", ids))
    assert "=?" not in written and max(map(len, written.split("\r\n"))) <= LIMIT
    assert written.replace("\r\n", "") == f"References: {ids}"
    long_id = "<" + "a" * 90 + "@reply.example.jp>"
    assert _written(text_header("References", long_id)) == f"References: {long_id}"


def test_a_long_message_id_gets_a_line_of_its_own_like_message_id_does():
    """In-Reply-To with a Message-ID too long for the first line starts after the colon, as the email
    package writes Message-ID, so both read back alike and no line passes 76."""
    msgid = "<yahoo.mallbridge-demo.2c1a7f679f7c1d8e672d103edb7ff2f7.1@reply.localhost>"
    msg = build_message(sender="a@example.jp", to="b@example.jp", subject="s", body="x", message_id=msgid,
                        headers={"In-Reply-To": msgid, "References": msgid})
    raw = msg.as_bytes(policy=policy.SMTP)
    assert f"In-Reply-To:\r\n {msgid}\r\n".encode() in raw
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["In-Reply-To"] == parsed["Message-ID"] and parsed["References"].split() == [msgid]

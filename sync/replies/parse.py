"""An agent's reply mail → the text the customer should see, plus its attachments.

Takes the text/plain part (`format=flowed` joined, sync.replies.text.unflow) or the HTML part
turned into text, then cuts the quoted history (sync.replies.quotes). The agent's signature
stays. A first line `#完了` asks for completion after posting.

Everything here reads mail from outside, so every step is linear in the mail's size and the
mail's size is bounded: a mail over the limits below is not parsed past its headers; it comes
back as a Parsed with `problems` (Japanese, for the bounce). Header values are cut at
HEADER_VALUE_MAX before the structured parse, whose cost grows faster than their length.
"""
import email
import re
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser

from sync.replies.quotes import clean
from sync.replies.text import html_to_text, unflow

MAX_MAIL_BYTES = 10 * 1024 * 1024  # a mall takes at most one 5 MB file; base64 and the text fit in 10 MB
MAX_HEADER_BYTES = 256 * 1024
HEADER_VALUE_MAX = 4000
MAX_PARTS = 50
MAX_TEXT_CHARS = 200_000  # the body before the quote is cut: a long thread's history fits easily
MAX_LINE_CHARS = 10_000
MAX_REFERENCES = 100
LOOP_HEADERS = ("Auto-Submitted", "Precedence", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress",
                "X-Mallbridge-Mall", "List-Id", "X-Loop", "Return-Path")


@dataclass
class File:
    """An attachment of the reply mail."""

    name: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    """What the customer should get, the headers intake needs, and what breaks the limits."""

    text: str
    complete: bool = False
    files: list = field(default_factory=list)
    subject: str = ""
    message_id: str = ""
    references: list = field(default_factory=list)  # In-Reply-To first, then References
    sender: str = ""
    headers: dict = field(default_factory=dict)
    chain: list = field(default_factory=list)  # the References header as sent, oldest first
    problems: list = field(default_factory=list)


def _split_head(raw):
    """(header bytes, whether the header block ended within MAX_HEADER_BYTES)."""
    ends = [i for i in (raw.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES), raw.find(b"\n\n", 0, MAX_HEADER_BYTES)) if i >= 0]
    if ends:
        return raw[:min(ends)], True
    return raw[:MAX_HEADER_BYTES], len(raw) <= MAX_HEADER_BYTES


def _raw_value(msg, name):
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)[:HEADER_VALUE_MAX]
    return ""


def _header(msg, name):
    """A header's decoded text (RFC 2047 words decoded); "" when absent or unreadable."""
    value = _raw_value(msg, name)
    if not value:
        return ""
    try:
        return str(policy.default.header_factory(name, value))
    except Exception:  # noqa: BLE001 - a malformed header is treated as absent, whatever the parser raises
        return ""


def _sender(msg):
    value = _raw_value(msg, "From")
    try:
        addresses = policy.default.header_factory("from", value).addresses if value else ()
        return addresses[0].addr_spec if addresses else ""
    except Exception:  # noqa: BLE001 - a malformed From is no sender
        return ""


def parse_head(raw):
    """The headers of a raw mail (bounded work, whatever its size), with an empty text."""
    head, complete = _split_head(raw)
    msg = BytesHeaderParser(policy=policy.default).parsebytes(head)
    refs = []
    for name in ("In-Reply-To", "References"):
        for ref in re.findall(r"<[^<>\s]+>", _raw_value(msg, name)):
            if ref not in refs:
                refs.append(ref)
    chain = re.findall(r"<[^<>\s]+>", _raw_value(msg, "References"))
    parsed = Parsed("", subject=_header(msg, "Subject"), message_id=_header(msg, "Message-ID").strip()[:255],
                    references=refs[:MAX_REFERENCES], sender=_sender(msg),
                    headers={name.lower(): _header(msg, name) for name in LOOP_HEADERS}, chain=chain)
    if not complete:
        parsed.problems.append("メールのヘッダーが大きすぎます。通常の返信として送り直してください。")
    return parsed


def parse_bytes(raw, extra_markers=()):
    """Parse a raw mail (bytes) into a Parsed reply; a mail over the limits gets `problems`."""
    parsed = parse_head(raw)
    if len(raw) > MAX_MAIL_BYTES:
        parsed.problems.append(f"返信メールが大きすぎます（{len(raw) / 1024 / 1024:.1f}MB）。"
                               f"{MAX_MAIL_BYTES // 1024 // 1024}MB以下にしてください（モールに添付できるファイルは5MBまでです）。")
    if parsed.problems:
        return parsed
    try:
        body, files = _body_and_files(email.message_from_bytes(raw, policy=policy.default))
    except _Unreadable as exc:
        parsed.problems.append(str(exc))
        return parsed
    except (RecursionError, ValueError, TypeError, LookupError):  # a broken MIME structure
        parsed.problems.append("メールの形式を読み取れませんでした。通常のテキストの返信として送り直してください。")
        return parsed
    parsed.problems.extend(_text_limits(body))
    if not parsed.problems:
        parsed.text, parsed.complete = clean(body, extra_markers)
        parsed.files = files
    return parsed


def _text_limits(body):
    """Japanese problems when the body is too long, or has a line too long, to be a reply."""
    if len(body) > MAX_TEXT_CHARS:
        return [f"返信本文が長すぎます（{len(body):,}文字）。引用を含めて{MAX_TEXT_CHARS:,}文字以内にしてください。"]
    longest = max((len(line) for line in body.split("\n")), default=0)
    if longest > MAX_LINE_CHARS:
        return [f"1行が長すぎます（{longest:,}文字）。1行{MAX_LINE_CHARS:,}文字以内になるよう改行を入れてください。"]
    return []


class _Unreadable(Exception):
    """The MIME structure breaks a limit; the message is the Japanese problem."""


def _body_and_files(msg):
    plain = html = None
    files = []
    for count, part in enumerate(msg.walk(), 1):
        if count > MAX_PARTS:
            raise _Unreadable(f"メールのパート（本文・添付）が多すぎます。{MAX_PARTS}個以内にしてください。")
        if any(len(str(value)) > HEADER_VALUE_MAX for _name, value in part.raw_items()):
            raise _Unreadable("メールのヘッダーが長すぎます。通常の返信として送り直してください。")
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if disposition != "attachment" and part.get("Content-ID") and not ctype.startswith("text/"):
            continue  # an image the HTML shows inline (signature logo): not for the customer
        if disposition == "attachment" or (filename and not ctype.startswith("text/")):
            data = part.get_payload(decode=True) or b""
            files.append(File(filename or "attachment", ctype, data))
        elif ctype == "text/plain" and plain is None:
            plain = _text_of(part)
            if (part.get_param("format") or "").lower() == "flowed":
                plain = unflow(plain, delsp=(part.get_param("delsp") or "").lower() == "yes")
        elif ctype == "text/html" and html is None:
            html = _text_of(part)
    if plain is not None:
        return plain, files
    if html is not None and len(html) > MAX_TEXT_CHARS * 10:
        raise _Unreadable(f"HTMLの本文が大きすぎます（{len(html):,}文字）。テキスト形式で返信してください。")
    return (html_to_text(html) if html is not None else ""), files


def _text_of(part):
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError, KeyError):
        data = part.get_payload(decode=True) or b""
        return data.decode("utf-8", "replace")

"""The one place that builds mail: UTF-8 bodies, RFC 2047 headers, threading, attachments.

Flask-free, so forms, mall sync and the outbox all compose the same way. Header lines are laid
out by plugin.mime_headers (encoded words that keep every space, at most 76 characters a line).
Every header value that may come from outside (customer names, item titles, subjects) goes
through `clean_header`, so a CR/LF inside a value can never start a new header.
"""
import email.utils
import re
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from plugin import clock, mime_headers

# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators: mail clients
# may treat any of them as a line break, so none of them may reach a header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u0085]+")
_SPACES = re.compile(r"\s+")
_MSGID_LEFT_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
MAX_REFERENCES = 20


class ComposeError(ValueError):
    """A message cannot be built from these values (e.g. an invalid address)."""


@dataclass(frozen=True)
class Attachment:
    """A file to attach: raw bytes, the file name as the user saw it, and a MIME type."""

    data: bytes
    filename: str
    content_type: str = "application/octet-stream"


def clean_header(value):
    """A header value from outside made safe: no CR/LF or other control chars, one line."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def _set_text(msg, name, value):
    text = clean_header(value)
    msg[name] = mime_headers.text_header(name, text) if text else text


def _set_addresses(msg, name, addresses):
    msg[name] = mime_headers.address_header(name, addresses)


def address(addr_spec, display_name=None):
    """An Address with a cleaned (possibly Japanese) display name; raises ComposeError if invalid."""
    addr_spec = (addr_spec or "").strip()
    if not addr_spec or _CONTROL.search(addr_spec) or " " in addr_spec or addr_spec.count("@") != 1:
        raise ComposeError(f"invalid e-mail address: {addr_spec!r}")
    name = clean_header(display_name)
    try:
        return Address(display_name=name, addr_spec=addr_spec)
    except (ValueError, IndexError) as exc:
        raise ComposeError(f"invalid e-mail address: {addr_spec!r}") from exc


def format_address(addr_spec, display_name=None):
    """`"表示名" <addr>` as a header string (encoded with RFC 2047 when the message is serialised)."""
    return str(address(addr_spec, display_name))


def _as_addresses(value):
    """Accept an address string, an (addr, name) pair, an Address, or a list of those."""
    if value is None:
        return []
    if isinstance(value, (str, Address, tuple)):
        value = [value]
    result = []
    for item in value:
        if isinstance(item, Address):
            result.append(address(item.addr_spec, item.display_name))
        elif isinstance(item, tuple):
            result.append(address(item[0], item[1] if len(item) > 1 else None))
        else:
            result.append(address(item))
    return result


def make_msgid(left, domain):
    """A Message-ID `<left@domain>` whose left part keeps only characters valid in a dot-atom."""
    left = _MSGID_LEFT_UNSAFE.sub("-", clean_header(left)).strip(".") or "msg"
    left = re.sub(r"\.{2,}", ".", left)
    domain = _MSGID_LEFT_UNSAFE.sub("-", clean_header(domain)).strip(".") or "localhost"
    return f"<{left}@{domain}>"


def thread_headers(first_id, chain=()):
    """In-Reply-To (the first message of the thread) and References (the chain, first first).

    The helpdesk threads on either header, so both name the first message; References is
    trimmed to the first ID plus the latest ones, as RFC 5322 suggests for long threads.
    """
    if not first_id:
        return {}
    ids = [first_id]
    for msgid in chain or ():
        if msgid and msgid not in ids:
            ids.append(msgid)
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0]] + ids[-(MAX_REFERENCES - 1):]
    return {"In-Reply-To": first_id, "References": " ".join(ids)}


def format_date(when=None):
    """RFC 5322 date in JST (how shop staff read times); `when` is naive UTC like clock.now()."""
    when = when or clock.now()
    return email.utils.format_datetime(clock.to_jst(when))


def build_message(*, sender, to, subject, body, reply_to=None, cc=None, bcc=None, message_id=None,
                  date=None, headers=None, attachments=()):
    """Build an EmailMessage: UTF-8 text body, encoded headers, optional attachments.

    Addresses may be strings, (addr, display name) pairs or Address objects. Bcc is kept as a
    header here; the outbox removes it from the stored copy and keeps it for the envelope.
    """
    msg = EmailMessage(policy=policy.SMTP)
    _set_addresses(msg, "From", _as_addresses(sender))
    for name, value in (("To", to), ("Cc", cc), ("Bcc", bcc), ("Reply-To", reply_to)):
        found = _as_addresses(value)
        if found:
            _set_addresses(msg, name, found)
    _set_text(msg, "Subject", subject)
    msg["Date"] = format_date(date)
    if message_id:
        msg["Message-ID"] = clean_header(message_id)
    for name, value in (headers or {}).items():
        if value is None:
            continue
        _set_text(msg, clean_header(name), value)
    set_text_body(msg, body)
    for att in attachments or ():
        add_attachment(msg, att)
    return msg


def set_text_body(msg, body):
    """text/plain; charset=utf-8: 7bit when ASCII, else base64 so no relay can mangle it."""
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    cte = "7bit" if text.isascii() and max(map(len, text.splitlines() or [""])) <= 900 else "base64"
    msg.set_content(text, charset="utf-8", cte=cte)


def add_attachment(msg, att):
    """Attach bytes with a (possibly Japanese) file name, encoded with RFC 2231."""
    content_type = (att.content_type or "application/octet-stream").strip().lower()
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype or _CONTROL.search(content_type) or " " in content_type:
        maintype, subtype = "application", "octet-stream"
    filename = clean_header(att.filename).replace("/", "_").replace("\\", "_") or "attachment"
    msg.add_attachment(att.data, maintype=maintype, subtype=subtype, filename=filename)


def envelope_recipients(msg):
    """Every address in To, Cc and Bcc (what the SMTP envelope must carry)."""
    found = []
    for header in ("To", "Cc", "Bcc"):
        for value in msg.get_all(header, []):
            for _name, addr in email.utils.getaddresses([str(value)]):
                if addr and addr not in found:
                    found.append(addr)
    return found



"""Reading the demo mailbox's stored mails for its page: headers decoded defensively, dates in
Japan time, and conversations nested by In-Reply-To/References the way a mail client threads them.

Anything can arrive at the sink (a customer may call themselves `=?utf-8?b?invalid?=`), so
nothing here raises on a mail's content: an encoded word that does not decode is shown as it
was written, an unreadable body or date says so, and the page never fails for every user.
"""
import base64
import binascii
import dataclasses
import datetime as dt
import email
import email.policy
import email.utils
import logging
import quopri
import re
from email.header import Header, decode_header

from plugin import clock

log = logging.getLogger(f"mallbridge.{__name__}")
# RFC 2047 encoded word: =?charset?B|Q?text?= (an RFC 2231 language suffix "*ja" is allowed).
_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"^[ \t\r\n]*$")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
DATE_FORMAT = "%Y/%m/%d %H:%M"


@dataclasses.dataclass
class Mail:
    """One stored mail as the page shows it."""

    id: str
    subject: str = ""
    sender: str = ""
    sender_name: str = ""
    to: str = ""
    date: dt.datetime | None = None
    received: dt.datetime | None = None
    message_id: str | None = None
    parents: list = dataclasses.field(default_factory=list)  # nearest first: In-Reply-To, then References
    headers: list = dataclasses.field(default_factory=list)
    body: str = ""
    attachments: list = dataclasses.field(default_factory=list)
    problem: str | None = None

    @property
    def when(self):
        """The mail's own date, or when the sink received it."""
        return self.date or self.received

    def shown_date(self):
        """The date in Japan time for the page (「2026/11/29 22:06」), or 「日時不明」."""
        return self.when.strftime(DATE_FORMAT) if self.when else "日時不明"


def _decode_run(charset, encoding, texts):
    """Decode consecutive encoded words of one charset; None when they are not valid."""
    try:
        if encoding.lower() == "b":
            raw = b"".join(base64.b64decode(t + "=" * (-len(t) % 4), validate=True) for t in texts)
        else:
            raw = b"".join(quopri.decodestring(t.replace("_", " ").encode("ascii"), header=False) for t in texts)
        return raw.decode(charset)
    except (binascii.Error, ValueError, LookupError, UnicodeError):
        return None


def _decode_words_run(key, words):
    """Text of consecutive encoded words [(gap before, text, the word as written)] of one charset."""
    joined = _decode_run(key[0], key[1], [text for _, text, _ in words])
    if joined is not None:
        return joined
    # Decoded one by one: a bad word stays as written (with the spaces around it), the rest decode.
    out, previous_ok = [], None
    for i, (gap, text, word) in enumerate(words):
        decoded = _decode_run(key[0], key[1], [text])
        if i and not (previous_ok and decoded is not None):
            out.append(gap)
        out.append(decoded if decoded is not None else word)
        previous_ok = decoded is not None
    return "".join(out)


def decode_words(value):
    """Header text with its RFC 2047 encoded words decoded; words that do not decode stay literal."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 wraps raw 8-bit header bytes in a Header: take them as UTF-8.
        value = "".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p, _ in decode_header(value))
    text = re.sub(r"\r?\n[ \t]", " ", str(value)).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    out, pos, run, run_key = [], 0, [], None
    for match in _WORD.finditer(text):
        gap = text[pos:match.start()]
        key = (match.group(1).lower(), match.group(2).lower())
        if run and key == run_key and _BETWEEN_WORDS.match(gap):
            run.append((gap, match.group(3), match.group(0)))  # RFC 2047 §6.2: the space between is dropped
        else:
            if run:
                out.append(_decode_words_run(run_key, run))
            out.append(gap)
            run, run_key = [("", match.group(3), match.group(0))], key
        pos = match.end()
    if run:
        out.append(_decode_words_run(run_key, run))
    out.append(text[pos:])
    return _CONTROL.sub(" ", "".join(out)).strip()


def _ids(value):
    return _MSG_ID.findall(decode_words(value)) if value else []


def _date(value):
    try:
        when = email.utils.parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC with no zone known
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(clock.JST)


def _sender_name(raw):
    try:
        name, address = email.utils.parseaddr(str(raw or ""))
    except (TypeError, ValueError, IndexError):
        name, address = "", ""
    return decode_words(name) or address or decode_words(raw)


def _body(data):
    """(text body, attachment names), with fallbacks for broken MIME and unknown charsets."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        return text, [decode_words(p.get_filename()) or "（名前なし）" for p in msg.iter_attachments()]
    except Exception:  # any defect of a stranger's mail: fall back to the raw parts
        log.info("demo mailbox: a mail's body needs the fallback decoder", exc_info=True)
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_content_maintype() == "text" and not part.get_filename():
            payload = part.get_payload(decode=True) or b""
            try:
                return payload.decode(part.get_content_charset() or "utf-8", "replace"), []
            except LookupError:
                return payload.decode("utf-8", "replace"), []
    return "", []


def read(path, name):
    """The Mail stored in file `path` (named `name`); a file that cannot be read gives a Mail saying so."""
    mail = Mail(id=name, received=_received(name))
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        mail.subject = decode_words(msg.get("Subject"))
        mail.sender = decode_words(msg.get("From"))
        mail.sender_name = _sender_name(msg.get("From"))
        mail.to = ", ".join(decode_words(v) for v in msg.get_all("X-Envelope-To", []))
        mail.date = _date(msg.get("Date"))
        ids = _ids(msg.get("Message-ID"))
        mail.message_id = ids[0] if ids else None
        mail.parents = _ids(msg.get("In-Reply-To"))[:1] + _ids(msg.get("References"))[::-1]
        mail.headers = [(k, decode_words(v)) for k, v in msg.items() if not k.lower().startswith("x-envelope")]
        mail.body, mail.attachments = _body(data)
    except Exception:  # one unreadable file must not take the mailbox page down
        log.warning("demo mailbox: cannot read %s", name, exc_info=True)
        mail.problem = "このメールは読み取れませんでした。"
    return mail


def _received(name):
    try:
        return dt.datetime.fromtimestamp(int(name.split("-", 1)[0]) / 1e6, clock.JST)
    except (ValueError, OverflowError, OSError):
        return None


def _sort_key(mail):
    when = mail.when
    return (when.timestamp() if when else 0, mail.id)


def threads(mails):
    """[[(depth, Mail), …], …]: conversations newest first, each in reply order (a reply under what it answers)."""
    by_id = {}
    for mail in sorted(mails, key=_sort_key):
        if mail.message_id and mail.message_id not in by_id:
            by_id[mail.message_id] = mail
    parent = {}
    for mail in mails:
        for ref in mail.parents:  # the nearest ancestor we have: In-Reply-To, then References last to first
            found = by_id.get(ref)
            if found is not None and found is not mail and not _descends(found, mail, parent):
                parent[mail.id] = found
                break
    children = {}
    for mail in mails:
        if mail.id in parent:
            children.setdefault(parent[mail.id].id, []).append(mail)
    out = []
    for root in (m for m in mails if m.id not in parent):
        rows, stack = [], [(0, root)]
        while stack:
            depth, mail = stack.pop()
            rows.append((depth, mail))
            stack.extend((depth + 1, c) for c in sorted(children.get(mail.id, []), key=_sort_key, reverse=True))
        out.append(rows)
    return sorted(out, key=lambda rows: max(_sort_key(m) for _, m in rows), reverse=True)


def _descends(candidate, mail, parent):
    """True when `candidate` is `mail` or below it already (linking would make a cycle)."""
    seen = set()
    while candidate is not None and candidate.id not in seen:
        if candidate.id == mail.id:
            return True
        seen.add(candidate.id)
        candidate = parent.get(candidate.id)
    return False

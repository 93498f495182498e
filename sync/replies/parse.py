"""An agent's reply mail → the text the customer should see, plus its attachments.

Takes the text/plain part (or the HTML part turned into text), normalises newlines, and cuts
the quoted history that mail programs and the helpdesk append: `>` lines, "On … wrote:",
"… さんは書きました:", Gmail's Japanese date line, "-----Original Message-----",
"-----元のメッセージ-----", Outlook's header block (差出人:/送信日時:/宛先:/件名: or From:/Sent:/To:/
Subject:) and the quoted copy of our own mail (recognised by its fact lines and rule). The
agent's signature stays. A first line `#完了` asks for completion after posting.
"""
import email
import re
from dataclasses import dataclass, field
from email import policy
from html.parser import HTMLParser

COMPLETE_COMMANDS = ("#完了", "＃完了")
_ORIGINAL = re.compile(r"^\s*-{3,}\s*(original message|元のメッセージ|転送されたメッセージ|forwarded message)\s*-{3,}\s*$",
                       re.IGNORECASE)
_ON_WROTE = re.compile(r"^\s*(on\s.+|\d{4}[/年-].+)\swrote\s*:\s*$", re.IGNORECASE)
_ON_START = re.compile(r"^\s*on\s.{6,}", re.IGNORECASE)
_JA_WROTE = re.compile(r"(さんは書きました|さんが書きました|のメッセージ|wrote)\s*[:：]\s*$")
# Gmail (JA): "2026年11月23日(月) 10:00 山田 花子 <r+…@reply.example.jp>:" followed by quoted lines.
_JA_DATE_START = re.compile(r"^\s*\d{4}年\s*\d{1,2}月\s*\d{1,2}日")
_JA_DATE = re.compile(r"^\s*\d{4}年\s*\d{1,2}月\s*\d{1,2}日.*[:：]\s*$")
_HEADER_BLOCK = re.compile(r"^\s*\*?(差出人|送信者|From)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_FOLLOW = re.compile(r"^\s*\*?(送信日時|日時|送信日|Sent|Date|宛先|To|件名|Subject|CC)\s*\*?\s*[:：]", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
# Our own mail (sync.mailer.body): a rule line and the facts block. A helpdesk that quotes
# without `>` leaves these; nothing an agent writes starts like this.
_OWN_RULE = re.compile(r"^\s*>?\s*─{10,}\s*$")
_OWN_FACTS = re.compile(r"^\s*>?\s*(【店舗の返信】|モール\s*[:：]\s*(楽天|Yahoo!))")
_OWN_FOOTER = "このメールに返信すると、モールのお客様に返信として送られます"


@dataclass
class File:
    """An attachment of the reply mail."""

    name: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    """What the customer should get, and the headers intake needs."""

    text: str
    complete: bool = False
    files: list = field(default_factory=list)
    subject: str = ""
    message_id: str = ""
    references: list = field(default_factory=list)  # In-Reply-To first, then References
    sender: str = ""
    headers: dict = field(default_factory=dict)


def parse_bytes(raw, extra_markers=()):
    """Parse a raw mail (bytes) into a Parsed reply."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    body, files = _body_and_files(msg)
    text, complete = clean(body, extra_markers)
    refs = []
    for name in ("In-Reply-To", "References"):
        for ref in re.findall(r"<[^<>\s]+>", _header(msg, name)):
            if ref not in refs:
                refs.append(ref)
    sender = ""
    try:
        addrs = msg["From"].addresses if msg["From"] is not None else ()
        sender = addrs[0].addr_spec if addrs else ""
    except (AttributeError, IndexError, TypeError, ValueError):
        sender = ""
    headers = {name.lower(): _header(msg, name) for name in
               ("Auto-Submitted", "Precedence", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress",
                "X-Mallbridge-Mall", "List-Id", "Return-Path")}
    return Parsed(text, complete, files, _header(msg, "Subject"), _header(msg, "Message-ID").strip(), refs,
                  sender, headers)


def _header(msg, name):
    try:
        value = msg.get(name)
    except (IndexError, ValueError, TypeError):  # malformed header: treat as absent
        return ""
    return str(value) if value is not None else ""


def _body_and_files(msg):
    plain = html = None
    files = []
    for part in msg.walk():
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
        elif ctype == "text/html" and html is None:
            html = _text_of(part)
    if plain is not None:
        return plain, files
    return (html_to_text(html) if html is not None else ""), files


def _text_of(part):
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError, KeyError):
        data = part.get_payload(decode=True) or b""
        return data.decode("utf-8", "replace")


class _HtmlText(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr", "pre"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip, self.quote = [], 0, 0

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag in ("script", "style", "head") or (self.skip and tag not in ("br",)) or "gmail_quote" in cls:
            if tag not in ("br", "hr", "img", "meta", "link", "input"):
                self.skip += 1
            return
        if tag == "blockquote":
            self.quote += 1
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if self.skip:
            if tag not in ("br", "hr", "img", "meta", "link", "input"):
                self.skip -= 1
            return
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        if tag in self.BLOCKS and tag != "br":
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        data = re.sub(r"[ \t\r\n]+", " ", data)
        if self.quote:  # quoted HTML becomes `>` lines, which clean() removes
            data = data.replace("\n", "\n> ")
            if not self.out or self.out[-1].endswith("\n"):
                data = "> " + data.lstrip()
        self.out.append(data)


def html_to_text(html):
    """Visible text of an HTML body: blocks and <br> become newlines, quotes become `>` lines."""
    parser = _HtmlText()
    parser.feed(html or "")
    parser.close()
    lines = [line.strip(" ") for line in "".join(parser.out).replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def normalize_newlines(text):
    """CRLF/CR → LF, trailing spaces off, at most one blank line in a row, no blank edges."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _is_quote(line):
    return line.lstrip().startswith(">")


def _header_block_at(lines, i):
    """Outlook-style header block: a From/差出人 line with at least two header lines after it."""
    if not _HEADER_BLOCK.match(lines[i]):
        return False
    follow = sum(1 for line in lines[i + 1:i + 6] if _HEADER_FOLLOW.match(line))
    return follow >= 2


def _attribution_at(lines, i):
    """Number of lines of an "On … wrote:" style line (1 or 2, Gmail wraps it), else 0."""
    line = lines[i]
    if _ON_WROTE.match(line) or (_JA_WROTE.search(line) and not _is_quote(line)):
        return 1
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if _ON_START.match(line) and re.match(r"^\s*\S*.*wrote\s*:\s*$", nxt, re.IGNORECASE) and len(nxt) < 120:
        return 2
    if _JA_DATE.match(line) and (i + 1 >= len(lines) or _is_quote(nxt) or not nxt.strip()):
        return 1
    after = lines[i + 2] if i + 2 < len(lines) else ""
    if (_JA_DATE_START.match(line) and re.search(r"[:：]\s*$", nxt) and len(nxt) < 120
            and (_is_quote(after) or not after.strip())):
        return 2  # Gmail wraps a long "date name <address>:" line
    return 0


def _cut_to_end(lines, i, markers):
    line = lines[i]
    if _ORIGINAL.match(line) or _header_block_at(lines, i) or _OWN_RULE.match(line) or _OWN_FACTS.match(line):
        return True
    if _OWN_FOOTER in line:
        return True
    return any(m and line.strip().startswith(m) for m in markers)


def strip_quotes(text, markers=()):
    """Remove quoted history; keeps the agent's own text (before or between quotes) and signature."""
    lines = normalize_newlines(text).split("\n")
    kept, i = [], 0
    while i < len(lines):
        if _cut_to_end(lines, i, markers):
            # A line of underscores right before Outlook's block belongs to the quote too.
            while kept and (not kept[-1].strip() or _UNDERSCORES.match(kept[-1])):
                kept.pop()
            break
        span = _attribution_at(lines, i)
        if span:
            i += span
            continue
        if _is_quote(lines[i]):
            i += 1
            continue
        kept.append(lines[i])
        i += 1
    return normalize_newlines("\n".join(kept))


def split_command(text):
    """(text without the command line, True) when the first line is `#完了`, else (text, False)."""
    lines = text.split("\n")
    if lines and lines[0].strip() in COMPLETE_COMMANDS:
        return normalize_newlines("\n".join(lines[1:])), True
    return text, False


def clean(body, markers=()):
    """(text for the customer, complete flag) from a mail body."""
    return split_command(strip_quotes(body, markers))

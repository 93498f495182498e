"""Cutting the quoted history off an agent's reply, keeping the agent's own text and signature.

Mail programs and the helpdesk append the mail being answered: `>` lines introduced by a header
line ("On … wrote:", 「… さんは書きました:」, Gmail's 「2026年11月30日(月) 18:28 佐藤 一郎 <x@y>:」,
Thunderbird's "2026/11/30 18:28, 佐藤 一郎 wrote:", Apple Mail's 「…のメール:」, the helpdesk's
「2026/11/30 18:28 佐藤 一郎 様:」), "-----Original Message-----" / 「-----元のメッセージ-----」,
Outlook's header block (差出人:/送信日時:/宛先:/件名: or From:/Sent:/To:/Subject:) and the quoted
copy of our own mail (recognised by its fact lines and rule). A first line `#完了` asks for
completion after posting.

One pass over the lines; the patterns only look at lines short enough to be such a header (a
header line is never thousands of characters), so the work stays linear in the mail's size.
"""
import re

COMPLETE_COMMANDS = ("#完了", "＃完了")
HEADER_LINE_MAX = 400  # longer lines are the agent's text, never a quote header
_ORIGINAL = re.compile(r"^\s*-{3,}\s*(original message|元のメッセージ|転送されたメッセージ|forwarded message)\s*-{3,}\s*$",
                       re.IGNORECASE)
_ON_WROTE = re.compile(r"^\s*(on\s.+|\d{4}[/年-].+)\swrote\s*:\s*$", re.IGNORECASE)
_ON_START = re.compile(r"^\s*on\s.{6,}", re.IGNORECASE)
_JA_WROTE = re.compile(r"(さんは書きました|さんが書きました|のメッセージ|のメール|wrote)\s*[:：]\s*$")
# Gmail (JA): "2026年11月23日(月) 10:00 山田 花子 <r+…@reply.example.jp>:" followed by quoted lines.
_JA_DATE_START = re.compile(r"^\s*\d{4}年\s*\d{1,2}月\s*\d{1,2}日")
_JA_DATE = re.compile(r"^\s*\d{4}年\s*\d{1,2}月\s*\d{1,2}日.*[:：]\s*$")
# A date and time, then who wrote, then a colon: 「2026/11/30 18:28 佐藤 一郎 様:」, "2026-11-30 18:28 <x@y>:".
_DATE_TIME_HEADER = re.compile(
    r"^\s*(?:on\s+)?\d{4}\s*[/.\-年]\s*\d{1,2}\s*[/.\-月]\s*\d{1,2}\s*日?\s*(?:[(（][^)）]{1,4}[)）])?"
    r"\s*[,、]?\s*T?\d{1,2}[:：]\d{2}(?:[:：]\d{2})?.*[:：]\s*$", re.IGNORECASE)
# Who wrote it: an honorific, an address or "wrote": a header line with one of these and nothing
# quoted after it introduces a copy of the mail without `>` marks, which is cut to the end.
_WRITER = re.compile(r"(様|さん|殿|>|wrote|書きました|のメール|のメッセージ)\s*[:：]\s*$", re.IGNORECASE)
_HEADER_BLOCK = re.compile(r"^\s*\*?(差出人|送信者|From)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_FOLLOW = re.compile(r"^\s*\*?(送信日時|日時|送信日|Sent|Date|宛先|To|件名|Subject|CC)\s*\*?\s*[:：]", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
# Our own mail (sync.mailer.body): a rule line and the facts block. A helpdesk that quotes
# without `>` leaves these; nothing an agent writes starts like this.
_OWN_RULE = re.compile(r"^\s*>?\s*─{10,}\s*$")
_OWN_FACTS = re.compile(r"^\s*>?\s*(【店舗の返信】|モール\s*[:：]\s*(楽天|Yahoo!))")
_OWN_FOOTER = "このメールに返信すると、モールのお客様に返信として送られます"
_BLANKS = re.compile(r"\n{3,}")


def normalize_newlines(text):
    """CRLF/CR → LF, trailing spaces off, at most one blank line in a row, no blank edges."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip("\n")


def _is_quote(line):
    return line.lstrip().startswith(">")


def _short(line):
    return len(line) <= HEADER_LINE_MAX


def _dated_header(line):
    """A date-and-time line naming who wrote: 「2026/11/30 18:28 佐藤 一郎 様:」."""
    return bool(_DATE_TIME_HEADER.match(line) and _WRITER.search(line))


def _header_block_at(lines, i):
    """Outlook-style header block: a From/差出人 line with at least two header lines after it."""
    if not _HEADER_BLOCK.match(lines[i]):
        return False
    follow = sum(1 for line in lines[i + 1:i + 6] if _short(line) and _HEADER_FOLLOW.match(line))
    return follow >= 2


def _quote_follows(lines, i):
    """The next non-blank line after i is a `>` line (or there is none)."""
    for line in lines[i + 1:i + 4]:
        if line.strip():
            return _is_quote(line)
    return True


def _attribution_at(lines, i):
    """Number of lines of an "On … wrote:" style line (1 or 2, Gmail wraps it), else 0."""
    line = lines[i]
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if _ON_WROTE.match(line) or (_JA_WROTE.search(line) and not _is_quote(line)):
        return 1
    if _ON_START.match(line) and _short(nxt) and re.match(r"^\s*\S*.*wrote\s*:\s*$", nxt, re.IGNORECASE):
        return 2
    if (_JA_DATE.match(line) or _dated_header(line)) and _quote_follows(lines, i):
        return 1
    after = lines[i + 2] if i + 2 < len(lines) else ""
    if (_JA_DATE_START.match(line) and _short(nxt) and re.search(r"[:：]\s*$", nxt)
            and (_is_quote(after) or not after.strip())):
        return 2  # Gmail wraps a long "date name <address>:" line
    return 0


def _cut_to_end(lines, i, markers):
    line = lines[i]
    if _OWN_FOOTER in line:
        return True
    if not _short(line):
        return False
    if _ORIGINAL.match(line) or _header_block_at(lines, i) or _OWN_RULE.match(line) or _OWN_FACTS.match(line):
        return True
    if _dated_header(line) and not _quote_follows(lines, i):
        return True  # a quote header followed by the old mail without `>` marks
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
        span = _attribution_at(lines, i) if _short(lines[i]) else 0
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
    first, _, rest = text.partition("\n")
    if first.strip() in COMPLETE_COMMANDS:
        return normalize_newlines(rest), True
    return text, False


def clean(body, markers=()):
    """(text for the customer, complete flag) from a mail body."""
    return split_command(strip_quotes(body, markers))

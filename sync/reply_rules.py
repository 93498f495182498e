"""The malls' write rules, checked before anything is queued (malls.md 1.5 and 2.5).

`check(mall, text, files)` returns a Result: the text as it will be posted (Rakuten lines
longer than 300 characters wrapped, nothing dropped), the attachments as they will be uploaded
and a list of problems in Japanese that tell the agent what to fix. A reply with problems is
never posted: the mall would reject it, or worse, accept it half.
"""
import re
from dataclasses import dataclass, field

from sync import rakuten, yahoo

RAKUTEN_MAX, RAKUTEN_LINE = rakuten.MAX_MESSAGE, rakuten.MAX_LINE
YAHOO_MAX = yahoo.MAX_BODY
MAX_FILE = 5 * 1024 * 1024
RAKUTEN_MAX_FILES = 1
# Yahoo! documents no count or size limit for externalTalkFileAdd; these caps are ours [I],
# so a huge mail cannot fill the queue.
YAHOO_MAX_FILES = 5
FILE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
              "pdf": "application/pdf"}
_MAGIC = {"png": (b"\x89PNG",), "jpg": (b"\xff\xd8",), "jpeg": (b"\xff\xd8",), "gif": (b"GIF8",), "pdf": (b"%PDF",)}
_TYPE_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/gif": "gif", "application/pdf": "pdf"}
# Anything that looks like a link: a scheme URL, or a bare www. host the mall would linkify.
# URL characters are ASCII (RFC 3986), so a link followed directly by Japanese text ends there.
_LINK = re.compile(r"(?<![A-Za-z0-9+.-])(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_BREAK_AFTER = "、。，．,.!?！？)）」』】 　"


@dataclass
class Result:
    """The text and files to post, and what is wrong (empty = OK)."""

    text: str
    files: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    wrapped: int = 0  # lines that were wrapped (shown to the admin, not a problem)


def wrap_line(line, width=RAKUTEN_LINE):
    """Split a long line into pieces ≤ width, preferring a break after punctuation or a space.

    Every character is kept, and a URL is never split (unless it alone is longer than width)."""
    pieces = []
    while len(line) > width:
        cut = _break_point(line, width)
        pieces.append(line[:cut].rstrip(" "))
        line = line[cut:].lstrip(" ") if line[cut:cut + 1] == " " else line[cut:]
    pieces.append(line)
    return pieces


def _break_point(line, width):
    protected = [(m.start(), m.end()) for m in _LINK.finditer(line)]
    for cut in range(width, width // 2, -1):
        if any(start < cut < end for start, end in protected):
            continue
        if line[cut - 1] in _BREAK_AFTER:
            return cut
    for cut in range(width, 0, -1):
        if not any(start < cut < end for start, end in protected):
            return cut
    return width


def _links(text):
    return [m.group(0).rstrip(".,)") for m in _LINK.finditer(text)]


def check_rakuten_text(text):
    """(posted text, problems, wrapped lines) under Rakuten's rules."""
    problems, lines, wrapped = [], [], 0
    for line in text.split("\n"):
        parts = wrap_line(line)
        wrapped += len(parts) > 1
        lines.extend(parts)
    out = "\n".join(lines)
    if not out.strip():
        problems.append("返信本文が空です。引用部分の上に返信を書いてください。")
    elif len(out) > RAKUTEN_MAX:
        extra = "（300文字を超える行の折り返しを含みます）" if wrapped else ""
        problems.append(f"楽天の返信は{RAKUTEN_MAX}文字までです。本文が{len(out)}文字あります{extra}。"
                        f"{len(out) - RAKUTEN_MAX}文字以上短くしてください。")
    for link in _links(out):
        if not rakuten.url_allowed(link):
            problems.append(f"楽天の返信に使えないURLです: {link}（https:// で始まる楽天関連ドメイン"
                            f"（{', '.join(rakuten.URL_DOMAINS)}）のみ使えます）。")
    return out, problems, wrapped


def check_yahoo_text(text):
    """(posted text, problems) under Yahoo!'s rules."""
    if not text.strip():
        return text, ["返信本文が空です。引用部分の上に返信を書いてください。"]
    if len(text) > YAHOO_MAX:
        return text, [f"Yahoo!ショッピングの返信は{YAHOO_MAX}文字までです。本文が{len(text)}文字あります。"
                      f"{len(text) - YAHOO_MAX}文字以上短くしてください。"]
    return text, []


def clean_name(name, content_type=""):
    """A file name the malls accept: no brackets or path, ≤ 100 characters with its extension."""
    name = re.sub(r"[\\/\r\n\t\0]", "_", (name or "").strip()).replace("[", "(").replace("]", ")")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, _TYPE_EXT.get((content_type or "").lower(), "")
    ext = ext.lower()
    stem = stem or "attachment"
    return f"{stem[:100 - len(ext) - 1]}.{ext}" if ext else stem[:100]


def check_files(mall, files):
    """(files to upload, problems) under the mall's attachment rules."""
    limit = RAKUTEN_MAX_FILES if mall == "rakuten" else YAHOO_MAX_FILES
    label = "楽天" if mall == "rakuten" else "Yahoo!ショッピング"
    problems, out = [], []
    if len(files) > limit:
        problems.append(f"{label}の返信に添付できるファイルは{limit}個までです（{len(files)}個添付されています）。")
    for f in files:
        name = clean_name(f.name, f.content_type)
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext not in FILE_TYPES:
            problems.append(f"添付ファイル「{f.name}」は送れません。{label}に送れるのはPNG・JPEG・GIF・PDFだけです。")
        elif not f.data:
            problems.append(f"添付ファイル「{f.name}」が空です。")
        elif len(f.data) > MAX_FILE:
            problems.append(f"添付ファイル「{f.name}」は{len(f.data) // 1024}KBあります。5MB以下にしてください。")
        elif not f.data.startswith(_MAGIC[ext]):
            problems.append(f"添付ファイル「{f.name}」の中身が拡張子（.{ext}）と一致しません。")
        else:
            out.append(type(f)(name, FILE_TYPES[ext], f.data))
    return out, problems


def check(mall, text, files=()):
    """Everything the mall would check, before posting; see Result."""
    files = list(files)
    if mall == "rakuten":
        out, problems, wrapped = check_rakuten_text(text)
    else:
        (out, problems), wrapped = check_yahoo_text(text), 0
    kept, file_problems = check_files(mall, files)
    return Result(out, kept, problems + file_problems, wrapped)

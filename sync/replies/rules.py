"""What every mall's write rules share, checked before anything is queued: the Result, wrapping
long lines without losing a character or splitting a URL, and the attachment checks.

Each mall adapter's `check_reply(text, files)` builds its Result from these (the Rakuten text
rules are in sync.malls.rakuten.rules): the text as it will be posted, the attachments as they
will be uploaded, and a list of problems in Japanese that tell the agent what to fix. A reply
with problems is never posted: the mall would reject it, or worse, accept it half.
"""
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sync.replies.parse import File

MAX_FILE = 5 * 1024 * 1024
FILE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
              "pdf": "application/pdf"}
_MAGIC = {"png": (b"\x89PNG",), "jpg": (b"\xff\xd8",), "jpeg": (b"\xff\xd8",), "gif": (b"GIF8",), "pdf": (b"%PDF",)}
_TYPE_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/gif": "gif", "application/pdf": "pdf"}
# Anything that looks like a link: a scheme URL, or a bare www. host the mall would linkify.
# URL characters are ASCII (RFC 3986), so a link followed directly by Japanese text ends there.
_LINK = re.compile(r"(?<![A-Za-z0-9+.-])(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_BREAK_AFTER = "、。，．,.!?！？)）」』】 　"
EMPTY = "返信本文が空です。引用部分の上に返信を書いてください。"


@dataclass
class Result:
    """The text and files to post, and what is wrong (empty = OK)."""

    text: str
    files: list[File] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    wrapped: int = 0  # lines that were wrapped (shown to the admin, not a problem)


def wrap_line(line: str, width: int) -> list[str]:
    """Split a long line into pieces ≤ width, preferring a break after punctuation or a space.

    Every character is kept, and a URL is never split (unless it alone is longer than width).
    Linear in the line's length: the links are found once and each piece looks only at its own
    window, so a 1 MB line costs what a thousand short ones do."""
    if len(line) <= width:
        return [line]
    protected = [(m.start(), m.end()) for m in _LINK.finditer(line)]
    pieces, start, first = [], 0, 0
    while len(line) - start > width:
        while first < len(protected) and protected[first][1] <= start:
            first += 1  # links that end before this window are behind us for good
        cut = _break_point(line, start, width, protected, first)
        pieces.append(line[start:cut].rstrip(" "))
        start = cut
        if line[cut:cut + 1] == " ":
            while start < len(line) and line[start] == " ":
                start += 1
    pieces.append(line[start:])
    return pieces


def _break_point(line, start, width, protected, first):
    """Where to cut the piece that begins at `start` (an absolute index)."""
    end = start + width
    inside = bytearray(width + 1)  # inside[c - start]: cutting before c would split a link
    for index in range(first, len(protected)):
        link_start, link_end = protected[index]
        if link_start >= end:
            break
        for cut in range(max(link_start + 1, start + 1), min(link_end, end + 1)):
            inside[cut - start] = 1
    for cut in range(end, start + width // 2, -1):
        if not inside[cut - start] and line[cut - 1] in _BREAK_AFTER:
            return cut
    for cut in range(end, start, -1):
        if not inside[cut - start]:
            return cut
    return end


def links(text: str) -> list[str]:
    """Everything in the text a mall would treat as a link."""
    return [m.group(0).rstrip(".,)") for m in _LINK.finditer(text)]


def clean_name(name: str | None, content_type: str = "") -> str:
    """A file name the malls accept: no brackets or path, ≤ 100 characters with its extension."""
    name = re.sub(r"[\\/\r\n\t\0]", "_", (name or "").strip()).replace("[", "(").replace("]", ")")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, _TYPE_EXT.get((content_type or "").lower(), "")
    ext = ext.lower()
    stem = stem or "attachment"
    return f"{stem[:100 - len(ext) - 1]}.{ext}" if ext else stem[:100]


def check_files(files: Sequence[File], *, limit: int, label: str) -> tuple[list[File], list[str]]:
    """(files to upload, problems) under a mall's attachment rules: at most `limit` PNG/JPEG/GIF/PDF
    files of 5 MB whose content matches the extension; `label` names the mall in the messages."""
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

"""Attachment checks for inquiry forms: the type comes from the file's bytes, not its name."""
import os
import unicodedata
from dataclasses import dataclass

from plugin.compose import Attachment, clean_header

# Content type → accepted file name extensions (the first one is added when a name has none).
ALLOWED = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/gif": (".gif",),
    "application/pdf": (".pdf",),
}


@dataclass(frozen=True)
class Limits:
    """How many files and how many bytes per file a form accepts."""

    max_files: int = 3
    max_file_bytes: int = 5 * 1024 * 1024


class UploadError(ValueError):
    """An attachment that is refused; the message is Japanese, for the customer."""


def sniff(data):
    """The content type recognised from the first bytes, or None for anything not allowed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    # PDF readers accept the header within the first KiB; so do we.
    if b"%PDF-" in data[:1024]:
        return "application/pdf"
    return None


def _safe_name(filename, content_type):
    name = clean_header(unicodedata.normalize("NFC", filename or ""))
    name = os.path.basename(name.replace("\\", "/")).strip(". ") or "attachment"
    stem, ext = os.path.splitext(name)
    if not ext:
        return name[:150] + ALLOWED[content_type][0]
    if ext.lower() not in ALLOWED[content_type]:
        raise UploadError(f"「{name[:80]}」はファイルの中身と拡張子が一致しません。")
    return stem[:150] + ext


def check(files, limits=Limits()):
    """[(filename, bytes)] → [Attachment]; raises UploadError with a Japanese message."""
    files = [(name, data) for name, data in files if name or data]
    if len(files) > limits.max_files:
        raise UploadError(f"添付ファイルは{limits.max_files}個までです。")
    result = []
    for filename, data in files:
        shown = clean_header(filename)[:80] or "添付ファイル"
        if not data:
            raise UploadError(f"「{shown}」は空のファイルです。")
        if len(data) > limits.max_file_bytes:
            mb = limits.max_file_bytes / (1024 * 1024)
            raise UploadError(f"「{shown}」が大きすぎます（1ファイル{mb:g}MBまで）。")
        content_type = sniff(data)
        if content_type is None:
            raise UploadError(f"「{shown}」は送信できない形式です（PNG・JPEG・GIF・PDFのみ）。")
        result.append(Attachment(data=data, filename=_safe_name(filename, content_type), content_type=content_type))
    return result

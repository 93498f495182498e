"""A submission's body read strictly: JSON, URL-encoded or multipart, in UTF-8, or a clear 4xx.

Werkzeug's lenient defaults lose what a customer typed without a word: URL-encoded bytes that
are not UTF-8 empty the whole form, broken multipart becomes an empty form, and invalid UTF-8 in
a multipart field turns into U+FFFD. Python's json raises RecursionError (a 500) on deeply
nested arrays. Here each of those is a BodyError with a Japanese message, and valid input
passes unchanged. Works on any werkzeug request (no Flask).
"""
import base64
import binascii
import json
from urllib.parse import parse_qsl

from werkzeug.formparser import FormDataParser, MultiPartParser

from plugin.forms.uploads import UploadError

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A form has a handful of fields (6 own, up to 20 of the shop's, a few hidden ones).
MAX_PARTS = 200
UTF8 = "UTF-8で送ってください（HTMLのフォームなら <form accept-charset=\"UTF-8\">）。"


class BodyError(Exception):
    """A body we cannot read; `status` is the HTTP status, str(exc) the Japanese message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def is_json(mimetype):
    """application/json and the application/*+json types (as Flask's request.is_json)."""
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def read(request):
    """The posted values: a dict of names to values (strings, or any JSON value)."""
    mimetype = request.mimetype
    if is_json(mimetype):
        return parse_json(request.get_data(cache=True))
    if mimetype not in FORM_TYPES and (mimetype or request.content_length):
        shown = mimetype[:60] or "Content-Type なし"
        raise BodyError(415, f"この送信形式（{shown}）には対応していません。application/json、"
                             "multipart/form-data、application/x-www-form-urlencoded のいずれかで送ってください。")
    request.form_data_parser_class = StrictFormDataParser
    request.max_form_parts = MAX_PARTS
    return request.form.to_dict()


def files(request, data):
    """The posted files as [(filename, bytes)]; UploadError when JSON `attachments` are malformed."""
    if is_json(request.mimetype):
        return json_attachments(data.get("attachments"))
    return [(f.filename or "", f.read()) for f in request.files.getlist("attachment") if f.filename]


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_json(raw):
    """The JSON object in `raw` (bytes; UTF-8, or UTF-16/32 with their BOM)."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError(400, "JSONの入れ子が深すぎます。項目の値は文字列で送ってください。") from None
    except UnicodeDecodeError:
        raise BodyError(400, "JSONの文字コードが正しくありません。" + UTF8) from None
    except ValueError:
        raise BodyError(400, "JSONの形式が正しくありません（オブジェクトで送ってください）。") from None
    if not isinstance(data, dict):
        raise BodyError(400, "JSONの形式が正しくありません（オブジェクトで送ってください）。")
    return data


def json_attachments(items):
    """JSON posts carry files as [{"filename": …, "content": base64}] → [(filename, bytes)]."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise UploadError("attachments は {filename, content} の配列で送ってください。")
    files = []
    for item in items:
        name, content = item.get("filename"), item.get("content")
        if not isinstance(name, (str, type(None))) or not isinstance(content, (str, type(None))):
            raise UploadError("添付ファイルの filename と content は文字列で送ってください。")
        try:
            data = base64.b64decode(content or "", validate=True)
        except (binascii.Error, ValueError):
            raise UploadError("添付ファイルの content が base64 ではありません。") from None
        files.append((name or "", data))
    return files


class _Latin1MultiPartParser(MultiPartParser):
    """Werkzeug's parser, with text fields kept byte for byte (latin-1) to be decoded strictly."""

    def get_part_charset(self, headers):
        return "latin-1"


class StrictFormDataParser(FormDataParser):
    """Form bodies in strict UTF-8; malformed bodies raise BodyError instead of parsing as empty."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.silent = False

    def parse(self, stream, mimetype, content_length, options=None):
        try:
            stream, form, files = super().parse(stream, mimetype, content_length, options)
        except UnicodeDecodeError:
            raise BodyError(400, "送信された文字の文字コードが正しくありません。" + UTF8) from None
        except ValueError:
            raise BodyError(400, "送信されたデータの形式が正しくありません。もう一度送信してください。") from None
        return stream, form, files

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        try:
            items = parse_qsl(stream.read().decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                              errors="strict", max_num_fields=self.max_form_parts)
        except UnicodeDecodeError:
            raise
        except ValueError:  # more fields than max_num_fields
            raise BodyError(413, f"項目が多すぎます（{self.max_form_parts}項目まで）。") from None
        return stream, self.cls(items), self.cls()

    def _parse_multipart(self, stream, mimetype, content_length, options):
        parser = _Latin1MultiPartParser(stream_factory=self.stream_factory, cls=self.cls,
                                        max_form_memory_size=self.max_form_memory_size,
                                        max_form_parts=self.max_form_parts)
        boundary = options.get("boundary", "").encode("ascii", "replace")
        if not boundary:
            raise ValueError("multipart body without a boundary")
        form, files = parser.parse(stream, boundary, content_length)
        text = [(name, value.encode("latin-1").decode("utf-8")) for name, value in form.items(multi=True)]
        return stream, self.cls(text), files

"""Lookup parameters from the raw request bytes, decoded in the helpdesk's charset."""
import codecs
import json
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from lookups.records import PLAIN_EMAIL
from plugin.normalize import MAX_EMAIL, MAX_TEL, is_email_syntax, normalize_email, normalize_name, normalize_tel

CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932",
            "cp932": "cp932", "windows-31j": "cp932", "euc-jp": "euc_jp", "eucjp": "euc_jp"}
SEARCH_KEYS = ("email", "tel", "customer_code", "order_number", "name")
MAX_LENGTHS = {"email": MAX_EMAIL, "tel": MAX_TEL, "customer_code": 64, "order_number": 64, "name": 200, "shop": 64}
# How messages name the parameters: the words on the search form (the key stays in `param`).
LABELS = {"email": "メールアドレス", "tel": "電話番号", "customer_code": "会員番号", "order_number": "受注番号",
          "name": "氏名", "shop": "店舗コード", "charset": "文字コード", "body": "本文"}
MAX_BODY = 64 * 1024


class ParamError(ValueError):
    """A lookup parameter is missing or malformed; the message names it (Japanese)."""

    def __init__(self, message, param=None):
        super().__init__(message)
        self.message, self.param = message, param


@dataclass
class LookupQuery:
    email: str | None = None
    tel: str | None = None
    customer_code: str | None = None
    order_number: str | None = None
    name: str | None = None
    shop: str | None = None
    email_norm: str | None = None
    tel_norm: str | None = None
    name_norm: str | None = None
    # What a signed relay address names (sync.identity.ReplyAddress), set by lookups.relay.
    relay: tuple | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self):
        """What was searched, as given (for the JSON answer and the audit log)."""
        return {k: getattr(self, k) for k in (*SEARCH_KEYS, "shop") if getattr(self, k)}


_RAW_HIGH = re.compile(rb"[\x80-\xff]")
# Control characters are never part of an address, phone, code or name; PostgreSQL refuses NUL
# outright, and lone surrogates (JSON "\ud800") cannot be encoded for the database at all.
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def quote_raw(raw):
    """Query bytes as ASCII text: raw (not percent-encoded) bytes some helpdesks send get quoted."""
    return _RAW_HIGH.sub(lambda m: b"%%%02X" % m.group()[0], raw).decode("ascii", "replace")


def _pairs(raw, encoding):
    # Quoting raw bytes first lets one decoder see them and the percent-encoded ones alike.
    text = quote_raw(raw)
    try:
        return parse_qsl(text, keep_blank_values=True, encoding=encoding, errors="strict")
    except UnicodeDecodeError:
        name = {"cp932": "Shift_JIS", "euc_jp": "EUC-JP"}.get(encoding, "UTF-8")
        raise ParamError(f"パラメータを {name} として解釈できません。文字コード（charset）を確認してください。", "charset")


def _charset_from(raw_parts, content_type, default):
    for raw in raw_parts:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if key in ("charset", "_charset_") and value:
                return value
    if content_type and "charset=" in content_type.lower():
        return content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"')
    return default


def resolve_charset(name):
    """Python codec for a charset name, or ParamError naming `charset`."""
    key = (name or "utf-8").strip().lower()
    if key not in CHARSETS:
        raise ParamError(f"文字コード（charset）「{name}」には対応していません（utf-8 / shift_jis / euc-jp）。", "charset")
    codecs.lookup(CHARSETS[key])
    return CHARSETS[key]


def parse(query_bytes, body_bytes, content_type, default_charset="utf-8"):
    """Merge query string and body (form or JSON) into a validated LookupQuery."""
    content_type = (content_type or "").lower()
    body_form = body_bytes if body_bytes and "json" not in content_type else b""
    encoding = resolve_charset(_charset_from([query_bytes, body_form], content_type, default_charset))
    values = {}
    for raw in (query_bytes, body_form):
        if raw:
            for key, value in _pairs(raw, encoding):
                values.setdefault(key, value)
    if body_bytes and "json" in content_type:
        values.update(_json_params(body_bytes))
    return validate(values)


def _json_params(body):
    if len(body) > MAX_BODY:
        raise ParamError(f"本文が大きすぎます（{MAX_BODY // 1024} KB まで）。", "body")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ParamError("JSON の本文を解釈できません。", "body")
    except RecursionError:
        # [[[[…]]]] thousands deep: the parser gives up before building it; the body is bad input.
        raise ParamError("JSON の本文の入れ子が深すぎます。検索項目を1段のオブジェクトで送ってください。", "body")
    if not isinstance(data, dict):
        raise ParamError("JSON の本文はオブジェクトで送ってください（例: {\"email\": \"taro@example.jp\"}）。", "body")
    values = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            if key not in LABELS:
                continue  # not a lookup parameter: ignored like any other unknown key
            raise ParamError(f"{LABELS[key]}（{key}）は文字列か数値で指定してください。", key)
        values[key] = value if isinstance(value, str) else str(value)
    return values


def _valid_email(address):
    """is_email_syntax, with the everyday shape accepted in a microsecond instead of ~40 µs (a few
    percent of a whole lookup); special-use domains (.onion, .arpa, …) still get the full check."""
    if PLAIN_EMAIL.fullmatch(address) and address.rsplit(".", 1)[1] not in SPECIAL_USE_DOMAIN_NAMES:
        return True
    return is_email_syntax(address)


def validate(values):
    """Check presence, length and syntax; the error names the parameter (in Japanese)."""
    q = LookupQuery()
    for key in (*SEARCH_KEYS, "shop"):
        value = values.get(key)
        if value is None:
            continue
        value = value.strip()
        if _CONTROL.search(value):
            raise ParamError(f"{LABELS[key]}に使えない文字（制御文字）が含まれています。", key)
        if len(value) > MAX_LENGTHS[key]:
            raise ParamError(f"{LABELS[key]}が長すぎます（{MAX_LENGTHS[key]}文字まで）。", key)
        setattr(q, key, value or None)
    if q.order_number:
        # Typed on the phone: full-width digits and stray spaces are the same number.
        q.order_number = "".join(unicodedata.normalize("NFKC", q.order_number).split()) or None
    if q.name:
        q.name_norm = normalize_name(q.name)
        if not q.name_norm:
            q.name = None
    if not any(getattr(q, k) for k in SEARCH_KEYS):
        given = [k for k in SEARCH_KEYS if k in values]
        if given:
            raise ParamError(f"{LABELS[given[0]]}が空です。検索する値を入力してください。", given[0])
        raise ParamError("メールアドレス・電話番号・会員番号・受注番号・氏名のいずれかを入力してください。", "email")
    if q.email:
        # An unencoded '+' (r+token@…) arrives as a space; addresses never contain spaces.
        q.email = q.email.replace(" ", "+")
        q.email_norm = normalize_email(q.email)
        if not _valid_email(q.email_norm):
            raise ParamError("メールアドレスの形式が正しくありません。", "email")
    if q.tel:
        q.tel_norm = normalize_tel(q.tel)
        if not q.tel_norm or len(q.tel_norm.lstrip("+")) < 4:
            raise ParamError("電話番号の形式が正しくありません（数字とハイフンで入力してください）。", "tel")
    return q

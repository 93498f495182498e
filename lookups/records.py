"""Validate and normalise one member or order record (a CSV row or a JSON item). No Flask, no DB.

`clean(kind, raw)` returns (values, errors): values holds only the fields the record names, in
database terms, so an upsert never blanks a column the source did not send; errors maps a field
to a Japanese reason. CSV and the API share this module, so both accept exactly the same input.
"""
import datetime as dt
import re
import unicodedata

from lookups.models import MALL_LABELS, MALLS
from plugin.clock import from_jst_naive
from plugin.normalize import is_email_syntax, normalize_email, normalize_name, normalize_tel, split_multi

KINDS = ("members", "orders")
KEY_FIELD = {"members": "customer_code", "orders": "order_number"}
# field -> (type, max length). Lengths are the model's column sizes: PostgreSQL refuses longer
# strings, so they are checked here, where the row can still be reported instead of failing a batch.
FIELDS = {
    "members": {"shop": ("key", 64), "customer_code": ("key", 64), "name": ("line", 200),
                "name_kana": ("line", 200), "email": ("emails", 254), "tel": ("tels", 40),
                "postal_code": ("line", 16), "address": ("text", 500), "registered_at": ("datetime", 0),
                "note": ("text", 20000)},
    "orders": {"shop": ("key", 64), "order_number": ("key", 64), "mall": ("mall", 16),
               "customer_code": ("key", 64), "name": ("line", 200), "email": ("email", 254),
               "tel": ("tel", 40), "ordered_at": ("datetime", 0), "status": ("line", 64),
               "total": ("yen", 0), "items": ("items", 0), "shipping_name": ("line", 200),
               "shipping_address": ("text", 500), "tracking_number": ("line", 100)},
}
# JSON spellings of the same fields; our own lookup output (id, url, …) may be posted back as is.
JSON_SYNONYMS = {"members": {"emails": "email", "tels": "tel"}, "orders": {}}
READ_ONLY = {"id", "url", "latest_orders"}
MAX_MULTI = 20
MAX_ITEMS = 500
MAX_YEN = 10 ** 12
_DATE = re.compile(r"(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})日?(?:[ T]+(\d{1,2})[:時](\d{1,2})分?(?:[:](\d{1,2})(?:\.\d+)?秒?)?)?")
# The everyday address shape, checked in a microsecond; anything else gets the full (slower) check.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"(?=[A-Za-z0-9-]{1,63}\.)[A-Za-z0-9](?:[A-Za-z0-9]|-(?!-))*(?<!-)"
PLAIN_EMAIL = re.compile(rf"(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
# NUL is refused by PostgreSQL and lone surrogates (from JSON "\\ud800") cannot be encoded.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_MALL_WORDS = {**{m: m for m in MALLS}, **{label.lower(): m for m, label in MALL_LABELS.items()},
               "楽天": "rakuten", "rakuten ichiba": "rakuten", "yahoo!": "yahoo", "yahoo": "yahoo",
               "yahoo!ショッピング": "yahoo", "自社": "own", "本店": "own"}


class Invalid(ValueError):
    """A field value that cannot be stored; the message is shown to shop staff as is."""


def clean(kind, raw):
    """(values, errors) for one record; values use column names, errors map field -> reason."""
    fields = FIELDS[kind]
    values, errors = {}, {}
    for name, value in raw.items():
        field = JSON_SYNONYMS[kind].get(name, name)
        if field not in fields:
            if name not in READ_ONLY:
                errors[name] = "この項目はありません（項目名を確認してください）"
            continue
        kind_of, size = fields[field]
        try:
            values.update(_CONVERT[kind_of](field, value, size))
        except Invalid as exc:
            errors[field] = str(exc)
    # The name search columns (lookups.keys.NAME) are written with the names, by the same function.
    for source, target in (("name", "name_norm"), ("name_kana", "kana_norm")):
        if source in values and source in fields:
            values[target] = normalize_name(values[source])
    key = KEY_FIELD[kind]
    if not values.get(key) and key not in errors:
        errors[key] = "必須です"
    return values, errors


def _text(value, size, single_line=False):
    """A stripped string (None when empty); numbers are taken as their digits."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid("文字列で指定してください")
    text = str(value).strip()
    if _UNSTORABLE.search(text):
        raise Invalid("使えない文字（制御文字）が含まれています")
    if single_line:
        # Names and numbers end up in mail headers and table cells: one line, single spaces.
        text = re.sub(r"\s*[\r\n]+\s*", " ", text)
    if len(text) > size:
        raise Invalid(f"長すぎます（{size}文字まで、{len(text)}文字あります）")
    return text or None


def _line(field, value, size):
    return {field: _text(value, size, single_line=True)}


def _multiline(field, value, size):
    return {field: _text(value, size)}


def _key(field, value, size):
    # Codes are compared exactly at lookup time, so they are stored exactly as sent (trimmed).
    return {field: _text(value, size, single_line=True)}


def _many(value, size):
    """A list of strings from a JSON list or a ';'-separated cell."""
    if value is None:
        return []
    if isinstance(value, list):
        parts = [_text(v, size, single_line=True) for v in value]
        parts = [p for p in parts if p]
    else:
        parts = split_multi(_text(value, size * MAX_MULTI, single_line=True))
    if len(parts) > MAX_MULTI:
        raise Invalid(f"多すぎます（{MAX_MULTI}件まで）")
    return parts


def _checked_email(text):
    if len(text) > 254 or not (PLAIN_EMAIL.fullmatch(text) or is_email_syntax(unicodedata.normalize("NFKC", text))):
        raise Invalid(f"メールアドレスの形式が正しくありません: {text}")
    return text, normalize_email(text)


def _checked_tel(text, size):
    if len(text) > size:
        raise Invalid(f"電話番号が長すぎます: {text}")
    norm = normalize_tel(text)
    if not norm or not 6 <= len(norm.lstrip("+")) <= 15:
        raise Invalid(f"電話番号として読めません: {text}")
    return text, norm


def _emails(field, value, size):
    seen, out = set(), []
    for text in _many(value, size):
        email, norm = _checked_email(text)
        if norm not in seen:
            seen.add(norm)
            out.append((email, norm))
    return {"emails": out}


def _tels(field, value, size):
    seen, out = set(), []
    for text in _many(value, size):
        tel, norm = _checked_tel(text, size)
        if norm not in seen:
            seen.add(norm)
            out.append((tel, norm))
    return {"phones": out, "tel": out[0][0] if out else None}


def _email(field, value, size):
    text = _text(value, size, single_line=True)
    if text and len(split_multi(text)) > 1:
        raise Invalid("メールアドレスは1件だけ指定してください")
    email, norm = _checked_email(text) if text else (None, None)
    return {"email": email, "email_norm": norm}


def _tel(field, value, size):
    text = _text(value, size, single_line=True)
    tel, norm = _checked_tel(text, size) if text else (None, None)
    return {"tel": tel, "tel_norm": norm}


def _mall(field, value, size):
    text = _text(value, 40, single_line=True)
    if text is None:
        return {"mall": "own"}
    mall = _MALL_WORDS.get(unicodedata.normalize("NFKC", text).lower())
    if mall is None:
        raise Invalid(f"モールは own / rakuten / yahoo のいずれかです: {text}")
    return {"mall": mall}


def parse_datetime(value):
    """Naive UTC from ISO 8601 or 2024/05/01 [12:34[:56]]; times without an offset are JST."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise Invalid("日時は文字列で指定してください（例: 2024/05/01 12:34）")
    text = unicodedata.normalize("NFKC", value).strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        match = _DATE.fullmatch(text)
        if not match:
            raise Invalid(f"日時として読めません（例: 2024/05/01 12:34）: {value}") from None
        try:
            parsed = dt.datetime(*(int(g) for g in match.groups() if g is not None))
        except ValueError:
            raise Invalid(f"存在しない日時です: {value}") from None
    if not 1900 <= parsed.year <= 2200:
        raise Invalid(f"日時の年が範囲外です: {value}")
    return from_jst_naive(parsed)


def _datetime(field, value, size):
    if value is None or (isinstance(value, str) and not value.strip()):
        return {field: None}
    return {field: parse_datetime(value)}


def parse_yen(value, allow_negative=False):
    """Whole yen from 1980, "1,980", "¥1,980" or "1980円"."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid("金額は整数で指定してください")
    text = re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", str(value)))
    text = re.sub(r"^([-+]?)[¥\\]", r"\1", text).removesuffix("円")
    if not re.fullmatch(r"[-+]?\d{1,15}", text):
        raise Invalid(f"金額として読めません（整数の円）: {value}")
    amount = int(text)
    if amount < 0 and not allow_negative:
        raise Invalid(f"金額に負の値は使えません: {value}")
    if abs(amount) >= MAX_YEN:
        raise Invalid(f"金額が大きすぎます: {value}")
    return amount


def _yen(field, value, size):
    if value is None or (isinstance(value, str) and not value.strip()):
        return {field: None}
    return {field: parse_yen(value)}


def _item(entry, n):
    """One order line from a JSON object or a 'sku:name:quantity:price' string."""
    if isinstance(entry, str):
        parts = entry.split(":")
        if len(parts) < 4:
            raise Invalid(f"{n}件目の商品は「SKU:商品名:数量:単価」で指定してください: {entry}")
        entry = {"sku": parts[0], "name": ":".join(parts[1:-2]), "quantity": parts[-2], "price": parts[-1]}
    elif not isinstance(entry, dict):
        raise Invalid(f"{n}件目の商品は {{sku, name, quantity, price}} のオブジェクトで指定してください")
    unknown = set(entry) - {"sku", "name", "quantity", "price"}
    if unknown:
        raise Invalid(f"{n}件目の商品に不明な項目があります: {', '.join(sorted(unknown))}")
    try:
        quantity = entry.get("quantity")
        quantity = 1 if quantity in (None, "") else int(unicodedata.normalize("NFKC", str(quantity)).strip())
        if isinstance(entry.get("quantity"), bool) or not 0 <= quantity <= 1_000_000:
            raise ValueError
    except ValueError:
        raise Invalid(f"{n}件目の商品の数量は0以上の整数です: {entry.get('quantity')}") from None
    price = entry.get("price")
    try:
        # Discount lines (クーポン値引き) carry negative prices in shop exports.
        price = None if price in (None, "") else parse_yen(price, allow_negative=True)
        return {"sku": _text(entry.get("sku"), 100, True), "name": _text(entry.get("name"), 300, True),
                "quantity": quantity, "price": price}
    except Invalid as exc:
        raise Invalid(f"{n}件目の商品: {exc}") from None


def _items(field, value, size):
    if value is None or value == "":
        return {"items": []}
    if isinstance(value, str):
        value = [part for part in value.split("|") if part.strip()]
    if not isinstance(value, list):
        raise Invalid("商品は配列（JSON）か「SKU:商品名:数量:単価|…」（CSV）で指定してください")
    if len(value) > MAX_ITEMS:
        raise Invalid(f"商品が多すぎます（{MAX_ITEMS}件まで）")
    return {"items": [_item(entry, n) for n, entry in enumerate(value, 1)]}


_CONVERT = {"key": _key, "line": _line, "text": _multiline, "emails": _emails, "tels": _tels,
            "email": _email, "tel": _tel, "mall": _mall, "datetime": _datetime, "yen": _yen, "items": _items}

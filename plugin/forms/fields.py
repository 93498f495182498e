"""The fields an inquiry form can show and how their submitted values are checked.

Field types are fixed (name, email, tel, order_number, message, attachment); a form's config
only switches them on/off, marks them required and relabels them.
"""
import re
import unicodedata

from plugin.forms.addresses import ascii_address
from plugin.normalize import email_problem, normalize_tel

# name → (default label, input type, max length, autocomplete hint)
TYPES = {
    "name": ("お名前", "text", 100, "name"),
    "email": ("メールアドレス", "email", 254, "email"),
    "tel": ("電話番号", "tel", 30, "tel"),
    "order_number": ("注文番号", "text", 64, "off"),
    "message": ("お問い合わせ内容", "textarea", 10000, "off"),
    "attachment": ("添付ファイル", "file", None, "off"),
}
DEFAULT_FIELDS = [
    {"name": "name", "label": "お名前", "required": True, "enabled": True},
    {"name": "email", "label": "メールアドレス", "required": True, "enabled": True},
    {"name": "tel", "label": "電話番号", "required": False, "enabled": True},
    {"name": "order_number", "label": "注文番号", "required": False, "enabled": True},
    {"name": "message", "label": "お問い合わせ内容", "required": True, "enabled": True},
    {"name": "attachment", "label": "添付ファイル", "required": False, "enabled": True},
]
HONEYPOT = "website"
# Extra fields a shop's own form may send (e.g. a category select) are kept and mailed too.
IGNORED = {HONEYPOT, "attachments", "attachment", "csrf_token"}
MAX_EXTRA_FIELDS, MAX_EXTRA_LENGTH = 20, 2000
# Any name a shop's form may use (`category`, `item[color]`, `ご用件(必須)`): up to 40 characters,
# no control characters (names appear in the mail's `name: value` lines and as hidden inputs).
_EXTRA_NAME = re.compile(r"^(?=.*\S)[^\x00-\x1f\x7f\u2028\u2029]{1,40}$")
EXTRA = "extra"  # the error key for problems with the extra fields as a whole
SHORT_QUOTE = 50  # characters of a one-line field (a name) quoted to an unconfirmed address
# Anything but tab/newline among control characters is dropped from what customers type.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
# Half of a surrogate pair (JSON "\ud83d" from a script that cut an emoji in two) cannot be
# stored or mailed; it becomes U+FFFD so the rest of the text is kept.
_SHOWN = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]")  # what an error message cannot show
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TEL = re.compile(r"^\+?[0-9()\- ]+$")


def normalized_config(fields):
    """A form's field config completed with the defaults (unknown names dropped, order kept)."""
    given = {f.get("name"): f for f in (fields or []) if isinstance(f, dict) and f.get("name") in TYPES}
    result = []
    for default in DEFAULT_FIELDS:
        field = dict(default)
        field.update({k: v for k, v in given.get(default["name"], {}).items() if k in field})
        field["label"] = str(field["label"] or default["label"])[:100]
        field["required"], field["enabled"] = bool(field["required"]), bool(field["enabled"])
        field["type"] = TYPES[field["name"]][1]
        field["autocomplete"] = TYPES[field["name"]][3]
        result.append(field)
    return result


def enabled_fields(fields):
    """The fields a form shows, in order."""
    return [f for f in normalized_config(fields) if f["enabled"]]


def _text(value):
    """Submitted text as one clean string (None for lists/objects, which forms never send)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = _SURROGATE.sub("\ufffd", str(value))
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def _check(field, text):
    """Japanese message for one non-empty value, or None."""
    _label, _kind, limit, _ = TYPES[field["name"]]
    if limit and len(text) > limit:
        return f"{field['label']}は{limit}文字以内で入力してください。"
    if field["name"] in ("name", "tel", "order_number", "email") and "\n" in text:
        return f"{field['label']}は1行で入力してください。"
    if field["name"] == "email" and email_problem(text):
        return email_problem(text)
    if field["name"] == "email" and ascii_address(text) is None:
        return "メールアドレスの@より前は半角英数字と記号で入力してください。"
    if field["name"] == "tel":
        tel = unicodedata.normalize("NFKC", text)
        digits = normalize_tel(tel) or ""
        if not _TEL.match(tel) or not 9 <= len(digits.lstrip("+")) <= 15:
            return "電話番号は数字とハイフンで入力してください（例: 03-1234-5678）。"
    return None


def validate(fields, data):
    """Check submitted text values → (values, errors); both keyed by field name.

    `data` maps names to strings (form posts) or JSON values. Values are kept even when
    invalid, so the form can be shown again with what the customer typed.
    """
    values, errors = {}, {}
    for field in enabled_fields(fields):
        name = field["name"]
        if field["type"] == "file":
            continue
        text = _text(data.get(name))
        if text is None:
            values[name] = ""
            errors[name] = f"{field['label']}は文字列で入力してください。"
            continue
        if name == "email":
            text = unicodedata.normalize("NFKC", text).strip()
        values[name] = text
        if not text:
            if field["required"]:
                errors[name] = f"{field['label']}を入力してください。"
            continue
        message = _check(field, text)
        if message:
            errors[name] = message
        elif name == "email":
            values[name] = ascii_address(text)
    _extras(data, values, errors)
    return values, errors


def _extras(data, values, errors):
    """Keep the other text fields the shop's own form sent (bounded): none is dropped unsaid."""
    extra = [k for k in data if k not in values and k not in IGNORED]
    kept, refused = 0, []
    for key in extra:
        text = _text(data.get(key))
        if text == "":
            continue  # an empty field says nothing
        if not isinstance(key, str) or not _EXTRA_NAME.match(key):
            refused.append(str(key)[:40])
            continue
        kept += 1
        if kept > MAX_EXTRA_FIELDS:
            continue
        if text is None:
            errors[key] = f"{key}は文字列で送ってください。"
            values[key] = ""
            continue
        if len(text) > MAX_EXTRA_LENGTH:
            errors[key] = f"{key}は{MAX_EXTRA_LENGTH}文字以内で入力してください。"
        values[key] = text
    if kept > MAX_EXTRA_FIELDS:
        errors[EXTRA] = f"項目が多すぎます（追加の項目は{MAX_EXTRA_FIELDS}個まで、送信されたのは{kept}個）。"
    if refused:
        errors.setdefault(EXTRA, f"使えない項目名があります: 「{_SHOWN.sub('?', refused[0])}」（40文字以内、制御文字なし）。")


def excerpt(text, limit, marker="…（以下省略）"):
    """`text` cut to `limit` characters, saying so when it was cut."""
    return text if len(text) <= limit else text[:limit].rstrip() + marker


def summary(fields, values, attachment_names=(), quote=None):
    """The submission as text for mails: `label: value` lines, the message last.

    With `quote` (a number of characters) the free text (the message, then the shop's extra
    fields) is cut to that excerpt and the one-line fields to SHORT_QUOTE, for mail to an
    address nobody has confirmed.
    """
    lines, message = [], None
    shown = enabled_fields(fields)
    for field in shown:
        if field["type"] == "file":
            continue
        value = values.get(field["name"]) or ""
        if field["type"] == "textarea":
            message = f"{field['label']}:\n{value}"
        else:
            quoted = value if quote is None else excerpt(value, SHORT_QUOTE, "…")
            lines.append(f"{field['label']}: {quoted}")
    known = {f["name"] for f in shown}
    free = [f"{key}: {value}" for key, value in values.items() if key not in known]
    if attachment_names:
        free.append("添付ファイル: " + ", ".join(attachment_names))
    if message is not None:
        free.append(message)
    if quote is None:
        return "\n".join(lines + free)
    if quote > 0 and free:
        # The message first: what the customer wrote matters more than the shop's extra fields.
        lines.append(excerpt("\n".join(free[-1:] + free[:-1] if message is not None else free), quote))
    return "\n".join(lines)

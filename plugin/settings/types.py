"""Setting value types: parse admin/CLI input into typed values, store them as JSON, show them.

Every parser accepts either the typed value or the text an admin typed, and raises
SettingValueError with a Japanese message naming what is wrong. No Flask here.
"""
import json
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

from plugin.normalize import domain_hint, is_valid_email, normalize_email

TYPES = ("str", "text", "int", "bool", "email", "url", "choice", "emails", "senders")
TRUE_WORDS = {"1", "true", "yes", "on", "y", "はい"}
FALSE_WORDS = {"0", "false", "no", "off", "n", "いいえ", ""}
UNSET = "（未設定）"
MASKED = "●●●●（設定済み）"


class SettingValueError(ValueError):
    """Input that does not fit the setting's type or rule; str(exc) is a Japanese message."""


def is_blank(raw):
    """Empty input means "no value" (the default applies), except for booleans."""
    return raw is None or (isinstance(raw, str) and raw.strip() == "") or raw == []


def parse(decl, raw):
    """The typed value for `raw`, or None for blank input (bool: False)."""
    if isinstance(raw, str) and re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw):
        raise SettingValueError("使用できない制御文字が含まれています。")
    if decl.type == "bool":
        value = parse_bool(raw)
    elif is_blank(raw):
        return None
    else:
        value = _PARSERS[decl.type](decl, raw)
    if decl.validate is not None and value is not None:
        message = decl.validate(value)
        if message:
            raise SettingValueError(message)
    return value


def parse_bool(raw):
    """True/False from a checkbox, CLI word or bool."""
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return False
    word = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingValueError("「はい」か「いいえ」で指定してください。")


def _str(decl, raw):
    value = str(raw).strip()
    if "\n" in value or "\r" in value:
        raise SettingValueError("改行は入力できません。1行で入力してください。")
    if len(value) > 2000:
        raise SettingValueError("長すぎます（2000文字まで）。")
    return value


def _text(decl, raw):
    value = str(raw).replace("\r\n", "\n").replace("\r", "\n")
    if len(value) > 100_000:
        raise SettingValueError("長すぎます（100000文字まで）。")
    return value


def _int(decl, raw):
    if isinstance(raw, bool):
        raise SettingValueError("整数を入力してください。")
    if isinstance(raw, int):
        return raw
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(",", "")
    if not re.fullmatch(r"[+-]?\d{1,18}", text):
        raise SettingValueError("半角数字（整数）で入力してください。")
    return int(text)


def _email(decl, raw):
    value = normalize_email(str(raw))
    if not value or not is_valid_email(value):
        raise SettingValueError(domain_hint(value)
                                or "メールアドレスの形式が正しくありません（例: inbox@example.relationapp.jp）。")
    return value


def _emails(decl, raw):
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[,;、，\s]+", str(raw))
    found = []
    for item in items:
        if not str(item).strip():
            continue
        try:
            address = _email(decl, item)
        except SettingValueError:
            hint = domain_hint(normalize_email(str(item)))
            raise SettingValueError(hint or f"「{str(item).strip()}」はメールアドレスの形式ではありません。") from None
        if address not in found:
            found.append(address)
    return found or None


def _senders(decl, raw):
    """Addresses or whole domains written `@domain` (e.g. a helpdesk's sending domain)."""
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"[,;、，\s]+", str(raw))
    found = []
    for item in items:
        text = normalize_email(str(item)) or ""
        if not text:
            continue
        probe = "sender" + text if text.startswith("@") else text
        if text.count("@") != 1 or not is_valid_email(probe):
            raise SettingValueError(domain_hint(probe) or f"「{str(item).strip()}」はメールアドレスでも @ドメイン でもありません"
                                    "（例: support@example.jp、@mail.relationapp.jp）。")
        if text not in found:
            found.append(text)
    return found or None


def _choice(decl, raw):
    value = str(raw).strip()
    allowed = [c[0] if isinstance(c, (tuple, list)) else c for c in (decl.choices or ())]
    if value not in allowed:
        raise SettingValueError("選択肢から選んでください（" + "、".join(map(str, allowed)) + "）。")
    return value


def _url(decl, raw):
    return normalize_https_url(str(raw))


def normalize_https_url(raw):
    """An https URL without credentials, fragment or query; lower-case host, no trailing slash."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) > 2000:
        raise SettingValueError("URLが長すぎます（2000文字まで）。")
    if re.search(r"\s", text):
        raise SettingValueError("URLに空白は入れられません。")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise SettingValueError("URLの形式が正しくありません（例: https://example.relationapp.jp）。") from None
    if parts.scheme.lower() != "https":
        raise SettingValueError("https:// で始まるURLを入力してください（http:// などは使えません）。")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise SettingValueError("URLにユーザー名やパスワードを含めないでください。")
    try:
        host = (parts.hostname or "").lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", host):
        raise SettingValueError("URLのホスト名が正しくありません（例: https://example.relationapp.jp）。")
    if parts.fragment or text.endswith("#"):
        raise SettingValueError("URLに「#」以降（フラグメント）を含めないでください。")
    if parts.query or text.endswith("?"):
        raise SettingValueError("URLに「?」以降（クエリ文字列）を含めないでください。")
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return urlunsplit(("https", netloc, parts.path.rstrip("/"), "", ""))


_PARSERS = {"str": _str, "text": _text, "int": _int, "email": _email, "emails": _emails,
            "senders": _senders, "choice": _choice, "url": _url}


def dump(value):
    """Stored text of a typed value."""
    return json.dumps(value, ensure_ascii=False)


def load(text):
    """Typed value from stored text."""
    return json.loads(text)


def display(decl, value, secret_changed=False):
    """How a value appears in the history and forms (secrets masked)."""
    if value is None or value == [] or value == "":
        return UNSET
    if decl.secret:
        return "●●●●（新しい値）" if secret_changed else MASKED
    if decl.type == "bool":
        return "はい" if value else "いいえ"
    if decl.type in ("emails", "senders"):
        return ", ".join(value)
    if decl.type == "choice":
        for choice in decl.choices or ():
            if isinstance(choice, (tuple, list)) and choice[0] == value:
                return f"{choice[1]}（{value}）"
    return str(value)


def form_text(decl, value):
    """The text to put back into an input field for a stored value."""
    if value is None:
        return ""
    if decl.type in ("emails", "senders"):
        return ", ".join(value)
    return str(value)

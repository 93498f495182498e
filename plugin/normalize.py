"""How e-mails and phone numbers are compared: the same function at write time and at lookup."""
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

_NON_DIGIT = re.compile(r"[^0-9]")
MAX_EMAIL = 254
MAX_TEL = 32
_RESERVED_TLDS = {"localhost", "test", "local", "invalid", "example"}


def normalize_email(value):
    """Trimmed, NFKC (full-width @ and letters), lower-cased on the whole address."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", value).strip().lower() or None


def is_valid_email(value):
    """Syntax check only (no DNS: lookups must not wait on the network); the domain needs a dot.

    `tanaka@gmail` or `hanako.sato@example` can never receive mail, so every typed address
    (forms, settings, staff, routing, CLI) is refused without a dot-separated domain.
    """
    try:
        validate_email(value, check_deliverability=False, globally_deliverable=True)
    except EmailNotValidError:
        # Reserved names under a domain of ours (reply.localhost, shop.test, mail.local) are fine:
        # our own reply domain defaults to one and test shops use them. Check the rest of the
        # syntax with a neutral TLD in their place; a bare reserved TLD (`a@example`) stays refused.
        local, _, domain = value.rpartition("@")
        head, dot, tld = domain.rpartition(".")
        if not (dot and head) or tld.lower() not in _RESERVED_TLDS:
            return False
        try:
            validate_email(f"{local}@{head}.example", check_deliverability=False, globally_deliverable=True)
        except EmailNotValidError:
            return False
    return True


def is_email_syntax(value):
    """Syntax only, a dotless domain allowed: for finding and importing addresses a shop already has.

    A shop's own data may hold `tanaka@gmail`; refusing it would hide that customer from a lookup
    or drop the row from an import. Addresses people type go through is_valid_email instead.
    """
    try:
        validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        return is_valid_email(value)  # reserved names under a domain of ours (reply.localhost, …)
    return True


def domain_hint(value):
    """For `tanaka@gmail`: a Japanese sentence saying the domain stops short (else None)."""
    local, at, domain = (value or "").rpartition("@")
    if at and local and domain and "." not in domain and re.fullmatch(r"[A-Za-z0-9-]+", domain):
        return (f"メールアドレスの「@」より後ろ（{domain}）が途中で終わっています。"
                "「gmail.com」「docomo.ne.jp」のように、ドメインを最後まで入力してください。")
    return None


def email_problem(value):
    """A Japanese sentence on what is wrong with a typed address, or None when it is accepted."""
    if is_valid_email(value):
        return None
    return domain_hint(value) or "メールアドレスの形式が正しくありません（例: taro@example.jp）。"


def normalize_tel(value):
    """Digits only: hyphens, spaces, brackets and full-width digits ignored; +81 becomes 0."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    digits = _NON_DIGIT.sub("", text)
    if text.startswith("+81") or (text.startswith("+") and digits.startswith("81")):
        rest = digits[2:]
        digits = rest if rest.startswith("0") else "0" + rest
    elif text.startswith("+"):
        digits = "+" + digits
    elif digits.startswith("81") and len(digits) in (11, 12):
        # "+81…" whose '+' became a space in an unencoded query string; Japanese numbers
        # written nationally start with 0, so a leading 81 at this length is the country code.
        digits = "0" + digits[2:]
    return digits or None


def split_multi(value):
    """Several values in one CSV cell, separated by ';' (also ',' and full-width '；')."""
    if not value:
        return []
    parts = re.split(r"[;；,、]", value)
    return [p.strip() for p in parts if p.strip()]


# Hiragana ぁ…ゖ to katakana ァ…ヶ: an agent types a reading in either script.
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_ANY_SPACE = re.compile(r"\s+")


def normalize_name(value):
    """A name or its reading as name searches compare it: NFKC (full- and half-width alike), spaces
    dropped, hiragana as katakana, lower-cased; None when nothing is left."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).translate(_HIRAGANA_TO_KATAKANA)
    return _ANY_SPACE.sub("", text).lower() or None

"""Address lists as shop staff type them, and the web origins allowed to post a form."""
import re
import unicodedata
from urllib.parse import urlsplit

from plugin.normalize import domain_hint, is_valid_email

# Staff separate addresses with commas, Japanese commas, semicolons, spaces or new lines.
_SEPARATORS = re.compile(r"[,、，;；\s]+")


def ascii_address(value):
    """The address as mail can carry it without SMTPUTF8 (IDN domain → punycode), or None."""
    if not is_valid_email(value) or len(value) > 254:
        return None
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        return None
    try:
        domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return None
    return f"{local}@{domain}"


def parse_addresses(text):
    """Split and validate an address list → (addresses, Japanese error messages)."""
    found, errors = [], []
    for part in _SEPARATORS.split(unicodedata.normalize("NFKC", text or "")):
        part = part.strip().strip("<>")
        if not part:
            continue
        address = ascii_address(part)
        if address is None:
            errors.append(f"「{part[:80]}」はメールアドレスとして正しくありません。" + (domain_hint(part) or ""))
        elif address.lower() not in (a.lower() for a in found):
            found.append(address)
    return found, errors


def parse_origins(text):
    """Split and validate allowed origins (`https://shop.example.jp`) → (origins, errors)."""
    found, errors = [], []
    for part in re.split(r"[,\s]+", text or ""):
        part = part.strip()
        if not part:
            continue
        origin = normalize_origin(part)
        if origin is None:
            errors.append(f"「{part[:80]}」はオリジン（例: https://shop.example.jp）として正しくありません。")
        elif origin not in found:
            found.append(origin)
    return found, errors


def normalize_origin(value):
    """`scheme://host[:port]` in lower case, or None when `value` is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")

"""Yahoo! error documents: XML <Error> (any namespace or encoding), JSON {"error": …}, the
WWW-Authenticate challenge, and error documents that arrive with a 2xx status.
"""
import re
import xml.etree.ElementTree as ET

from sync.malls.errors import AUTH_CODES, MalformedResponse, MallAuthError, PermanentMallError
from sync.malls.yahoo.model import MALL

_PX_CODE = re.compile(r"px-\d{5}")
_CHALLENGE_ERROR = re.compile(r'error="?([A-Za-z_]+)')
_XML_ENCODING = re.compile(rb'encoding=["\']([A-Za-z0-9_.:-]+)["\']')
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Success statuses: PUT/DELETE may answer 202/204 without a body.
OK_STATUSES = (200, 201, 202, 204)
# 401 codes a fresh access token can cure; the call is repeated once after a refresh.
TOKEN_CODES = frozenset({"invalid_token", "px-04102"})


def extract_error(reply):
    """(code, reason, targets) from XML <Error>, JSON {"error": {...}} / {"error": "..."} or headers."""
    text = reply.text.strip()
    code = reason = None
    if text.startswith("<"):
        code, reason, _parsed = _xml_error(reply.content.strip())
        if not (code or reason):  # broken XML, or an HTML page: keep its start for the log
            reason = text[:200]
    elif text:
        try:
            data = reply.json()
        except MalformedResponse:
            data = None
        err = data.get("error", data.get("Error")) if isinstance(data, dict) else None
        if isinstance(err, dict):
            reason = err.get("reason") or err.get("Message") or err.get("message")
            code = err.get("code") or err.get("Code")
        elif isinstance(err, str):  # OAuth: {"error": "invalid_grant", "error_description": "…"}
            code, reason = err, data.get("error_description")
        else:
            reason = text[:200]
    code, reason = (str(code) if code is not None else None), (str(reason) if reason is not None else None)
    if not code and reason:
        found = _PX_CODE.search(reason)
        code = found.group(0) if found else None
    challenge = reply.header("WWW-Authenticate") or ""
    if not code:
        # RFC 6750: Bearer realm="yahooapis.jp", error="invalid_token", error_description="expired token"
        found = _CHALLENGE_ERROR.search(challenge)
        if found:
            code, reason = found.group(1), reason or challenge
    return code, (reason or "").strip() or None, {}


def _xml_error(content):
    """(code, message, parsed) from an XML error body, whatever its namespace or encoding."""
    try:
        root = ET.fromstring(content)
    except (ET.ParseError, ValueError):
        # expat reads only single-byte encodings and UTF-8/16; Yahoo! pages may be Shift_JIS or EUC-JP.
        declared = _XML_ENCODING.search(content[:200])
        try:
            text = content.decode(declared.group(1).decode("ascii") if declared else "utf-8", errors="replace")
            root = ET.fromstring(_XML_DECLARATION.sub("", text, count=1))
        except (ET.ParseError, ValueError, LookupError):
            return None, None, False
    found = {}
    for element in root.iter():
        name = str(element.tag).rsplit("}", 1)[-1].lower()  # "{urn:yahoo:jp}Message" → "message"
        if name in ("code", "message") and name not in found and (element.text or "").strip():
            found[name] = element.text.strip()
    return found.get("code"), found.get("message"), True


def json_body(reply, empty_ok=False):
    """The JSON of a 2xx reply; an error document (XML <Error>, JSON {"error": …}) raises."""
    content = reply.content.strip()
    if not content and empty_ok:
        return {}  # 204 or an empty 200 to a PUT/DELETE: nothing to report but success
    if content.startswith(b"<"):  # Yahoo! answers some errors with HTTP 200 and an XML body
        code, reason, parsed = _xml_error(content)
        if not parsed or not (code or reason):
            raise MalformedResponse(f"XML instead of JSON with HTTP {reply.status}: {reply.text[:80]!r}", mall=MALL,
                                    status=reply.status)
        raise _error_in_body(reply, code, reason)
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("error", data.get("Error")), (dict, str)):
        # {"error": {"reason": …}} with 200 must not read as an empty list or a missing field.
        code, reason, _ = extract_error(reply)
        raise _error_in_body(reply, code, reason)
    return data


def _error_in_body(reply, code, reason):
    cls = MallAuthError if code in AUTH_CODES else PermanentMallError
    return cls(f"error with HTTP {reply.status}: {code} {reason}", mall=MALL, status=reply.status, code=code,
               reason=reason)

"""Plumbing shared by the fake APIs: error responses in each mall's shape, faults, rate limits."""
import json
import time
from xml.sax.saxutils import escape

from flask import Response, current_app, g, request


class ApiError(Exception):
    """Abort the request with this exact response (status, body, headers)."""

    def __init__(self, status, body=None, headers=None, content_type="application/json;charset=UTF-8",
                 response=None):
        super().__init__(status)
        self.response = response if response is not None else make(body, status, headers, content_type)


def make(body, status=200, headers=None, content_type="application/json;charset=UTF-8"):
    """A response; dicts and lists are JSON without ASCII escaping, like the real APIs."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False)
    return Response(body, status=status, headers=headers or {}, content_type=content_type)


def state():
    """The FakeMallState of the running app."""
    return current_app.extensions["fake_mall"]


def rakuten_error(status, code, message, targets=None):
    """An ApiError with the inquiry API's `error{}` body."""
    err = {"code": code, "message": message}
    if targets is not None:
        err["targets"] = targets
    return ApiError(status, {"error": err})


def rms_error(status, code, message, headers=None):
    """An ApiError with the RMS-wide `errors[]` body (auth, upload size, licence API)."""
    return ApiError(status, {"errors": [{"code": code, "message": message}]}, headers)


def ie001(**targets):
    """400 IE001 "bad parameter" naming the fields and reasons."""
    return rakuten_error(400, "IE001", "bad parameter", targets)


def yahoo_error(status, message, code=None, headers=None):
    """An ApiError with Yahoo's XML `<Error>` body."""
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Message>{escape(message)}</Message>'
    xml += f"<Code>{escape(code)}</Code></Error>" if code else "</Error>"
    return ApiError(status, xml, headers, content_type="application/xml;charset=UTF-8")


def fault_body(mall, status):
    """The body a mall would send with an injected error status."""
    if mall == "yahoo":
        return yahoo_error(status, "Too Many Requests" if status == 429 else f"HTTP {status}").response
    if status == 429:
        return rms_error(429, "TooManyRequests", "Too Many Requests").response
    return rakuten_error(status, "IE999" if status >= 500 else "IE001", f"{status} error").response


def before_api(mall, account, explicit_only=False):
    """Apply a queued fault, then the per-account rate limit; called first by every API view."""
    st = state()
    with st.lock:
        fault = st.take_fault(mall, request.path, explicit_only)
        limited = st.over_rate(mall, account) if not fault else False
    if fault:
        kind = fault["kind"]
        if kind == "timeout":
            time.sleep(float(fault["delay"] or 30))  # outside the lock: other clients keep going
        elif kind in ("truncated", "garbage"):
            g.fault = kind
        else:
            status = int(fault["status"] or 500)
            resp = make(fault["body"], status) if fault.get("body") is not None else fault_body(mall, status)
            if fault.get("retry_after") is not None:
                resp.headers["Retry-After"] = str(fault["retry_after"])
            raise ApiError(status, response=resp)
    if limited:
        resp = fault_body(mall, 429)
        resp.headers["Retry-After"] = "1"
        raise ApiError(429, response=resp)


def finish(response):
    """after_request: spoil the body for 'truncated' / 'garbage' faults."""
    kind = getattr(g, "fault", None)
    if kind == "truncated":
        data = response.get_data()
        response.set_data(data[: max(len(data) // 2, 1)])
    elif kind == "garbage":
        response.set_data(b"<html><body>503 Service Temporarily Unavailable</body></html>")
        response.status_code = 200
        response.content_type = "text/html"
    return response


def handle_api_error(exc):
    """errorhandler: send the prepared response."""
    return exc.response

"""Security headers on every response: what the browser may load and run, who may frame us, what
leaves in a Referer, what may be cached, and HTTPS-only outside the demo.

The pages run no inline script and no event-handler attribute: behaviour lives in plugin/static
(app.js: confirmations, select and copy; template_preview.js; form.js), so `script-src 'self'`
holds. Inline style attributes remain on a few pages, hence `'unsafe-inline'` for styles only.
Nobody frames mallbridge: the helpdesk opens lookups in a new window or tab, never in an iframe.
"""
from flask import current_app, request

_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",  # the template editor's live preview
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
)
CSP = "; ".join(_DIRECTIVES)
# A year, the usual HSTS lifetime; no includeSubDomains: other hosts of the shop's domain are not ours.
HSTS = "max-age=31536000"


def secure(response):
    """Add the headers to one response (an after_request hook)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for browsers that predate CSP 2
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Lookup URLs carry e-mail addresses and phone numbers: they must not travel to other sites
    # in a Referer. Same-origin requests keep it (Flask-WTF checks it on HTTPS posts).
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(current_app.static_url_path + "/"):
        # Lookups, member and order pages, the console and the API carry customer data: no
        # browser or proxy may keep a copy (a shared PC's back button, a disk cache).
        headers.setdefault("Cache-Control", "no-store")
    if not current_app.config.get("DEMO"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app):
    """Register the hook on `app`."""
    app.after_request(secure)

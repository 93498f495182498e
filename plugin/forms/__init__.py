"""Inquiry forms: the hosted form and submission endpoint `/forms/<slug>` (public).

Views live in plugin.forms.views; the logic in Flask-free modules (fields, addresses,
uploads, service). `init_app` sets the form limits and the rate limiter. Posts come from the
shop's own site, which cannot know our CSRF token (plugin.features exempts the blueprint); the
origin check, the honeypot and the per-IP rate limit protect the endpoint instead.
"""
from plugin.forms import ratelimit_storage
from plugin.forms.views import bp, limiter

DEFAULTS = {
    # Per client IP, for POST /forms/<slug>; flask-limiter syntax, several limits with ';'.
    "FORMS_RATE_LIMIT": "5 per minute;30 per hour",
    "FORMS_MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "FORMS_MAX_FILES": 3,
    "FORMS_MAX_FILE_BYTES": 5 * 1024 * 1024,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
}


def init_app(app):
    """Configure the public forms' limits and rate limiter (create_app registers the blueprint)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    # memory:// would start a timer thread inside create_app; the deferred one starts on use.
    app.config["RATELIMIT_STORAGE_URI"] = ratelimit_storage.storage_uri(app.config["RATELIMIT_STORAGE_URI"])
    limiter.init_app(app)
    # init_app hooks the limit check into every request (lookups, API, pages): about 0.5 ms CPU
    # each. Only /forms has limits and its decorator checks them itself, so the app-wide hook
    # runs for the forms blueprint alone (there are no default or application-wide limits).
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks.remove(limiter._check_request_limit)
        app.before_request_funcs.setdefault(bp.name, []).append(limiter._check_request_limit)

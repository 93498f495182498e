"""Inquiry forms: the hosted form and submission endpoint `/forms/<slug>` (public).

Views live in plugin.forms.views; the logic in Flask-free modules (fields, addresses, body,
uploads, throttle, service). `init_app` sets the form limits and the throttle. Posts come from
the shop's own site, which cannot know our CSRF token (plugin.features exempts the blueprint);
the origin check, the honeypot, the per-IP limit and the per-address limit of acknowledgements
protect the endpoint instead.
"""
from plugin.config import ConfigError
from plugin.forms.throttle import EXTENSION, Throttle, check_storage_uri, parse_limits
from plugin.forms.views import bp

DEFAULTS = {
    # Valid posts per client IP to POST /forms/<slug>; `limits` syntax, several limits with ';'.
    "FORMS_RATE_LIMIT": "5 per minute;30 per hour",
    "FORMS_MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "FORMS_MAX_FILES": 3,
    "FORMS_MAX_FILE_BYTES": 5 * 1024 * 1024,
    # Unset: the counters live in the application's database (shared by every worker).
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_ENABLED": True,
}

__all__ = ["bp", "init_app"]


def init_app(app):
    """Configure the public forms' limits (create_app registers the blueprint). Adds no hook."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    try:
        parse_limits(app.config["FORMS_RATE_LIMIT"])
    except ValueError:
        raise ConfigError(f"MALLBRIDGE_FORMS_RATE_LIMIT={app.config['FORMS_RATE_LIMIT']!r} is not a rate limit "
                          "(e.g. '5 per minute;30 per hour')") from None
    try:
        check_storage_uri(app.config["RATELIMIT_STORAGE_URI"])
    except ValueError:
        raise ConfigError(f"MALLBRIDGE_RATELIMIT_STORAGE_URI={app.config['RATELIMIT_STORAGE_URI']!r}: leave it unset "
                          "(the database), or use e.g. redis://host:6379 or memory://") from None
    app.extensions[EXTENSION] = Throttle(app.config["RATELIMIT_STORAGE_URI"])


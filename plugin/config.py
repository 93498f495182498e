"""Deployment config: code defaults, instance/config.py, MALLBRIDGE_* env vars, test_config.

Runtime settings that shop admins edit live in the database (plugin.settings), never here.
"""
import base64
import hashlib
import os

from cryptography.fernet import Fernet

ENV_PREFIX = "MALLBRIDGE"
MIN_SECRET_KEY = 32  # characters of MALLBRIDGE_SECRET_KEY outside the demo

DEFAULTS = {
    "DEMO": False,
    "SECRET_KEY": None,
    "ENCRYPTION_KEY": None,
    "DATABASE_URL": None,
    "SMTP_URL": None,
    "REPLY_DOMAIN": "reply.localhost",
    "RAKUTEN_API_BASE": "https://api.rms.rakuten.co.jp/es/1.0",
    "YAHOO_API_BASE": "https://circus.shopping.yahooapis.jp/ShoppingWebService/V1",
    "YAHOO_AUTH_BASE": "https://auth.login.yahoo.co.jp/yconnect/v2",
    "FAKE_MALL_URL": "http://127.0.0.1:8900",
    # The helpdesk's Open API base; unset: derived from the environment's URL (plugin.helpdesk.target).
    "HELPDESK_API_BASE": None,
    "FAKE_HELPDESK_URL": "http://127.0.0.1:8901",
    # Requests per minute and token mallbridge allows itself (the helpdesk's limit); 0 only for fakes.
    "HELPDESK_RATE_LIMIT": 60,
    "LOOKUP_ENCODING": "utf-8",
    "LOOKUP_ORDER_LIMIT": 50,
    "API_MAX_ITEMS": 1000,
    "API_MAX_BYTES": 5 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "PASSWORD_HASH_METHOD": "scrypt",
    "LOGIN_MAX_FAILURES": 10,  # one account from one IP
    "LOGIN_ACCOUNT_MAX_FAILURES": 20,  # one account from any IPs (plugin/login_limits.py)
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # No pre-ping on every checkout: plugin/pool.py pings only connections that sat idle.
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "WTF_CSRF_TIME_LIMIT": None,
}


DEMO_MALL_PATHS = {"RAKUTEN_API_BASE": "/rakuten/es/1.0", "YAHOO_API_BASE": "/yahoo/ShoppingWebService/V1",
                   "YAHOO_AUTH_BASE": "/yahoo/yconnect/v2"}


class ConfigError(RuntimeError):
    """Raised at startup when the deployment config is incomplete or wrong."""


def load(app, test_config=None):
    """Fill app.config in the documented order and derive the values the extensions need."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(ENV_PREFIX)
    if test_config is not None:
        app.config.from_mapping(test_config)
    cfg = app.config
    cfg["DEMO"] = _truthy(cfg.get("DEMO"))
    if cfg["DEMO"]:
        # Demo keys are derived from the instance path: stable across gunicorn workers and
        # restarts without writing a file, and useless anywhere else.
        seed = hashlib.sha256(("mallbridge-demo:" + app.instance_path).encode()).digest()
        cfg["SECRET_KEY"] = cfg.get("SECRET_KEY") or seed.hex()
        cfg["ENCRYPTION_KEY"] = cfg.get("ENCRYPTION_KEY") or base64.urlsafe_b64encode(seed).decode()
        cfg["SMTP_URL"] = cfg.get("SMTP_URL") or "smtp://127.0.0.1:1025"
        # The demo talks to `mallbridge fake-mall` (Procfile.demo) unless told otherwise.
        for key, path in DEMO_MALL_PATHS.items():
            if f"{ENV_PREFIX}_{key}" not in os.environ and key not in (test_config or {}):
                cfg[key] = cfg["FAKE_MALL_URL"].rstrip("/") + path
        # …and to `mallbridge fake-helpdesk` for the address book.
        if not cfg.get("HELPDESK_API_BASE"):
            cfg["HELPDESK_API_BASE"] = cfg["FAKE_HELPDESK_URL"].rstrip("/") + "/api/v2"
    elif not cfg.get("TESTING"):
        missing = [f"{ENV_PREFIX}_{k}" for k in ("SECRET_KEY", "ENCRYPTION_KEY") if not cfg.get(k)]
        if missing:
            raise ConfigError(
                "mallbridge cannot start: set " + " and ".join(missing)
                + " (or MALLBRIDGE_DEMO=1 for a local demo with generated keys)."
            )
        if len(str(cfg["SECRET_KEY"])) < MIN_SECRET_KEY:
            # Sessions, relay addresses and completion links are signed with it: a short key can be guessed.
            raise ConfigError(
                f"mallbridge cannot start: {ENV_PREFIX}_SECRET_KEY is too short ({len(str(cfg['SECRET_KEY']))} "
                f"characters; at least {MIN_SECRET_KEY}). Generate one with: "
                "python -c \"import secrets; print(secrets.token_urlsafe(48))\"")
    if cfg.get("ENCRYPTION_KEY"):
        check_encryption_keys(cfg["ENCRYPTION_KEY"])
    # Flask ships SESSION_COOKIE_SECURE=False, so only an explicit choice may override ours.
    if "SESSION_COOKIE_SECURE" not in (test_config or {}) and f"{ENV_PREFIX}_SESSION_COOKIE_SECURE" not in os.environ:
        cfg["SESSION_COOKIE_SECURE"] = not cfg["DEMO"] and not cfg.get("TESTING")
    cfg["REMEMBER_COOKIE_SECURE"] = cfg["SESSION_COOKIE_SECURE"]
    url = cfg.get("SQLALCHEMY_DATABASE_URI") or cfg.get("DATABASE_URL")
    if not url:
        url = "sqlite:///" + os.path.join(app.instance_path, "mallbridge.db")
    cfg["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(str(url))


def check_encryption_keys(raw):
    """ConfigError unless `raw` is one or more comma-separated Fernet keys.

    Checked at startup: a malformed key would otherwise surface much later, as a failure
    (or a traceback) the first time a secret is saved.
    """
    keys = [k.strip() for k in str(raw).split(",") if k.strip()]
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            which = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ConfigError(
                f"mallbridge cannot start: {ENV_PREFIX}_ENCRYPTION_KEY is malformed ({which} is not a Fernet key: "
                "32 url-safe base64-encoded bytes). Generate one with: python -c \"from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())\"") from None
    if not keys:
        raise ConfigError(f"mallbridge cannot start: {ENV_PREFIX}_ENCRYPTION_KEY holds no key.")


def normalize_database_url(url):
    """Map the usual PostgreSQL URL spellings onto the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _truthy(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)

"""Configuration read from environment variables."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("HELPDESK_INSTANCE_DIR", BASE_DIR / "instance"))

DEV_SECRET_KEY = "dev-only-secret-key-change-me"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _engine_options() -> dict:
    """Engine options; pool sizes from DB_POOL_SIZE / DB_MAX_OVERFLOW when set (per process)."""
    options: dict = {"pool_pre_ping": True}
    if os.environ.get("DB_POOL_SIZE"):
        options["pool_size"] = int(os.environ["DB_POOL_SIZE"])
    if os.environ.get("DB_MAX_OVERFLOW"):
        options["max_overflow"] = int(os.environ["DB_MAX_OVERFLOW"])
    return options


_PRODUCTION = _bool("HELPDESK_PRODUCTION", False)


class Config:
    """Settings shared by every environment, read from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    # Fernet keys, comma separated, newest first (see README: key rotation).
    ENCRYPTION_KEYS = os.environ.get("ENCRYPTION_KEYS", "")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'helpdesk.sqlite'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = _engine_options()
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "helpdesk")
    THERMOSTAT_BASE_URL = os.environ.get("THERMOSTAT_BASE_URL", "https://thermostat.io")
    THERMOSTAT_TIMEOUT = float(os.environ.get("THERMOSTAT_TIMEOUT", "10"))
    THERMOSTAT_MAX_ATTEMPTS = int(os.environ.get("THERMOSTAT_MAX_ATTEMPTS", "6"))
    THERMOSTAT_RETRY_BASE = float(os.environ.get("THERMOSTAT_RETRY_BASE", "5"))
    # Thermostat allows 200 calls a minute per token; keep a small margin for clock skew.
    THERMOSTAT_RATE_LIMIT = int(os.environ.get("THERMOSTAT_RATE_LIMIT", "196"))
    THERMOSTAT_RATE_WINDOW = int(os.environ.get("THERMOSTAT_RATE_WINDOW", "60"))
    THERMOSTAT_THROTTLE_MAX_WAIT = float(os.environ.get("THERMOSTAT_THROTTLE_MAX_WAIT", "30"))
    HELPDESK_URL = os.environ.get("HELPDESK_URL", "http://127.0.0.1:5000")
    # Outbound email (helpdesk/mail). The default is the local sink `make run` starts.
    SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "8025"))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", False)
    SMTP_TIMEOUT = float(os.environ.get("SMTP_TIMEOUT", "10"))
    SMTP_MAX_ATTEMPTS = int(os.environ.get("SMTP_MAX_ATTEMPTS", "5"))
    SMTP_RETRY_BASE = float(os.environ.get("SMTP_RETRY_BASE", "30"))
    MAIL_FROM = os.environ.get("MAIL_FROM", "helpdesk@localhost")
    # Where the development SMTP sink stores what it catches (Admin > Mail (dev) reads it).
    MAIL_SINK_DIR = os.environ.get("MAIL_SINK_DIR", str(INSTANCE_DIR / "mail"))
    REQUESTS_PER_PAGE = 25
    INBOUND_MAX_BYTES = 1024 * 1024
    # Werkzeug stops reading any body past this (also bodies sent without Content-Length).
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    INBOUND_TOLERANCE_SECONDS = 300
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure cookies by default in production (served over HTTPS); override either way.
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", _PRODUCTION)
    REMEMBER_COOKIE_SECURE = _bool("REMEMBER_COOKIE_SECURE", _PRODUCTION)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Login throttling (Flask-Limiter). Storage: RATELIMIT_STORAGE_URI, else REDIS_URL.
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STRATEGY = "moving-window"
    RATELIMIT_KEY_PREFIX = "helpdesk-limits"
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host (Werkzeug's
    # ProxyFix). 0 (the default) trusts none: a client cannot spoof its address to the login
    # throttle; behind one proxy, 1, or every login would count against the proxy's address.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # If Redis is down, let logins through (logged) rather than lock every user out.
    RATELIMIT_SWALLOW_ERRORS = True
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "10 per minute")
    LOGIN_LIMIT_PER_EMAIL = os.environ.get("LOGIN_LIMIT_PER_EMAIL", "20 per hour")
    WTF_CSRF_TIME_LIMIT = None
    PRODUCTION = _PRODUCTION
    TESTING = False


class TestingConfig(Config):
    """Settings for the test suite: its own database, fast retries."""

    TESTING = True
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SECRET_KEY = "testing-secret-key"
    THERMOSTAT_TIMEOUT = 2.0
    THERMOSTAT_RETRY_BASE = 0.2
    SMTP_TIMEOUT = 2.0
    SMTP_RETRY_BASE = 0.2
    PRODUCTION = False
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    RATELIMIT_ENABLED = False  # a test that needs it turns it on (with the real Redis)


def check_production(config: dict) -> None:
    """Refuse to start in production without real secrets."""
    if not config.get("PRODUCTION"):
        return
    if config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY) or len(config["SECRET_KEY"]) < 32:
        raise RuntimeError("HELPDESK_PRODUCTION is set: SECRET_KEY must be a random value (32+ chars)")
    if not config.get("ENCRYPTION_KEYS"):
        raise RuntimeError("HELPDESK_PRODUCTION is set: ENCRYPTION_KEYS must hold a Fernet key")

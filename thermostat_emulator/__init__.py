"""Thermostat emulator: a small Flask app that plays thermostat.io on this machine.

It implements the contract of docs/thermostat-api.md (API, survey links, token flow, push)
plus a few pages for people (account, surveys, outbox, responses, settings, fault switches)
and JSON hooks for tests (`/_state.json`, `/_reset`, `/_faults`).

Throttle: a *sliding-window log* per token. A call is allowed while the token made fewer
than EMULATOR_RATE_LIMIT allowed calls in the last EMULATOR_RATE_WINDOW seconds; otherwise
it gets 429 with `Retry-After` = whole seconds (at least 1) until the oldest call in the
window ages out. Throttled calls do not count. Only authenticated calls count.

Config keys (the `config` dict wins over environment variables of the same name):
EMULATOR_DB, EMULATOR_TOKEN, EMULATOR_RATE_LIMIT, EMULATOR_RATE_WINDOW, EMULATOR_PLAN_LIMIT,
EMULATOR_PUSH_URL, EMULATOR_PUSH_SECRET, SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import os
import secrets

from flask import Flask, g

from . import store
from .push import Pusher

DEFAULTS = {
    "EMULATOR_DB": os.path.join("instance", "emulator.sqlite"),
    "EMULATOR_TOKEN": None,
    "EMULATOR_RATE_LIMIT": 200,
    "EMULATOR_RATE_WINDOW": 60,
    "EMULATOR_PLAN_LIMIT": 10000,
    "EMULATOR_PUSH_URL": None,
    "EMULATOR_PUSH_SECRET": None,
    "SECRET_KEY": None,
}
INT_KEYS = ("EMULATOR_RATE_LIMIT", "EMULATOR_PLAN_LIMIT")
FLOAT_KEYS = ("EMULATOR_RATE_WINDOW",)


def hash_token(token: str) -> str:
    """Return the stored form of an API token (tokens themselves are never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _settings(config: dict | None) -> dict:
    """Resolve config: defaults, then env vars, then the explicit dict; coerce numbers."""
    resolved = dict(DEFAULTS)
    for key in DEFAULTS:
        if os.environ.get(key):
            resolved[key] = os.environ[key]
    resolved.update(config or {})
    for key in INT_KEYS:
        resolved[key] = int(resolved[key])
    for key in FLOAT_KEYS:
        resolved[key] = float(resolved[key])
    if not resolved["SECRET_KEY"]:
        resolved["SECRET_KEY"] = secrets.token_hex(16)
    resolved["EMULATOR_DB"] = os.path.abspath(resolved["EMULATOR_DB"])
    return resolved


def _seed_runtime(app: Flask) -> None:
    """Apply startup config to the store: the demo token and the push target."""
    conn = store.connect(app.config["EMULATOR_DB"])
    try:
        with store.tx(conn):
            token = app.config.get("EMULATOR_TOKEN")
            if token:
                conn.execute(
                    "INSERT INTO tokens (token_hash, last4, created_ts) VALUES (?,?,?)"
                    " ON CONFLICT (token_hash) DO UPDATE SET revoked_ts = NULL",
                    (hash_token(token), token[-4:], store.now()),
                )
            # Startup config wins over what /settings stored earlier; /settings can change it.
            if app.config.get("EMULATOR_PUSH_URL"):
                store.set_setting(conn, "push_url", app.config["EMULATOR_PUSH_URL"])
            if app.config.get("EMULATOR_PUSH_SECRET"):
                store.set_setting(conn, "push_secret", app.config["EMULATOR_PUSH_SECRET"])
    finally:
        conn.close()


def get_db():
    """Return this request's SQLite connection, opening it on first use."""
    if "emulator_db" not in g:
        from flask import current_app

        g.emulator_db = store.connect(current_app.config["EMULATOR_DB"])
    return g.emulator_db


def create_app(config: dict | None = None) -> Flask:
    """Build the emulator app; creates and seeds its SQLite store if missing."""
    app = Flask(__name__)
    app.config.update(_settings(config))
    app.json.sort_keys = False
    store.init_db(app.config["EMULATOR_DB"])
    _seed_runtime(app)
    app.extensions["thermostat_push"] = Pusher(app.config["EMULATOR_DB"])

    @app.teardown_appcontext
    def _close_db(_exc) -> None:
        conn = g.pop("emulator_db", None)
        if conn is not None:
            conn.close()

    from .api import bp as api_bp
    from .pages import bp as pages_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    return app

"""The helpdesk application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user
from werkzeug.routing import IntegerConverter

from .config import BASE_DIR, INSTANCE_DIR, Config, check_production


def create_app(config_object: type | None = None, overrides: dict[str, Any] | None = None
               ) -> Flask:
    """Build the app: config, extensions, blueprints, error handlers, commands, logging."""
    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_object(config_object or Config)
    if overrides:
        app.config.update(overrides)
    check_production(app.config)
    if app.config["TRUSTED_PROXIES"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith(f"sqlite:///{INSTANCE_DIR}"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    register_extensions(app)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    register_blueprints(app)
    register_security(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    configure_logging(app)
    return app


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: at most 2**31 - 1, the largest id PostgreSQL stores, so a
    hand-typed /requests/99999999999 is a 404 rather than a database error."""

    def __init__(self, map, *args, **kwargs):
        from .criteria import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_extensions(app: Flask) -> None:
    """Bind db, migrate, login manager and CSRF protection; hook the outbox to commits."""
    from . import models
    from .extensions import csrf, db, limiter, login_manager, migrate
    from .aftercommit import install as install_after_commit
    from .outbox import install_session_hooks
    from .sqlite import install_sqlite_pragmas

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str):
        # "<id>:<session_version>": a password reset or deactivation bumps the version.
        uid, _, version = user_id.partition(":")
        if not (uid.isdigit() and version.isdigit()):
            return None
        user = db.session.get(models.User, int(uid))
        if user is None or not user.active or user.session_version != int(version):
            return None
        return user

    with app.app_context():
        install_sqlite_pragmas(db.engine)
    install_session_hooks(db)
    install_after_commit()


def register_blueprints(app: Flask) -> None:
    """Mount every feature; admin areas hang under the admin blueprint and its guard."""
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .reports.routes import bp as reports_bp
    from .results.routes import bp as results_bp
    from .tickets import bp as tickets_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(results_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")


# Endpoints reachable without logging in; everything else requires a session.
PUBLIC_ENDPOINTS = {"auth.login", "static", "results.inbound", "health"}


def register_security(app: Flask) -> None:
    """Login on every page but the public ones, and security headers on every answer."""

    @app.before_request
    def refuse_nul_characters():
        # No text column can hold a NUL (PostgreSQL refuses it; SQLite would store a value
        # that LIKE then matches wrongly): refuse it in any query or form value, in one place.
        from .errors import NulCharacter

        for values in (request.args, request.form):
            for key, items in values.lists():
                if "\x00" in key or any("\x00" in item for item in items):
                    raise NulCharacter()

    @app.before_request
    def require_login():
        if "_user_id" in session and not current_user.is_authenticated:
            # The session names an account that no longer loads (deactivated, or its
            # password was reset): end it and say why, instead of a silent bounce.
            logout_user()
            flash("Your session has ended (your account was deactivated or its password was "
                  "changed). Please log in again.", "info")
            if request.endpoint not in PUBLIC_ENDPOINTS:
                return redirect(url_for("auth.login"))
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None

    @app.get("/healthz", endpoint="health")
    def health():
        """Liveness probe for the run command and load balancers."""
        return {"ok": True}

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def register_error_handlers(app: Flask) -> None:
    """Error pages per code; roll back on 500; never show exception text."""
    from .errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    """Filters the templates share (rating badges, dates)."""
    from .templating import register

    register(app)


def register_commands(app: Flask) -> None:
    """CLI: seed-demo, thermostat poll, outbox sweep."""
    from .cli import register

    register(app)


def configure_logging(app: Flask) -> None:
    """Log to stderr at INFO unless the app is in debug."""
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

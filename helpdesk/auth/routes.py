"""Login and logout views."""

import math
import time
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select

from ..extensions import db, limiter
from ..models import User
from . import bp
from .forms import LoginForm


def safe_next(target: str | None) -> str:
    """Only our own paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return url_for("tickets.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        # control characters: a newline would reach the Location header (a 500, or worse)
        return url_for("tickets.index")
    return target


def _submitted_email() -> str:
    """The rate-limit key of the per-account limit: the email as the login matches it."""
    return "email:" + (request.form.get("email") or "").strip().lower()[:254]


def _too_many_attempts(limit) -> object:
    """The 429 page: how long to wait, never which limit (IP or account) was hit."""
    # reset_at is rounded up to the next whole second; take that second back off.
    seconds = max(1, math.ceil(limit.reset_at - 1 - time.time()))
    wait = math.ceil(seconds / 60)
    message = (f"Too many login attempts; try again in {wait} minute"
               f"{'' if wait == 1 else 's'}.")
    response = current_app.make_response(
        (render_template("errors/error.html", code=429, message=message), 429))
    response.headers["Retry-After"] = str(seconds)
    return response


# Only POSTs count, and only failed ones (a successful login answers with a redirect), so
# an office behind one address is not locked out by its own colleagues logging in.
_failed = {"methods": ["POST"], "deduct_when": lambda response: response.status_code != 302,
           "on_breach": _too_many_attempts}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], **_failed)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_EMAIL"], key_func=_submitted_email,
               **_failed)
def login():
    """Log a staff member in."""
    if current_user.is_authenticated:
        return redirect(url_for("tickets.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(
            select(User).where(func.lower(User.email) == form.email.data.strip().lower()))
        if user is None or not user.check_password(form.password.data) or not user.active:
            flash("Wrong email or password.", "error")
        else:
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    """Log out (a POST with a CSRF token, so a link elsewhere cannot log you out)."""
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))

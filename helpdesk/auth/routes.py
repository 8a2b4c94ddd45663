"""Login and logout views."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from . import bp
from .forms import LoginForm


def safe_next(target: str | None) -> str:
    """Only our own paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return url_for("tickets.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return url_for("tickets.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
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

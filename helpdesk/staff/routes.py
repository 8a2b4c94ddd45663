"""Admin > Staff views (the admin blueprint's guard covers every one of them)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_user
from sqlalchemy import select

from ..extensions import db
from ..models import User
from . import bp
from .forms import ActionForm, PasswordResetForm, StaffForm
from .services import (
    StaffError,
    create_staff,
    deactivate_staff,
    reactivate_staff,
    reset_password,
)


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/")
def index():
    """Every account: active first, then by name."""
    users = list(db.session.scalars(select(User).order_by(User.active.desc(), User.name,
                                                          User.id)))
    return render_template("staff/index.html", users=users)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Create an agent or admin with an initial password."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            user = create_staff(form.name.data, form.email.data, form.role.data,
                                form.password.data)
        except StaffError as exc:
            db.session.rollback()
            getattr(form, exc.field or "email").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{user.role.capitalize()} {user.name} <{user.email}> created.", "success")
            return redirect(url_for(".index"))
    status = 400 if form.errors else 200
    return render_template("staff/new.html", form=form), status


def _show(user: User, form: PasswordResetForm, status: int = 200):
    return render_template("staff/show.html", user=user, form=form,
                           action_form=ActionForm()), status


@bp.get("/<int:user_id>")
def show(user_id: int):
    """One account: reset its password, deactivate or reactivate it."""
    return _show(_user(user_id), PasswordResetForm(formdata=None))


@bp.post("/<int:user_id>/password")
def password(user_id: int):
    """Set a new password; the account's other sessions end at their next request."""
    user = _user(user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        return _show(user, form, 400)
    reset_password(user, form.password.data)
    db.session.commit()
    if user.id == current_user.id:
        login_user(user)  # keep this session (with the new version); the others end
    flash(f"Password of {user.name} reset; their other sessions are logged out.", "success")
    return redirect(url_for(".show", user_id=user.id))


@bp.post("/<int:user_id>/deactivate")
def deactivate(user_id: int):
    """Deactivate an account: it cannot log in and its sessions end."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    try:
        deactivate_staff(user, current_user)
    except StaffError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"{user.name} deactivated and logged out.", "success")
    return redirect(url_for(".show", user_id=user_id))


@bp.post("/<int:user_id>/reactivate")
def reactivate(user_id: int):
    """Let a deactivated account log in again."""
    if not ActionForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    reactivate_staff(user)
    db.session.commit()
    flash(f"{user.name} can log in again.", "success")
    return redirect(url_for(".show", user_id=user_id))

"""Staff accounts: create, reset a password, deactivate and reactivate (flush, never commit)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import User

ROLES = ("agent", "admin")


class StaffError(ValueError):
    """A change refused for a reason the admin can act on; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    """Emails are matched without case at login; store them the same way."""
    return email.strip().lower()


def find_by_email(email: str) -> User | None:
    """The account with this email, whatever its case."""
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def create_staff(name: str, email: str, role: str, password: str) -> User:
    """A new active account; refuses an email already in use (any case)."""
    if role not in ROLES:
        raise StaffError("Choose agent or admin", field="role")
    email = normalise_email(email)
    if find_by_email(email) is not None:
        raise StaffError(f"{email} already has an account", field="email")
    user = User(name=name.strip(), email=email, role=role, active=True)
    user.set_password(password)
    try:
        with db.session.begin_nested():  # the unique index settles a race with another admin
            db.session.add(user)
    except IntegrityError:
        raise StaffError(f"{email} already has an account", field="email") from None
    return user


def reset_password(user: User, password: str) -> None:
    """Set a new password and end every session of the account."""
    user.set_password(password)
    user.end_sessions()


def _active_admins_locked() -> list[User]:
    # FOR UPDATE (PostgreSQL) so two admins deactivating each other cannot both succeed.
    return list(db.session.scalars(
        select(User).where(User.role == "admin", User.active.is_(True))
        .order_by(User.id).with_for_update()))


def deactivate_staff(user: User, acting: User) -> None:
    """Deactivate an account and end its sessions; never oneself, never the last admin."""
    if user.id == acting.id:
        raise StaffError("You cannot deactivate your own account.")
    if not user.active:
        return
    if user.role == "admin":
        others = [u for u in _active_admins_locked() if u.id != user.id]
        if not others:
            raise StaffError(f"{user.name} is the last active admin: make someone else an "
                             "admin first.")
    user.active = False
    user.end_sessions()  # reactivating later does not revive old sessions


def reactivate_staff(user: User) -> None:
    """Let a deactivated account log in again (with its password; old sessions stay ended)."""
    user.active = True

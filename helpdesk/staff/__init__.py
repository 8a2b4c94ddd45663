"""Admin > Staff: agent and admin accounts (create, reset password, deactivate)."""

from flask import Blueprint

bp = Blueprint("staff", __name__)

from . import routes  # noqa: F401  (registers the views on bp)

"""The request list, the request page, and creating and working requests."""

from flask import Blueprint

bp = Blueprint("tickets", __name__)

from . import list_views, routes  # noqa: E402,F401

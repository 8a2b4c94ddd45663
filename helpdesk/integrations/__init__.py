"""Admin > Integrations: the Thermostat token box and the inbound push secret."""

from flask import Blueprint

bp = Blueprint("integrations", __name__)

from . import routes  # noqa: E402,F401

"""Integration forms. The token field is never filled back in."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import Length


class ThermostatTokenForm(FlaskForm):
    """Paste a token; an empty value disconnects."""

    token = PasswordField("Thermostat API token", validators=[Length(max=500)],
                          description="Paste the token Thermostat showed you. Leave empty and "
                          "save to disconnect.")
    submit = SubmitField("Save Thermostat API Token")


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""

    submit = SubmitField("Go")

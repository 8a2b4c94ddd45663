"""Integration forms. The token field is never filled back in."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange

from ..criteria import MAX_ID


class ThermostatTokenForm(FlaskForm):
    """Paste a token; an empty value disconnects."""

    token = PasswordField("Thermostat API token", validators=[Length(max=500)],
                          description="Paste the token Thermostat showed you. Leave empty and "
                          "save to disconnect.")
    submit = SubmitField("Save Thermostat API Token")


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""

    submit = SubmitField("Go")


class AttachResultForm(FlaskForm):
    """Attach an unmatched result to a request by its number."""

    request_id = IntegerField("Request #", validators=[
        DataRequired(), NumberRange(min=1, max=MAX_ID, message="No request has that number.")])
    submit = SubmitField("Attach")

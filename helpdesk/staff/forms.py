"""Staff forms. Passwords are never filled back in."""

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length

MIN_PASSWORD = 12
MAX_PASSWORD = 200  # the login form's limit
ROLE_CHOICES = [SelectChoice("agent", "Agent"), SelectChoice("admin", "Admin")]


def _password(label: str) -> PasswordField:
    return PasswordField(label, validators=[
        DataRequired(), Length(min=MIN_PASSWORD, max=MAX_PASSWORD,
                               message=f"Use {MIN_PASSWORD} to {MAX_PASSWORD} characters")],
        description=f"At least {MIN_PASSWORD} characters. Tell it to the person yourself; it "
                    "is not emailed.")


class StaffForm(FlaskForm):
    """A new agent or admin."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)],
                       filters=[lambda value: value.strip() if value else value])
    role = SelectField("Role", choices=ROLE_CHOICES, default="agent")
    password = _password("Initial password")
    submit = SubmitField("Create account")


class PasswordResetForm(FlaskForm):
    """A new password; every session of the account ends."""

    password = _password("New password")
    confirm = PasswordField("Repeat the new password", validators=[
        DataRequired(), EqualTo("password", message="The two passwords differ")])
    submit = SubmitField("Reset password")


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""

    submit = SubmitField("Go")

"""Forms of the request pages."""

from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, HiddenField, RadioField, SelectChoice, SelectField,
                     StringField,
                     SubmitField, TextAreaField)
from wtforms.validators import DataRequired, Email, Length, Optional


class NewTicketForm(FlaskForm):
    """Open a request for a customer."""

    first_name = StringField("Customer first name", validators=[Optional(), Length(max=120)])
    last_name = StringField("Customer last name", validators=[Optional(), Length(max=120)])
    email = EmailField("Customer email", validators=[Optional(), Email(), Length(max=254)])
    phone = StringField("Customer phone", validators=[Optional(), Length(max=40)])
    subject = StringField("Subject", validators=[DataRequired(), Length(max=250)])
    body = TextAreaField("Message", validators=[DataRequired(), Length(max=20000)])
    category_id = SelectField("Category", coerce=int, validators=[Optional()])
    assignee_id = SelectField("Assigned to", coerce=int, validators=[Optional()])
    urgent = BooleanField("Urgent")
    submit = SubmitField("Create request")


class NoteForm(FlaskForm):
    """A public or private note."""

    body = TextAreaField("Note", validators=[DataRequired(), Length(max=20000)])
    visibility = RadioField("Visibility", choices=[SelectChoice("private", "Private note (staff only)"),
                                     SelectChoice("public", "Public note (to the customer)")],
                            default="private")
    submit = SubmitField("Add note")


class UpdateTicketForm(FlaskForm):
    """Status, category, assignee, urgency, and close or reopen."""

    status_id = SelectField("Status", coerce=int)
    category_id = SelectField("Category", coerce=int)
    assignee_id = SelectField("Assigned to", coerce=int)
    urgent = BooleanField("Urgent")
    save = SubmitField("Save")
    close = SubmitField("Save and close")
    reopen = SubmitField("Reopen")


class SaveFilterForm(FlaskForm):
    """Save the list's current query string under a name."""

    name = StringField("Filter name", validators=[DataRequired(), Length(max=120)])
    shared = BooleanField("Share with everyone")
    query = HiddenField()
    submit = SubmitField("Save filter")

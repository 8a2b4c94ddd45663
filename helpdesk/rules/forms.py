"""The rule builder's forms: conditions and actions as rows, groups A and B for nesting."""

from flask_wtf import FlaskForm
from wtforms import (BooleanField, FieldList, Form, FormField, IntegerField, RadioField,
                     SelectChoice, SelectField, StringField, SubmitField, TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import criteria
from .actions import ACTION_LABELS
from .engine import EVENTS, SCHEDULES

MATCH_CHOICES = [SelectChoice("all", "all of these conditions"),
                 SelectChoice("any", "any of these conditions")]
GROUP_CHOICES = [SelectChoice("", "main list"), SelectChoice("A", "group A"),
                 SelectChoice("B", "group B")]


class ConditionRow(Form):
    """One condition: which group, field, operator, value."""

    group = SelectField("Group", choices=GROUP_CHOICES, default="")
    field = SelectField("Field", choices=[], validate_choice=False)
    op = SelectField("Operator", choices=[SelectChoice(k, v) for k, v in
                                           criteria.OP_LABELS.items()], validate_choice=False)
    value = StringField("Value", validators=[Optional(), Length(max=500)],
                        render_kw={"list": "value-suggestions"})


class ActionRow(Form):
    """One action with the parameters it needs (unused ones stay empty)."""

    kind = SelectField("Action", choices=[SelectChoice("", "— none —")] + [
        SelectChoice(k, v) for k, v in ACTION_LABELS.items()], default="")
    target = StringField("Target", validators=[Optional(), Length(max=500)],
                         render_kw={"list": "target-suggestions"},
                         description="Status, category, staff member, survey, "
                                     "field=value, yes/no or URL, as the action needs")
    subject = StringField("Email subject", validators=[Optional(), Length(max=250)])
    body = TextAreaField("Email body or note", validators=[Optional(), Length(max=20000)])


class RuleForm(FlaskForm):
    """A trigger or an automation rule."""

    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    event = SelectField("When", choices=[SelectChoice(k, v) for k, v in EVENTS.items()],
                        default="updated")
    schedule = SelectField("Run", choices=[SelectChoice(k, v[0]) for k, v in SCHEDULES.items()],
                           default="1h")
    match = RadioField("Match", choices=MATCH_CHOICES, default="all")
    group_a_match = SelectField("Group A matches", choices=MATCH_CHOICES, default="any")
    group_b_match = SelectField("Group B matches", choices=MATCH_CHOICES, default="any")
    conditions = FieldList(FormField(ConditionRow), min_entries=1, max_entries=40)
    actions = FieldList(FormField(ActionRow), min_entries=1, max_entries=20)
    enabled = BooleanField("Enabled", default=True)
    run_once = BooleanField("Run once per request", default=True)
    max_runs = IntegerField("Most runs per request", default=1,
                            validators=[Optional(), NumberRange(min=1, max=1000)])
    add_condition = SubmitField("Add a condition")
    add_action = SubmitField("Add an action")
    save = SubmitField("Save rule")


class DryRunForm(FlaskForm):
    """Pick a request to test a rule against."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    request_id = IntegerField("Request #", validators=[
        DataRequired(),
        NumberRange(min=1, max=criteria.MAX_ID, message="No request has that number.")])
    submit = SubmitField("Test")

"""Rule actions, shared by triggers and automation rules.

Each action is stored as data (``{"type": "set_status", "status_id": 2}``) and returns a
one-line outcome when run ("status set to Escalated", "skipped: ...", "failed: ...").
A failing action never stops the others.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Callable

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..history import add_event
from ..thermostat.state import refresh_survey_state
from ..models import (Category, CustomField, Dispatch, Rule, Status, ThermostatSurvey, Ticket,
                      TicketFieldValue, User, utcnow)

log = logging.getLogger(__name__)

ACTION_LABELS = {
    "thermostat_send": "Send a Thermostat Survey",
    "thermostat_campaign": "Add Email to Survey Campaign",
    "email_customer": "Email Customer",
    "notify_staff": "Notify staff by email",
    "set_status": "Set status",
    "set_category": "Set category",
    "set_assignee": "Assign to",
    "set_custom_field": "Set a custom field",
    "set_urgent": "Set urgent",
    "add_private_note": "Add a private note",
    "close": "Close the request",
    "reopen": "Reopen the request",
    "webhook": "POST to a webhook URL",
}
# The parameters each action needs (validated when a rule is saved).
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "thermostat_send": ("survey_id",), "thermostat_campaign": ("survey_id",),
    "email_customer": ("subject", "body"), "notify_staff": ("user_id", "subject", "body"),
    "set_status": ("status_id",), "set_category": ("category_id",),
    "set_assignee": ("user_id",), "set_custom_field": ("field_id", "value"),
    "set_urgent": ("value",), "add_private_note": ("body",), "close": ("status_id",),
    "reopen": (), "webhook": ("url",),
}


def survey_name(survey_id: int, fallback: str | None = None) -> str:
    """The survey's name from the cache, else the name stored with the rule."""
    survey = db.session.get(ThermostatSurvey, survey_id)
    if survey is not None:
        return survey.name
    return fallback or f"Survey #{survey_id}"


# ---------------------------------------------------------------- Thermostat


def lockout_reason(survey_id: int, email: str) -> str | None:
    """Why the survey's lockout period forbids surveying this address now, or None."""
    survey = db.session.get(ThermostatSurvey, survey_id)
    if survey is None or survey.lockout_period <= 0:
        return None
    last = db.session.scalar(
        select(func.max(Dispatch.done_at)).where(
            Dispatch.survey_id == survey_id, Dispatch.kind == "sendnow",
            Dispatch.state == "sent", func.lower(Dispatch.email) == email.lower()))
    if last is None or last < utcnow() - timedelta(days=survey.lockout_period):
        return None
    days = (utcnow() - last).days
    ago = "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"
    return f"customer surveyed {ago} (lockout period {survey.lockout_period} days)"


def queue_dispatch(kind: str, ticket: Ticket, survey_id: int, name: str,
                   rule: Rule | None) -> str:
    """Write an outbox row for a Thermostat call, once per request, survey and kind."""
    verb = "Survey" if kind == "sendnow" else "Campaign enrolment for survey"
    email = (ticket.customer.email or "").strip() if ticket.customer else ""
    if not email:
        add_event(ticket, "survey", f"{verb} '{name}' not sent: the customer has no email "
                  "address", outcome="skipped")
        return "skipped: the customer has no email address"
    key = f"{kind}:{ticket.id}:{survey_id}"
    existing = db.session.scalar(select(Dispatch).where(Dispatch.dedupe_key == key))
    if existing is not None:
        return f"skipped: already queued or sent (send #{existing.id}, {existing.state})"
    dispatch = Dispatch(ticket=ticket, rule_id=rule.id if rule else None, kind=kind,
                        survey_id=survey_id, survey_name=name, email=email, dedupe_key=key,
                        fields={})
    locked = lockout_reason(survey_id, email) if kind == "sendnow" else None
    if locked:
        dispatch.state = "skipped"
        dispatch.last_error = locked
        dispatch.done_at = utcnow()
    try:
        # A savepoint, so a racing transaction's identical row loses here and not the whole change.
        with db.session.begin_nested():
            db.session.add(dispatch)
    except IntegrityError:
        return "skipped: already queued by a concurrent update"
    refresh_survey_state(ticket)
    if locked:
        add_event(ticket, "survey", f"{verb} '{name}' skipped for {email}: {locked}",
                  outcome="skipped")
        return f"skipped: {locked}"
    add_event(ticket, "survey", f"{verb} '{name}' queued for {email}", outcome="queued")
    return f"queued send #{dispatch.id}"


def _thermostat(kind: str):
    def action(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
        survey_id = int(params["survey_id"])
        return queue_dispatch(kind, ticket, survey_id,
                              survey_name(survey_id, params.get("survey_name")), rule)

    return action


# ---------------------------------------------------------------- request fields


def _who(rule: Rule) -> str:
    return f"rule '{rule.name}'"


def _set_status(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    status = db.session.get(Status, int(params["status_id"]))
    if status is None:
        return "skipped: the status no longer exists"
    if status.id == ticket.status_id:
        return f"unchanged: status already {status.name}"
    ticket.status = status
    add_event(ticket, "change", f"Status set to {status.name} by {_who(rule)}")
    return f"status set to {status.name}"


def _set_category(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    category_id = params.get("category_id")
    category = db.session.get(Category, int(category_id)) if category_id else None
    if category_id and category is None:
        return "skipped: the category no longer exists"
    ticket.category = category
    name = category.name if category else "none"
    add_event(ticket, "change", f"Category set to {name} by {_who(rule)}")
    return f"category set to {name}"


def _set_assignee(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    user_id = params.get("user_id")
    user = db.session.get(User, int(user_id)) if user_id else None
    if user_id and (user is None or not user.active):
        return "skipped: the staff member no longer exists or is inactive"
    ticket.assignee = user
    name = user.name if user else "nobody"
    add_event(ticket, "change", f"Assigned to {name} by {_who(rule)}")
    return f"assigned to {name}"


def _set_custom_field(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    cf = db.session.get(CustomField, int(params["field_id"]))
    if cf is None:
        return "skipped: the custom field no longer exists"
    value = str(params.get("value", ""))
    row = db.session.get(TicketFieldValue, (ticket.id, cf.id))
    if row is None:
        db.session.add(TicketFieldValue(ticket_id=ticket.id, field_id=cf.id, value=value))
    else:
        row.value = value
    add_event(ticket, "change", f"{cf.name} set to {value} by {_who(rule)}")
    return f"{cf.name} set to {value}"


def _set_urgent(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    ticket.urgent = params.get("value") in (True, "true", "yes", "1", 1)
    add_event(ticket, "change", f"Urgent set to {'yes' if ticket.urgent else 'no'} by "
              f"{_who(rule)}")
    return f"urgent set to {'yes' if ticket.urgent else 'no'}"


def _add_private_note(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    add_event(ticket, "note_private", str(params.get("body", "")))
    return "private note added"


def _close(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    status = db.session.get(Status, int(params["status_id"]))
    if status is None or not status.can_close:
        return "skipped: the closing status no longer exists or is Active"
    if not ticket.is_open:
        return "unchanged: already closed"
    ticket.status = status
    ticket.is_open = False
    ticket.closed_at = utcnow()
    add_event(ticket, "change", f"Closed as {status.name} by {_who(rule)}")
    return f"closed as {status.name}"


def _reopen(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    if ticket.is_open:
        return "unchanged: already open"
    active = db.session.scalar(select(Status).where(Status.name == "Active"))
    ticket.is_open = True
    ticket.closed_at = None
    if active is not None:
        ticket.status = active
    add_event(ticket, "change", f"Reopened by {_who(rule)}")
    return "reopened"


# ---------------------------------------------------------------- email and webhooks


def _render_values(ticket: Ticket) -> dict[str, str]:
    from ..mail.values import placeholder_values

    return placeholder_values(ticket, current_app.config["HELPDESK_URL"])


def rendered_email(params: dict, ticket: Ticket) -> tuple[str, str]:
    """The subject and body of an email action, placeholders filled for this request."""
    from ..mail.placeholders import render

    values = _render_values(ticket)
    return render(str(params["subject"]), values, "text"), render(str(params["body"]), values,
                                                                  "text")


def _email_customer(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    from ..mail.services import queue_email

    to = (ticket.customer.email or "").strip() if ticket.customer else ""
    if not to:
        add_event(ticket, "system", f"Email from rule '{rule.name}' not sent: the customer has "
                  "no email address", outcome="skipped")
        return "skipped: the customer has no email address"
    subject, body = rendered_email(params, ticket)
    queue_email(ticket, to, subject, body, kind="customer", rule=rule)
    return f"email to {to} queued"


def _notify_staff(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    from ..mail.services import queue_email

    target = params.get("user_id")
    user = ticket.assignee if target == "assignee" else (
        db.session.get(User, int(target)) if target else None)
    if user is None or not user.active:
        return "skipped: no active staff member to notify"
    subject, body = rendered_email(params, ticket)
    queue_email(ticket, user.email, subject, body, kind="staff", rule=rule)
    return f"email to {user.name} queued"


def _webhook(rule: Rule, params: dict, ticket: Ticket, _actor) -> str:
    from ..aftercommit import after_commit
    from ..queue import get_queue
    from .jobs import post_webhook

    url = str(params["url"])
    payload = {"rule": {"id": rule.id, "name": rule.name},
               "request": {"id": ticket.id, "subject": ticket.subject,
                           "status": ticket.status.name if ticket.status else None,
                           "is_open": ticket.is_open,
                           "customer_email": ticket.customer.email if ticket.customer else None,
                           "survey_score": ticket.survey_score,
                           "survey_rating": ticket.survey_rating}}
    ticket_id = ticket.id

    def enqueue() -> None:
        get_queue().enqueue(post_webhook, url, payload, ticket_id, rule.name, job_timeout=60)

    after_commit(db.session(), enqueue)
    return f"webhook POST to {url} queued"


ACTIONS: dict[str, Callable[[Rule, dict, Ticket, User | None], str]] = {
    "thermostat_send": _thermostat("sendnow"),
    "thermostat_campaign": _thermostat("campaign"),
    "email_customer": _email_customer,
    "notify_staff": _notify_staff,
    "set_status": _set_status,
    "set_category": _set_category,
    "set_assignee": _set_assignee,
    "set_custom_field": _set_custom_field,
    "set_urgent": _set_urgent,
    "add_private_note": _add_private_note,
    "close": _close,
    "reopen": _reopen,
    "webhook": _webhook,
}


def run_action(rule: Rule, action: dict[str, Any], ticket: Ticket, actor: User | None) -> str:
    """Run one action; an unknown or failing action is reported, never raised."""
    handler = ACTIONS.get(action.get("type", ""))
    if handler is None:
        return f"skipped: unknown action {action.get('type')!r}"
    try:
        with db.session.begin_nested():
            return handler(rule, action, ticket, actor)
    except Exception as exc:  # one failing action must not stop the others
        log.exception("rule %s action %s failed", rule.id, action.get("type"))
        return f"failed: {type(exc).__name__}"


def action_problems(actions: list[dict[str, Any]]) -> list[str]:
    """Why stored actions cannot run: unknown types, deleted statuses, fields or surveys."""
    problems = []
    for action in actions:
        kind = action.get("type")
        if kind not in ACTIONS:
            problems.append(f"unknown action {kind!r}")
            continue
        for key, model, what in (("status_id", Status, "status"),
                                 ("category_id", Category, "category"),
                                 ("field_id", CustomField, "custom field")):
            value = action.get(key)
            if value not in (None, "") and db.session.get(model, int(value)) is None:
                problems.append(f"{ACTION_LABELS[kind]}: the {what} #{value} no longer exists")
        user_id = action.get("user_id")
        if user_id not in (None, "", "assignee") and db.session.get(User, int(user_id)) is None:
            problems.append(f"{ACTION_LABELS[kind]}: the staff member #{user_id} no longer exists")
        if kind.startswith("thermostat_") and action.get("survey_id") not in (None, ""):
            # Only a cached survey can be known gone (a 404, or no longer listed); sending
            # to it again would only fail again.
            survey = db.session.get(ThermostatSurvey, int(action["survey_id"]))
            if survey is not None and (survey.gone or survey.archived):
                problems.append(f"{ACTION_LABELS[kind]}: the survey '{survey.name}' is no "
                                "longer available in Thermostat")
    return problems


def describe_action(action: dict[str, Any]) -> str:
    """An action in words: 'Send a Thermostat Survey (Support NPS)'."""
    kind = action.get("type", "")
    label = ACTION_LABELS.get(kind, kind)
    if kind.startswith("thermostat_"):
        survey_id = int(action["survey_id"])
        label += f" ({survey_name(survey_id, action.get('survey_name'))})"
        cached = db.session.get(ThermostatSurvey, survey_id)
        if cached is not None and (cached.gone or cached.archived):
            label += " [survey no longer available in Thermostat]"
    elif kind in {"set_status", "close"}:
        status = db.session.get(Status, int(action["status_id"]))
        label += f": {status.name if status else '(deleted status)'}"
    elif kind == "set_category":
        cat = db.session.get(Category, int(action["category_id"])) \
            if action.get("category_id") else None
        label += f": {cat.name if cat else 'none'}"
    elif kind in {"set_assignee", "notify_staff"}:
        uid = action.get("user_id")
        user = None if uid in (None, "", "assignee") else db.session.get(User, int(uid))
        label += ": " + ("the assignee" if uid == "assignee" else user.name if user else "nobody")
    elif kind == "set_custom_field":
        cf = db.session.get(CustomField, int(action["field_id"]))
        label += f": {cf.name if cf else '(deleted field)'} = {action.get('value')}"
    elif kind == "set_urgent":
        label += f": {'yes' if action.get('value') in (True, 'true', 'yes', '1', 1) else 'no'}"
    elif kind == "webhook":
        label += f": {action.get('url')}"
    elif kind in {"email_customer"}:
        label += f": {action.get('subject')}"
    return label


def describe_rule(rule: Rule) -> str:
    """A one-line description: 'When a request is updated, if all: ...: Send a ...'."""
    from ..conditions import current_schema, describe_condition
    from .engine import EVENTS, SCHEDULES

    schema = current_schema()
    parts = [describe_node(node, schema, describe_condition) for node in rule.conditions]
    acts = "; ".join(describe_action(a) for a in rule.actions) or "do nothing"
    if rule.kind == "automation":
        when = f"{SCHEDULES.get(rule.schedule, ('(no schedule)',))[0].capitalize()}, for requests"
        return f"{when} matching {rule.match}: {', '.join(parts) or 'every request'}: {acts}"
    when = EVENTS.get(rule.event, rule.event)
    return f"When {when}, if {rule.match}: {', '.join(parts) or 'always'}: {acts}"


def describe_node(node: dict, schema, describe_condition) -> str:
    """A condition or a nested group in words."""
    if "conditions" in node:
        inner = ", ".join(describe_node(n, schema, describe_condition) for n in node["conditions"])
        return f"({node['match']} of: {inner})"
    return describe_condition(node, schema)

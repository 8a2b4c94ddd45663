"""Rule actions. Each returns a one-line outcome; a failing action never stops the others."""

from __future__ import annotations

import logging
from typing import Any, Callable

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..history import add_event
from ..models import Dispatch, Rule, Status, ThermostatSurvey, Ticket, User, utcnow

log = logging.getLogger(__name__)

ACTION_LABELS = {
    "thermostat_send": "Send a Thermostat Survey",
    "thermostat_campaign": "Add Email to Survey Campaign",
    "set_status": "Set status",
    "set_assignee": "Assign to",
    "set_urgent": "Set urgent",
    "add_private_note": "Add a private note",
    "reopen": "Reopen the request",
}


def survey_name(survey_id: int, fallback: str | None = None) -> str:
    """The survey's name from the cache, else the name stored with the rule."""
    survey = db.session.get(ThermostatSurvey, survey_id)
    if survey is not None:
        return survey.name
    return fallback or f"Survey #{survey_id}"


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
        return f"skipped: already queued or sent (dispatch #{existing.id}, {existing.state})"
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
    if locked:
        add_event(ticket, "survey", f"{verb} '{name}' skipped for {email}: {locked}",
                  outcome="skipped")
        return f"skipped: {locked}"
    add_event(ticket, "survey", f"{verb} '{name}' queued for {email}", outcome="queued")
    return f"queued dispatch #{dispatch.id}"


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


def _thermostat(kind: str) -> Callable[[Rule, dict, Ticket, User | None], str]:
    def action(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
        survey_id = int(params["survey_id"])
        return queue_dispatch(kind, ticket, survey_id,
                              survey_name(survey_id, params.get("survey_name")), rule)

    return action


def _set_status(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
    status = db.session.get(Status, int(params["status_id"]))
    if status is None:
        return "skipped: the status no longer exists"
    ticket.status = status
    add_event(ticket, "change", f"Status set to {status.name} by rule '{rule.name}'")
    return f"status set to {status.name}"


def _set_assignee(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
    user = db.session.get(User, int(params["user_id"]))
    if user is None or not user.active:
        return "skipped: the staff member no longer exists or is inactive"
    ticket.assignee = user
    add_event(ticket, "change", f"Assigned to {user.name} by rule '{rule.name}'")
    return f"assigned to {user.name}"


def _set_urgent(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
    ticket.urgent = bool(params.get("value", True))
    add_event(ticket, "change", f"Urgent set to {'yes' if ticket.urgent else 'no'} by rule "
              f"'{rule.name}'")
    return "urgent set"


def _add_private_note(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
    add_event(ticket, "note_private", str(params.get("body", "")))
    return "private note added"


def _reopen(rule: Rule, params: dict, ticket: Ticket, _actor: User | None) -> str:
    if ticket.is_open:
        return "skipped: already open"
    active = db.session.scalar(select(Status).where(Status.name == "Active"))
    ticket.is_open = True
    ticket.closed_at = None
    if active is not None:
        ticket.status = active
    add_event(ticket, "change", f"Reopened by rule '{rule.name}'")
    return "reopened"


ACTIONS: dict[str, Callable[[Rule, dict, Ticket, User | None], str]] = {
    "thermostat_send": _thermostat("sendnow"),
    "thermostat_campaign": _thermostat("campaign"),
    "set_status": _set_status,
    "set_assignee": _set_assignee,
    "set_urgent": _set_urgent,
    "add_private_note": _add_private_note,
    "reopen": _reopen,
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


def describe_rule(rule: Rule) -> str:
    """A one-line description: 'When a request is updated, if all: ...: Send a ...'."""
    from .. import criteria
    from .engine import EVENTS

    parts = []
    for cond in rule.conditions:
        field = criteria.FIELDS.get(cond.get("field"))
        label = field.label if field else cond.get("field")
        op = criteria.OP_LABELS.get(cond.get("op"), cond.get("op"))
        if field is not None and field.name == "is_open" and cond.get("op") == "is":
            is_open = describe_value(field, cond.get("value")) == "yes"
            parts.append("request is open" if is_open else "request is closed")
            continue
        value = describe_value(field, cond.get("value")) if cond.get("op") not in {
            "changed", "not_changed"} else ""
        parts.append(f"{label.lower() if label else label} {op} {value}".strip())
    acts = []
    for action in rule.actions:
        label = ACTION_LABELS.get(action.get("type"), action.get("type"))
        if action.get("type", "").startswith("thermostat_"):
            survey_id = int(action["survey_id"])
            label += f" ({survey_name(survey_id, action.get('survey_name'))})"
            cached = db.session.get(ThermostatSurvey, survey_id)
            if cached is not None and (cached.gone or cached.archived):
                label += " [survey no longer available in Thermostat]"
        acts.append(label)
    when = EVENTS.get(rule.event, rule.event)
    return f"When {when}, if {rule.match}: {', '.join(parts) or 'always'}: {'; '.join(acts)}"


def describe_value(field, value) -> str:
    """A condition value in words (status names for ids, yes/no for booleans)."""
    if field is None:
        return str(value)
    if field.name == "status":
        status = db.session.get(Status, int(value)) if value is not None else None
        return status.name if status else f"(deleted status #{value})"
    if field.name == "assignee":
        user = db.session.get(User, int(value)) if value is not None else None
        return user.name if user else "nobody"
    if field.kind == "bool":
        return "yes" if value in (True, "true", "1", 1) else "no"
    return str(value)


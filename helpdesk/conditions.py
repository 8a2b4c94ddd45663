"""Glue between the pure condition language (helpdesk.criteria) and this app's tables.

`current_schema()` knows the custom fields, `snapshot()` turns a request into the dict that
conditions evaluate, `sql_context()` gives the columns they compile against, and
`describe_condition()` writes a condition in words for admins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased

from . import criteria
from .extensions import db
from .models import (Category, Customer, CustomField, Status, SurveyResult,
                     ThermostatSurvey, Ticket, TicketFieldValue, User)
from .thermostat.state import NEVER_SURVEYED


def current_schema() -> criteria.Schema:
    """The condition schema with this helpdesk's custom fields."""
    rows = db.session.execute(select(CustomField.id, CustomField.name, CustomField.field_type))
    return criteria.Schema({fid: (name, ftype) for fid, name, ftype in rows})


def _typed(ticket: Ticket, survey_type: str, value: Any) -> Any:
    return value if ticket.survey_type == survey_type else None


def snapshot(ticket: Ticket, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The request's state (and the event's own fields) as conditions see them."""
    customer = ticket.customer
    result = db.session.get(SurveyResult, ticket.survey_result_id) \
        if ticket.survey_result_id else None
    snap: dict[str, Any] = {
        "status": ticket.status_id,
        "category": ticket.category_id,
        "assignee": ticket.assignee_id,
        "is_open": bool(ticket.is_open),
        "urgent": bool(ticket.urgent),
        "subject": ticket.subject,
        "customer_email": customer.email if customer else None,
        "customer_first_name": customer.first_name if customer else None,
        "customer_last_name": customer.last_name if customer else None,
        "customer_phone": customer.phone if customer else None,
        "survey_score": ticket.survey_score,
        "survey_rating": ticket.survey_rating,
        "nps_score": _typed(ticket, "nps", ticket.survey_score),
        "nps_rating": _typed(ticket, "nps", ticket.survey_rating),
        "csat_score": _typed(ticket, "csat", ticket.survey_score),
        "csat_rating": _typed(ticket, "csat", ticket.survey_rating),
        "survey_state": ticket.survey_state or "none",
        "survey_has_response": ticket.survey_result_id is not None,
        "survey_sent_unanswered": ticket.survey_state == "sent",
        "survey_never": (ticket.survey_state or "none") in NEVER_SURVEYED,
        "survey_has_comment": bool(result and result.feedback),  # stored stripped, or None
        "survey_id": result.survey_id if result else None,
        "opened_at": ticket.opened_at,
        "closed_at": ticket.closed_at,
        "updated_at": ticket.updated_at,
        "first_response_at": ticket.first_response_at,
        # whole minutes, as the list shows it ("0m" for 40 s)
        "first_response_minutes": None if ticket.first_response_seconds is None
        else ticket.first_response_seconds // 60,
        "survey_answered_at": ticket.survey_answered_at,
        "actor": None,
        "note_type": "none",
        "note_body": None,
    }
    for fv in ticket.field_values:
        snap[f"custom:{fv.field_id}"] = fv.value
    if event:
        snap.update(event)
    return snap


def sql_context() -> criteria.SqlContext:
    """Columns of `tickets` joined to `customers` for compiled conditions."""
    columns = {
        "status": Ticket.status_id, "category": Ticket.category_id,
        "assignee": Ticket.assignee_id, "is_open": Ticket.is_open, "urgent": Ticket.urgent,
        "subject": Ticket.subject, "customer_email": Customer.email,
        "customer_first_name": Customer.first_name, "customer_last_name": Customer.last_name,
        "customer_phone": Customer.phone, "survey_score": Ticket.survey_score,
        "survey_rating": Ticket.survey_rating, "opened_at": Ticket.opened_at,
        "closed_at": Ticket.closed_at, "updated_at": Ticket.updated_at,
        "first_response_at": Ticket.first_response_at, "survey_state": Ticket.survey_state,
        "survey_answered_at": Ticket.survey_answered_at,
    }

    def custom_value(field_id: int):
        fv = aliased(TicketFieldValue)
        return (select(fv.value).where(fv.ticket_id == Ticket.id, fv.field_id == field_id)
                .correlate(Ticket).scalar_subquery())

    has_result = Ticket.survey_result_id.is_not(None)

    def flag(expr):
        return lambda op, value: expr if value else ~expr

    def latest_result(condition):
        return exists().where(SurveyResult.id == Ticket.survey_result_id, condition)

    def survey_id(op, value):
        match = latest_result(SurveyResult.survey_id == value) if value is not None \
            else ~has_result
        return match if op == "is" else ~match

    def has_comment(op, value):
        commented = latest_result(and_(SurveyResult.feedback.is_not(None),
                                       SurveyResult.feedback != ""))
        return commented if value else ~commented

    def typed(survey_type: str, column, field_name: str):
        """NPS/CSAT fields: the score or rating column, only where the survey is of that type.

        Written so the (survey_type, survey_rating, closed_at) index serves "NPS detractors".
        """
        f = criteria.DEFAULT_SCHEMA.field(field_name)
        of_type = Ticket.survey_type == survey_type
        other = or_(Ticket.survey_type.is_(None), Ticket.survey_type != survey_type)

        def compile_(op, value):
            if op == "is" and value is None:
                return or_(other, column.is_(None))
            if op == "is_not":
                return or_(other, criteria.sql_compare(f, op, column, value))
            return and_(of_type, criteria.sql_compare(f, op, column, value))

        return compile_

    def first_response_minutes(op, value):
        """Whole minutes as the list shows them (40 s is "0m"), compared as ranges of
        seconds so the (survey_rating, first_response_seconds) index serves them."""
        seconds = Ticket.first_response_seconds
        if op == "between":
            low, high = value
            return and_(seconds >= low * 60, seconds < (high + 1) * 60)
        within = and_(seconds >= value * 60, seconds < (value + 1) * 60)
        return {"is": within, "is_not": or_(~within, seconds.is_(None)),
                "lt": seconds < value * 60, "le": seconds < (value + 1) * 60,
                "gt": seconds >= (value + 1) * 60, "ge": seconds >= value * 60}[op]

    special = {
        "first_response_minutes": first_response_minutes,
        "survey_has_response": flag(has_result),
        "survey_sent_unanswered": flag(Ticket.survey_state == "sent"),
        # the states spelled out (not "NOT IN sent, answered") so an index can seek them
        "survey_never": flag(Ticket.survey_state.in_(NEVER_SURVEYED)),
        "nps_score": typed("nps", Ticket.survey_score, "nps_score"),
        "nps_rating": typed("nps", Ticket.survey_rating, "nps_rating"),
        "csat_score": typed("csat", Ticket.survey_score, "csat_score"),
        "csat_rating": typed("csat", Ticket.survey_rating, "csat_rating"),
        "survey_id": survey_id,
        "survey_has_comment": has_comment,
    }
    return criteria.SqlContext(columns=columns, custom_value=custom_value, special=special)


def tickets_matching(match: str, tree: list, now: datetime, schema: criteria.Schema):
    """A SELECT of ticket ids matching a condition tree (nothing loaded into Python)."""
    where = criteria.compile_tree(match, tree, sql_context(), now, schema)
    return (select(Ticket.id).join(Customer, Ticket.customer_id == Customer.id).where(where))


REF_MODELS = {"status": Status, "category": Category, "user": User, "survey": ThermostatSurvey}


def ref_name(ref: str, value: Any) -> str:
    """The display name of a referenced row; flags rows that no longer exist."""
    if value is None:
        return {"user": "nobody", "category": "no category"}.get(ref, "none")
    row = db.session.get(REF_MODELS[ref], int(value))
    if row is None:
        return f"(deleted {ref} #{value})"
    label = row.name
    if ref == "survey" and (row.gone or row.archived):
        label += " (no longer available in Thermostat)"
    return label


def _in_sentence(label: str) -> str:
    """A field's label inside a sentence: 'status', but 'NPS score' and 'Thermostat rating'
    keep their capitals (an acronym, a product name)."""
    first = label.split(" ", 1)[0]
    if first.isupper() or first == "Thermostat":
        return label
    return label[0].lower() + label[1:]


def describe_condition(cond: Mapping[str, Any], schema: criteria.Schema) -> str:
    """A condition in words: 'status changed to Problem Solved', 'request is closed'."""
    try:
        f = schema.field(cond.get("field", ""))
    except criteria.CriteriaError as exc:
        return f"(invalid: {exc})"
    op = cond.get("op")
    value = cond.get("value")
    if f.kind == "bool" and op == "is":
        yes = criteria.coerce(f, value)
        if f.name == "is_open":
            return "request is open" if yes else "request is closed"
        return f"{_in_sentence(f.label)}: {'yes' if yes else 'no'}"
    words = f"{_in_sentence(f.label)} {criteria.OP_LABELS.get(op, op)}"
    if op in criteria.VALUELESS_OPS:
        return words
    if f.kind == "ref":
        try:
            shown = ref_name(f.ref, criteria.coerce(f, value))
        except criteria.CriteriaError:
            shown = str(value)
    elif f.kind == "date":
        shown = criteria.DATE_RANGES.get(str(value), str(value))
    elif f.kind == "minutes":
        shown = f"{value} minutes"
    else:
        shown = str(value)
    return f"{words} {shown}"


def broken_references(tree: list, schema: criteria.Schema) -> list[str]:
    """Why a stored condition tree cannot run: deleted statuses, users, fields, surveys."""
    problems = []
    for cond in criteria.iter_conditions(tree):
        try:
            f = schema.field(cond.get("field", ""))
        except criteria.CriteriaError as exc:
            problems.append(str(exc))
            continue
        if f.kind == "ref" and cond.get("op") not in criteria.VALUELESS_OPS:
            try:
                value = criteria.coerce(f, cond.get("value"))
            except criteria.CriteriaError as exc:
                problems.append(str(exc))
                continue
            if value is not None and db.session.get(REF_MODELS[f.ref], value) is None \
                    and f.ref != "survey":
                problems.append(f"{f.label}: the {f.ref} #{value} no longer exists")
    return problems

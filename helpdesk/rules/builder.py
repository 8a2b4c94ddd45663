"""Turn the builder's rows into stored conditions and actions, and back.

Values are typed as words (a status name, a staff member, "past 7 days"); they are resolved
here to ids, with an error on the row that is wrong, so the stored rule only holds ids.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select

from .. import criteria
from ..conditions import REF_MODELS
from ..extensions import db
from ..models import Category, CustomField, Status, ThermostatSurvey, User
from .actions import ACTION_PARAMS


class RowError(ValueError):
    """A value on one row that cannot be used; `where` names the control."""

    def __init__(self, message: str, where: str = "value"):
        super().__init__(message)
        self.where = where


def _by_name(model, text: str, what: str):
    text = text.strip()
    if text.startswith("#"):
        row_id = criteria.parse_id(text[1:])
        row = None if row_id is None else db.session.get(model, row_id)
    else:
        conditions = [func.lower(model.name) == text.lower()]
        if model is User:
            conditions.append(func.lower(User.email) == text.lower())
        row = db.session.scalar(select(model).where(or_(*conditions)).limit(1))
    if row is None:
        raise RowError(f"There is no {what} named {text[:60]!r}")
    return row


def resolve_ref(ref: str, text: str) -> int | None:
    """A typed name to the id it stands for ('nobody' and 'none' are None)."""
    if text.strip().lower() in {"nobody", "none", "unassigned", ""}:
        if ref in {"user", "category", "survey"}:
            return None
        raise RowError("Choose a status")
    if ref == "survey":
        return _survey(text).id
    model = {"status": Status, "category": Category, "user": User}[ref]
    return _by_name(model, text, {"status": "status", "category": "category",
                                  "user": "staff member"}[ref]).id


def _survey(text: str) -> ThermostatSurvey:
    text = text.strip()
    survey_id = criteria.parse_id(text.lstrip("#"))
    survey = db.session.get(ThermostatSurvey, survey_id) if survey_id is not None \
        else db.session.scalar(
            select(ThermostatSurvey).where(func.lower(ThermostatSurvey.name) == text.lower()))
    if survey is None:
        raise RowError(f"There is no Thermostat survey named {text[:60]!r} (reload the surveys "
                       "on Integrations if it is new)")
    return survey


def parse_value(f: criteria.Field, op: str, text: str) -> Any:
    """A condition's typed value to what is stored."""
    if op in criteria.VALUELESS_OPS:
        return None
    text = (text or "").strip()
    if f.kind == "ref":
        return resolve_ref(f.ref, text)
    if f.kind == "date":
        key = text.lower().replace(" ", "_")
        for name, label in criteria.DATE_RANGES.items():
            if key in {name, label.replace(" ", "_")}:
                return name
        raise RowError(f"Use one of: {', '.join(criteria.DATE_RANGES.values())}")
    if not text and f.kind != "text":
        raise RowError("A value is required")
    try:
        return criteria.coerce(f, text)
    except criteria.CriteriaError as exc:
        raise RowError(str(exc)) from None


def show_value(f: criteria.Field, value: Any) -> str:
    """A stored value as the builder shows it."""
    if value is None:
        return "nobody" if f.kind == "ref" and f.ref == "user" else ""
    if f.kind == "ref":
        row = db.session.get(REF_MODELS[f.ref], int(value))
        return row.name if row else f"#{value}"
    if f.kind == "bool":
        return "yes" if value else "no"
    if f.kind == "date":
        return criteria.DATE_RANGES.get(value, str(value))
    return str(value)


def build_conditions(rows: list[dict], top_match: str, group_matches: dict[str, str],
                     schema: criteria.Schema, kind: str) -> tuple[list, dict[int, RowError]]:
    """Rows (group, field, op, value) to a condition tree; errors keyed by row index."""
    top: list = []
    groups: dict[str, dict] = {}
    errors: dict[int, RowError] = {}
    for index, row in enumerate(rows):
        if not row.get("field"):
            continue
        try:
            f = schema.field(row["field"])
        except criteria.CriteriaError as exc:
            errors[index] = RowError(str(exc), "field")
            continue
        op = row.get("op")
        allowed = criteria.OPS_BY_KIND[f.kind]
        if kind != "trigger":
            allowed = tuple(o for o in allowed if o not in criteria.CHANGE_OPS)
        if op not in allowed:
            errors[index] = RowError(
                f"{f.label} takes: {', '.join(criteria.OP_LABELS[o] for o in allowed)}", "op")
            continue
        if f.context == criteria.EVENT and kind != "trigger":
            errors[index] = RowError(f"{f.label} only applies to triggers", "field")
            continue
        try:
            value = parse_value(f, op, row.get("value", ""))
        except RowError as exc:
            errors[index] = exc
            continue
        cond = {"field": f.name, "op": op}
        if op not in criteria.VALUELESS_OPS:
            cond["value"] = value
        group = row.get("group") or ""
        if group:
            if group not in groups:
                groups[group] = {"match": group_matches.get(group, "any"), "conditions": []}
                top.append(groups[group])
            groups[group]["conditions"].append(cond)
        else:
            top.append(cond)
    return top, errors


def flatten_conditions(tree: list, schema: criteria.Schema) -> tuple[list[dict], dict[str, str]]:
    """A stored tree back to builder rows (one nesting level: groups A, B, ...)."""
    rows, matches = [], {}
    names = iter("ABCDEFGH")
    for node in tree:
        if criteria.is_group(node):
            name = next(names)
            matches[name] = node["match"]
            for cond in criteria.iter_conditions(node["conditions"]):
                rows.append(_row(cond, schema, name))
        else:
            rows.append(_row(node, schema, ""))
    return rows, matches


def _row(cond: dict, schema: criteria.Schema, group: str) -> dict:
    try:
        f = schema.field(cond.get("field", ""))
        value = show_value(f, cond.get("value"))
    except criteria.CriteriaError:
        value = str(cond.get("value", ""))
    return {"group": group, "field": cond.get("field"), "op": cond.get("op"), "value": value}


def build_action(row: dict, custom_field_ids: list[int]) -> dict | None:
    """One action row to a stored action; raises RowError naming the control."""
    kind = row.get("type") or ""
    if not kind:
        return None
    if kind not in ACTION_PARAMS:
        raise RowError("Unknown action", "kind")
    target = (row.get("target") or "").strip()
    subject = (row.get("subject") or "").strip()
    body = row.get("body") or ""
    action: dict[str, Any] = {"type": kind}
    if kind.startswith("thermostat_"):
        if not target:
            raise RowError("Choose a survey", "target")
        survey = _survey(target)
        if survey.archived or survey.gone:
            raise RowError(f"The survey '{survey.name}' is archived or gone in Thermostat",
                           "target")
        action.update(survey_id=survey.id, survey_name=survey.name)
    elif kind in {"set_status", "close"}:
        status = _by_name(Status, target, "status") if target else None
        if status is None:
            raise RowError("Choose a status", "target")
        if kind == "close" and not status.can_close:
            raise RowError("Active is not a closing status", "target")
        action["status_id"] = status.id
    elif kind == "set_category":
        action["category_id"] = resolve_ref("category", target)
    elif kind in {"set_assignee", "notify_staff"}:
        if kind == "notify_staff" and target.lower() in {"assignee", "the assignee"}:
            action["user_id"] = "assignee"
        else:
            action["user_id"] = resolve_ref("user", target)
            if kind == "notify_staff" and action["user_id"] is None:
                raise RowError("Name a staff member, or 'assignee'", "target")
    elif kind == "set_custom_field":
        name, sep, value = target.partition("=")
        if not sep:
            raise RowError("Write it as Field name=value", "target")
        cf = _by_name(CustomField, name, "custom field")
        value = value.strip()
        if cf.field_type == "list" and cf.options and value not in cf.options:
            raise RowError(f"{cf.name} takes one of: {', '.join(cf.options)}", "target")
        if cf.field_type == "number":
            try:
                float(value)
            except ValueError:
                raise RowError(f"{cf.name} takes a number", "target") from None
        action.update(field_id=cf.id, value=value)
    elif kind == "set_urgent":
        if target.lower() not in {"yes", "no"}:
            raise RowError("Write yes or no", "target")
        action["value"] = target.lower() == "yes"
    elif kind == "add_private_note":
        if not body.strip():
            raise RowError("Write the note", "body")
        action["body"] = body
    elif kind == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise RowError("Give an http:// or https:// URL", "target")
        action["url"] = target
    if kind in {"email_customer", "notify_staff"}:
        from ..mail.placeholders import find_errors

        if not subject:
            raise RowError("Write a subject", "subject")
        if not body.strip():
            raise RowError("Write the email", "body")
        for where, text in (("subject", subject), ("body", body)):
            problems = find_errors(text, custom_field_ids)
            if problems:
                raise RowError("; ".join(problems), where)
        action.update(subject=subject, body=body)
    return action


def action_row(action: dict) -> dict:
    """A stored action back to a builder row."""
    kind = action.get("type", "")
    target = ""
    if kind.startswith("thermostat_"):
        survey = db.session.get(ThermostatSurvey, int(action["survey_id"]))
        target = survey.name if survey else f"#{action['survey_id']}"
    elif kind in {"set_status", "close"}:
        status = db.session.get(Status, int(action["status_id"]))
        target = status.name if status else f"#{action['status_id']}"
    elif kind == "set_category":
        cat = db.session.get(Category, int(action["category_id"])) \
            if action.get("category_id") else None
        target = cat.name if cat else "none"
    elif kind in {"set_assignee", "notify_staff"}:
        uid = action.get("user_id")
        if uid == "assignee":
            target = "assignee"
        else:
            user = db.session.get(User, int(uid)) if uid else None
            target = user.name if user else "nobody"
    elif kind == "set_custom_field":
        cf = db.session.get(CustomField, int(action["field_id"]))
        target = f"{cf.name if cf else '#' + str(action['field_id'])}={action.get('value', '')}"
    elif kind == "set_urgent":
        target = "yes" if action.get("value") else "no"
    elif kind == "webhook":
        target = action.get("url", "")
    return {"kind": kind, "target": target, "subject": action.get("subject", ""),
            "body": action.get("body", "")}

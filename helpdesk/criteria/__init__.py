"""The one condition language: fields, operators, all/any groups. No Flask imports.

A condition is a dict ``{"field": "status", "op": "changed_to", "value": 2}``; a rule or
filter holds a list of them and a ``match`` of ``"all"`` or ``"any"``. The same conditions
evaluate a change (old and new snapshots of a request, for triggers) and compile to a
SQLAlchemy WHERE clause (for filters and automation rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sqlalchemy import and_, false, func, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement


class CriteriaError(ValueError):
    """A condition that names an unknown field, operator or value."""


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # ref | bool | text | int | rating


# Fields of a request snapshot. Refs hold ids (status, category, assignee).
FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        Field("status", "Status", "ref"),
        Field("category", "Category", "ref"),
        Field("assignee", "Assigned to", "ref"),
        Field("is_open", "Request is open", "bool"),
        Field("urgent", "Urgent", "bool"),
        Field("subject", "Subject", "text"),
        Field("customer_email", "Customer email", "text"),
        Field("customer_first_name", "Customer first name", "text"),
        Field("customer_last_name", "Customer last name", "text"),
        Field("survey_score", "Thermostat score", "int"),
        Field("survey_rating", "Thermostat rating", "rating"),
    ]
}

STATE_OPS = {"is", "is_not", "begins_with", "ends_with", "contains", "not_contains",
             "lt", "le", "gt", "ge"}
CHANGE_OPS = {"changed", "changed_to", "changed_from", "not_changed"}
OPS_BY_KIND = {
    "ref": {"is", "is_not"} | CHANGE_OPS,
    "bool": {"is"} | CHANGE_OPS,
    "text": {"is", "is_not", "begins_with", "ends_with", "contains", "not_contains"} | CHANGE_OPS,
    "int": {"is", "is_not", "lt", "le", "gt", "ge"} | CHANGE_OPS,
    "rating": {"is", "is_not"} | CHANGE_OPS,
}
OP_LABELS = {
    "is": "is", "is_not": "is not", "begins_with": "begins with", "ends_with": "ends with",
    "contains": "contains", "not_contains": "does not contain", "lt": "is less than",
    "le": "is at most", "gt": "is greater than", "ge": "is at least", "changed": "changed",
    "changed_to": "changed to", "changed_from": "changed from", "not_changed": "did not change",
}
RATINGS = {"promoter", "passive", "detractor", "satisfied", "dissatisfied"}


def coerce(field: Field, value: Any) -> Any:
    """Turn a stored or submitted value into the field's type, or raise CriteriaError."""
    if value is None:
        return None
    if field.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise CriteriaError(f"{field.label}: {value!r} is not yes or no")
    if field.kind in {"ref", "int"}:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise CriteriaError(f"{field.label}: {value!r} is not a number") from None
    if field.kind == "rating":
        text = str(value).strip().lower()
        if text not in RATINGS:
            raise CriteriaError(f"{field.label}: {value!r} is not a rating")
        return text
    return str(value)


def validate(conditions: list[Mapping[str, Any]], allow_change_ops: bool) -> None:
    """Raise CriteriaError for the first condition that is not well formed."""
    for cond in conditions:
        field = FIELDS.get(cond.get("field", ""))
        if field is None:
            raise CriteriaError(f"unknown field {cond.get('field')!r}")
        op = cond.get("op")
        if op not in OPS_BY_KIND[field.kind]:
            raise CriteriaError(f"{field.label}: unknown operator {op!r}")
        if op in CHANGE_OPS and not allow_change_ops:
            raise CriteriaError(f"{field.label}: '{OP_LABELS[op]}' only applies to triggers")
        if op not in {"changed", "not_changed"}:
            coerce(field, cond.get("value"))
        if op in STATE_OPS - {"is", "is_not"} and cond.get("value") in (None, ""):
            raise CriteriaError(f"{field.label}: '{OP_LABELS[op]}' needs a value")


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "is":
        return actual == expected
    if op == "is_not":
        return actual != expected
    if actual is None:
        # Like the SQL compilation: a missing value "does not contain" anything, and
        # matches no ordering or other text operator.
        return op == "not_contains"
    if op in {"lt", "le", "gt", "ge"}:
        return {"lt": actual < expected, "le": actual <= expected,
                "gt": actual > expected, "ge": actual >= expected}[op]
    a, e = str(actual).lower(), str(expected).lower()
    return {"begins_with": a.startswith(e), "ends_with": a.endswith(e),
            "contains": e in a, "not_contains": e not in a}[op]


def evaluate_condition(cond: Mapping[str, Any], old: Mapping | None, new: Mapping) -> bool:
    """Whether one condition holds for a change from `old` (None: just created) to `new`."""
    field = FIELDS[cond["field"]]
    op = cond["op"]
    now_value = new.get(field.name)
    if op in CHANGE_OPS:
        before = old.get(field.name) if old is not None else None
        changed = old is None and now_value is not None or (old is not None and before != now_value)
        if op == "changed":
            return changed
        if op == "not_changed":
            return not changed
        expected = coerce(field, cond.get("value"))
        if op == "changed_to":
            return changed and now_value == expected
        return changed and old is not None and before == expected  # changed_from
    return _compare(op, now_value, coerce(field, cond.get("value")))


def evaluate(match: str, conditions: list[Mapping], old: Mapping | None, new: Mapping
             ) -> tuple[bool, list[bool]]:
    """Evaluate all/any conditions; returns the verdict and each condition's result."""
    results = [evaluate_condition(c, old, new) for c in conditions]
    if not results:
        return True, results
    return (all(results) if match == "all" else any(results)), results


ColumnMap = Mapping[str, ColumnElement]


def compile_condition(cond: Mapping[str, Any], columns: ColumnMap) -> ColumnElement[bool]:
    """Compile one state condition to SQL; every value is a bound parameter."""
    field = FIELDS[cond["field"]]
    op = cond["op"]
    if op in CHANGE_OPS:
        raise CriteriaError(f"{field.label}: '{OP_LABELS[op]}' cannot be used in a filter")
    col = columns[field.name]
    value = coerce(field, cond.get("value"))
    if op == "is":
        return col.is_(None) if value is None else (col == value)
    if op == "is_not":
        return col.is_not(None) if value is None else or_(col != value, col.is_(None))
    ops: dict[str, Callable[[], ColumnElement[bool]]] = {
        "lt": lambda: col < value, "le": lambda: col <= value,
        "gt": lambda: col > value, "ge": lambda: col >= value,
        "begins_with": lambda: func.lower(col).startswith(str(value).lower(), autoescape=True),
        "ends_with": lambda: func.lower(col).endswith(str(value).lower(), autoescape=True),
        "contains": lambda: func.lower(col).contains(str(value).lower(), autoescape=True),
        "not_contains": lambda: or_(
            not_(func.lower(col).contains(str(value).lower(), autoescape=True)), col.is_(None)
        ),
    }
    return ops[op]()


def compile_conditions(match: str, conditions: list[Mapping], columns: ColumnMap
                       ) -> ColumnElement[bool]:
    """Compile an all/any list of state conditions into one WHERE clause."""
    clauses = [compile_condition(c, columns) for c in conditions]
    if not clauses:
        return true()
    if match == "all":
        return and_(*clauses)
    return or_(*clauses) if clauses else false()

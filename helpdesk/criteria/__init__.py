"""The one condition language: fields, operators, all/any groups that nest. No Flask imports.

A condition is ``{"field": "status", "op": "changed_to", "value": 2}``; a group is
``{"match": "any", "conditions": [...]}`` and may hold conditions and groups. The same tree:

- evaluates against snapshots of a request (``old`` → ``new``) for triggers, where the change
  operators (changed, changed to, changed from, not changed) apply; and
- compiles to one SQLAlchemy WHERE clause (automation rules, filters, reports), where every
  value is a bound parameter and nothing is built from strings.

Both evaluations agree on state conditions (see tests/test_criteria_property.py).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import Float, and_, cast, func, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement


class CriteriaError(ValueError):
    """A condition that names an unknown field, operator or value."""


# Where a field can be used: "state" fields exist on every request (SQL and snapshots),
# "event" fields only describe the event a trigger runs for.
STATE, EVENT = "state", "event"


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
MAX_MINUTES = 100 * 366 * 24 * 60  # a century: further back than any request, and a
# timedelta of it can always be taken from now
MAX_NUMBER = 1e12  # custom number fields (compared as floats)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # ref | bool | text | number | rating | choice | minutes | date
    context: str = STATE
    ref: str | None = None  # for refs: status | category | user | survey
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None  # numbers: the values that can exist
    whole: bool = False  # numbers: whole numbers only


BASE_FIELDS: tuple[Field, ...] = (
    Field("status", "Status", "ref", ref="status"),
    Field("category", "Category", "ref", ref="category"),
    Field("assignee", "Assigned to", "ref", ref="user"),
    Field("is_open", "Request is open", "bool"),
    Field("urgent", "Urgent", "bool"),
    Field("subject", "Subject", "text"),
    Field("customer_first_name", "Customer first name", "text"),
    Field("customer_last_name", "Customer last name", "text"),
    Field("customer_email", "Customer email", "text"),
    Field("customer_phone", "Customer phone", "text"),
    Field("survey_score", "Thermostat score", "number", bounds=(0, 10)),
    Field("survey_rating", "Thermostat rating", "rating"),
    Field("nps_score", "NPS score", "number", bounds=(0, 10)),
    Field("nps_rating", "NPS rating", "rating", choices=("promoter", "passive", "detractor")),
    Field("csat_score", "CSAT score", "number", bounds=(1, 5)),
    Field("csat_rating", "CSAT rating", "rating", choices=("satisfied", "dissatisfied")),
    Field("survey_state", "Survey status", "choice",
          choices=("none", "queued", "sent", "answered", "failed", "skipped")),
    Field("survey_has_comment", "Thermostat result has a comment", "bool"),
    Field("survey_id", "Thermostat survey answered", "ref", ref="survey"),
    Field("survey_has_response", "Has a Thermostat response", "bool"),
    Field("survey_sent_unanswered", "Thermostat survey sent but not answered", "bool"),
    Field("survey_never", "Never surveyed", "bool"),
    Field("first_response_minutes", "First response time (minutes)", "number",
          bounds=(0, MAX_MINUTES), whole=True),
    Field("minutes_since_opened", "Minutes since opened", "minutes"),
    Field("minutes_since_closed", "Minutes since closed", "minutes"),
    Field("minutes_since_updated", "Minutes since last update", "minutes"),
    Field("minutes_since_first_response", "Minutes since first response", "minutes"),
    Field("opened_at", "Date opened", "date"),
    Field("closed_at", "Date closed", "date"),
    Field("survey_answered_at", "Date answered (Thermostat)", "date"),
    Field("actor", "Acting person", "ref", EVENT, ref="user"),
    Field("note_type", "Note type", "choice", EVENT, choices=("public", "private", "none")),
    Field("note_body", "Note body", "text", EVENT),
)

CHANGE_OPS = ("changed", "changed_to", "changed_from", "not_changed")
TEXT_OPS = ("is", "is_not", "begins_with", "ends_with", "contains", "not_contains")
ORDER_OPS = ("lt", "le", "gt", "ge")
OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "ref": ("is", "is_not") + CHANGE_OPS,
    "bool": ("is",) + CHANGE_OPS,
    "text": TEXT_OPS + CHANGE_OPS,
    "number": ("is", "is_not") + ORDER_OPS + ("between",) + CHANGE_OPS,
    "rating": ("is", "is_not") + CHANGE_OPS,
    "choice": ("is", "is_not"),
    "minutes": ORDER_OPS,
    "date": ("in_range", "not_in_range"),
}
OP_LABELS = {
    "is": "is", "is_not": "is not", "begins_with": "begins with", "ends_with": "ends with",
    "contains": "contains", "not_contains": "does not contain", "lt": "is less than",
    "le": "is at most", "gt": "is greater than", "ge": "is at least", "changed": "changed",
    "changed_to": "changed to", "changed_from": "changed from", "not_changed": "did not change",
    "in_range": "is in", "not_in_range": "is not in", "between": "is between",
}
RATINGS = ("promoter", "passive", "detractor", "satisfied", "dissatisfied")
DATE_RANGES = {"today": "today", "past_7_days": "the past 7 days",
               "past_30_days": "the past 30 days", "past_90_days": "the past 90 days",
               "this_month": "this month", "last_month": "last month"}
VALUELESS_OPS = {"changed", "not_changed"}
MAX_DEPTH = 4


def parse_id(text: str) -> int | None:
    """A typed id ("42"): ASCII digits from 1 to MAX_ID, else None (never an error)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


@dataclass
class Schema:
    """The fields available: the fixed ones plus the helpdesk's custom fields."""

    custom_fields: Mapping[int, tuple[str, str]] = field(default_factory=dict)  # id → (name, type)

    def field(self, name: str) -> Field:
        if name.startswith("custom:"):
            try:
                fid = int(name.split(":", 1)[1])
            except ValueError:
                raise CriteriaError(f"unknown field {name[:40]!r}") from None
            if fid not in self.custom_fields:
                raise CriteriaError(f"custom field #{fid} no longer exists")
            label, ftype = self.custom_fields[fid]
            return Field(name, label, "number" if ftype == "number" else "text")
        f = _BASE_BY_NAME.get(name)
        if f is None:
            raise CriteriaError(f"unknown field {name[:40]!r}")
        return f

    def fields(self, include_events: bool = True) -> list[Field]:
        found = [f for f in BASE_FIELDS if include_events or f.context == STATE]
        found += [self.field(f"custom:{fid}") for fid in sorted(self.custom_fields)]
        return found


_BASE_BY_NAME = {f.name: f for f in BASE_FIELDS}
DEFAULT_SCHEMA = Schema()


def is_group(node: Mapping[str, Any]) -> bool:
    """Whether a node is a nested all/any group rather than a condition."""
    return "conditions" in node


def _number(x: float) -> str:
    """52,704,000 rather than 5.2704e+07 in a message."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def coerce(f: Field, value: Any) -> Any:
    """Turn a stored or submitted value into the field's type, or raise CriteriaError."""
    if f.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not yes or no")
    if f.kind == "ref":
        if value in (None, "", 0, "0", "none"):
            return None  # nobody / no category
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not a valid choice") from None
        if not 0 < number <= MAX_ID:
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not a valid choice")
        return number
    if f.kind in {"number", "minutes"}:
        if isinstance(value, bool):
            raise CriteriaError(f"{f.label}: {value!r} is not a number")
        try:
            if isinstance(value, str) and not value.isascii():
                raise ValueError  # float() takes "５" and "٥" too; ids and the URL do not
            number = float(value)
        except (TypeError, ValueError):
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not a number") from None
        low, high = f.bounds or ((0, MAX_MINUTES) if f.kind == "minutes"
                                 else (-MAX_NUMBER, MAX_NUMBER))
        if number != number or not low <= number <= high:
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is out of range "
                                f"({_number(low)} to {_number(high)})")
        if f.whole and not number.is_integer():
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not a whole number")
        return int(number) if number.is_integer() else number
    if f.kind == "rating":
        text = str(value).strip().lower()
        allowed = f.choices or RATINGS
        if text not in allowed:
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not a rating "
                                f"({', '.join(allowed)})")
        return text
    if f.kind == "choice":
        text = str(value).strip().lower()
        if text not in f.choices:
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not one of "
                                f"{', '.join(f.choices)}")
        return text
    if f.kind == "date":
        text = str(value).strip().lower()
        if text not in DATE_RANGES:
            raise CriteriaError(f"{f.label}: {str(value)[:40]!r} is not a date range")
        return text
    if value is None:
        raise CriteriaError(f"{f.label}: a value is required")
    text = str(value)
    if len(text) > 500:
        raise CriteriaError(f"{f.label}: the value is longer than 500 characters")
    if "\x00" in text:
        raise CriteriaError(f"{f.label}: the value contains a NUL character")
    return text


def coerce_range(f: Field, value: Any) -> tuple[Any, Any]:
    """A 'between' value: [low, high], "3-6", "3..6" or "3,6"; inclusive, low <= high."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        low, high = value
    else:
        text = str(value).replace("..", ",").replace("–", ",").strip()
        if "," not in text and text.count("-") == 1 and not text.startswith("-"):
            text = text.replace("-", ",")
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2:
            raise CriteriaError(f"{f.label}: write a range like 0-6")
        low, high = parts
    low, high = coerce(f, low), coerce(f, high)
    if low > high:
        raise CriteriaError(f"{f.label}: the range {low}-{high} is empty")
    return low, high


def typed_value(f: Field, op: str, value: Any) -> Any:
    """The condition's value in the field's type (a pair for 'between')."""
    return coerce_range(f, value) if op == "between" else coerce(f, value)


def validate(tree: list[Mapping[str, Any]], allow_change_ops: bool, allow_event_fields: bool,
             schema: Schema = DEFAULT_SCHEMA, depth: int = 0) -> None:
    """Raise CriteriaError for the first node that is not well formed."""
    if not isinstance(tree, list):
        raise CriteriaError("conditions must be a list")
    if depth > MAX_DEPTH:
        raise CriteriaError(f"groups nest at most {MAX_DEPTH} deep")
    for node in tree:
        if not isinstance(node, Mapping):
            raise CriteriaError("each condition must be an object")
        if is_group(node):
            if node.get("match") not in ("all", "any"):
                raise CriteriaError("a group must match all or any")
            validate(node["conditions"], allow_change_ops, allow_event_fields, schema, depth + 1)
            continue
        f = schema.field(str(node.get("field", "")))
        op = node.get("op")
        if op not in OPS_BY_KIND[f.kind]:
            raise CriteriaError(f"{f.label}: unknown operator {str(op)[:20]!r}")
        if op in CHANGE_OPS and not allow_change_ops:
            raise CriteriaError(f"{f.label}: '{OP_LABELS[op]}' only applies to triggers")
        if f.context == EVENT and not allow_event_fields:
            raise CriteriaError(f"{f.label} only applies to triggers")
        if op not in VALUELESS_OPS:
            typed_value(f, op, node.get("value"))


# ---------------------------------------------------------------- evaluation in Python


def _minutes_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else (now - moment).total_seconds() / 60.0


def date_range(name: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of a relative date range, in the same naive UTC as the columns."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "today":
        return today, today + timedelta(days=1)
    if name.startswith("past_"):
        days = int(name.split("_")[1])
        return now - timedelta(days=days), now + timedelta(seconds=1)
    first = today.replace(day=1)
    if name == "this_month":
        days = calendar.monthrange(first.year, first.month)[1]
        return first, first + timedelta(days=days)
    previous = (first - timedelta(days=1)).replace(day=1)
    return previous, first  # last_month


def value_of(f: Field, snap: Mapping[str, Any], now: datetime) -> Any:
    """A field's value in a snapshot (minutes are computed against `now`)."""
    if f.kind == "minutes":
        return _minutes_since(snap.get(f.name.replace("minutes_since_", "") + "_at"), now)
    return snap.get(f.name)


def _text_equal(a: Any, b: Any) -> bool:
    return a is not None and str(a).lower() == str(b).lower()


def _compare(f: Field, op: str, actual: Any, expected: Any, now: datetime) -> bool:
    if f.kind == "date":
        if actual is None:
            return op == "not_in_range"
        start, end = date_range(expected, now)
        inside = start <= actual < end
        return inside if op == "in_range" else not inside
    if f.kind == "number" and actual is not None and not isinstance(actual, (int, float)):
        try:
            actual = float(actual)
        except (TypeError, ValueError):
            actual = None
    if op == "is":
        if expected is None:
            return actual is None
        return _text_equal(actual, expected) if f.kind == "text" else actual == expected
    if op == "is_not":
        if expected is None:
            return actual is not None
        return not _text_equal(actual, expected) if f.kind == "text" else actual != expected
    if op == "not_contains":
        return actual is None or str(expected).lower() not in str(actual).lower()
    if actual is None:
        return False
    if op in ORDER_OPS:
        return {"lt": actual < expected, "le": actual <= expected,
                "gt": actual > expected, "ge": actual >= expected}[op]
    if op == "between":
        return expected[0] <= actual <= expected[1]
    a, e = str(actual).lower(), str(expected).lower()
    return {"begins_with": a.startswith(e), "ends_with": a.endswith(e), "contains": e in a}[op]


def evaluate_condition(cond: Mapping[str, Any], old: Mapping | None, new: Mapping,
                       now: datetime, schema: Schema = DEFAULT_SCHEMA) -> bool:
    """Whether one condition holds for a change from `old` (None: just created) to `new`."""
    f = schema.field(cond["field"])
    op = cond["op"]
    current = value_of(f, new, now)
    if op in CHANGE_OPS:
        before = value_of(f, old, now) if old is not None else None
        changed = (current is not None) if old is None else before != current
        if op == "changed":
            return changed
        if op == "not_changed":
            return not changed
        expected = coerce(f, cond.get("value"))
        if op == "changed_to":
            return changed and (_text_equal(current, expected) if f.kind == "text"
                                else current == expected)
        return changed and old is not None and (
            _text_equal(before, expected) if f.kind == "text" else before == expected)
    return _compare(f, op, current, typed_value(f, op, cond.get("value")), now)


@dataclass
class Explanation:
    """One line of 'why': a condition or group, its depth, and whether it held.

    `node` is the condition itself, so its words can be written only when someone will read
    them (a logged run, the dry run), not on every evaluation.
    """

    depth: int
    text: str
    held: bool
    node: Mapping | None = None


def evaluate(match: str, tree: list[Mapping], old: Mapping | None, new: Mapping,
             now: datetime, schema: Schema = DEFAULT_SCHEMA,
             describe: Callable[[Mapping], str] | None = None,
             ) -> tuple[bool, list[Explanation]]:
    """Evaluate an all/any tree; returns the verdict and every node's result, in order."""
    lines: list[Explanation] = []

    def walk(match_: str, nodes: list[Mapping], depth: int) -> bool:
        results = []
        for node in nodes:
            if is_group(node):
                index = len(lines)
                lines.append(Explanation(depth, f"{node['match']} of:", False))
                held = walk(node["match"], node["conditions"], depth + 1)
                lines[index].held = held
            else:
                held = evaluate_condition(node, old, new, now, schema)
                lines.append(Explanation(depth, describe(node) if describe else "", held, node))
            results.append(held)
        if not results:
            return True
        return all(results) if match_ == "all" else any(results)

    return walk(match, tree, 0), lines


def iter_conditions(tree: list[Mapping]) -> Iterator[Mapping]:
    """Every condition of a tree, groups flattened."""
    for node in tree:
        if is_group(node):
            yield from iter_conditions(node["conditions"])
        else:
            yield node


# ---------------------------------------------------------------- compilation to SQL


@dataclass
class SqlContext:
    """The columns and tables a compiled condition refers to.

    `columns` maps plain fields to columns; `custom_value(field_id)` returns a correlated
    scalar subquery of a custom field's value; `flags` maps the Thermostat flags
    (survey_has_response, survey_sent_unanswered, survey_never, survey_id,
    survey_has_comment) to ready boolean expressions / scalar subqueries.
    """

    columns: Mapping[str, ColumnElement]
    custom_value: Callable[[int], ColumnElement]
    special: Mapping[str, Callable[[str, Any], ColumnElement[bool]]] = field(default_factory=dict)


def sql_compare(f: Field, op: str, col: ColumnElement, value: Any) -> ColumnElement[bool]:
    if op == "is":
        if value is None:
            return col.is_(None)
        return func.lower(col) == str(value).lower() if f.kind == "text" else col == value
    if op == "is_not":
        if value is None:
            return col.is_not(None)
        differs = func.lower(col) != str(value).lower() if f.kind == "text" else col != value
        return or_(differs, col.is_(None))
    if op in ORDER_OPS:
        return {"lt": col < value, "le": col <= value, "gt": col > value, "ge": col >= value}[op]
    if op == "between":
        return col.between(value[0], value[1])
    text = str(value).lower()
    low = func.lower(col)
    if op == "begins_with":
        return low.startswith(text, autoescape=True)
    if op == "ends_with":
        return low.endswith(text, autoescape=True)
    if op == "contains":
        return low.contains(text, autoescape=True)
    return or_(not_(low.contains(text, autoescape=True)), col.is_(None))  # not_contains


def compile_condition(cond: Mapping[str, Any], ctx: SqlContext, now: datetime,
                      schema: Schema = DEFAULT_SCHEMA) -> ColumnElement[bool]:
    """Compile one state condition to SQL; every value is a bound parameter."""
    f = schema.field(cond["field"])
    op = cond["op"]
    if op in CHANGE_OPS:
        raise CriteriaError(f"{f.label}: '{OP_LABELS[op]}' cannot be used here")
    if f.context == EVENT:
        raise CriteriaError(f"{f.label} only applies to triggers")
    value = typed_value(f, op, cond.get("value"))
    if f.name in ctx.special:
        return ctx.special[f.name](op, value)
    if f.kind == "minutes":
        col = ctx.columns[f.name.replace("minutes_since_", "") + "_at"]
        cutoff = now - timedelta(minutes=value)
        # "more than N minutes since X" is "X before now - N minutes"
        flipped = {"lt": col > cutoff, "le": col >= cutoff, "gt": col < cutoff,
                   "ge": col <= cutoff}[op]
        return and_(col.is_not(None), flipped)
    if f.kind == "date":
        col = ctx.columns[f.name]
        start, end = date_range(value, now)
        inside = and_(col.is_not(None), col >= start, col < end)
        return inside if op == "in_range" else not_(inside)
    if f.name.startswith("custom:"):
        col = ctx.custom_value(int(f.name.split(":", 1)[1]))
        if f.kind == "number":
            col = cast(col, Float)
        return sql_compare(f, op, col, value)
    return sql_compare(f, op, ctx.columns[f.name], value)


def compile_tree(match: str, tree: list[Mapping], ctx: SqlContext, now: datetime,
                 schema: Schema = DEFAULT_SCHEMA) -> ColumnElement[bool]:
    """Compile an all/any tree of state conditions into one WHERE clause."""
    clauses = [compile_tree(n["match"], n["conditions"], ctx, now, schema) if is_group(n)
               else compile_condition(n, ctx, now, schema) for n in tree]
    if not clauses:
        return true()
    return and_(*clauses) if match == "all" else or_(*clauses)


"""The request list as data: a filter, chosen columns, a sort, a page; all from the URL.

A list URL is the whole state (`?state=closed&rating=detractor&c=nps_score:lt:7&cols=id,
subject,nps&sort=closed_at&dir=desc&page=2`), so a filter can be bookmarked, shared and
saved. Fields, operators, columns and sorts are allow-listed; values are bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from .. import criteria
from ..conditions import sql_context
from ..models import (Category, Customer, Status, SurveyResult, ThermostatSurvey, Ticket, User)
from ..results.ratings import rating_label
from ..thermostat.state import SURVEY_STATES

MAX_PAGE = 100000
PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_CONDITIONS = 20
RATING_CHOICES = [("", "Any"), ("promoter", "Promoters (9–10)"), ("passive", "Passives (7–8)"),
                  ("detractor", "Detractors (0–6)"), ("satisfied", "CSAT satisfied (4–5)"),
                  ("dissatisfied", "CSAT dissatisfied (1–3)")]
SCORE_OPS = {"lt": "less than", "gt": "greater than", "is": "equal to"}
STATE_CHOICES = [("all", "All requests"), ("open", "Open"), ("closed", "Closed")]


class FilterError(ValueError):
    """A list URL naming an unknown field, operator, column or value."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    sort: Callable[[], Any]  # the SQL expression to sort by
    needs: frozenset = frozenset()  # joins: customer, status, category, assignee, result


RESULT = aliased(SurveyResult, name="latest_result")
ASSIGNEE = aliased(User, name="assignee_user")

COLUMNS: dict[str, Column] = {c.key: c for c in [
    Column("id", "#", lambda: Ticket.id),
    Column("subject", "Subject", lambda: func.lower(Ticket.subject)),
    Column("customer", "Customer", lambda: func.lower(Customer.last_name), frozenset({"customer"})),
    Column("email", "Customer email", lambda: func.lower(Customer.email), frozenset({"customer"})),
    Column("status", "Status", lambda: Status.name, frozenset({"status"})),
    Column("category", "Category", lambda: Category.name, frozenset({"category"})),
    Column("assignee", "Assigned to", lambda: ASSIGNEE.name, frozenset({"assignee"})),
    Column("opened_at", "Opened", lambda: Ticket.opened_at),
    Column("closed_at", "Closed", lambda: Ticket.closed_at),
    Column("frt", "First response", lambda: Ticket.first_response_seconds),
    Column("nps", "NPS", lambda: _typed_score("nps")),
    Column("csat", "CSAT", lambda: _typed_score("csat")),
    Column("thermostat", "Thermostat", lambda: Ticket.survey_score),
    Column("answered_at", "Answered", lambda: Ticket.survey_answered_at),
    # an empty comment shows "—", so it sorts with the requests that have none (last)
    Column("comment", "Comment", lambda: func.lower(func.nullif(RESULT.feedback, "")),
           frozenset({"result"})),
    Column("survey_state", "Survey status", lambda: _survey_state_label()),
]}
# "—" rows sort last; the never-empty indexed columns keep the plain order so the database
# can walk their index instead of sorting a million rows. (closed_at is empty on open
# requests: SQLite puts NULLs first ascending and PostgreSQL first descending, so it always
# says NULLS LAST; SQLite still walks the index for it.)
INDEXED_SORTS = {"id", "opened_at"}
DEFAULT_COLUMNS = ("id", "subject", "customer", "status", "category", "assignee", "opened_at",
                   "thermostat")


def _survey_state_label():
    """Sort the survey status by the words the column shows, not by its stored code."""
    from sqlalchemy import case

    return case(SURVEY_STATES, value=Ticket.survey_state, else_=Ticket.survey_state)


def _typed_score(survey_type: str):
    from sqlalchemy import case

    return case((Ticket.survey_type == survey_type, Ticket.survey_score), else_=None)


@dataclass
class ListQuery:
    """A parsed list URL."""

    state: str = "all"
    rating: str = ""
    score_op: str = ""
    score: int | None = None
    match: str = "all"
    advanced: list[dict] = field(default_factory=list)
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    sort: str = "opened_at"
    direction: str = "desc"
    page: int = 1
    per_page: int = 25

    def conditions(self) -> list[dict]:
        """The quick filters and the advanced rows as one list of conditions."""
        conds: list[dict] = []
        if self.state != "all":
            conds.append({"field": "is_open", "op": "is", "value": self.state == "open"})
        if self.rating:
            conds.append({"field": "survey_rating", "op": "is", "value": self.rating})
        if self.score_op:
            conds.append({"field": "survey_score", "op": self.score_op, "value": self.score})
        if self.advanced:
            conds.append({"match": self.match, "conditions": self.advanced})
        return conds

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for this list (with changes), without defaults."""
        values = {"state": self.state if self.state != "all" else None,
                  "rating": self.rating or None, "score_op": self.score_op or None,
                  "score": self.score if self.score_op else None,
                  "m": self.match if self.advanced and self.match != "all" else None,
                  "c": [encode_condition(c) for c in self.advanced] or None,
                  "cols": ",".join(self.columns) if self.columns != DEFAULT_COLUMNS else None,
                  "sort": self.sort if self.sort != "opened_at" else None,
                  "dir": self.direction if self.direction != "desc" else None,
                  "per_page": self.per_page if self.per_page != 25 else None,
                  "page": self.page if self.page != 1 else None}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "", [])}

    def querystring(self, **changes: Any) -> str:
        """The URL query string for this list."""
        return urlencode(self.args(**changes), doseq=True)


def encode_condition(cond: Mapping[str, Any]) -> str:
    """One advanced condition as `field:op:value` (a between value as `low..high`)."""
    value = cond.get("value", "")
    if isinstance(value, (list, tuple)):
        value = f"{value[0]}..{value[1]}"
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    elif value is None:
        value = "none"
    return f"{cond['field']}:{cond['op']}:{value}"


def parse(args: Mapping[str, Any], schema: criteria.Schema) -> ListQuery:
    """Parse and validate a list URL; raises FilterError naming what is wrong."""
    getlist = getattr(args, "getlist", lambda k: [args[k]] if k in args else [])
    q = ListQuery()
    q.state = args.get("state", "all") or "all"
    if q.state not in dict(STATE_CHOICES):
        raise FilterError(f"state must be one of {', '.join(dict(STATE_CHOICES))}")
    q.rating = args.get("rating", "") or ""
    if q.rating and q.rating not in dict(RATING_CHOICES):
        raise FilterError(f"unknown rating {q.rating[:40]!r}")
    q.score_op = args.get("score_op", "") or ""
    raw_score = (args.get("score", "") or "").strip()
    if q.score_op or raw_score:
        if q.score_op not in SCORE_OPS:
            raise FilterError("score_op must be lt, gt or is")
        try:
            if not raw_score.isascii():  # int() takes "５" and "٥" too
                raise ValueError
            q.score = int(raw_score)
        except ValueError:
            raise FilterError(f"score must be a whole number, not {raw_score[:20]!r}") from None
        if not 0 <= q.score <= 10:
            raise FilterError("score must be between 0 and 10")
    q.match = args.get("m", "all") or "all"
    if q.match not in ("all", "any"):
        raise FilterError("m must be all or any")
    raw_conditions = [c for c in getlist("c") if c]
    if len(raw_conditions) > MAX_CONDITIONS:
        raise FilterError(f"at most {MAX_CONDITIONS} conditions")
    for raw in raw_conditions:
        q.advanced.append(_parse_condition(raw, schema))
    cols = args.get("cols")
    if cols:
        keys = tuple(dict.fromkeys(k.strip() for k in cols.split(",") if k.strip()))
        unknown = [k for k in keys if k not in COLUMNS]
        if unknown:
            raise FilterError(f"unknown column {unknown[0][:40]!r}")
        if not keys:
            raise FilterError("choose at least one column")
        q.columns = keys
    q.sort = args.get("sort", "opened_at") or "opened_at"
    if q.sort not in COLUMNS:
        raise FilterError(f"cannot sort by {q.sort[:40]!r}")
    q.direction = args.get("dir", "desc") or "desc"
    if q.direction not in ("asc", "desc"):
        raise FilterError("dir must be asc or desc")
    try:
        q.page = min(max(int(args.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        q.page = 1  # a mangled page number shows the first page rather than an error
    try:
        per_page = int(args.get("per_page", "25"))
    except ValueError:
        raise FilterError("per_page must be a whole number") from None
    if per_page not in PER_PAGE_CHOICES:
        raise FilterError(f"per_page must be one of {', '.join(map(str, PER_PAGE_CHOICES))}")
    q.per_page = per_page
    try:
        criteria.validate(q.conditions(), allow_change_ops=False, allow_event_fields=False,
                          schema=schema)
    except criteria.CriteriaError as exc:
        raise FilterError(str(exc)) from None
    return q


def _parse_condition(raw: str, schema: criteria.Schema) -> dict:
    field_name, sep, rest = raw.partition(":")
    if field_name == "custom" and sep:  # a custom field is named custom:<id>
        number, sep, rest = rest.partition(":")
        field_name = f"custom:{number}"
    op, sep2, value = rest.partition(":")
    if not sep or not sep2:
        raise FilterError(f"a condition is field:operator:value, not {raw[:60]!r}")
    try:
        f = schema.field(field_name)
    except criteria.CriteriaError as exc:
        raise FilterError(str(exc)) from None
    if f.context != criteria.STATE:
        raise FilterError(f"{f.label} cannot be used in a filter")
    if op not in criteria.OPS_BY_KIND[f.kind] or op in criteria.CHANGE_OPS:
        raise FilterError(f"{f.label}: unknown operator {op[:20]!r}")
    if f.kind == "ref" and value.lower() in ("none", "nobody", ""):
        typed: Any = None
    else:
        try:
            typed = criteria.typed_value(f, op, value)
        except criteria.CriteriaError as exc:
            raise FilterError(str(exc)) from None
    return {"field": f.name, "op": op, "value": list(typed) if isinstance(typed, tuple)
            else typed}


def _condition_needs(q: ListQuery) -> set[str]:
    """Joins the WHERE clause needs (the count must not join more than this)."""
    return {"customer"} if any(c["field"].startswith("customer_")
                               for c in criteria.iter_conditions(q.conditions())) else set()


def _needs(q: ListQuery) -> set[str]:
    """Joins the ids query needs: its conditions and its sort (cells load separately)."""
    return _condition_needs(q) | COLUMNS[q.sort].needs


def _joined(query: Select, needs: set[str]) -> Select:
    if "customer" in needs:
        query = query.join(Customer, Ticket.customer_id == Customer.id)
    if "status" in needs:
        query = query.join(Status, Ticket.status_id == Status.id)
    if "category" in needs:
        query = query.outerjoin(Category, Ticket.category_id == Category.id)
    if "assignee" in needs:
        query = query.outerjoin(ASSIGNEE, Ticket.assignee_id == ASSIGNEE.id)
    if "result" in needs:
        query = query.outerjoin(RESULT, Ticket.survey_result_id == RESULT.id)
    return query


def where(q: ListQuery, schema: criteria.Schema, now: datetime):
    """The WHERE clause of a list."""
    try:
        return criteria.compile_tree("all", q.conditions(), sql_context(), now, schema)
    except criteria.CriteriaError as exc:
        raise FilterError(str(exc)) from None


def count_query(q: ListQuery, schema: criteria.Schema, now: datetime) -> Select:
    """SELECT count(*) of the list, joining only what the conditions need."""
    return _joined(select(func.count()).select_from(Ticket), _condition_needs(q)).where(
        where(q, schema, now))


def ids_query(q: ListQuery, schema: criteria.Schema, now: datetime) -> Select:
    """SELECT ticket ids of the list in its sort order (no paging)."""
    return (_joined(select(Ticket.id), _needs(q)).where(where(q, schema, now))
            .order_by(*_order(q)))


def _order(q: ListQuery):
    sort = COLUMNS[q.sort].sort()
    order = sort.asc() if q.direction == "asc" else sort.desc()
    # A closed request always has its closed date, so "closed, by closed date" keeps the
    # plain order: PostgreSQL can then walk (is_open, closed_at) backwards for the newest.
    plain = q.sort in INDEXED_SORTS or (q.sort == "closed_at" and q.state == "closed")
    if not plain:
        order = order.nulls_last()
    return order, (Ticket.id.asc() if q.direction == "asc" else Ticket.id.desc())


def export_query(q: ListQuery, schema: criteria.Schema, now: datetime) -> Select:
    """Every row of the list as flat values for CSV, in the list's order."""
    stmt = select(Ticket.id, Ticket.subject, Customer.first_name, Customer.last_name,
                  Customer.email, Status.name, Ticket.is_open, Category.name, ASSIGNEE.name,
                  Ticket.opened_at, Ticket.closed_at, Ticket.first_response_seconds,
                  Ticket.survey_type, Ticket.survey_score, RESULT.feedback, Ticket.survey_state,
                  RESULT.survey_id, Ticket.survey_answered_at)
    stmt = _joined(stmt.select_from(Ticket),
                   {"customer", "status", "category", "assignee", "result"})
    return stmt.where(where(q, schema, now)).order_by(*_order(q))


def page_query(q: ListQuery, schema: criteria.Schema, now: datetime) -> Select:
    """The ids on the current page."""
    return ids_query(q, schema, now).limit(q.per_page).offset((q.page - 1) * q.per_page)


# ---------------------------------------------------------------- cells


def survey_labels(survey_ids: set[int], session) -> dict[int, list[str]]:
    """CSAT labels of the given surveys (for 'Satisfied 5' in the survey's own words)."""
    if not survey_ids:
        return {}
    rows = session.execute(select(ThermostatSurvey.id, ThermostatSurvey.csat_labels)
                           .where(ThermostatSurvey.id.in_(survey_ids)))
    return {sid: labels or [] for sid, labels in rows}


def cell(key: str, ticket: Ticket, result: SurveyResult | None,
         labels: dict[int, list[str]]) -> str:
    """A column's text for one request; '—' where there is nothing."""
    dash = "—"
    if key == "id":
        return str(ticket.id)
    if key == "subject":
        return ticket.subject
    if key == "customer":
        return ticket.customer.full_name if ticket.customer else dash
    if key == "email":
        return (ticket.customer.email if ticket.customer else None) or dash
    if key == "status":
        return ticket.status.name + ("" if ticket.is_open else " (closed)")
    if key == "category":
        return ticket.category.name if ticket.category else dash
    if key == "assignee":
        return ticket.assignee.name if ticket.assignee else dash
    if key in ("opened_at", "closed_at", "answered_at"):
        value = getattr(ticket, "survey_answered_at" if key == "answered_at" else key)
        return value.strftime("%Y-%m-%d %H:%M") if value else dash
    if key == "frt":
        return format_duration(ticket.first_response_seconds)
    if key in ("nps", "csat", "thermostat"):
        if ticket.survey_score is None or (key != "thermostat" and ticket.survey_type != key):
            return dash
        survey_labels_ = labels.get(result.survey_id) if result and result.survey_id else None
        return rating_label(ticket.survey_type, ticket.survey_score,
                            survey_labels_ if ticket.survey_type == "csat" else None)
    if key == "comment":
        return (result.feedback if result and result.feedback else None) or dash
    if key == "survey_state":
        return SURVEY_STATES.get(ticket.survey_state or "none", ticket.survey_state)
    return dash


def format_duration(seconds: int | float | None) -> str:
    """'3h 12m', '2d 4h', '45m'; '—' for none."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"

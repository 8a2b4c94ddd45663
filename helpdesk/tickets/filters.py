"""The request list's GET filters: allow-listed fields and values, compiled by criteria."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .. import criteria
from ..conditions import sql_context
from ..models import utcnow
RATING_CHOICES = [("", "Any"), ("promoter", "Promoters (9–10)"), ("passive", "Passives (7–8)"),
                  ("detractor", "Detractors (0–6)"), ("satisfied", "CSAT satisfied (4–5)"),
                  ("dissatisfied", "CSAT dissatisfied (1–3)")]
SCORE_OPS = {"lt": "less than", "gt": "greater than", "is": "equal to"}
STATE_CHOICES = [("all", "All requests"), ("open", "Open"), ("closed", "Closed")]


class FilterError(ValueError):
    """A filter URL naming an unknown field or value."""


@dataclass
class ListFilter:
    """A parsed request-list filter."""

    state: str = "all"
    rating: str = ""
    score_op: str = ""
    score: int | None = None
    conditions: list[dict] = field(default_factory=list)


def parse_filter(args: Mapping[str, str]) -> ListFilter:
    """Parse and validate the list's query string; raises FilterError with a clear message."""
    f = ListFilter()
    f.state = args.get("state", "all") or "all"
    if f.state not in dict(STATE_CHOICES):
        raise FilterError(f"state must be one of {', '.join(dict(STATE_CHOICES))}")
    if f.state != "all":
        f.conditions.append({"field": "is_open", "op": "is", "value": f.state == "open"})
    f.rating = args.get("rating", "") or ""
    if f.rating:
        if f.rating not in dict(RATING_CHOICES):
            raise FilterError(f"unknown rating {f.rating[:40]!r}")
        f.conditions.append({"field": "survey_rating", "op": "is", "value": f.rating})
    f.score_op = args.get("score_op", "") or ""
    raw_score = (args.get("score", "") or "").strip()
    if f.score_op or raw_score:
        if f.score_op not in SCORE_OPS:
            raise FilterError("score_op must be lt, gt or is")
        try:
            f.score = int(raw_score)
        except ValueError:
            raise FilterError(f"score must be a whole number, not {raw_score[:20]!r}") from None
        if not 0 <= f.score <= 10:
            raise FilterError("score must be between 0 and 10")
        f.conditions.append({"field": "survey_score", "op": f.score_op, "value": f.score})
    return f


def where_clause(f: ListFilter):
    """The SQL condition for a parsed filter."""
    try:
        criteria.validate(f.conditions, allow_change_ops=False, allow_event_fields=False)
        return criteria.compile_tree("all", f.conditions, sql_context(), utcnow())
    except criteria.CriteriaError as exc:
        raise FilterError(str(exc)) from None

"""Report queries. Aggregates run in the database; percentiles walk an ordered index.

Every function takes the list's WHERE clause, so a report covers exactly what the filter
shows. Nothing here loads the matching requests into Python.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Category, Ticket, User

RATING_ORDER = ["promoter", "passive", "detractor", "satisfied", "dissatisfied", None]
RATING_NAMES = {"promoter": "Promoters", "passive": "Passives", "detractor": "Detractors",
                "satisfied": "CSAT satisfied", "dissatisfied": "CSAT dissatisfied",
                None: "No survey result"}
HISTOGRAM = [(0, 3600, "under 1 h"), (3600, 4 * 3600, "1–4 h"), (4 * 3600, 86400, "4–24 h"),
             (86400, 3 * 86400, "1–3 days"), (3 * 86400, None, "over 3 days")]


def percent(part: int, whole: int) -> float:
    """100 × part / whole to one decimal, halves rounded away from zero as by hand (6.25 →
    6.3, -6.25 → -6.3), not to even as round() does; exact, from the integers."""
    value = (Decimal(100) * part / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(value)


@dataclass
class FrtRow:
    rating: str | None
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    histogram: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return RATING_NAMES[self.rating]


def _filtered(stmt, where, needs_customer: bool):
    """Apply the list's WHERE clause (and the customer join it may need) to a SELECT."""
    from ..models import Customer

    stmt = stmt.select_from(Ticket)
    if needs_customer:
        stmt = stmt.join(Customer, Ticket.customer_id == Customer.id)
    return stmt.where(where)


def one_snapshot() -> None:
    """Make every statement of this request read the same data, so the report's tables agree
    with each other (and a percentile's row is still there when the count said it was).

    SQLite already reads one snapshot per transaction; PostgreSQL's default (read committed)
    takes a new one per statement, so the request's transaction is restarted as repeatable
    read. Only reads follow on the reports page."""
    if db.engine.dialect.name == "postgresql":
        db.session.rollback()
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _nth(where, needs_customer: bool, rating: str | None, offset: int) -> float | None:
    rating_match = Ticket.survey_rating.is_(None) if rating is None \
        else Ticket.survey_rating == rating
    stmt = (_filtered(select(Ticket.first_response_seconds), where, needs_customer)
            .where(rating_match, Ticket.first_response_seconds.is_not(None))
            .order_by(Ticket.first_response_seconds).limit(1).offset(offset))
    return db.session.scalar(stmt)


def first_response_by_rating(where, needs_customer: bool = False) -> list[FrtRow]:
    """Median, mean, 90th percentile and a histogram of first response time per rating."""
    frt = Ticket.first_response_seconds
    bucket = case(*[((frt >= low) if high is None else ((frt >= low) & (frt < high)), index)
                    for index, (low, high, _) in enumerate(HISTOGRAM)], else_=-1)
    stats = {r: (n, mean) for r, n, mean in db.session.execute(
        _filtered(select(Ticket.survey_rating, func.count(), func.avg(frt)), where,
                  needs_customer).where(frt.is_not(None)).group_by(Ticket.survey_rating))}
    hist: dict[tuple[str | None, int], int] = {
        (r, b): n for r, b, n in db.session.execute(
            _filtered(select(Ticket.survey_rating, bucket, func.count()), where, needs_customer)
            .where(frt.is_not(None)).group_by(Ticket.survey_rating, bucket))}
    rows = []
    for rating in RATING_ORDER:
        n, mean = stats.get(rating, (0, None))
        if not n:
            continue
        if n % 2:
            median = _nth(where, needs_customer, rating, n // 2)
        else:
            low = _nth(where, needs_customer, rating, n // 2 - 1)
            high = _nth(where, needs_customer, rating, n // 2)
            median = (low + high) / 2
        p90 = _nth(where, needs_customer, rating, max(0, math.ceil(0.9 * n) - 1))
        rows.append(FrtRow(rating, n, float(mean) if mean is not None else None,
                           float(median), float(p90),
                           [hist.get((rating, i), 0) for i in range(len(HISTOGRAM))]))
    return rows


def _period(column, period: str):
    """The bucket of a time: 'YYYY-MM', or for weeks the date of the week's Monday.

    Weeks are grouped by their Monday on both databases (SQLite's %W numbers weeks
    differently from ISO and splits the week around the new year); `_label` names them.
    """
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(period, column),
                            "YYYY-MM-DD" if period == "week" else "YYYY-MM")
    if period == "week":
        return func.date(column, "weekday 0", "-6 days")  # the Sunday on or after, less 6
    return func.strftime("%Y-%m", column)


def _label(key: Any, period: str) -> str:
    """'2026-03' for a month, the ISO week '2026-W02' for a week's Monday."""
    if period != "week" or key is None:
        return str(key)
    from datetime import date

    year, week, _ = date.fromisoformat(str(key)[:10]).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class NpsRow:
    key: Any
    label: str
    promoters: int
    passives: int
    detractors: int

    @property
    def count(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        if not self.count:
            return None
        return percent(self.promoters - self.detractors, self.count)


def _nps_counts():
    return (func.sum(case((Ticket.survey_rating == "promoter", 1), else_=0)),
            func.sum(case((Ticket.survey_rating == "passive", 1), else_=0)),
            func.sum(case((Ticket.survey_rating == "detractor", 1), else_=0)))


def nps_over_time(where, needs_customer: bool = False, period: str = "month") -> list[NpsRow]:
    """NPS per week or month of the response, with counts."""
    bucket = _period(Ticket.survey_answered_at, period)
    rows = db.session.execute(
        _filtered(select(bucket, *_nps_counts()), where, needs_customer)
        .where(Ticket.survey_type == "nps").group_by(bucket).order_by(bucket))
    return [NpsRow(k, _label(k, period), int(p or 0), int(s or 0), int(d or 0))
            for k, p, s, d in rows]


def nps_by(where, group: str, needs_customer: bool = False) -> list[NpsRow]:
    """NPS by assignee or by category, by name."""
    key, model = (Ticket.assignee_id, User) if group == "agent" else (Ticket.category_id,
                                                                       Category)
    # grouped on the request's own column (read from an index), named afterwards: joining
    # the names row by row costs more than the counting
    counts = db.session.execute(
        _filtered(select(key, *_nps_counts()), where, needs_customer)
        .where(Ticket.survey_type == "nps").group_by(key)).all()
    ids = {k for k, *_ in counts if k is not None}
    names = {k: name for k, name in db.session.execute(
        select(model.id, model.name).where(model.id.in_(ids)))} if ids else {}
    empty = "Unassigned" if group == "agent" else "No category"
    rows = [NpsRow(k, names.get(k) or empty, int(p or 0), int(s or 0), int(d or 0))
            for k, p, s, d in counts]
    return sorted(rows, key=lambda r: (r.key is None, r.label.lower(), r.key or 0))


def score_distribution(where, needs_customer: bool = False) -> dict[str, list[tuple[int, int]]]:
    """How many results gave each score, per survey type."""
    counts = {(t, s): n for t, s, n in db.session.execute(
        _filtered(select(Ticket.survey_type, Ticket.survey_score, func.count()), where,
                  needs_customer).where(Ticket.survey_score.is_not(None))
        .group_by(Ticket.survey_type, Ticket.survey_score))}
    return {"nps": [(s, counts.get(("nps", s), 0)) for s in range(0, 11)],
            "csat": [(s, counts.get(("csat", s), 0)) for s in range(1, 6)]}


@dataclass
class ResponseRate:
    sent: int
    answered: int

    @property
    def rate(self) -> float | None:
        return percent(self.answered, self.sent) if self.sent else None


def response_rate(where, needs_customer: bool = False) -> ResponseRate:
    """Answered over sent, for requests in the filter that were surveyed."""
    sent, answered = db.session.execute(_filtered(
        select(func.sum(case((Ticket.survey_state.in_(("sent", "answered")), 1), else_=0)),
               func.sum(case((Ticket.survey_state == "answered", 1), else_=0))),
        where, needs_customer)).one()
    return ResponseRate(int(sent or 0), int(answered or 0))


def overall_nps(rows: list[NpsRow]) -> NpsRow:
    """All rows added together (its .nps is the NPS over the whole filter)."""
    return NpsRow("all", "All", sum(r.promoters for r in rows), sum(r.passives for r in rows),
                  sum(r.detractors for r in rows))

"""Reports on any request filter, each chart with its numbers in a table beside it."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..conditions import current_schema, describe_condition
from ..extensions import db
from ..models import utcnow
from ..tickets import listing as L
from . import charts
from . import services as S

bp = Blueprint("reports", __name__)


@bp.get("/reports")
def index():
    """Every report for the filter in the URL (the same URL the request list uses)."""
    S.one_snapshot()
    schema = current_schema()
    now = utcnow()
    try:
        q = L.parse(request.args, schema)
        where = L.where(q, schema, now)
    except L.FilterError as exc:
        return render_template("tickets/bad_filter.html", message=str(exc)), 400
    period = request.args.get("period", "month")
    if period not in ("week", "month"):
        return render_template("tickets/bad_filter.html",
                               message="period must be week or month"), 400
    conditions = list(L.criteria.iter_conditions(q.conditions()))
    customer = any(c["field"].startswith("customer_") for c in conditions)
    requests = db.session.scalar(L.count_query(q, schema, now))
    described = [describe_condition(c, schema) for c in conditions]
    frt = S.first_response_by_rating(where, customer)
    over_time = S.nps_over_time(where, customer, period)
    by_agent = S.nps_by(where, "agent", customer)
    by_category = S.nps_by(where, "category", customer)
    distribution = S.score_distribution(where, customer)
    rate = S.response_rate(where, customer)
    hours = lambda seconds: None if seconds is None else round(seconds / 3600, 2)  # noqa: E731
    images = {
        "frt": charts.bar("First response time by rating (hours)", [r.label for r in frt],
                          {"Median": [hours(r.median) for r in frt],
                           "Mean": [hours(r.mean) for r in frt],
                           "90th percentile": [hours(r.p90) for r in frt]}, "hours")
        if frt else None,
        "histogram": charts.bar("First response time, how many requests",
                                [label for _, _, label in S.HISTOGRAM],
                                {r.label: r.histogram for r in frt}, counts=True)
        if frt else None,
        "over_time": charts.line(f"NPS by {period}", [r.label for r in over_time],
                                 {"NPS": [r.nps for r in over_time]}, "NPS", (-100, 100))
        if over_time else None,
        "distribution": charts.bar("Score distribution (NPS 0–10)",
                                   [str(s) for s, _ in distribution["nps"]],
                                   {"Results": [n for _, n in distribution["nps"]]}, counts=True)
        if any(n for _, n in distribution["nps"]) else None,
        "distribution_csat": charts.bar("Score distribution (CSAT 1–5)",
                                        [str(s) for s, _ in distribution["csat"]],
                                        {"Results": [n for _, n in distribution["csat"]]},
                                        counts=True)
        if any(n for _, n in distribution["csat"]) else None,
        "agents": charts.bar("NPS by agent", [r.label for r in by_agent],
                             {"NPS": [r.nps for r in by_agent]}, "NPS") if by_agent else None,
        "categories": charts.bar("NPS by category", [r.label for r in by_category],
                                 {"NPS": [r.nps for r in by_category]}, "NPS")
        if by_category else None,
    }
    return render_template(
        "reports/index.html", q=q, period=period, frt=frt, histogram=S.HISTOGRAM,
        over_time=over_time, by_agent=by_agent, by_category=by_category,
        distribution=distribution, rate=rate, images=images, total=S.overall_nps(over_time),
        duration=L.format_duration, requests=requests, described=described)

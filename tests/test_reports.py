"""Reports against a hand-computed fixture: FRT by rating, NPS over time, by agent and by
category, score distribution, response rate; on the whole helpdesk and on a filter.

Every expected number below was worked out by hand from the table in `reportdata` (the
arithmetic is in the comments), never recomputed with the code under test.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select, true

from helpdesk.extensions import db
from helpdesk.models import Category, Dispatch, SurveyResult, Ticket
from helpdesk.reports import services as S
from helpdesk.thermostat.ingest import refresh_ticket_score
from helpdesk.thermostat.state import refresh_survey_state
from tests.helpers import make_ticket, soup

# key: survey type, score, first response seconds, responded at, assignee, category
ANSWERED = {
    "D1": ("nps", 0, 600, "2026-01-05 10:00", "admin", "Billing"),
    "D2": ("nps", 3, 1800, "2026-01-20 10:00", "agent", "Billing"),
    "D3": ("nps", 6, 4000, "2026-02-03 10:00", "admin", "Technical"),
    "D4": ("nps", 5, 7200, "2026-02-04 10:00", None, None),
    "D5": ("nps", 2, None, "2026-02-10 10:00", None, "Billing"),
    **{f"P{k}": ("nps", 7 if k % 2 else 8, 60 * k,
                 "2026-01-07 10:00" if k <= 5 else "2026-03-04 10:00", "agent", "Account")
       for k in range(1, 12)},  # eleven passives: 7, 8, 7, ... 7; 60..660 s
    "R1": ("nps", 9, 300, "2026-01-06 10:00", "admin", "Billing"),
    "R2": ("nps", 10, 900, "2026-01-21 10:00", "agent", "Technical"),
    "R3": ("nps", 10, 20000, "2026-02-05 10:00", "admin", "Technical"),
    "R4": ("nps", 9, 100000, "2026-03-02 10:00", "agent", "Account"),
    "R5": ("nps", 10, 300000, "2026-03-03 10:00", None, None),
    "R6": ("nps", 9, None, "2026-03-05 10:00", "admin", "Account"),
    # across the new year: both in ISO week 2026-W01 (Mon 29 Dec 2025 .. Sun 4 Jan 2026)
    "Q1": ("nps", 8, None, "2025-12-31 12:00", "agent", "Account"),
    "Q2": ("nps", 9, None, "2026-01-02 12:00", "agent", "Account"),
    "S1": ("csat", 5, 1000, "2026-01-08 10:00", "admin", "Billing"),
    "S2": ("csat", 4, 2000, "2026-02-08 10:00", "agent", "Technical"),
    "X1": ("csat", 1, 5000, "2026-03-08 10:00", "agent", "Account"),
}
# key: dispatch state or None, first response seconds, assignee, category (no result)
UNANSWERED = {
    "N1": ("sent", 50, "admin", "Billing"),
    "N2": (None, 70000, "agent", "Technical"),
    "N3": ("sent", None, None, "Account"),
    "N4": ("failed", None, None, None),
}


@pytest.fixture
def reportdata(app, seeded):
    cats = {c.name: c for c in db.session.scalars(select(Category))}
    users = {"admin": seeded["admin"], "agent": seeded["agent"], None: None}
    ids = {}
    for key, (kind, score, frt, responded, who, cat) in ANSWERED.items():
        ticket = make_ticket(subject=key, status="Problem Solved", is_open=False,
                             category=cats[cat] if cat else None, assignee=users[who],
                             first_response_seconds=frt)
        db.session.add(SurveyResult(
            source="test", response_id=f"r-{key}", survey_id=1 if kind == "nps" else 2,
            survey_type=kind, score=score,
            rating={"nps": "detractor" if score <= 6 else "passive" if score <= 8
                    else "promoter", "csat": "dissatisfied" if score <= 3
                    else "satisfied"}[kind],
            ticket_id=ticket.id, responded_at=datetime.strptime(responded, "%Y-%m-%d %H:%M")))
        db.session.flush()
        refresh_ticket_score(ticket)
        ids[key] = ticket.id
    for key, (send, frt, who, cat) in UNANSWERED.items():
        ticket = make_ticket(subject=key, status="Problem Solved", is_open=False,
                             category=cats[cat] if cat else None, assignee=users[who],
                             first_response_seconds=frt)
        if send:
            db.session.add(Dispatch(ticket_id=ticket.id, kind="sendnow", survey_id=1,
                                    email="x@example.com", dedupe_key=f"t-{key}", state=send))
            db.session.flush()
        refresh_survey_state(ticket)
        ids[key] = ticket.id
    db.session.commit()
    states = {k: db.session.get(Ticket, i).survey_state for k, i in ids.items()}
    assert states == {**{k: "answered" for k in ANSWERED}, "N1": "sent", "N2": "none",
                      "N3": "sent", "N4": "failed"}
    return {"ids": ids, "cats": {n: c.id for n, c in cats.items()}}


# --- the numbers, from the services ------------------------------------------------------------


def frt_table(rows):
    return {r.rating: (r.count, r.median, r.mean, r.p90, r.histogram) for r in rows}


def test_first_response_by_rating(reportdata):
    rows = S.first_response_by_rating(true())
    assert [r.rating for r in rows] == ["promoter", "passive", "detractor", "satisfied",
                                        "dissatisfied", None]
    assert frt_table(rows) == {
        # 300, 900, 20000, 100000, 300000 (R6 has none): odd n=5, median the 3rd; mean
        # 421200/5; p90 the ceil(4.5)=5th
        "promoter": (5, 20000.0, 84240.0, 300000.0, [2, 0, 1, 1, 1]),
        # 60..660 step 60: n=11, median the 6th = 360, mean 360, p90 the ceil(9.9)=10th = 600
        "passive": (11, 360.0, 360.0, 600.0, [11, 0, 0, 0, 0]),
        # 600, 1800, 4000, 7200 (D5 has none): even n=4, median (1800+4000)/2; mean 13600/4;
        # p90 the ceil(3.6)=4th
        "detractor": (4, 2900.0, 3400.0, 7200.0, [2, 2, 0, 0, 0]),
        # 1000, 2000: median 1500, p90 the ceil(1.8)=2nd
        "satisfied": (2, 1500.0, 1500.0, 2000.0, [2, 0, 0, 0, 0]),
        "dissatisfied": (1, 5000.0, 5000.0, 5000.0, [0, 1, 0, 0, 0]),
        # no result: 50 and 70000 (N3, N4 have none)
        None: (2, 35025.0, 35025.0, 70000.0, [1, 0, 1, 0, 0]),
    }


def nps_table(rows):
    return [(r.label, r.promoters, r.passives, r.detractors, r.count, r.nps) for r in rows]


def test_nps_over_time_by_month(reportdata):
    rows = S.nps_over_time(true(), period="month")
    assert nps_table(rows) == [
        ("2025-12", 0, 1, 0, 1, 0.0),        # Q1
        ("2026-01", 3, 5, 2, 10, 10.0),      # R1 R2 Q2 | P1-P5 | D1 D2: (3-2)/10
        ("2026-02", 1, 0, 3, 4, -50.0),      # R3 | D3 D4 D5: (1-3)/4
        ("2026-03", 3, 6, 0, 9, 33.3),       # R4 R5 R6 | P6-P11: 3/9
    ]
    total = S.overall_nps(rows)
    assert (total.promoters, total.passives, total.detractors, total.nps) == (7, 12, 5, 8.3)


def test_nps_over_time_by_iso_week(reportdata):
    """Weeks are ISO weeks on every database (Monday first; 31 Dec 2025 is in 2026-W01)."""
    assert nps_table(S.nps_over_time(true(), period="week")) == [
        ("2026-W01", 1, 1, 0, 2, 50.0),      # Q1 (Wed 31 Dec), Q2 (Fri 2 Jan)
        ("2026-W02", 1, 5, 1, 7, 0.0),       # D1 (Mon 5), R1 (Tue 6), P1-P5 (Wed 7)
        ("2026-W04", 1, 0, 1, 2, 0.0),       # D2 (Tue 20), R2 (Wed 21)
        ("2026-W06", 1, 0, 2, 3, -33.3),     # D3 (Tue 3 Feb), D4 (Wed 4), R3 (Thu 5)
        ("2026-W07", 0, 0, 1, 1, -100.0),    # D5 (Tue 10 Feb)
        ("2026-W10", 3, 6, 0, 9, 33.3),      # R4 (Mon 2 Mar), R5, P6-P11 (Wed 4), R6 (Thu 5)
    ]


def test_nps_by_agent_and_by_category(reportdata):
    by_agent = {r.label: (r.promoters, r.passives, r.detractors, r.nps)
                for r in S.nps_by(true(), "agent")}
    assert by_agent == {
        "Ada Admin": (3, 0, 2, 20.0),        # R1 R3 R6 | D1 D3: 1/5
        "Alex Agent": (3, 12, 1, 12.5),      # R2 R4 Q2 | P1-P11 Q1 | D2: 2/16
        "Unassigned": (1, 0, 2, -33.3),      # R5 | D4 D5
    }
    by_category = {r.label: (r.promoters, r.passives, r.detractors, r.nps)
                   for r in S.nps_by(true(), "category")}
    assert by_category == {
        "Billing": (1, 0, 3, -50.0),         # R1 | D1 D2 D5
        "Technical": (2, 0, 1, 33.3),        # R2 R3 | D3
        "Account": (3, 12, 0, 20.0),         # R4 R6 Q2 | P1-P11 Q1: 3/15
        "No category": (1, 0, 1, 0.0),       # R5 | D4
    }


def test_score_distribution_and_response_rate(reportdata):
    dist = S.score_distribution(true())
    assert dist["nps"] == [(0, 1), (1, 0), (2, 1), (3, 1), (4, 0), (5, 1), (6, 1), (7, 6),
                           (8, 6), (9, 4), (10, 3)]
    assert dist["csat"] == [(1, 1), (2, 0), (3, 0), (4, 1), (5, 1)]
    rate = S.response_rate(true())
    # answered 27 (24 NPS + 3 CSAT); surveyed = answered + sent (N1, N3); failed N4 is not
    assert (rate.answered, rate.sent, rate.rate) == (27, 29, 93.1)


# --- the page ----------------------------------------------------------------------------------


def table_rows(section) -> list[list[str]]:
    return [[td.get_text(" ", strip=True) for td in tr.select("td")]
            for tr in section.select("tbody tr")]


def soup_svg(svg: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(svg, "html.parser")


def assert_chart(section, count: int = 1):
    images = section.select("img")
    assert len(images) == count
    for img in images:
        assert img["alt"].strip()
        assert img["src"].startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(img["src"].split(",", 1)[1]).decode()
        assert svg.lstrip().startswith("<svg")


def test_the_page_shows_every_number(admin_client, reportdata):
    response = admin_client.get("/reports")
    assert response.status_code == 200
    page = soup(response)
    # what the page covers: 27 answered + 4 not
    assert page.select_one(".report-total").get_text() == "31"
    assert "31 requests of this filter (all requests)" in page.select_one("main p").get_text(
        " ", strip=True).replace("  ", " ")

    frt = page.select_one("#report-frt")
    assert_chart(frt, 2)  # times and the histogram
    # the histogram counts requests: whole numbers on its axis (Passives: 11 → 0, 2, … 12)
    svg = base64.b64decode(frt.select("img")[1]["src"].split(",", 1)[1]).decode()
    axis = [t.get_text() for t in soup_svg(svg).select(".axis.y .guides text")]
    assert axis == ["0", "2", "4", "6", "8", "10", "12"]
    assert table_rows(frt.select("table")[0]) == [
        ["Promoters", "5", "5h 33m", "23h 24m", "3d 11h"],   # 20000 s, 84240 s, 300000 s
        ["Passives", "11", "6m", "6m", "10m"],
        ["Detractors", "4", "48m", "56m", "2h 0m"],           # 2900 s, 3400 s, 7200 s
        ["CSAT satisfied", "2", "25m", "25m", "33m"],
        ["CSAT dissatisfied", "1", "1h 23m", "1h 23m", "1h 23m"],
        ["No survey result", "2", "9h 43m", "9h 43m", "19h 26m"],
    ]
    histogram = page.select_one("#frt-histogram")
    assert [th.get_text(strip=True) for th in histogram.select("thead th")] == [
        "Rating", "under 1 h", "1–4 h", "4–24 h", "1–3 days", "over 3 days"]
    assert table_rows(histogram) == [
        ["Promoters", "2", "0", "1", "1", "1"], ["Passives", "11", "0", "0", "0", "0"],
        ["Detractors", "2", "2", "0", "0", "0"], ["CSAT satisfied", "2", "0", "0", "0", "0"],
        ["CSAT dissatisfied", "0", "1", "0", "0", "0"],
        ["No survey result", "1", "0", "1", "0", "0"]]

    over_time = page.select_one("#report-nps-time")
    assert_chart(over_time)
    assert over_time.select_one(".overall-nps").get_text(strip=True) == "8.3"
    assert "from 24 responses" in over_time.get_text(" ", strip=True)
    assert table_rows(over_time) == [
        ["2025-12", "1", "0", "1", "0", "0.0"], ["2026-01", "10", "3", "5", "2", "10.0"],
        ["2026-02", "4", "1", "0", "3", "-50.0"], ["2026-03", "9", "3", "6", "0", "33.3"]]

    distribution = page.select_one("#report-distribution")
    assert_chart(distribution, 2)  # NPS and CSAT
    nps_scores, csat_scores = distribution.select("table")
    assert table_rows(nps_scores) == [[str(s), str(n)] for s, n in
                                      enumerate([1, 0, 1, 1, 0, 1, 1, 6, 6, 4, 3])]
    assert table_rows(csat_scores) == [["1", "1"], ["2", "0"], ["3", "0"], ["4", "1"],
                                       ["5", "1"]]

    agents = page.select_one("#report-by-agent")
    assert_chart(agents)
    # by name, "Unassigned" last
    assert [r[0] for r in table_rows(agents)] == ["Ada Admin", "Alex Agent", "Unassigned"]
    assert sorted(table_rows(agents)) == [
        ["Ada Admin", "5", "3", "0", "2", "20.0"], ["Alex Agent", "16", "3", "12", "1", "12.5"],
        ["Unassigned", "3", "1", "0", "2", "-33.3"]]
    categories = page.select_one("#report-by-category")
    assert_chart(categories)
    assert sorted(table_rows(categories)) == [
        ["Account", "15", "3", "12", "0", "20.0"], ["Billing", "4", "1", "0", "3", "-50.0"],
        ["No category", "2", "1", "0", "1", "0.0"], ["Technical", "3", "2", "0", "1", "33.3"]]

    rate = page.select_one("#report-response-rate")
    assert rate.select_one(".rate").get_text(strip=True) == "93.1%"
    assert "27 answered of 29 surveyed" in rate.get_text(" ", strip=True)


@pytest.mark.parametrize("promoters, passives, detractors, nps", [
    (1, 15, 0, 6.3),      # 6.25: a half rounds up, as by hand (round() gives 6.2)
    (0, 15, 1, -6.3),     # and away from zero below it
    (1, 1, 1, 0.0), (2, 0, 1, 33.3), (1, 2, 0, 33.3), (3, 4, 1, 25.0), (0, 0, 7, -100.0),
])
def test_nps_rounds_halves_as_by_hand(promoters, passives, detractors, nps):
    assert S.NpsRow(None, "", promoters, passives, detractors).nps == nps


@pytest.mark.parametrize("answered, sent, rate", [(1, 16, 6.3), (27, 29, 93.1), (5, 6, 83.3),
                                                   (1, 8, 12.5), (0, 3, 0.0)])
def test_response_rate_rounds_halves_as_by_hand(answered, sent, rate):
    assert S.ResponseRate(sent, answered).rate == rate


def test_the_page_by_week(admin_client, reportdata):
    page = soup(admin_client.get("/reports?period=week"))
    section = page.select_one("#report-nps-time")
    assert [r[0] for r in table_rows(section)] == ["2026-W01", "2026-W02", "2026-W04",
                                                   "2026-W06", "2026-W07", "2026-W10"]
    assert table_rows(section)[0] == ["2026-W01", "2", "1", "1", "0", "50.0"]
    assert admin_client.get("/reports?period=day").status_code == 400


def test_reports_on_a_filter(admin_client, reportdata):
    """The Billing category: D1 D2 D5 R1 S1 N1."""
    billing = reportdata["cats"]["Billing"]
    response = admin_client.get(f"/reports?c=category:is:{billing}")
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one(".report-total").get_text() == "6"
    assert page.select_one(".report-filter").get_text() == "category is Billing"
    assert table_rows(page.select_one("#report-frt table")) == [
        ["Promoters", "1", "5m", "5m", "5m"],                # R1 300
        ["Detractors", "2", "20m", "20m", "30m"],            # 600, 1800: even, p90 2nd
        ["CSAT satisfied", "1", "16m", "16m", "16m"],        # S1 1000
        ["No survey result", "1", "0m", "0m", "0m"],         # N1 50
    ]
    assert table_rows(page.select_one("#report-nps-time")) == [
        ["2026-01", "3", "1", "0", "2", "-33.3"], ["2026-02", "1", "0", "0", "1", "-100.0"]]
    assert page.select_one(".overall-nps").get_text(strip=True) == "-50.0"
    assert sorted(table_rows(page.select_one("#report-by-agent"))) == [
        ["Ada Admin", "2", "1", "0", "1", "0.0"], ["Alex Agent", "1", "0", "0", "1", "-100.0"],
        ["Unassigned", "1", "0", "0", "1", "-100.0"]]
    assert table_rows(page.select_one("#report-by-category")) == [
        ["Billing", "4", "1", "0", "3", "-50.0"]]
    nps_scores = page.select_one("#report-distribution").select("table")[0]
    assert {r[0]: r[1] for r in table_rows(nps_scores) if r[1] != "0"} == {
        "0": "1", "2": "1", "3": "1", "9": "1"}
    assert page.select_one("#report-response-rate .rate").get_text(strip=True) == "83.3%"
    # the list's own link leads here with the same filter
    listing = soup(admin_client.get(f"/?c=category:is:{billing}&cols=id,nps&sort=nps"))
    link = listing.find("a", string=re.compile("Reports on this filter"))["href"]
    assert link == f"/reports?c=category%3Ais%3A{billing}"
    # a quick filter and a match-any group
    page = soup(admin_client.get("/reports?rating=detractor"))
    assert table_rows(page.select_one("#report-frt table")) == [
        ["Detractors", "4", "48m", "56m", "2h 0m"]]
    page = soup(admin_client.get(
        f"/reports?m=any&c=nps_rating:is:promoter&c=category:is:{billing}"))
    # R1-R6 Q2 | D1 D2 D5: (7-3)/10
    assert page.select_one(".overall-nps").get_text(strip=True) == "40.0"
    # answered R1-R6 Q2 D1 D2 D5 S1 = 11; sent N1
    assert page.select_one("#report-response-rate .rate").get_text(strip=True) == "91.7%"


def test_frt_report_for_detractors_on_the_service(reportdata):
    from helpdesk.conditions import current_schema
    from helpdesk.models import utcnow
    from helpdesk.tickets import listing as L
    from werkzeug.datastructures import MultiDict

    schema = current_schema()
    q = L.parse(MultiDict([("c", "nps_rating:is:detractor")]), schema)
    assert frt_table(S.first_response_by_rating(L.where(q, schema, utcnow()))) == {
        "detractor": (4, 2900.0, 3400.0, 7200.0, [2, 2, 0, 0, 0])}
    q = L.parse(MultiDict([("c", "nps_rating:is:detractor"), ("c", "nps_score:ge:3")]), schema)
    # 1800 (D2), 4000 (D3), 7200 (D4): odd n=3
    assert frt_table(S.first_response_by_rating(L.where(q, schema, utcnow()))) == {
        "detractor": (3, 4000.0, 13000 / 3, 7200.0, [1, 2, 0, 0, 0])}


@pytest.mark.parametrize("query", ["?c=subject:is:nothing-matches", ""])
def test_an_empty_filter_shows_the_empty_messages(admin_client, seeded, query):
    response = admin_client.get(f"/reports{query}")
    assert response.status_code == 200
    page = soup(response)
    assert page.select("img") == []
    assert "No request in this filter has a first response yet." in \
        page.select_one("#report-frt").get_text()
    for section in ("#report-nps-time", "#report-by-agent", "#report-by-category"):
        assert "No NPS responses in this filter." in page.select_one(section).get_text()
    assert page.select_one(".overall-nps").get_text(strip=True) == "—"
    assert page.select_one("#report-response-rate .rate").get_text(strip=True) == "—"
    assert "0 answered of 0 surveyed" in page.select_one("#report-response-rate").get_text(
        " ", strip=True)


def test_reports_need_a_login(client, seeded):
    response = client.get("/reports")
    assert response.status_code in (302, 401)


def test_a_report_reads_one_snapshot_and_leaves_the_pool_as_it_was(app, seeded):
    """On PostgreSQL the page's statements share one snapshot (repeatable read), so its tables
    agree with each other; the next request's connection is back at read committed."""
    S.one_snapshot()
    level = db.session.connection().get_isolation_level()
    db.session.remove()
    after = db.session.connection().get_isolation_level()
    if db.engine.dialect.name == "postgresql":
        assert (level, after) == ("REPEATABLE READ", "READ COMMITTED")
    else:  # SQLite: one transaction is one snapshot already
        assert level == after == "SERIALIZABLE"


def test_the_demo_data_brings_results_through_ingestion(app, admin_client):
    """seed-demo answers most closed demo requests through the real ingestion, so the
    columns, filters and reports show something on a new install; a second seed adds none."""
    from helpdesk.cli import seed_demo_data
    from helpdesk.results.ratings import rating_for

    assert seed_demo_data() is True
    db.session.commit()
    results = db.session.scalars(select(SurveyResult)).all()
    assert len(results) == 17 and {r.source for r in results} == {"demo"}
    assert {r.survey_name for r in results} == {"Support NPS", "Support CSAT"}
    for r in results:
        t = db.session.get(Ticket, r.ticket_id)
        assert not t.is_open and t.customer.email
        assert (t.survey_score, t.survey_rating, t.survey_state) == (
            r.score, rating_for(r.survey_type, r.score), "answered")
    detractors = sum(r.rating == "detractor" for r in results)
    page = soup(admin_client.get("/reports"))
    assert f"from {sum(r.survey_type == 'nps' for r in results)} responses" in \
        page.select_one("#report-nps-time").get_text(" ", strip=True)
    listing = soup(admin_client.get("/?rating=detractor&state=all"))
    assert len(listing.select("#requests tbody tr[data-request-id]")) == detractors > 0
    assert seed_demo_data() is False
    assert db.session.scalar(select(func.count()).select_from(SurveyResult)) == 17

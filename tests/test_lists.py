"""The request list: every filter field and operator, columns, sorts, pages, saved filters, CSV.

One hand-computed fixture of twelve requests (A..L) with known customers, statuses,
categories, assignees, times, first response times, survey results and sends. Every
expectation below is written out by hand from the table in `listdata`, never recomputed
with the code under test. Relative dates are placed against the real `utcnow()` so that
"today", "past 7 days", "this month" and "last month" hold whatever day the suite runs.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import Category, Dispatch, SavedFilter, ThermostatSurvey, Ticket, utcnow
from helpdesk.thermostat.ingest import ingest_batch
from helpdesk.thermostat.state import refresh_survey_state
from tests.helpers import login, make_ticket, soup

KEYS = "ABCDEFGHIJKL"
CSAT_LABELS = ["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"]

# key: subject, first, last, email, status, open, category, assignee, frt seconds
ROWS = {
    "A": ("Refund please", "Ann", "Young", "ann@example.com", "Problem Solved", False,
          "Billing", "admin", 1800),
    "B": ("login broken", "Bob", "Adams", "Bob@Example.com", "Problem Solved", False,
          "Technical", "agent", 7200),
    "C": ("Crash on start", "Cat", "Moore", "cat@example.com", "Customer Found Solution",
          False, "Technical", "admin", 18000),
    "D": ("invoice wrong", "Dan", "baker", "dan@example.com", "Problem Solved", False,
          "Billing", None, 90000),
    "E": ("Export fails", "Eve", "Xu", "eve@example.com", "Problem Solved", False, "Account",
          "agent", 300),
    "F": ("Upgrade plan", "Fay", "Carter", "fay@example.com", "Problem Solved", False, None,
          "admin", 3600),
    "G": ("sync stuck", "Gus", "Nolan", "gus@example.com", "SPAM", False, "Technical",
          "agent", 240),
    "H": ("Access denied", "Hal", "Evans", None, "Problem Solved", False, "Billing", "agent",
          None),
    "I": ("Billing address", "Ida", "Lee", "ida@example.com", "Active", True, "Technical",
          None, 600),
    "J": ("Password reset", "Jay", "Diaz", "jay@example.com", "Waiting for Reply", True,
          "Account", "agent", None),
    "K": ("Dashboard slow", "Kim", "Fox", "kim@example.com", "Active", True, "Billing",
          "admin", 120000),
    "L": ("Timezone wrong", "Lou", "Grant", "lou@example.com", "Escalated", True, None, None,
          45),
}
# key: survey id, type, score, comment (results arrive through the ingestion path)
RESULTS = {
    "A": (1, "nps", 3, "Too slow"),
    "B": (1, "nps", 10, "Great help"),
    "C": (1, "nps", 7, None),
    "D": (1, "nps", 6, ""),
    "E": (1, "nps", 9, "Thanks"),
    "F": (2, "csat", 5, "Lovely"),     # survey 2 has its own CSAT labels
    "G": (3, "csat", 2, None),         # survey 3 has none
}
# key: dispatch state (A was sent and then answered: answered wins)
SENDS = {"A": "sent", "H": "sent", "J": "failed", "K": "pending"}


def times(now: datetime) -> dict[str, tuple[datetime, datetime | None]]:
    """Opened and closed times relative to `now` (the real clock)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span = now - today
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(hour=12)
    d = lambda days: now - timedelta(days=days)  # noqa: E731
    return {"A": (d(40), d(39)), "B": (d(20), d(19)), "C": (d(10), d(9)), "D": (d(3), d(2)),
            "E": (today + span * 0.25, today + span * 0.5), "F": (d(5), d(4)),
            "G": (d(25), d(24)), "H": (d(15), d(14)), "I": (d(1), None), "J": (d(60), None),
            "K": (last_month, None), "L": (today + span * 0.75, None)}


@pytest.fixture
def listdata(app, seeded):
    """The twelve requests; returns {"A": id, ...} plus 'now', users and categories."""
    now = utcnow()
    when = times(now)
    cats = {c.name: c for c in db.session.scalars(select(Category))}
    users = {"admin": seeded["admin"], "agent": seeded["agent"], None: None}
    db.session.add_all([
        ThermostatSurvey(id=1, name="Support NPS", survey_type="nps"),
        ThermostatSurvey(id=2, name="Support CSAT", survey_type="csat", csat_labels=CSAT_LABELS),
        ThermostatSurvey(id=3, name="Plain CSAT", survey_type="csat", csat_labels=[])])
    db.session.commit()
    ids = {}
    for key, (subject, first, last, email, status, is_open, cat, who, frt) in ROWS.items():
        opened, closed = when[key]
        ticket = make_ticket(
            subject=subject, first=first, last=last, email=email, status=status,
            is_open=is_open, category=cats[cat] if cat else None, assignee=users[who],
            opened_at=opened, closed_at=closed, updated_at=closed or opened,
            first_response_seconds=frt,
            first_response_at=opened + timedelta(seconds=frt) if frt is not None else None)
        ids[key] = ticket.id
    for key, state in SENDS.items():
        db.session.add(Dispatch(ticket_id=ids[key], kind="sendnow", survey_id=1,
                                email=f"{key}@example.com", dedupe_key=f"test-{key}",
                                state=state))
    db.session.flush()
    for key in SENDS:
        refresh_survey_state(db.session.get(Ticket, ids[key]))
    db.session.commit()
    stats = ingest_batch([
        {"id": f"resp-{key}", "survey_id": sid, "type": kind, "score": score,
         "feedback": comment, "custom_fields": {"xrequest": str(ids[key])},
         "created_at": (when[key][1] + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")}
        for key, (sid, kind, score, comment) in RESULTS.items()])
    db.session.commit()
    assert stats.created == len(RESULTS) and not stats.errors
    states = {k: db.session.get(Ticket, ids[k]).survey_state for k in KEYS}
    assert states == {**{k: "answered" for k in "ABCDEFG"}, "H": "sent", "I": "none",
                      "J": "failed", "K": "queued", "L": "none"}
    return {"ids": ids, "now": now, "when": when, "cats": {n: c.id for n, c in cats.items()},
            "users": {k: u.id for k, u in users.items() if k}}


def listed(client, query: str = "") -> list[int]:
    response = client.get(f"/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return [int(r["data-request-id"]) for r in
            soup(response).select("#requests tbody tr[data-request-id]")]


def keys_of(listdata, ids: list[int]) -> str:
    names = {v: k for k, v in listdata["ids"].items()}
    return "".join(names[i] for i in ids)


def listed_keys(client, listdata, query: str) -> str:
    return keys_of(listdata, listed(client, query))


# --- filters: every field and operator that matters -------------------------------------------

FILTERS = [
    # NPS score: only NPS results count (G's CSAT 2 is never "NPS score less than 7")
    ("c=nps_score:is:6", "D"),
    ("c=nps_score:is:5", ""),
    ("c=nps_score:is_not:6", "ABCEFGHIJKL"),
    ("c=nps_score:lt:7", "AD"),
    ("c=nps_score:le:7", "ACD"),
    ("c=nps_score:gt:7", "BE"),
    ("c=nps_score:ge:9", "BE"),
    ("c=nps_score:ge:7", "BCE"),
    ("c=nps_score:between:3..7", "ACD"),
    ("c=nps_score:between:0..6", "AD"),
    ("c=nps_score:between:9..9", "E"),
    # NPS rating
    ("c=nps_rating:is:detractor", "AD"),
    ("c=nps_rating:is:passive", "C"),
    ("c=nps_rating:is:promoter", "BE"),
    ("c=nps_rating:is_not:detractor", "BCEFGHIJKL"),
    # CSAT score and rating: only CSAT results count
    ("c=csat_score:is:5", "F"),
    ("c=csat_score:lt:3", "G"),
    ("c=csat_score:ge:2", "FG"),
    ("c=csat_score:between:1..4", "G"),
    ("c=csat_score:is_not:5", "ABCDEGHIJKL"),
    ("c=csat_rating:is:satisfied", "F"),
    ("c=csat_rating:is:dissatisfied", "G"),
    ("c=csat_rating:is_not:satisfied", "ABCDEGHIJKL"),
    # the latest result has a comment (D's empty comment is no comment)
    ("c=survey_has_comment:is:yes", "ABEF"),
    ("c=survey_has_comment:is:no", "CDGHIJKL"),
    # sent but not answered (A was sent and answered: not it)
    ("c=survey_sent_unanswered:is:yes", "H"),
    ("c=survey_sent_unanswered:is:no", "ABCDEFGIJKL"),
    # never surveyed: no send went out and nothing came back (queued and failed included)
    ("c=survey_never:is:yes", "IJKL"),
    ("c=survey_never:is:no", "ABCDEFGH"),
    ("c=survey_state:is:queued", "K"),
    ("c=survey_state:is:failed", "J"),
    ("c=survey_state:is:none", "IL"),
    ("c=survey_state:is_not:answered", "HIJKL"),
    ("c=survey_has_response:is:yes", "ABCDEFG"),
    # quick filters
    ("state=open", "IJKL"),
    ("state=closed", "ABCDEFGH"),
    ("rating=detractor", "AD"),
    ("rating=promoter", "BE"),
    ("rating=satisfied", "F"),
    ("rating=dissatisfied", "G"),
    ("score_op=lt&score=5", "AG"),          # the Thermostat score: NPS 3 and CSAT 2
    ("score_op=gt&score=8", "BE"),
    ("score_op=is&score=5", "F"),
    ("state=closed&rating=promoter&score_op=gt&score=9", "B"),
    # match any, under the quick filters (which always all apply)
    ("m=any&c=nps_rating:is:detractor&c=csat_rating:is:dissatisfied", "ADG"),
    ("m=any&c=nps_rating:is:promoter&c=survey_state:is:queued", "BEK"),
    ("state=closed&m=any&c=nps_rating:is:promoter&c=survey_state:is:queued", "BE"),
    ("m=all&c=nps_rating:is:promoter&c=survey_has_comment:is:yes", "BE"),
    ("c=nps_rating:is:detractor&c=survey_has_comment:is:yes", "A"),
    # other fields
    ("c=customer_last_name:begins_with:BA", "D"),
    ("c=customer_email:contains:example.com", "ABCDEFGIJKL"),
    ("c=subject:contains:wrong", "DL"),
    ("c=subject:not_contains:wrong", "ABCEFGHIJK"),
]


def test_every_filter(admin_client, listdata):
    """Each row of FILTERS against its hand-computed requests (all mismatches reported)."""
    wrong = [(query, expected, got) for query, expected in FILTERS
             if (got := "".join(sorted(listed_keys(admin_client, listdata, "?" + query))))
             != expected]
    assert wrong == []


def test_filter_on_a_custom_field(admin_client, listdata):
    from helpdesk.models import CustomField, TicketFieldValue

    plan = db.session.scalar(select(CustomField).where(CustomField.name == "Plan"))
    for key, value in (("A", "Pro"), ("B", "Free"), ("C", "pro"), ("K", "Enterprise")):
        db.session.add(TicketFieldValue(ticket_id=listdata["ids"][key], field_id=plan.id,
                                        value=value))
    db.session.commit()
    got = lambda q: "".join(sorted(listed_keys(admin_client, listdata, "?" + q)))  # noqa: E731
    assert got(f"c=custom:{plan.id}:is:Pro") == "AC"
    assert got(f"c=custom:{plan.id}:is_not:pro") == "BDEFGHIJKL"
    assert got(f"c=custom:{plan.id}:begins_with:e") == "K"
    # as the builder sends it
    response = admin_client.get(f"/?cf=custom:{plan.id}&co=is&cv=Free")
    assert response.status_code == 302
    assert keys_of(listdata, listed(admin_client, "?" + urlsplit(
        response.headers["Location"]).query)) == "B"


def test_filter_on_references(admin_client, listdata):
    cats, users = listdata["cats"], listdata["users"]
    got = lambda q: "".join(sorted(listed_keys(admin_client, listdata, "?" + q)))  # noqa: E731
    assert got(f"c=category:is:{cats['Billing']}") == "ADHK"
    assert got(f"c=category:is_not:{cats['Billing']}") == "BCEFGIJL"
    assert got("c=category:is:none") == "FL"
    assert got("c=assignee:is:none") == "DIL"
    assert got(f"c=assignee:is:{users['agent']}") == "BEGHJ"
    assert got(f"c=assignee:is_not:{users['admin']}") == "BDEGHIJL"
    assert got("c=category:is:99999") == ""  # a deleted category matches nothing
    assert got(f"m=any&c=category:is:{cats['Account']}&c=nps_rating:is:detractor") == "ADEJ"


def _expected_by_range(listdata, which: int, name: str) -> str:
    """Which requests fall in a relative date range, written out independently."""
    now = listdata["now"]
    prev = (now.replace(day=1) - timedelta(days=1))

    def inside(t: datetime | None) -> bool:
        if t is None:
            return False
        if name == "today":
            return t.date() == now.date()
        if name == "past_7_days":
            return now - timedelta(days=7) <= t <= now
        if name == "this_month":
            return (t.year, t.month) == (now.year, now.month)
        assert name == "last_month"
        return (t.year, t.month) == (prev.year, prev.month)

    return "".join(k for k in KEYS if inside(listdata["when"][k][which]))


def test_relative_dates(admin_client, listdata):
    for field, which in (("opened_at", 0), ("closed_at", 1)):
        for name in ("today", "past_7_days", "this_month", "last_month"):
            inside = _expected_by_range(listdata, which, name)
            got = "".join(sorted(listed_keys(admin_client, listdata,
                                             f"?c={field}:in_range:{name}")))
            assert got == inside, (field, name)
            outside = "".join(sorted(listed_keys(admin_client, listdata,
                                                 f"?c={field}:not_in_range:{name}")))
            assert outside == "".join(k for k in KEYS if k not in inside), (field, name)


def test_relative_dates_hand_checked(admin_client, listdata):
    """The ranges that do not depend on the calendar, written out by hand."""
    got = lambda q: "".join(sorted(listed_keys(admin_client, listdata, "?" + q)))  # noqa: E731
    assert got("c=opened_at:in_range:today") == "EL"
    assert got("c=closed_at:in_range:today") == "E"
    # D (3 days), E and L (today), F (5 days), I (1 day); K only if last month was < 7 days ago
    past7 = got("c=opened_at:in_range:past_7_days")
    assert past7.replace("K", "") == "DEFIL"
    assert got("c=closed_at:in_range:past_7_days") == "DEF"
    assert got("c=opened_at:in_range:past_90_days") == KEYS  # J, the oldest, is 60 days old
    # answered an hour after closing: D and F; E too unless that hour is still to come
    # (before 02:00 UTC, when E closed half-way through today, less than an hour ago)
    e_answered = listdata["when"]["E"][1] + timedelta(hours=1)
    assert got("c=survey_answered_at:in_range:past_7_days") == \
        ("DEF" if e_answered <= listdata["now"] else "DF")
    assert got("c=survey_answered_at:in_range:past_90_days").replace("E", "") == "ABCDFG"
    assert got("c=survey_answered_at:not_in_range:past_90_days").replace("E", "") == "HIJKL"
    assert "K" in got("c=opened_at:in_range:last_month")
    assert "K" not in got("c=opened_at:in_range:this_month")
    assert {"E", "L"} <= set(got("c=opened_at:in_range:this_month"))


# --- columns -----------------------------------------------------------------------------------


def headers(response) -> list[str]:
    return [th.get_text(" ", strip=True).rstrip(" ▲▼") for th in
            soup(response).select("#requests thead th")]


def cells(response, key: str) -> dict[int, str]:
    return {int(tr["data-request-id"]): tr.select_one(f"td.{key}").get_text(strip=True)
            for tr in soup(response).select("#requests tbody tr[data-request-id]")}


def test_chosen_columns_in_their_order(admin_client, listdata):
    response = admin_client.get("/?cols=nps,id,comment,survey_state")
    assert headers(response) == ["NPS", "#", "Comment", "Survey status"]
    row = soup(response).select_one("#requests tbody tr")
    assert [td["class"][0] for td in row.select("td")] == ["nps", "id", "comment",
                                                          "survey_state"]
    every = ",".join(["survey_state", "comment", "thermostat", "csat", "nps", "frt",
                      "closed_at", "opened_at", "assignee", "category", "status", "email",
                      "customer", "subject", "id"])
    assert headers(admin_client.get(f"/?cols={every}")) == [
        "Survey status", "Comment", "Thermostat", "CSAT", "NPS", "First response", "Closed",
        "Opened", "Assigned to", "Category", "Status", "Customer email", "Customer", "Subject",
        "#"]
    # the default columns
    assert headers(admin_client.get("/")) == ["#", "Subject", "Customer", "Status", "Category",
                                             "Assigned to", "Opened", "Thermostat"]


def test_cells_show_the_hand_computed_values(admin_client, listdata):
    ids = listdata["ids"]
    response = admin_client.get("/?cols=id,subject,customer,email,status,category,assignee,"
                                "closed_at,frt,nps,csat,thermostat,comment,survey_state")
    page = {key: cells(response, key) for key in
            ("nps", "csat", "thermostat", "comment", "survey_state", "frt", "category",
             "assignee", "email", "customer", "status", "closed_at")}
    by = lambda key: {k: page[key][ids[k]] for k in KEYS}  # noqa: E731
    assert by("nps") == {"A": "Detractor 3", "B": "Promoter 10", "C": "Passive 7",
                         "D": "Detractor 6", "E": "Promoter 9", **{k: "—" for k in "FGHIJKL"}}
    assert by("csat") == {"F": "Very satisfied 5", "G": "Dissatisfied 2",
                          **{k: "—" for k in "ABCDEHIJKL"}}
    assert by("thermostat") == {"A": "Detractor 3", "B": "Promoter 10", "C": "Passive 7",
                                "D": "Detractor 6", "E": "Promoter 9", "F": "Very satisfied 5",
                                "G": "Dissatisfied 2", **{k: "—" for k in "HIJKL"}}
    assert by("comment") == {"A": "Too slow", "B": "Great help", "E": "Thanks", "F": "Lovely",
                             **{k: "—" for k in "CDGHIJKL"}}
    assert by("survey_state") == {**{k: "Answered" for k in "ABCDEFG"}, "H": "Survey sent",
                                  "I": "Not surveyed", "J": "Survey failed",
                                  "K": "Survey queued", "L": "Not surveyed"}
    assert by("frt") == {"A": "30m", "B": "2h 0m", "C": "5h 0m", "D": "25h 0m", "E": "5m",
                         "F": "1h 0m", "G": "4m", "H": "—", "I": "10m", "J": "—",
                         "K": "33h 20m", "L": "0m"}
    assert by("category") == {"A": "Billing", "B": "Technical", "C": "Technical",
                              "D": "Billing", "E": "Account", "F": "—", "G": "Technical",
                              "H": "Billing", "I": "Technical", "J": "Account", "K": "Billing",
                              "L": "—"}
    assert by("assignee") == {"A": "Ada Admin", "B": "Alex Agent", "C": "Ada Admin", "D": "—",
                              "E": "Alex Agent", "F": "Ada Admin", "G": "Alex Agent",
                              "H": "Alex Agent", "I": "—", "J": "Alex Agent", "K": "Ada Admin",
                              "L": "—"}
    assert by("email")["H"] == "—" and by("email")["B"] == "Bob@Example.com"
    assert by("customer")["D"] == "Dan baker"
    assert by("status")["C"] == "Customer Found Solution (closed)"
    assert by("status")["I"] == "Active"
    closed = by("closed_at")
    assert closed["A"] == listdata["when"]["A"][1].strftime("%Y-%m-%d %H:%M")
    assert [closed[k] for k in "IJKL"] == ["—"] * 4
    answered = cells(admin_client.get("/?cols=id,answered_at"), "answered_at")
    assert answered[ids["B"]] == (listdata["when"]["B"][1] + timedelta(hours=1)).strftime(
        "%Y-%m-%d %H:%M")
    assert [answered[ids[k]] for k in "HIJKL"] == ["—"] * 5


def test_csat_without_labels_and_nps_words(admin_client, listdata):
    """CSAT speaks CSAT: 'Satisfied 5' without the survey's labels, never NPS words."""
    survey = db.session.get(ThermostatSurvey, 2)
    survey.csat_labels = []
    db.session.commit()
    shown = cells(admin_client.get("/?cols=id,csat"), "csat")
    assert shown[listdata["ids"]["F"]] == "Satisfied 5"
    assert shown[listdata["ids"]["G"]] == "Dissatisfied 2"


# every column, both ways; "—" rows last both ways; ties by id in the same direction
SORTS = {
    "id": ("ABCDEFGHIJKL", "LKJIHGFEDCBA"),
    "subject": ("HICKEDBJAGLF", "FLGAJBDEKCIH"),
    "customer": ("BDFJHKLICGEA", "AEGCILKHJFDB"),
    "email": ("ABCDEFGIJKLH", "LKJIGFEDCBAH"),
    "status": ("IKCLABDEFHGJ", "JGHFEDBALCKI"),
    "category": ("EJADHKBCGIFL", "IGCBKHDAJELF"),
    "assignee": ("ACFKBEGHJDIL", "JHGEBKFCALID"),
    "closed_at": ("AGBHCFDEIJKL", "EDFCHBGALKJI"),
    "frt": ("LGEIAFBCDKHJ", "KDCBFAIEGLJH"),
    "nps": ("ADCEBFGHIJKL", "BECDALKJIHGF"),
    "csat": ("GFABCDEHIJKL", "FGLKJIHEDCBA"),
    "thermostat": ("GAFDCEBHIJKL", "BECDFAGLKJIH"),
    "comment": ("BFEACDGHIJKL", "AEFBLKJIHGDC"),
    "survey_state": ("ABCDEFGILJKH", "HKJLIGFEDCBA"),
    "answered_at": ("AGBCFDEHIJKL", "EDFCBGALKJIH"),  # each answered an hour after closing
}


def test_every_column_sorts_both_ways(admin_client, listdata):
    from helpdesk.tickets.listing import COLUMNS

    assert set(SORTS) | {"opened_at"} == set(COLUMNS)  # opened_at: test_opened_at_sorts_both_ways
    wrong = []
    for column, (ascending, descending) in SORTS.items():
        for query, expected in ((f"?sort={column}&dir=asc", ascending),
                                (f"?sort={column}&dir=desc", descending),
                                (f"?sort={column}", descending)):  # descending by default
            got = listed_keys(admin_client, listdata, query)
            if got != expected:
                wrong.append((query, expected, got))
    assert wrong == []
    # closed requests by closed date (the order the database walks from its index)
    assert listed_keys(admin_client, listdata, "?state=closed&sort=closed_at&dir=asc") \
        == "AGBHCFDE"
    assert listed_keys(admin_client, listdata, "?state=closed&sort=closed_at") == "EDFCHBGA"


def test_opened_at_sorts_both_ways(admin_client, listdata):
    # J 60 days, A 40, G 25, B 20, H 15, C 10, F 5, D 3, I 1 day ago, E and L today;
    # K on the last day of last month at noon falls in between depending on today's date.
    when = {k: v[0] for k, v in listdata["when"].items()}
    fixed = "JAGBHCFDIEL"
    position = sum(1 for k in fixed if when[k] < when["K"])
    ascending = fixed[:position] + "K" + fixed[position:]
    assert listed_keys(admin_client, listdata, "?sort=opened_at&dir=asc") == ascending
    assert listed_keys(admin_client, listdata, "?sort=opened_at&dir=desc") == ascending[::-1]
    assert listed_keys(admin_client, listdata, "") == ascending[::-1]  # the default


def test_sort_header_links_toggle(admin_client, listdata):
    page = soup(admin_client.get("/?cols=id,nps&sort=nps&dir=desc"))
    nps, ident = page.select("#requests thead th")[1], page.select("#requests thead th")[0]
    assert nps["aria-sort"] == "descending"
    link = dict(parse_qsl(urlsplit(nps.a["href"]).query))
    assert link["sort"] == "nps" and link["dir"] == "asc" and link["cols"] == "id,nps"
    assert dict(parse_qsl(urlsplit(ident.a["href"]).query))["dir"] == "desc"


# --- pages -------------------------------------------------------------------------------------


def test_pages_and_their_bounds(admin_client, listdata):
    for i in range(40):  # 52 requests
        make_ticket(subject=f"Bulk {i}", opened_at=listdata["now"] - timedelta(days=400))
    first = listed(admin_client, "?sort=id&dir=asc")
    second = listed(admin_client, "?sort=id&dir=asc&page=2")
    third = listed(admin_client, "?sort=id&dir=asc&page=3")
    assert len(first) == 25 and len(second) == 25 and len(third) == 2
    assert first + second + third == sorted(first + second + third)
    assert listed(admin_client, "?sort=id&dir=asc&per_page=50&page=2") == third
    assert len(listed(admin_client, "?per_page=100")) == 52
    assert len(listed(admin_client, "?per_page=200")) == 52
    page = soup(admin_client.get("/?page=2"))
    assert "Page 2 of 3" in page.select_one(".pager").get_text(" ", strip=True)
    assert "52 requests" in page.select_one("p.count").get_text(" ", strip=True)
    # past the end: the last page (a bookmark outlived by its rows), never an error
    for query in ("?sort=id&dir=asc&page=4", f"?sort=id&dir=asc&page={10 ** 30}"):
        response = admin_client.get("/" + query)
        assert response.status_code == 302
        assert response.headers["Location"] == "/?sort=id&dir=asc&page=3"
    assert admin_client.get("/?c=subject:is:nothing&page=7").headers["Location"] == \
        "/?c=subject%3Ais%3Anothing"  # no rows at all: the one empty page
    # junk shows the first page
    assert listed(admin_client, "?page=-5&sort=id&dir=asc") == first
    assert listed(admin_client, "?page=abc&sort=id&dir=asc") == first
    for bad in ("7", "0", "-25", "201", "1000000", "abc", "25.0"):
        response = admin_client.get(f"/?per_page={bad}")
        assert response.status_code == 400, bad
        assert "per_page must" in soup(response).select_one("[role=alert]").get_text()


# --- saved filters -----------------------------------------------------------------------------


def sidebar(client) -> dict[str, tuple[str, bool, bool]]:
    """name → (count, shared, deletable) of the sidebar's saved filters, as a browser shows it.

    The page is sent without the counts (its rows never wait for them); each is marked
    pending and the page's script fetches them from /filters/counts, as done here.
    """
    page = soup(client.get("/"))
    fetched = None
    out = {}
    for li in page.select("ul.saved-filters li[data-filter-id]"):
        span = li.select_one(".count")
        text = span.get_text(strip=True)
        assert span.has_attr("data-pending") and text == "…"
        if fetched is None:
            response = client.get(page.select_one("ul.saved-filters")["data-counts-url"])
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "no-store"
            fetched = response.get_json()["counts"]
        value = fetched[li["data-filter-id"]]
        text = "invalid" if value is None else str(value)
        out[li.a.get_text(strip=True)] = (text, li.select_one(".tag") is not None,
                                         li.select_one("a.remove") is not None)
    return out


def save(client, name, query, shared=False):
    data = {"name": name, "query": query}
    if shared:
        data["shared"] = "y"
    return client.post("/filters", data=data)


def saved_id(name: str) -> int:
    return db.session.scalar(select(SavedFilter.id).where(SavedFilter.name == name))


@pytest.fixture
def fresh_g_per_request(app):
    """Every request its own `g` (as in production), for tests with two sessions at once.

    The `app` fixture holds one app context for the whole test and Flask reuses it for each
    request, so Flask-Login's cached user would otherwise carry from one client to another.
    """
    from flask import g

    def reset():
        for name in ("_login_user", "csrf_token"):
            g.pop(name, None)

    app.before_request_funcs.setdefault(None, []).insert(0, reset)


@pytest.mark.usefixtures("fresh_g_per_request")
def test_saved_filters_personal_and_shared_with_live_counts(app, listdata):
    admin, agent = app.test_client(), app.test_client()
    login(admin)
    login(agent, "agent@example.com", "agent-password")
    response = save(admin, "Detractors", "c=nps_rating:is:detractor&sort=closed_at&cols=id,nps",
                    shared=True)
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/" and dict(parse_qsl(target.query)) == {
        "c": "nps_rating:is:detractor", "sort": "closed_at", "cols": "id,nps"}
    assert save(admin, "My open", "state=open").status_code == 302
    assert save(agent, "Agent promoters", "rating=promoter").status_code == 302
    # the saved query is canonical: page dropped, defaults dropped
    assert db.session.scalar(select(SavedFilter.query).where(SavedFilter.name == "My open")) \
        == "state=open"

    assert sidebar(admin) == {"Detractors": ("2", True, True),
                              "My open": ("4", False, True)}
    # the agent sees the admin's shared filter (not the personal one) and cannot delete it
    assert sidebar(agent) == {"Detractors": ("2", True, False),
                              "Agent promoters": ("2", False, True)}
    # the link opens the saved list
    link = soup(agent.get("/")).select_one(
        f"li[data-filter-id='{saved_id('Detractors')}'] a")["href"]
    assert keys_of(listdata, listed(agent, link[1:])) == "DA"  # by closed date, newest first

    # counts are live: B's result is updated to a 2 and E's request reopened
    ingest_batch([{"id": "resp-B", "survey_id": 1, "type": "nps", "score": 2,
                   "feedback": "Actually no", "custom_fields": {"xrequest":
                                                                str(listdata["ids"]["B"])}}])
    db.session.commit()
    assert sidebar(agent)["Detractors"][0] == "3"
    assert sidebar(agent)["Agent promoters"][0] == "1"
    ticket = db.session.get(Ticket, listdata["ids"]["I"])
    ticket.is_open = False
    db.session.commit()
    assert sidebar(admin)["My open"][0] == "3"
    # the count equals the list's own count
    page = soup(admin.get("/?c=nps_rating:is:detractor"))
    assert page.select_one("p.count").get_text(" ", strip=True).startswith("3 requests")


@pytest.mark.usefixtures("fresh_g_per_request")
def test_deleting_saved_filters(app, listdata):
    admin, agent = app.test_client(), app.test_client()
    login(admin)
    login(agent, "agent@example.com", "agent-password")
    save(admin, "Admin shared", "state=closed", shared=True)
    save(admin, "Admin personal", "state=open")
    save(agent, "Agent shared", "rating=detractor", shared=True)
    save(agent, "Agent personal", "rating=promoter")
    save(agent, "Agent spare", "rating=passive")

    def delete(client, name):
        return client.post(f"/filters/{saved_id(name)}/delete", data={"submit": "Go"})

    # the sidebar's × asks first: a page that says what goes, and whose it was
    link = soup(admin.get("/")).select_one(
        f"li[data-filter-id='{saved_id('Agent shared')}'] a.remove")
    assert link["href"] == f"/filters/{saved_id('Agent shared')}/delete"
    ask = admin.get(link["href"])
    assert ask.status_code == 200
    words = soup(ask).select_one("main").get_text(" ", strip=True)
    assert "Delete the filter “Agent shared”?" in words
    assert "every agent's sidebar" in words and "saved by Alex Agent" in words
    assert soup(ask).select_one(f"form[action='{link['href']}'] button").get_text() == \
        "Delete filter"
    assert saved_id("Agent shared")  # asking deleted nothing
    # someone else's personal filter: not even whether it exists; a shared one: not yours
    assert agent.get(f"/filters/{saved_id('Admin personal')}/delete").status_code == 404
    assert agent.get(f"/filters/{saved_id('Admin shared')}/delete").status_code == 403
    assert agent.get("/filters/99999/delete").status_code == 404

    assert delete(agent, "Admin shared").status_code == 403
    assert delete(agent, "Admin personal").status_code == 404
    assert delete(admin, "Agent personal").status_code == 404  # not even an admin's business
    assert admin.post("/filters/99999/delete", data={"submit": "Go"}).status_code == 404
    assert delete(agent, "Agent spare").status_code == 302       # the owner
    assert delete(admin, "Agent shared").status_code == 302      # an admin, a shared filter
    assert delete(admin, "Admin personal").status_code == 302
    assert set(db.session.scalars(select(SavedFilter.name))) == {"Admin shared",
                                                                 "Agent personal"}


def test_a_filter_that_does_not_parse_cannot_be_saved(admin_client, listdata):
    response = save(admin_client, "Broken", "c=bogus:is:1")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(SavedFilter)) == 0
    page = admin_client.get(response.headers["Location"])
    assert "unknown field 'bogus'" in soup(page).get_text()
    assert save(admin_client, "", "state=open").status_code == 302
    assert save(admin_client, "x" * 121, "state=open").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(SavedFilter)) == 0


# --- CSV ---------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    """The rows of an exported CSV; it must start with the UTF-8 byte order mark (Excel)."""
    assert response.status_code == 200
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_matches_the_list(admin_client, listdata):
    query = "?cols=id,customer,nps,csat,thermostat,comment,survey_state,category&sort=nps&dir=asc"
    response = admin_client.get("/requests.csv" + query)
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    listing = admin_client.get("/" + query)
    assert rows[0] == headers(listing)
    assert [int(r[0]) for r in rows[1:]] == listed(admin_client, query)
    ids = listdata["ids"]
    by_id = {int(r[0]): r for r in rows[1:]}
    assert by_id[ids["A"]] == [str(ids["A"]), "Ann Young", "Detractor 3", "", "Detractor 3",
                               "Too slow", "Answered", "Billing"]
    assert by_id[ids["F"]] == [str(ids["F"]), "Fay Carter", "", "Very satisfied 5",
                               "Very satisfied 5", "Lovely", "Answered", ""]
    assert by_id[ids["G"]][2:5] == ["", "Dissatisfied 2", "Dissatisfied 2"]
    assert by_id[ids["K"]][2:] == ["", "", "", "", "Survey queued", "Billing"]
    answered = {int(r[0]): r[1] for r in read_csv(admin_client.get(
        "/requests.csv?cols=id,answered_at"))[1:]}
    assert answered[ids["C"]] == (listdata["when"]["C"][1] + timedelta(hours=1)).strftime(
        "%Y-%m-%d %H:%M:%S")
    assert answered[ids["J"]] == ""
    # a filter exports only its rows, every page of them
    rows = read_csv(admin_client.get("/requests.csv?c=nps_rating:is:detractor&cols=id"))
    assert rows == [["#"], [str(ids["D"])], [str(ids["A"])]]  # opened newest first


def test_csv_exports_every_page(admin_client, listdata):
    for i in range(30):
        make_ticket(subject=f"Bulk {i}")
    rows = read_csv(admin_client.get("/requests.csv?cols=id&per_page=25&page=2"))
    assert len(rows) == 1 + 42


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t=", "\r=", " =", "  @", "\n+"])
def test_csv_neutralises_formulas(admin_client, seeded, start):
    first = f"{start}HYPERLINK(\"http://evil.example/\",\"x\")"
    ticket = make_ticket(subject=f"{start}1+1", first=first, last="Doe", email="doe@example.com")
    rows = read_csv(admin_client.get("/requests.csv?cols=id,subject,customer"))
    # (the customer's name is shown without its leading blanks: still a formula, still caught)
    assert rows[1] == [str(ticket.id), f"'{start}1+1", f"'{first.lstrip()} Doe"]
    # the list shows the text as it is
    shown = cells(admin_client.get("/?cols=id,subject,customer"), "customer")
    assert shown[ticket.id] == f"{first.lstrip()} Doe"


# --- bad URLs ----------------------------------------------------------------------------------

TOO_MANY = "&".join(["c=nps_score:ge:0"] * 21)


BAD_URLS = [
    ("c=bogus:is:1", "unknown field 'bogus'"),
    ("c=custom:999:is:x", "custom field #999 no longer exists"),
    ("c=custom:abc:is:x", "unknown field 'custom:abc'"),
    ("c=nps_score:like:3", "NPS score: unknown operator 'like'"),
    ("c=nps_rating:lt:detractor", "NPS rating: unknown operator 'lt'"),
    ("c=status:changed_to:2", "Status: unknown operator 'changed_to'"),
    ("c=opened_at:is:today", "Date opened: unknown operator 'is'"),
    ("c=nps_score:is:abc", "NPS score: 'abc' is not a number"),
    ("c=nps_score:is:nan", "NPS score: 'nan' is out of range"),
    ("c=nps_score:between:7..3", "NPS score: the range 7-3 is empty"),
    ("c=nps_score:between:3", "NPS score: write a range like 0-6"),
    ("c=nps_rating:is:satisfied", "NPS rating: 'satisfied' is not a rating"),
    ("c=csat_rating:is:promoter", "CSAT rating: 'promoter' is not a rating"),
    ("c=survey_state:is:lost", "Survey status: 'lost' is not one of"),
    ("c=survey_never:is:maybe", "Never surveyed: 'maybe' is not yes or no"),
    ("c=opened_at:in_range:yesterday", "Date opened: 'yesterday' is not a date range"),
    ("c=category:is:Billing", "Category: 'Billing' is not a valid choice"),
    ("cols=id,bogus", "unknown column 'bogus'"),
    ("cols=,,", "choose at least one column"),
    ("sort=bogus", "cannot sort by 'bogus'"),
    ("sort=customer_id", "cannot sort by 'customer_id'"),
    ("dir=up", "dir must be asc or desc"),
    ("per_page=7", "per_page must be one of 25, 50, 100, 200"),
    ("c=nps_score", "a condition is field:operator:value, not 'nps_score'"),
    ("c=nps_score:lt", "a condition is field:operator:value, not 'nps_score:lt'"),
    (TOO_MANY, "at most 20 conditions"),
    ("c=actor:is:1", "Acting person cannot be used in a filter"),
    ("c=note_body:contains:x", "Note body cannot be used in a filter"),
    ("m=some&c=nps_score:lt:7", "m must be all or any"),
    ("state=x", "state must be one of all, open, closed"),
    ("c=subject:is:%27%3B%20DROP%20TABLE%20tickets%3B--&c=bogus%27%3B--:is:1",
     "unknown field \"bogus';--\""),
    # numbers no column can hold, or no date arithmetic can take
    ("c=status:is:99999999999999999999", "Status: '99999999999999999999' is not a valid choice"),
    ("c=category:is:2147483648", "Category: '2147483648' is not a valid choice"),
    ("c=assignee:is:-3", "Assigned to: '-3' is not a valid choice"),
    ("c=survey_id:is:99999999999", "Thermostat survey answered: '99999999999' is not a valid"),
    ("c=nps_score:is:99999999999", "NPS score: '99999999999' is out of range (0 to 10)"),
    ("c=nps_score:is:11", "NPS score: '11' is out of range (0 to 10)"),
    ("c=nps_score:lt:-1", "NPS score: '-1' is out of range (0 to 10)"),
    ("c=csat_score:is:6", "CSAT score: '6' is out of range (1 to 5)"),
    ("c=survey_score:between:0-2147483648", "Thermostat score: '2147483648' is out of range"),
    ("c=minutes_since_opened:gt:100000000000",
     "Minutes since opened: '100000000000' is out of range (0 to 52,704,000)"),
    ("c=nps_score:is:%EF%BC%95", "NPS score: '５' is not a number"),  # a full-width 5
    ("c=minutes_since_closed:lt:-5000000000", "Minutes since closed: '-5000000000' is out of"),
]


def test_bad_urls_are_400_naming_what_is_wrong(admin_client, listdata):
    """The list, its reports and its CSV all refuse each bad URL with the same message."""
    wrong = []
    for query, needle in BAD_URLS:
        for path in ("/", "/reports"):
            response = admin_client.get(f"{path}?{query}")
            alert = soup(response).select_one("[role=alert]")
            if response.status_code != 400 or alert is None or needle not in alert.get_text():
                wrong.append((path, query, response.status_code, alert and alert.get_text()))
        response = admin_client.get(f"/requests.csv?{query}")
        if response.status_code != 400 or needle not in response.get_data(as_text=True):
            wrong.append(("csv", query, response.status_code, response.get_data(as_text=True)))
    assert wrong == []
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == len(KEYS)


@pytest.mark.parametrize("path", ["/", "/reports", "/requests.csv"])
def test_a_nul_character_in_any_value_is_a_400_that_says_so(admin_client, listdata, path):
    for query in ("c=subject:contains:%00", "c=custom:1:is:a%00b", "q%00=1", "state=open%00"):
        response = admin_client.get(f"{path}?{query}")
        assert response.status_code == 400, query
        assert "contains a NUL character" in response.get_data(as_text=True)
    # a form too: saving a filter named with one stores nothing
    response = admin_client.post("/filters", data={"name": "x\x00y", "query": "state=open"})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(SavedFilter)) == 0


def test_twenty_conditions_are_allowed(admin_client, listdata):
    query = "&".join(["c=nps_score:ge:0"] * 20)
    assert sorted(listed_keys(admin_client, listdata, "?" + query)) == list("ABCDE")


# --- the builder form --------------------------------------------------------------------------


def test_builder_form_redirects_to_the_canonical_url(admin_client, listdata):
    form = [("state", "closed"), ("rating", ""), ("score_op", ""), ("score", ""),
            ("per_page", "25"), ("m", "any"),
            ("cf", "nps_rating"), ("co", "is"), ("cv", "detractor"),
            ("cf", "csat_rating"), ("co", "is"), ("cv", "dissatisfied"),
            ("cf", ""), ("co", "is"), ("cv", ""),
            ("sort", "nps"), ("dir", "asc")]
    form += [(f"colpos_{key}", pos) for key, pos in
             [("id", "2"), ("subject", ""), ("customer", ""), ("status", ""), ("category", ""),
              ("assignee", ""), ("opened_at", ""), ("closed_at", ""), ("frt", ""),
              ("nps", "1"), ("csat", "3"), ("thermostat", ""), ("comment", ""), ("email", ""),
              ("survey_state", "")]]
    from urllib.parse import urlencode

    response = admin_client.get("/?" + urlencode(form))
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/"
    assert parse_qsl(target.query) == [
        ("state", "closed"), ("m", "any"), ("c", "nps_rating:is:detractor"),
        ("c", "csat_rating:is:dissatisfied"), ("cols", "nps,id,csat"), ("sort", "nps"),
        ("dir", "asc")]
    page = admin_client.get(f"/?{target.query}")
    assert headers(page) == ["NPS", "#", "CSAT"]
    assert keys_of(listdata, listed(admin_client, f"?{target.query}")) == "ADG"
    # the form for the default list comes back as the bare list
    empty = [("state", "all"), ("rating", ""), ("score_op", ""), ("score", ""),
             ("per_page", "25"), ("m", "all"), ("cf", ""), ("co", "is"), ("cv", ""),
             ("sort", "opened_at"), ("dir", "desc")]
    empty += [(f"colpos_{k}", str(i + 1)) for i, k in
              enumerate(["id", "subject", "customer", "status", "category", "assignee",
                         "opened_at", "thermostat"])]
    response = admin_client.get("/?" + urlencode(empty))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    # a bad row in the form redirects, then the list says what is wrong
    response = admin_client.get("/?" + urlencode([("cf", "nps_score"), ("co", "lt"),
                                                  ("cv", "seven")]))
    assert response.status_code == 302
    bad = admin_client.get(response.headers["Location"])
    assert bad.status_code == 400
    assert "NPS score: 'seven' is not a number" in soup(bad).get_text()


def test_the_page_renders_the_builder_rows_back(admin_client, listdata):
    page = soup(admin_client.get("/?m=any&c=nps_score:between:3..7&cols=nps,id"))
    rows = page.select("#filter-conditions tbody tr")
    assert len(rows) == 2  # the condition and an empty row to add another
    assert rows[0].select_one("select[name=cf] option[selected]")["value"] == "nps_score"
    assert rows[0].select_one("select[name=co] option[selected]")["value"] == "between"
    assert rows[0].select_one("input[name=cv]")["value"] == "3..7"
    assert page.select_one("#colpos_nps")["value"] == "1"
    assert page.select_one("#colpos_id")["value"] == "2"
    assert page.select_one("#colpos_subject")["value"] == ""


def test_the_builder_takes_names_for_statuses_categories_and_staff(admin_client, listdata):
    """As in the rules builder: typed by name, held in the URL by id, shown back by name."""
    from urllib.parse import urlencode

    def build(*rows):
        form = [("state", "all")]
        for field, op, value in rows:
            form += [("cf", field), ("co", op), ("cv", value)]
        return admin_client.get("/?" + urlencode(form))

    cats, users = listdata["cats"], listdata["users"]
    response = build(("category", "is", "billing"), ("assignee", "is", "Alex Agent"))
    assert response.status_code == 302
    query = urlsplit(response.headers["Location"]).query
    assert parse_qsl(query) == [("c", f"category:is:{cats['Billing']}"),
                                ("c", f"assignee:is:{users['agent']}")]
    assert "".join(sorted(listed_keys(admin_client, listdata, "?" + query))) == "H"
    boxes = [i["value"] for i in soup(admin_client.get("/?" + query)).select("input[name=cv]")]
    assert boxes == ["Billing", "agent@example.com", ""]  # the e-mail: names may repeat
    # by e-mail, "none" for nobody, and an id as the URL has it
    response = build(("assignee", "is", "admin@example.com"), ("category", "is_not", "none"),
                     ("status", "is", str(db.session.scalar(
                         select(Ticket.status_id).where(Ticket.id == listdata["ids"]["C"])))))
    query = urlsplit(response.headers["Location"]).query
    assert "".join(sorted(listed_keys(admin_client, listdata, "?" + query))) == "C"
    response = build(("assignee", "is", "none"))
    assert "".join(sorted(listed_keys(
        admin_client, listdata, "?" + urlsplit(response.headers["Location"]).query))) == "DIL"
    # a name that stands for nothing says so, and builds nothing
    response = build(("category", "is", "Biling"))
    assert response.status_code == 400
    assert "Category: There is no category named 'Biling'" in soup(response).get_text()
    response = build(("category", "is", "#99999999999999999999"))  # no id that large exists
    assert response.status_code == 400
    assert "There is no category named '#99999999999999999999'" in soup(response).get_text()
    # the suggestions offer the names
    offered = {o["value"] for o in soup(admin_client.get("/")).select("#filter-values option")}
    assert {"Billing", "Problem Solved", "agent@example.com", "Support NPS"} <= offered


def test_first_response_time_is_a_criterion(admin_client, listdata):
    """'Detractors whose first response took over 4 hours', by hand from ROWS' seconds, in
    whole minutes as the list shows them:
    A 30 m, B 120 m, C 300 m, D 1500 m, E 5 m, F 60 m, G 4 m, H none, I 10 m, J none,
    K 2000 m, L 45 s."""
    def keys(query):
        return "".join(sorted(listed_keys(admin_client, listdata, "?state=all&" + query)))

    assert keys("c=nps_rating:is:detractor&c=first_response_minutes:gt:240") == "D"
    assert keys("c=first_response_minutes:gt:240") == "CDK"
    assert keys("c=first_response_minutes:lt:5") == "GL"
    assert keys("c=first_response_minutes:le:5") == "EGL"
    assert keys("c=first_response_minutes:is:60") == "F"
    assert keys("c=first_response_minutes:between:5-60") == "AEFI"
    assert keys("c=first_response_minutes:is_not:30") == "BCDEFGHIJKL"  # no response: not 30
    # whole minutes as the list shows them: L's 45 s is "0m"
    assert keys("c=first_response_minutes:is:0") == "L"
    assert keys("c=first_response_minutes:gt:0") == "ABCDEFGIK"
    assert keys("c=first_response_minutes:between:0-4") == "GL"
    response = admin_client.get("/?c=first_response_minutes:gt:2.5")
    assert response.status_code == 400
    assert "First response time (minutes): '2.5' is not a whole number" in \
        soup(response).get_text()
    # and the report on it
    page = soup(admin_client.get("/reports?c=first_response_minutes:gt:240"))
    assert page.select_one(".report-total").get_text() == "3"
    assert page.select_one(".report-filter").get_text() == \
        "first response time (minutes) is greater than 240"


def test_csv_headers_say_the_units_and_names_survive_excel(admin_client, listdata):
    ticket = make_ticket(subject="Straße", first="Zoë", last="Müller", email="zm@example.com",
                         first_response_seconds=7320)
    rows = read_csv(admin_client.get(
        f"/requests.csv?cols=id,customer,subject,frt,opened_at,closed_at,answered_at"
        f"&c=customer_last_name:is:Müller"))
    assert rows[0] == ["#", "Customer", "Subject", "First response (seconds)", "Opened (UTC)",
                       "Closed (UTC)", "Answered (UTC)"]
    assert rows[1][:4] == [str(ticket.id), "Zoë Müller", "Straße", "7320"]

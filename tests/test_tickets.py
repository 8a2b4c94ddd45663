"""Requests: creating, notes, updates, close and reopen, the list, its filters, hostile text."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import Category, Customer, Status, Ticket, TicketEvent, utcnow
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import make_ticket, soup, text_of
from tests.hostile import assert_inert


def status_id(name):
    return db.session.scalar(select(Status.id).where(Status.name == name))


def new_request(client, **fields):
    data = {"first_name": "Pat", "last_name": "Smith", "email": "pat@example.com", "phone": "",
            "subject": "Printer on fire", "body": "It is really on fire.", "category_id": 0,
            "assignee_id": 0}
    data.update(fields)
    return client.post("/requests/new", data=data)


def update(client, ticket_id, **fields):
    ticket = db.session.get(Ticket, ticket_id)
    data = {"status_id": ticket.status_id, "category_id": ticket.category_id or 0,
            "assignee_id": ticket.assignee_id or 0}
    data.update(fields)
    return client.post(f"/requests/{ticket_id}/update", data=data)


def fresh(ticket_id) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def events(ticket_id, kind=None):
    db.session.expire_all()
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if kind:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


def created_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


# --- creating and working a request -----------------------------------------------------------


def test_new_request_creates_customer_then_finds_them_by_email(admin_client, seeded):
    first = created_id(new_request(admin_client))
    second = created_id(new_request(admin_client, first_name="Patricia", email="PAT@Example.com",
                                    subject="Still on fire"))
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    a, b = fresh(first), fresh(second)
    assert a.customer_id == b.customer_id
    assert (a.customer.first_name, a.customer.email) == ("Pat", "pat@example.com")
    assert a.is_open and a.status.name == "Active" and b.subject == "Still on fire"
    page = soup(admin_client.get(f"/requests/{first}"))
    assert page.h1.get_text(strip=True) == f"#{first} Printer on fire"
    bodies = [e.get_text(strip=True) for e in page.select("#history .event-body")]
    assert bodies[0] == "It is really on fire."
    assert "Request opened by Ada Admin" in bodies


def test_new_request_with_a_new_email_makes_a_second_customer(admin_client, seeded):
    created_id(new_request(admin_client))
    created_id(new_request(admin_client, email="sam@example.com", first_name="Sam"))
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 2


@pytest.mark.parametrize("fields,message", [
    ({"subject": ""}, "This field is required."),
    ({"body": ""}, "This field is required."),
    ({"email": "not-an-email"}, "Invalid email address."),
    ({"email": "", "first_name": "", "last_name": ""}, "Give at least the customer's email or name"),
])
def test_new_request_form_errors_create_nothing(admin_client, seeded, fields, message):
    response = new_request(admin_client, **fields)
    assert response.status_code in (200, 400)
    assert message in [e.get_text(strip=True) for e in soup(response).select(".error")]
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_public_note_sets_first_response_private_note_does_not(admin_client):
    ticket = make_ticket()
    private = admin_client.post(f"/requests/{ticket.id}/notes",
                                data={"body": "Internal: check logs", "visibility": "private"})
    assert private.status_code == 302
    assert fresh(ticket.id).first_response_at is None
    before = utcnow()
    public = admin_client.post(f"/requests/{ticket.id}/notes",
                               data={"body": "We are on it", "visibility": "public"})
    assert public.status_code == 302
    first_response = fresh(ticket.id).first_response_at
    assert first_response is not None and first_response >= before - timedelta(seconds=1)
    # a later public note keeps the first response time
    admin_client.post(f"/requests/{ticket.id}/notes", data={"body": "Fixed", "visibility": "public"})
    assert fresh(ticket.id).first_response_at == first_response
    kinds = [(e.kind, e.body, e.author.name) for e in events(ticket.id)]
    assert kinds == [("note_private", "Internal: check logs", "Ada Admin"),
                     ("note_public", "We are on it", "Ada Admin"),
                     ("note_public", "Fixed", "Ada Admin")]


def test_empty_note_is_refused(admin_client):
    ticket = make_ticket()
    response = admin_client.post(f"/requests/{ticket.id}/notes",
                                 data={"body": "   ", "visibility": "public"})
    assert response.status_code == 400
    assert events(ticket.id) == []
    assert fresh(ticket.id).first_response_at is None


def test_category_and_assignee_change_writes_one_history_line(admin_client, seeded):
    ticket = make_ticket()
    billing = db.session.scalar(select(Category).where(Category.name == "Billing"))
    response = update(admin_client, ticket.id, category_id=billing.id,
                      assignee_id=seeded["agent"].id, save="Save")
    assert response.status_code == 302
    t = fresh(ticket.id)
    assert (t.category_id, t.assignee_id) == (billing.id, seeded["agent"].id)
    [change] = events(ticket.id, "change")
    assert change.body.splitlines() == ["Category: — → Billing", "Assigned: nobody → Alex Agent"]
    assert change.author.name == "Ada Admin"
    page = soup(admin_client.get(f"/requests/{ticket.id}"))
    shown = page.select_one("#history .kind-change .event-body").get_text()
    assert "Category: — → Billing" in shown and "Assigned: nobody → Alex Agent" in shown
    # saving again with nothing changed writes nothing
    update(admin_client, ticket.id, save="Save")
    assert len(events(ticket.id, "change")) == 1


@pytest.mark.parametrize("status_name,allowed", [
    ("Active", False), ("Problem Solved", True), ("Escalated", True),
    ("Customer Found Solution", True), ("SPAM", True),
])
def test_close_needs_a_closing_status(admin_client, status_name, allowed):
    ticket = make_ticket()
    response = update(admin_client, ticket.id, status_id=status_id(status_name),
                      close="Save and close")
    t = fresh(ticket.id)
    if allowed:
        assert response.status_code == 302
        assert t.is_open is False and t.closed_at is not None and t.status.name == status_name
        assert "Request closed" in events(ticket.id, "change")[-1].body
    else:
        assert response.status_code == 400
        assert "Choose a closing status" in text_of(response)
        assert t.is_open is True and t.closed_at is None
        assert events(ticket.id) == []


def test_reopen_sets_active_and_open(admin_client):
    ticket = make_ticket(status="Escalated", is_open=False, closed_at=utcnow())
    response = update(admin_client, ticket.id, reopen="Reopen")
    assert response.status_code == 302
    t = fresh(ticket.id)
    assert (t.is_open, t.status.name, t.closed_at) == (True, "Active", None)
    lines = events(ticket.id, "change")[-1].body.splitlines()
    assert lines == ["Status: Escalated → Active", "Request reopened"]


def test_unknown_request_is_404(admin_client):
    assert admin_client.get("/requests/999").status_code == 404
    assert admin_client.post("/requests/999/notes", data={"body": "x"}).status_code == 404


# --- the list: pagination and filters --------------------------------------------------------


def listed(client, query=""):
    response = client.get(f"/{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [int(r["data-request-id"]) for r in
            soup(response).select("#requests tbody tr[data-request-id]")]


def test_pagination(admin_client):
    now = utcnow()
    ids = [make_ticket(subject=f"Request {i}", opened_at=now - timedelta(minutes=i)).id
           for i in range(30)]
    page1 = listed(admin_client)
    page2 = listed(admin_client, "?page=2")
    assert page1 == ids[:25] and page2 == ids[25:]  # newest first
    response = admin_client.get("/?page=99999", follow_redirects=True)  # past the end: the last
    assert response.status_code == 200
    assert [int(r["data-request-id"]) for r in
            soup(response).select("#requests tbody tr[data-request-id]")] == ids[25:]
    for junk in ("abc", "-3", "0"):
        assert admin_client.get(f"/?page={junk}").status_code == 200
    assert admin_client.get(f"/?page={'10' * 20}").headers["Location"] == "/?page=2"
    nav = soup(admin_client.get("/?page=2&state=open&per_page=25"))
    prev = nav.select_one(".pager a[rel=prev]")["href"]
    assert "page=1" in prev and "state=open" in prev  # the filter rides along; defaults don't
    assert "per_page" not in prev


def test_pager_links_only_carry_filter_parameters(admin_client):
    for i in range(30):
        make_ticket(subject=f"Request {i}")
    response = admin_client.get("/?page=2&endpoint=x&_external=1&_scheme=javascript&state=open")
    assert response.status_code == 200
    prev = soup(response).select_one(".pager a[rel=prev]")["href"]
    assert prev.startswith("/?") and "javascript" not in prev and "endpoint" not in prev
    assert "state=open" in prev


@pytest.fixture
def rated(app, seeded):
    """Requests with survey results set directly on their columns."""
    def rated_ticket(subject, score, kind="nps", **kwargs):
        from helpdesk.results.ratings import rating_for

        rating = rating_for(kind, score) if score is not None else None
        return make_ticket(subject=subject, survey_type=kind if score is not None else None,
                           survey_score=score, survey_rating=rating, **kwargs).id

    return {
        "d0": rated_ticket("d0", 0), "d6": rated_ticket("d6", 6, status="Problem Solved",
                                                        is_open=False),
        "p7": rated_ticket("p7", 7), "p8": rated_ticket("p8", 8, status="SPAM", is_open=False),
        "r9": rated_ticket("r9", 9), "r10": rated_ticket("r10", 10, status="Problem Solved",
                                                         is_open=False),
        "c2": rated_ticket("c2", 2, "csat"), "c5": rated_ticket("c5", 5, "csat"),
        "none": rated_ticket("none", None),
    }


@pytest.mark.parametrize("query,expected", [
    ("", {"d0", "d6", "p7", "p8", "r9", "r10", "c2", "c5", "none"}),
    ("?state=all", {"d0", "d6", "p7", "p8", "r9", "r10", "c2", "c5", "none"}),
    ("?state=open", {"d0", "p7", "r9", "c2", "c5", "none"}),
    ("?state=closed", {"d6", "p8", "r10"}),
    ("?rating=detractor", {"d0", "d6"}),
    ("?rating=passive", {"p7", "p8"}),
    ("?rating=promoter", {"r9", "r10"}),
    ("?rating=satisfied", {"c5"}),
    ("?rating=dissatisfied", {"c2"}),
    ("?rating=promoter&state=closed", {"r10"}),
    ("?score_op=lt&score=7", {"d0", "d6", "c2", "c5"}),
    ("?score_op=gt&score=8", {"r9", "r10"}),
    ("?score_op=is&score=6", {"d6"}),
    ("?score_op=is&score=0", {"d0"}),
    ("?score_op=gt&score=10", set()),
    ("?score_op=lt&score=9&rating=passive", {"p7", "p8"}),
    ("?score_op=&score=&rating=&state=", {"d0", "d6", "p7", "p8", "r9", "r10", "c2", "c5",
                                          "none"}),  # the empty form
])
def test_filters(admin_client, rated, query, expected):
    names = {v: k for k, v in rated.items()}
    assert {names[i] for i in listed(admin_client, query)} == expected


def test_the_rating_column_shows_rating_and_score(admin_client, rated):
    rows = soup(admin_client.get("/")).select("#requests tbody tr[data-request-id]")
    shown = {int(r["data-request-id"]): r.select_one(".thermostat").get_text(strip=True)
             for r in rows}
    assert shown[rated["d6"]] == "Detractor 6"
    assert shown[rated["p7"]] == "Passive 7"
    assert shown[rated["r10"]] == "Promoter 10"
    assert shown[rated["c2"]] == "Dissatisfied 2"
    assert shown[rated["none"]] == "—"


@pytest.mark.parametrize("query,needle", [
    ("?rating=bogus", "unknown rating 'bogus'"),
    ("?rating=Promoter", "unknown rating 'Promoter'"),
    ("?score_op=drop", "score_op must be lt, gt or is"),
    ("?score_op=drop&score=3", "score_op must be lt, gt or is"),
    ("?score=5", "score_op must be lt, gt or is"),
    ("?score_op=is&score=%D9%A5", "score must be a whole number, not '٥'"),  # Arabic-Indic 5
    ("?score_op=lt&score=abc", "score must be a whole number, not 'abc'"),
    ("?score_op=lt", "score must be a whole number"),
    ("?score_op=is&score=1.5", "score must be a whole number"),
    ("?score_op=gt&score=99", "score must be between 0 and 10"),
    ("?score_op=gt&score=-1", "score must be between 0 and 10"),
    ("?state=x", "state must be one of all, open, closed"),
    ("?state=OPEN", "state must be one of"),
    ("?rating=%27%3B+DROP+TABLE+tickets%3B--", "unknown rating"),
])
def test_bad_filters_are_400_with_a_message(admin_client, rated, query, needle):
    response = admin_client.get(f"/{query}")
    assert response.status_code == 400
    alert = soup(response).select_one("[role=alert]")
    assert needle in alert.get_text()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == len(rated)


# --- hostile text ----------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% raw %}{% if %}{% endraw %}",
    "##REQUESTID##",
    "{{ $requestid }}",
    "\"><img src=x onerror=alert(1)>",
    "Robert'); DROP TABLE tickets;--",
    "bell\x07ring",
    "Ünïcödé 😀 \u202ertl",
]
LONG = "A" * 4999 + "Z"


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_and_shown_literally(admin_client, seeded, text):
    rid = created_id(new_request(admin_client, first_name=text[:120], last_name="",
                                 subject=text, body=text, email="hostile@example.com"))
    admin_client.post(f"/requests/{rid}/notes", data={"body": text, "visibility": "private"})
    t = fresh(rid)
    assert (t.subject, t.customer.first_name) == (text, text[:120])
    assert [e.body for e in events(rid) if e.kind.startswith("note")] == [text, text]

    response = admin_client.get(f"/requests/{rid}")
    html = response.get_data(as_text=True)
    page = soup(response)
    assert page.h1.get_text() == f"#{rid} {text}"
    assert page.select_one(".ticket-head .meta").get_text().strip().startswith(text[:120])
    bodies = [e.get_text() for e in page.select("#history .event-body")]
    assert bodies.count(text) == 2
    # no markup was created from the data
    assert page.find("script") is None
    assert page.find("img") is None
    assert "<script>alert" not in html
    if text == "{{ 7*7 }}":
        assert "49" not in page.h1.get_text() and "49" not in " ".join(bodies)

    listing = soup(admin_client.get("/"))
    row = listing.select_one(f"#requests tr[data-request-id='{rid}']")
    cells = row.find_all("td")
    assert cells[1].a.get_text() == text and cells[2].get_text() == text[:120]
    assert_inert(listing, "the request list")


def test_long_text_in_body_and_notes_is_kept_whole(admin_client, seeded):
    rid = created_id(new_request(admin_client, body=LONG))
    admin_client.post(f"/requests/{rid}/notes", data={"body": LONG, "visibility": "public"})
    bodies = [e.get_text() for e in soup(admin_client.get(f"/requests/{rid}"))
              .select("#history .event-body")]
    assert bodies.count(LONG) == 2


def test_too_long_subject_is_refused_not_truncated(admin_client, seeded):
    response = new_request(admin_client, subject="S" * 251)
    assert "Field cannot be longer than 250 characters." in text_of(response)
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0

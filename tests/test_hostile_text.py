"""Hostile text everywhere it is shown: stored and displayed literally, never evaluated.

Each string of tests/hostile.py goes into a customer's first and last name, a subject, the
first message, a note and a survey comment (ingested as Thermostat results are). Then every
place that shows it is parsed with BeautifulSoup: the request list, the request page, the
rule dry run, a rendered Email Customer body (text and HTML), the Mail page and the unmatched
results page. On each, no <script>/<img>/<svg> element and no on* attribute comes from the data,
and the text node equals the input.

How "equals" is compared: a value is first cut to its column's length (names 120, subject
250), as the form's own limits require. Then the text node must equal it exactly: html.parser
keeps "\\r\\n", the control characters \\x07 and \\x1b, the RTL override and zero-width
joiners as they are (a browser would drop or hide some of them on screen; that is display,
not evaluation). Only the template's own indentation around a value is stripped (no value
starts or ends with whitespace). The Mail page shows the subject as the outbox stores it:
whitespace runs folded to one space (a header is one line), as mail/services.py documents.
"""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import Rule, Ticket
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import soup
from tests.hostile import HOSTILE, IDS, TEXTS, assert_inert

EMAIL_SUBJECT = "Re: ##SUBJECT##"
EMAIL_BODY = ("Hello ##FIRSTNAME## {{ $lastname }},\n"
              "about \"##SUBJECT##\" (request ##REQUESTID##):\n"
              "<a href=\"##HELPDESKURL##/r/##REQUESTID##\">##FULLNAME##</a>\n")


def shown(element) -> str:
    """An element's text without the template's own indentation around it."""
    return element.get_text().strip()


@pytest.fixture
def world(app, admin_client, seeded, request):
    """A request made through the forms with the hostile text in every text field."""
    text = request.param
    app.config["HELPDESK_URL"] = "http://helpdesk.test"
    first, last, subject = text[:120], text[:120], text[:250]
    response = admin_client.post("/requests/new", data={
        "first_name": first, "last_name": last, "email": "hostile@example.com", "phone": "",
        "subject": subject, "body": text, "category_id": 0, "assignee_id": 0})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    ticket_id = int(response.headers["Location"].rsplit("/", 1)[1])
    note = admin_client.post(f"/requests/{ticket_id}/notes",
                             data={"body": text, "visibility": "private"})
    assert note.status_code == 302

    from helpdesk.thermostat.ingest import ingest_batch

    stats = ingest_batch([
        {"id": "hostile-1", "survey_id": 1, "type": "nps", "score": 3, "feedback": text,
         "created_at": "2026-06-26 14:03:26", "custom_fields": {"xrequest": str(ticket_id)}},
        {"id": "hostile-2", "survey_id": 1, "type": "nps", "score": 9, "feedback": text,
         "created_at": "2026-06-26 14:03:26", "custom_fields": {}},  # unmatched
    ])
    assert stats.errors == [] and stats.created == 2
    rule = Rule(kind="trigger", name="Thank the customer", event="updated", match="all",
                conditions=[{"field": "is_open", "op": "is", "value": False}],
                actions=[{"type": "email_customer", "subject": EMAIL_SUBJECT,
                          "body": EMAIL_BODY}], position=5)
    db.session.add(rule)
    db.session.commit()
    return {"text": text, "first": first, "last": last, "subject": subject,
            "full_name": f"{first} {last}".strip(), "ticket": ticket_id, "rule": rule.id,
            "client": admin_client}


parametrize = pytest.mark.parametrize("world", TEXTS, ids=IDS, indirect=True)


@parametrize
def test_stored_exactly_as_typed(world):
    ticket = db.session.get(Ticket, world["ticket"])
    assert ticket.subject == world["subject"]
    assert (ticket.customer.first_name, ticket.customer.last_name) == (world["first"],
                                                                         world["last"])
    bodies = [e.body for e in ticket.events if e.kind.startswith("note")]
    assert bodies == [world["text"], world["text"]]


@parametrize
def test_the_request_list_shows_it_literally(world):
    page = soup(world["client"].get("/"))
    assert_inert(page, "the request list")
    row = page.select_one(f"tr[data-request-id='{world['ticket']}']")
    links = [shown(a) for a in row.find_all("a", href=f"/requests/{world['ticket']}")]
    assert world["subject"] in links
    cells = [shown(td) for td in row.find_all("td")]
    assert world["full_name"] in cells


@parametrize
def test_the_request_page_shows_it_literally(world):
    page = soup(world["client"].get(f"/requests/{world['ticket']}"))
    assert_inert(page, "the request page")
    assert page.h1.get_text() == f"#{world['ticket']} {world['subject']}"
    meta = page.select_one(".ticket-head .meta").get_text().lstrip()
    assert meta.startswith(world["full_name"] + " <hostile@example.com>")
    bodies = [b.get_text() for b in page.select("#history .event-body")]
    assert bodies.count(world["text"]) == 2  # the first message and the note
    assert f"Survey 'Survey #1' answered: Detractor 3\nComment: {world['text']}" in bodies
    feedback = page.select_one(".result .feedback")
    assert feedback.get_text() == world["text"]
    if world["text"] == "{{ 7*7 }}":
        assert "49" not in page.get_text()


@parametrize
def test_the_rule_dry_run_renders_it_literally(world):
    response = world["client"].get(f"/admin/rules/{world['rule']}/test",
                                   query_string={"request_id": world["ticket"]})
    assert response.status_code == 200
    page = soup(response)
    assert_inert(page, "the dry run")
    heading = page.select_one("#dry-run h2").get_text()
    assert heading == f"Request #{world['ticket']}: {world['subject']}"
    assert page.select_one(".email-subject").get_text() == \
        f"Re: {world['subject']}"
    assert page.select_one(".email-body").get_text() == \
        _expected_text_body(world)


def _expected_text_body(world) -> str:
    """The email body with each placeholder replaced once, by plain string replacement."""
    return (f"Hello {world['first']} {world['last']},\n"
            f"about \"{world['subject']}\" (request {world['ticket']}):\n"
            f"<a href=\"http://helpdesk.test/r/{world['ticket']}\">{world['full_name']}</a>\n")


@parametrize
def test_an_email_customer_body_renders_it_literally(app, world):
    from helpdesk.mail.placeholders import render
    from helpdesk.mail.values import placeholder_values

    ticket = db.session.get(Ticket, world["ticket"])
    values = placeholder_values(ticket, "http://helpdesk.test/")
    # text mode: exactly the value, once; a placeholder inside the value is not expanded
    text = render(EMAIL_BODY, values, "text")
    assert text == _expected_text_body(world)
    assert render(EMAIL_SUBJECT, values, "text") == f"Re: {world['subject']}"
    # HTML mode: the value is escaped, so the parsed email holds it as text, not markup
    html = BeautifulSoup(render(EMAIL_BODY, values, "html"), "html.parser")
    assert_inert(html, "the HTML email")
    assert [a["href"] for a in html.find_all("a")] == [f"http://helpdesk.test/r/{world['ticket']}"]
    assert html.a.get_text() == world["full_name"]
    assert html.get_text() == _expected_text_body(world).replace(
        f"<a href=\"http://helpdesk.test/r/{world['ticket']}\">", "").replace("</a>", "")


@parametrize
def test_the_mail_page_shows_the_queued_email_literally(world):
    # close the request: the rule queues the Email Customer (the outbox, not sent here)
    from helpdesk.models import Status

    solved = db.session.scalar(select(Status).where(Status.name == "Problem Solved"))
    closed = world["client"].post(f"/requests/{world['ticket']}/update", data={
        "status_id": solved.id, "category_id": 0, "assignee_id": 0, "close": "Save and close"})
    assert closed.status_code == 302
    page = soup(world["client"].get("/admin/mail/"))
    assert_inert(page, "the Mail page")
    row = page.select_one("#outbound tr[data-email-id]")
    cells = row.find_all("td")
    expected = re.sub(r"\s+", " ", f"Re: {world['subject']}").strip()[:250]
    assert cells[3].get_text() == expected
    assert cells[2].get_text() == "hostile@example.com"


@parametrize
def test_the_unmatched_results_page_shows_the_comment_literally(world):
    page = soup(world["client"].get("/admin/integrations/thermostat/unmatched"))
    assert_inert(page, "the unmatched results page")
    cell = page.select_one("tr[data-result-id] .feedback-cell")
    assert cell.get_text() == world["text"]


@pytest.mark.parametrize("name,text", HOSTILE, ids=IDS)
def test_the_corpus_is_what_it_says(name, text):
    assert text and "\x00" not in text
    if name == "long":
        assert len(text) >= 10_000

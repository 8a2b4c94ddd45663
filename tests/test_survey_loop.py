"""The survey loop in one process: real Redis, real RQ worker (burst), real emulator."""

from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import Dispatch, Status, SurveyResult, Ticket
from helpdesk.thermostat.jobs import poll_results

from tests.helpers import make_ticket, run_worker, soup, text_of


def close_as(client, ticket, status_name="Problem Solved"):
    status = db.session.scalar(select(Status).where(Status.name == status_name))
    return client.post(f"/requests/{ticket.id}/update", data={
        "status_id": status.id, "category_id": 0, "assignee_id": 0, "close": "Save and close"})


def test_close_with_problem_solved_sends_survey_and_result_comes_back(admin_client, connected, app):
    ticket = make_ticket(email="pat@example.com")
    response = close_as(admin_client, ticket)
    assert response.status_code == 302
    dispatch = db.session.scalar(select(Dispatch).where(Dispatch.ticket_id == ticket.id))
    assert dispatch.state == "pending" and dispatch.survey_id == 1

    run_worker(app)
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == "sent"
    sends = connected.state()["sends"]
    assert len(sends) == 1
    assert sends[0]["email"] == "pat@example.com"
    assert f"xrequest={ticket.id}" in sends[0]["link"]

    page = admin_client.get(f"/requests/{ticket.id}")
    assert "Survey 'Support NPS' sent to pat@example.com" in text_of(page)

    answered = connected.answer(sends[0]["link"], 3, "Took three days to hear back")
    assert answered.status_code == 200
    totals = poll_results()
    assert totals["created"] == 1

    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.survey_type, ticket.survey_score, ticket.survey_rating) == ("nps", 3, "detractor")
    page = soup(admin_client.get(f"/requests/{ticket.id}"))
    result = page.select_one(".result")
    assert result.select_one(".badge").get_text(strip=True) == "Detractor 3"
    assert result.select_one(".feedback").get_text(strip=True) == "Took three days to hear back"
    assert "Support NPS" in result.get_text()

    listing = soup(admin_client.get("/?rating=detractor"))
    rows = listing.select("#requests tbody tr[data-request-id]")
    assert [r["data-request-id"] for r in rows] == [str(ticket.id)]
    assert rows[0].select_one(".thermostat").get_text(strip=True) == "Detractor 3"
    promoters = soup(admin_client.get("/?rating=promoter"))
    assert promoters.select("#requests tbody tr[data-request-id]") == []


def test_comment_added_later_updates_the_same_result(admin_client, connected, app):
    ticket = make_ticket()
    close_as(admin_client, ticket)
    run_worker(app)
    link = connected.state()["sends"][0]["link"]
    thanks = connected.answer(link, 9)
    poll_results()
    # the customer adds a comment on the thank-you page: same response id, newer updated_at
    page = soup_from_text(thanks.text)
    form = page.find("form")
    import requests

    data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    data["feedback"] = "Actually, it was great"
    requests.post(requests.compat.urljoin(thanks.url, form["action"]), data=data, timeout=5)
    import time

    time.sleep(1.1)  # the feed has one-second resolution
    poll_results()
    results = list(db.session.scalars(select(SurveyResult)))
    assert len(results) == 1
    assert results[0].feedback == "Actually, it was great"
    assert results[0].score == 9


def soup_from_text(html):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def test_closing_with_active_is_refused_and_nothing_is_sent(admin_client, connected, app):
    ticket = make_ticket()
    response = close_as(admin_client, ticket, "Active")
    assert response.status_code == 400
    assert "Choose a closing status" in text_of(response)
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).is_open is True
    assert db.session.scalars(select(Dispatch)).all() == []


def test_customer_without_email_gets_a_clear_history_line(admin_client, connected, app):
    ticket = make_ticket(email=None)
    close_as(admin_client, ticket)
    assert db.session.scalars(select(Dispatch)).all() == []
    page = text_of(admin_client.get(f"/requests/{ticket.id}"))
    assert "not sent: the customer has no email address" in page


def test_second_close_after_reopen_does_not_send_twice(admin_client, connected, app):
    ticket = make_ticket()
    close_as(admin_client, ticket)
    admin_client.post(f"/requests/{ticket.id}/update", data={
        "status_id": ticket.status_id, "category_id": 0, "assignee_id": 0, "reopen": "Reopen"})
    close_as(admin_client, ticket)
    run_worker(app)
    assert len(db.session.scalars(select(Dispatch)).all()) == 1
    assert len(connected.state()["sends"]) == 1

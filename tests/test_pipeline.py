"""Outbox administration, lockout, unmatched results and the shared rate limiter."""

from __future__ import annotations

import time

from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.models import Dispatch, Status, SurveyResult, Ticket
from helpdesk.thermostat.jobs import poll_results
from tests.helpers import make_ticket, run_worker, soup, text_of


def _close(client, ticket):
    solved = db.session.scalar(select(Status).where(Status.name == "Problem Solved"))
    return client.post(f"/requests/{ticket.id}/update", data={
        "status_id": solved.id, "category_id": 0, "assignee_id": 0, "close": "Save and close"})


def _use_survey(rule_survey_id: int):
    from helpdesk.models import Rule

    rule = db.session.scalar(select(Rule))
    rule.actions = [{"type": "thermostat_send", "survey_id": rule_survey_id}]
    db.session.commit()


def test_lockout_skips_a_second_survey_within_the_period_and_says_why(admin_client, connected,
                                                                      app):
    _use_survey(3)  # Onboarding NPS: lockout 30 days
    first, second = make_ticket(email="lee@example.com"), make_ticket(email="LEE@example.com")
    _close(admin_client, first)
    run_worker(app)
    _close(admin_client, second)
    run_worker(app)
    states = [d.state for d in db.session.scalars(select(Dispatch).order_by(Dispatch.id))]
    assert states == ["sent", "skipped"]
    assert len(connected.state()["sends"]) == 1
    page = text_of(admin_client.get(f"/requests/{second.id}"))
    assert "skipped for LEE@example.com: customer surveyed today (lockout period 30 days)" in page


def test_activity_page_lists_sends_and_retries_a_failed_one(admin_client, connected, app):
    ticket = make_ticket()
    connected.faults(error_status=422, error_count=1)
    _close(admin_client, ticket)
    run_worker(app)
    dispatch = db.session.scalar(select(Dispatch))
    db.session.refresh(dispatch)
    assert dispatch.state == "failed" and "422" in dispatch.last_error

    page = soup(admin_client.get("/admin/integrations/thermostat/activity?state=failed"))
    row = page.select_one(f"tr[data-dispatch-id='{dispatch.id}']")
    assert row.select_one(".state").get_text(strip=True) == "failed"
    assert "422" in row.select_one(".reason").get_text()
    assert row.find("button", string="Retry") is not None

    admin_client.post(f"/admin/integrations/thermostat/dispatches/{dispatch.id}/retry")
    run_worker(app)
    db.session.refresh(dispatch)
    assert dispatch.state == "sent"
    assert len(connected.state()["sends"]) == 1


def test_cancelled_send_is_never_made(admin_client, connected, app):
    ticket = make_ticket()
    _close(admin_client, ticket)  # enqueued, not yet run
    dispatch = db.session.scalar(select(Dispatch))
    response = admin_client.post(f"/admin/integrations/thermostat/dispatches/{dispatch.id}/cancel")
    assert response.status_code == 302
    run_worker(app)
    db.session.refresh(dispatch)
    assert dispatch.state == "cancelled"
    assert connected.state()["sends"] == []
    # a sent survey cannot be cancelled
    other = make_ticket(email="sam@example.com")
    _close(admin_client, other)
    run_worker(app)
    sent = db.session.scalar(select(Dispatch).where(Dispatch.ticket_id == other.id))
    admin_client.post(f"/admin/integrations/thermostat/dispatches/{sent.id}/cancel")
    db.session.refresh(sent)
    assert sent.state == "sent"


def test_unmatched_result_is_kept_and_can_be_attached(admin_client, connected, app):
    ticket = make_ticket()
    survey_link = f"{connected.url}/s/5f2b1c0d9e8a7b61?xrequest=999999"
    connected.answer(survey_link, 10, "Great, but who am I?")
    poll_results()
    result = db.session.scalar(select(SurveyResult))
    assert result.ticket_id is None and result.xrequest == "999999"

    page = soup(admin_client.get("/admin/integrations/thermostat/unmatched"))
    row = page.select_one(f"tr[data-result-id='{result.id}']")
    assert row.select_one(".badge").get_text(strip=True) == "Promoter 10"
    field = row.find("input", attrs={"name": f"r{result.id}-request_id"})
    assert field is not None and page.find("label", attrs={"for": field["id"]}) is not None

    bad = admin_client.post(f"/admin/integrations/thermostat/results/{result.id}/attach",
                            data={f"r{result.id}-request_id": "424242"}, follow_redirects=True)
    assert "There is no request #424242." in text_of(bad)
    huge = admin_client.post(f"/admin/integrations/thermostat/results/{result.id}/attach",
                             data={f"r{result.id}-request_id": "9" * 20}, follow_redirects=True)
    assert huge.status_code == 200 and "No request has that number." in text_of(huge)
    admin_client.post(f"/admin/integrations/thermostat/results/{result.id}/attach",
                      data={f"r{result.id}-request_id": str(ticket.id)})
    db.session.expire_all()
    t = db.session.get(Ticket, ticket.id)
    assert (t.survey_score, t.survey_rating) == (10, "promoter")
    assert "Great, but who am I?" in text_of(admin_client.get(f"/requests/{ticket.id}"))
    # a later poll with the same response keeps the admin's attachment
    time.sleep(1.1)
    poll_results()
    db.session.expire_all()
    assert db.session.get(SurveyResult, result.id).ticket_id == ticket.id


def test_shared_limiter_makes_callers_wait_instead_of_exceeding(app, connected):
    from helpdesk.thermostat.client import Throttled
    from helpdesk.thermostat.throttle import make_gate
    from tests.helpers import EMULATOR_TOKEN

    app.config.update(THERMOSTAT_RATE_LIMIT=3, THERMOSTAT_RATE_WINDOW=2)
    gate_a, gate_b = make_gate(EMULATOR_TOKEN, 5), make_gate(EMULATOR_TOKEN, 0.1)
    started = time.monotonic()
    for _ in range(3):
        gate_a()
    try:
        gate_b()  # another worker with a short budget is told to come back later
    except Throttled as exc:
        assert exc.retryable and 0 < exc.retry_after <= 2
    else:
        raise AssertionError("a fourth call inside the window was allowed")
    gate_a()  # waits for the window to move instead
    assert time.monotonic() - started >= 1.5


def test_unauthorized_banner_for_admins_only(admin_client, connected, app, client):
    from helpdesk.thermostat.services import get_integration, mark_unauthorized

    mark_unauthorized(get_integration(), "refused")
    db.session.commit()
    page = soup(admin_client.get("/"))
    assert "survey sends are paused" in page.select_one(".banner").get_text()

"""Thermostat jobs: sending outbox rows (retries, pauses, lockout), the sweep, and polling."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import (
    Dispatch,
    Integration,
    Status,
    SurveyResult,
    ThermostatSurvey,
    Ticket,
    TicketEvent,
    utcnow,
)
from helpdesk.queue import redis_connection
from helpdesk.thermostat.jobs import (
    POLL_LOCK,
    poll_results,
    send_dispatch,
    sweep_outbox,
)
from helpdesk.thermostat.services import get_integration, save_token
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import EMULATOR_TOKEN, make_ticket, run_worker, soup, text_of

_seq = iter(range(1, 10_000))


def make_dispatch(ticket, survey_id=1, survey_name="Support NPS", kind="sendnow", email=None):
    """An outbox row as a trigger writes it, committed (its job is enqueued on commit)."""
    dispatch = Dispatch(ticket=ticket, kind=kind, survey_id=survey_id, survey_name=survey_name,
                        email=email or ticket.customer.email,
                        dedupe_key=f"{kind}:{ticket.id}:{survey_id}:{next(_seq)}", fields={})
    db.session.add(dispatch)
    db.session.commit()
    return dispatch.id


def dispatch(dispatch_id) -> Dispatch:
    db.session.expire_all()
    return db.session.get(Dispatch, dispatch_id)


def survey_events(ticket_id):
    db.session.expire_all()
    return [(e.body, e.outcome) for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "survey")
        .order_by(TicketEvent.id))]


def make_due(dispatch_id):
    d = dispatch(dispatch_id)
    d.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_send_success_records_sent_and_history(admin_client, connected, app):
    ticket = make_ticket(email="pat@example.com")
    did = make_dispatch(ticket)
    assert send_dispatch(did) == "sent"
    d = dispatch(did)
    assert (d.state, d.attempts, d.last_error) == ("sent", 1, None)
    sends = connected.state()["sends"]
    assert len(sends) == 1 and d.remote_id == str(sends[0]["id"])
    assert survey_events(ticket.id) == [("Survey 'Support NPS' sent to pat@example.com", "ok")]
    page = soup(admin_client.get(f"/requests/{ticket.id}"))
    timeline = page.select_one(".timeline li.state-sent")
    assert "pat@example.com" in timeline.get_text() and "sent" in timeline.strong.get_text()


def test_campaign_dispatch_adds_then_reports_already_added(connected, app):
    ticket = make_ticket(email="kim@example.com")
    other = make_ticket(email="kim@example.com")
    first = make_dispatch(ticket, 3, "Onboarding NPS", kind="campaign")
    second = make_dispatch(other, 3, "Onboarding NPS", kind="campaign")
    assert send_dispatch(first) == "sent" and send_dispatch(second) == "sent"
    assert survey_events(ticket.id) == [
        ("kim@example.com added to the campaign of survey 'Onboarding NPS'", "ok")]
    assert survey_events(other.id) == [
        ("kim@example.com was already in the campaign of survey 'Onboarding NPS'", "ok")]
    assert connected.state()["sends"] == []


def test_server_error_once_retries_then_sends_exactly_once(connected, app):
    ticket = make_ticket()
    did = make_dispatch(ticket)
    connected.faults(error_status=500, error_count=1)
    before = utcnow()
    assert send_dispatch(did) == "retrying"
    d = dispatch(did)
    assert d.state == "retrying" and d.attempts == 1
    assert d.last_error == "Thermostat failed (500): Server Error."
    # backoff: half to all of THERMOSTAT_RETRY_BASE (0.2 s) for the first retry
    assert before < d.next_attempt_at <= utcnow() + timedelta(seconds=0.25)
    assert connected.state()["sends"] == []
    make_due(did)
    assert send_dispatch(did) == "sent"
    d = dispatch(did)
    assert (d.state, d.attempts, d.last_error) == ("sent", 2, None)
    assert len(connected.state()["sends"]) == 1
    # running the queue now (the job enqueued at commit) changes nothing
    run_worker(app)
    assert len(connected.state()["sends"]) == 1
    assert dispatch(did).state == "sent"


def test_throttle_retry_waits_at_least_retry_after(connected, app):
    ticket = make_ticket()
    did = make_dispatch(ticket)
    connected.faults(throttle_count=1, retry_after=30)
    before = utcnow()
    assert send_dispatch(did) == "retrying"
    d = dispatch(did)
    assert d.next_attempt_at >= before + timedelta(seconds=30)
    assert "429" in d.last_error


def test_server_error_on_every_attempt_fails_with_the_reason(connected, app):
    max_attempts = app.config["THERMOSTAT_MAX_ATTEMPTS"]
    ticket = make_ticket()
    did = make_dispatch(ticket)
    connected.faults(error_status=500)  # until cleared
    outcomes = []
    for _ in range(max_attempts + 2):
        outcomes.append(send_dispatch(did))
        if outcomes[-1] != "retrying":
            break
        make_due(did)
    assert outcomes == ["retrying"] * (max_attempts - 1) + ["failed"]
    d = dispatch(did)
    assert d.state == "failed" and d.attempts == max_attempts and d.done_at is not None
    assert f"gave up after {max_attempts} attempts" in d.last_error
    events = survey_events(ticket.id)
    assert len(events) == 1
    body, outcome = events[0]
    assert outcome == "failed"
    assert body.startswith("Survey 'Support NPS' to pat@example.com failed: Thermostat failed (500)")
    assert f"gave up after {max_attempts} attempts" in body
    # a failed row is final: neither the job nor the sweep sends it
    connected.faults(error_status=None)
    assert send_dispatch(did) == "not claimable"
    assert sweep_outbox(stale_seconds=0) == 0
    assert connected.state()["sends"] == []


def test_wrong_token_pauses_then_a_good_token_on_the_page_resumes_once(admin_client, connected,
                                                                        app):
    save_token(get_integration(), "not-the-right-token", {})
    db.session.commit()
    ticket = make_ticket()
    did = make_dispatch(ticket)
    assert send_dispatch(did) == "paused"
    d = dispatch(did)
    assert d.state == "paused" and "401" in d.last_error
    assert get_integration().state == "unauthorized"
    assert survey_events(ticket.id)[-1][1] == "failed"
    assert "refused the API token" in survey_events(ticket.id)[-1][0]
    # while unauthorized nothing is sent, even when the queued job runs
    run_worker(app)
    assert dispatch(did).state == "paused"
    assert connected.state()["sends"] == []
    page = text_of(admin_client.get("/admin/integrations/"))
    assert "Thermostat refused the saved token" in page

    response = admin_client.post("/admin/integrations/thermostat/token",
                                 data={"token": EMULATOR_TOKEN}, follow_redirects=True)
    assert response.status_code == 200
    assert "1 waiting survey send(s) resumed." in text_of(response)
    assert get_integration().state == "connected"
    assert dispatch(did).state == "pending"
    run_worker(app)
    assert dispatch(did).state == "sent"
    sends = connected.state()["sends"]
    assert len(sends) == 1 and sends[0]["email"] == "pat@example.com"
    run_worker(app)
    assert len(connected.state()["sends"]) == 1


def test_unknown_survey_fails_at_once_with_a_clear_reason(connected, app):
    ticket = make_ticket()
    did = make_dispatch(ticket, survey_id=999, survey_name="Deleted survey")
    assert send_dispatch(did) == "failed"
    d = dispatch(did)
    assert d.state == "failed" and d.attempts == 1
    assert d.last_error.startswith("the survey no longer exists in Thermostat")
    [(body, outcome)] = survey_events(ticket.id)
    assert outcome == "failed"
    assert body.startswith("Survey 'Deleted survey' to pat@example.com failed: the survey no "
                           "longer exists in Thermostat")


def test_lockout_skips_the_second_send_to_the_same_customer(admin_client, connected, app):
    assert db.session.get(ThermostatSurvey, 3).lockout_period == 30
    first = make_ticket(subject="First", email="lee@example.com")
    second = make_ticket(subject="Second", email="LEE@example.com")
    d1 = make_dispatch(first, 3, "Onboarding NPS")
    d2 = make_dispatch(second, 3, "Onboarding NPS")
    assert send_dispatch(d1) == "sent"
    assert send_dispatch(d2) == "skipped"
    assert dispatch(d2).last_error.startswith("Thermostat's lockout period")
    expected = ("Survey 'Onboarding NPS' not sent to LEE@example.com: the customer was "
                "surveyed recently (the survey's lockout period)")
    assert survey_events(second.id) == [(expected, "skipped")]
    statuses = [s["status"] for s in connected.state()["sends"]]
    assert statuses == ["sent", "locked_out"]
    page = soup(admin_client.get(f"/requests/{second.id}"))
    assert page.select_one(".timeline li.state-skipped") is not None
    assert "lockout period" in page.select_one("#history").get_text()


def test_redis_down_at_commit_leaves_pending_then_sweep_sends_once(admin_client, connected, app,
                                                                  monkeypatch):
    good_url = app.config["REDIS_URL"]
    ticket = make_ticket()
    solved = db.session.scalar(select(Status).where(Status.name == "Problem Solved"))
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:9/0")
    app.extensions.pop("helpdesk_redis", None)
    response = admin_client.post(f"/requests/{ticket.id}/update", data={
        "status_id": solved.id, "category_id": 0, "assignee_id": 0, "close": "Save and close"})
    assert response.status_code == 302
    db.session.expire_all()
    closed = db.session.get(Ticket, ticket.id)
    assert closed.is_open is False and closed.status.name == "Problem Solved"
    [d] = db.session.scalars(select(Dispatch)).all()
    assert d.state == "pending" and d.attempts == 0
    did = d.id

    app.config["REDIS_URL"] = good_url
    app.extensions.pop("helpdesk_redis", None)
    assert redis_connection().ping()
    run_worker(app)  # the queue is empty: nothing was enqueued while Redis was down
    assert dispatch(did).state == "pending"
    assert connected.state()["sends"] == []
    assert sweep_outbox(stale_seconds=0) == 1
    run_worker(app)
    assert dispatch(did).state == "sent"
    assert len(connected.state()["sends"]) == 1
    # a later sweep finds nothing to do
    assert sweep_outbox(stale_seconds=0) == 0


def test_sweep_picks_up_retrying_rows_that_are_due(connected, app):
    ticket = make_ticket()
    did = make_dispatch(ticket)
    connected.faults(error_status=503, error_count=1)
    assert send_dispatch(did) == "retrying"
    make_due(did)
    assert sweep_outbox(stale_seconds=0) == 1
    run_worker(app)
    assert dispatch(did).state == "sent"
    assert len(connected.state()["sends"]) == 1


# --- polling ---------------------------------------------------------------------------------


def survey_link(emulator, survey_id=1, xrequest=None):
    key = db.session.get(ThermostatSurvey, survey_id).public_key
    link = f"{emulator.url}/s/{key}"
    return f"{link}?xrequest={xrequest}" if xrequest is not None else link


def test_poll_stores_matched_and_unmatched_results_and_advances_the_cursor(admin_client,
                                                                          connected, app):
    ticket = make_ticket()
    assert get_integration().poll_cursor is None
    assert connected.answer(survey_link(connected, 1, ticket.id), 2, "Slow").status_code == 200
    assert connected.answer(survey_link(connected, 1, 99999), 10, "Great").status_code == 200
    assert connected.answer(survey_link(connected, 2), 4).status_code == 200

    totals = poll_results()
    assert totals["created"] == 3 and totals["updated"] == 0 and totals["errors"] == 0
    db.session.expire_all()
    rows = {r.score: r for r in db.session.scalars(select(SurveyResult))}
    assert set(rows) == {2, 10, 4}
    assert rows[2].ticket_id == ticket.id and rows[2].feedback == "Slow"
    assert rows[10].ticket_id is None and rows[10].xrequest == "99999"
    assert rows[4].ticket_id is None and rows[4].xrequest is None
    assert (rows[4].survey_type, rows[4].rating) == ("csat", "satisfied")
    feed = connected.state()["responses"]
    integ = get_integration()
    assert integ.poll_cursor is not None and integ.poll_cursor > 0
    assert integ.last_poll_error is None and integ.last_poll_at is not None
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.survey_score, ticket.survey_rating) == (2, "detractor")
    assert len(feed) == 3
    page = soup(admin_client.get("/admin/integrations/"))
    facts = {dt.get_text(strip=True): dd.get_text(strip=True)
             for dt, dd in zip(page.select("dl.facts dt"), page.select("dl.facts dd"))}
    assert re.match(r"2\b", facts["Unmatched results"])

    # a second poll with nothing new changes nothing
    cursor = integ.poll_cursor
    events_before = db.session.scalar(select(func.count()).select_from(TicketEvent))
    before = [(r.id, r.score, r.feedback, r.ticket_id, r.updated_at)
              for r in db.session.scalars(select(SurveyResult).order_by(SurveyResult.id))]
    again = poll_results()
    assert again["created"] == 0 and again["updated"] == 0
    db.session.expire_all()
    after = [(r.id, r.score, r.feedback, r.ticket_id, r.updated_at)
             for r in db.session.scalars(select(SurveyResult).order_by(SurveyResult.id))]
    assert after == before
    assert get_integration().poll_cursor == cursor
    assert db.session.scalar(select(func.count()).select_from(TicketEvent)) == events_before


def test_poll_cursor_moves_forward_with_later_responses(connected, app):
    import time

    ticket = make_ticket()
    connected.answer(survey_link(connected, 1, ticket.id), 7)
    poll_results()
    first = get_integration().poll_cursor
    time.sleep(1.1)  # the feed has one-second resolution
    connected.answer(survey_link(connected, 1, ticket.id), 9)
    totals = poll_results()
    assert totals["created"] == 1
    db.session.expire_all()
    assert get_integration().poll_cursor > first
    ticket = db.session.get(Ticket, ticket.id)
    assert (ticket.survey_score, ticket.survey_rating) == (9, "promoter")


def test_poll_is_skipped_while_another_poll_holds_the_lock(connected, app):
    ticket = make_ticket()
    connected.answer(survey_link(connected, 1, ticket.id), 9)
    lock = redis_connection().lock(POLL_LOCK, timeout=30, blocking=False)
    assert lock.acquire()
    try:
        result = poll_results()
        assert set(result) == {"skipped"}
        assert db.session.scalars(select(SurveyResult)).all() == []
        assert get_integration().poll_cursor is None
    finally:
        lock.release()
    assert poll_results()["created"] == 1
    # the poll released its own lock
    assert redis_connection().get(POLL_LOCK) is None


def test_poll_with_a_revoked_token_marks_the_integration_unauthorized(connected, app):
    save_token(get_integration(), "revoked-token", {})
    db.session.commit()
    totals = poll_results()
    assert "401" in totals["error"]
    db.session.expire_all()
    integ = db.session.scalar(select(Integration))
    assert integ.state == "unauthorized" and "401" in integ.last_poll_error
    assert poll_results() == {"skipped": "not connected"}


@pytest.mark.parametrize("state", ["disconnected", "unauthorized"])
def test_send_while_not_connected_pauses(connected, app, state):
    integ = get_integration()
    integ.state = state
    db.session.commit()
    ticket = make_ticket()
    did = make_dispatch(ticket)
    assert send_dispatch(did) == "paused"
    assert dispatch(did).state == "paused" and dispatch(did).attempts == 0
    assert connected.state()["sends"] == []

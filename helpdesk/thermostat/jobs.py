"""RQ jobs for Thermostat: send one dispatch, poll the result feed, sweep the outbox.

Jobs take ids, load their own rows, record the outcome and commit. No transaction is held
open across an HTTP call, so a slow Thermostat never blocks the web app's writes.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from flask import current_app

from ..extensions import db
from ..history import add_event
from ..outbox import claim
from ..models import Dispatch, ThermostatSurvey, utcnow
from ..queue import get_queue, redis_connection
from ..tasks import job
from . import client as tc
from .ingest import ingest_batch
from .services import (client_for, current_token, get_integration, make_client,
                       mark_unauthorized, plan_usage)
from .state import refresh_survey_state
from .throttle import make_gate

log = logging.getLogger(__name__)

POLL_LOCK = "helpdesk:thermostat:poll-lock"
FEED_PAGE_FULL = 100


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than Retry-After."""
    base = current_app.config["THERMOSTAT_RETRY_BASE"]
    delay = min(base * (2 ** (attempt - 1)), 3600.0)
    delay = delay / 2 + random.uniform(0, delay / 2)
    return max(delay, retry_after or 0.0)


def _what(d: Dispatch) -> str:
    return f"Survey '{d.survey_name}'" if d.kind == "sendnow" else (
        f"Campaign enrolment for survey '{d.survey_name}'")


@job
def send_dispatch(dispatch_id: int) -> str:
    """Make the Thermostat call of one outbox row and record the outcome on the request."""
    integ = get_integration()
    token = current_token(integ) if integ.state == "connected" else None
    if token is None:
        d = db.session.get(Dispatch, dispatch_id)
        if d is not None and d.state in ("pending", "retrying"):
            d.state = "paused"
            d.last_error = "Thermostat is not connected; the send resumes once a token is saved"
            db.session.commit()
        return "paused"
    db.session.commit()
    d = db.session.get(Dispatch, dispatch_id)
    if d is None or d.state not in ("pending", "retrying"):
        db.session.commit()
        return "not claimable"
    db.session.commit()
    # Take a slot of the shared rate limit before claiming: waiting for our own limiter is
    # not a failed attempt, so it neither counts towards the give-up limit nor backs off.
    try:
        make_gate(token)()
    except tc.Throttled as exc:
        get_queue().enqueue_in(timedelta(seconds=exc.retry_after or 1), send_dispatch,
                               dispatch_id, job_timeout=120)
        return "waiting for the rate limit"
    client = make_client(token, gated=False)
    if not claim(Dispatch, dispatch_id):
        return "not claimable"
    d = db.session.get(Dispatch, dispatch_id)
    ticket_id, survey_id, email = d.ticket_id, d.survey_id, d.email
    fields = dict(d.fields or {})
    kind = d.kind
    db.session.commit()  # nothing held open during the call
    try:
        if kind == "sendnow":
            answer = client.send_now(survey_id, email, ticket_id, fields)
        else:
            answer = client.add_to_campaign(survey_id, email, ticket_id, fields)
    except tc.ThermostatError as exc:
        return _record_failure(dispatch_id, exc)
    return _record_success(dispatch_id, answer)


def _record_success(dispatch_id: int, answer: dict) -> str:
    d = db.session.get(Dispatch, dispatch_id)
    status = str(answer.get("status") or "")
    d.remote_id = str(answer.get("id"))[:64] if answer.get("id") is not None else None
    d.done_at = utcnow()
    d.last_error = None
    if status == "locked_out" and d.uncertain:
        # An earlier attempt timed out but did reach Thermostat: its lockout proves the
        # survey went out, so this is the same send, not a second one.
        d.state = "sent"
        add_event(d.ticket, "survey", f"Survey '{d.survey_name}' sent to {d.email} (an earlier "
                  "attempt that timed out had gone through)", outcome="ok")
    elif status == "locked_out":
        d.state = "skipped"
        d.last_error = "Thermostat's lockout period: the customer was surveyed recently"
        add_event(d.ticket, "survey", f"{_what(d)} not sent to {d.email}: the customer was "
                  "surveyed recently (the survey's lockout period)", outcome="skipped")
    else:
        d.state = "sent"
        if d.kind == "sendnow":
            body = f"Survey '{d.survey_name}' sent to {d.email}"
            if d.uncertain:
                body += (" (an earlier attempt timed out and may also have reached the "
                         "customer)")
        elif status == "already_added":
            body = f"{d.email} was already in the campaign of survey '{d.survey_name}'"
        else:
            body = f"{d.email} added to the campaign of survey '{d.survey_name}'"
        add_event(d.ticket, "survey", body, outcome="ok")
    refresh_survey_state(d.ticket)
    db.session.commit()
    return d.state


def _record_failure(dispatch_id: int, exc: tc.ThermostatError) -> str:
    d = db.session.get(Dispatch, dispatch_id)
    d.last_error = exc.message
    max_attempts = current_app.config["THERMOSTAT_MAX_ATTEMPTS"]
    if isinstance(exc, tc.Unauthorized):
        d.state = "paused"
        mark_unauthorized(get_integration(), exc.message)
        add_event(d.ticket, "survey", f"{_what(d)} waiting: Thermostat refused the API token. "
                  "It will be sent once an admin saves a valid token.", outcome="failed")
        refresh_survey_state(d.ticket)
        db.session.commit()
        return "paused"
    if isinstance(exc, tc.Timeout):
        d.uncertain = True  # the call may have reached Thermostat
        add_event(d.ticket, "survey", f"{_what(d)} to {d.email}: Thermostat did not answer in "
                  "time. It may have sent it anyway; trying again (a survey with a lockout "
                  "period cannot be sent twice, one without may be).", outcome="failed")
    if exc.retryable and d.attempts < max_attempts:
        delay = backoff_seconds(d.attempts, getattr(exc, "retry_after", None))
        d.state = "retrying"
        d.next_attempt_at = utcnow() + timedelta(seconds=delay)
        db.session.commit()
        try:
            get_queue().enqueue_in(timedelta(seconds=delay), send_dispatch, dispatch_id,
                                   job_timeout=120)
        except Exception as err:  # the sweep re-enqueues retrying rows that are due
            log.warning("could not schedule retry of dispatch %s: %s", dispatch_id, err)
        return "retrying"
    d.state = "failed"
    d.done_at = utcnow()
    reason = exc.message
    if exc.retryable:
        reason = f"{exc.message} (gave up after {d.attempts} attempts)"
        d.last_error = reason
    if isinstance(exc, tc.SurveyNotFound):
        reason = f"the survey no longer exists in Thermostat ({exc.message})"
        d.last_error = reason
        survey = db.session.get(ThermostatSurvey, d.survey_id)
        if survey is not None:
            survey.gone = True  # flags every rule that still names it
    add_event(d.ticket, "survey", f"{_what(d)} to {d.email} failed: {reason}", outcome="failed")
    if isinstance(exc, tc.PlanLimitReached):
        integ = get_integration()
        integ.account = {**(integ.account or {}), "limit_reached": True}
    refresh_survey_state(d.ticket)
    db.session.commit()
    return "failed"


@job
def poll_results(max_pages: int = 50) -> dict:
    """Fetch new and changed responses from Thermostat's feed and store them.

    Holds a Redis lock so runs never overlap, and advances the cursor only after the batch
    is stored.
    """
    lock = redis_connection().lock(POLL_LOCK, timeout=600, blocking=False)
    if not lock.acquire():
        return {"skipped": "another poll is running"}
    try:
        return _poll(max_pages)
    finally:
        try:
            lock.release()
        except Exception:  # expired: nothing to release
            pass


def _poll(max_pages: int) -> dict:
    integ = get_integration()
    client = client_for(integ) if integ.state in ("connected",) else None
    if client is None:
        return {"skipped": "not connected"}
    cursor = integ.poll_cursor
    db.session.commit()
    _refresh_plan(client)
    totals = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0, "pages": 0}
    for _ in range(max_pages):
        try:
            page = client.responses(since=cursor)
        except tc.ThermostatError as exc:
            integ = get_integration()
            if isinstance(exc, tc.Unauthorized):
                mark_unauthorized(integ, exc.message)
            integ.last_poll_error = exc.message
            integ.last_poll_at = utcnow()
            db.session.commit()
            totals["error"] = exc.message
            return totals
        responses = page["responses"]
        stats = ingest_batch(responses)
        integ = get_integration()
        new_cursor = page.get("since")
        if isinstance(new_cursor, int) and not isinstance(new_cursor, bool):
            integ.poll_cursor = new_cursor
        integ.last_poll_at = utcnow()
        integ.last_poll_error = "; ".join(stats.errors)[:2000] or None
        db.session.commit()
        totals["pages"] += 1
        for key in ("created", "updated", "unchanged"):
            totals[key] += getattr(stats, key)
        totals["errors"] += len(stats.errors)
        if stats.changed == 0 or len(responses) < FEED_PAGE_FULL or new_cursor == cursor:
            break
        cursor = integ.poll_cursor
    return totals


STUCK_SENDING_SECONDS = 600  # well past the send job's 120 s timeout


def _refresh_plan(client) -> None:
    """Keep the plan usage on the integration box current (one cheap call a poll)."""
    try:
        account = client.account()
    except tc.ThermostatError as exc:
        log.info("plan usage not refreshed: %s", exc.message)
        return
    integ = get_integration()
    integ.account = plan_usage(account)
    integ.checked_at = utcnow()
    db.session.commit()


@job
def sweep_outbox(stale_seconds: int = 60, stuck_seconds: int = STUCK_SENDING_SECONDS) -> int:
    """Re-enqueue rows never enqueued or due for retry; fail rows whose worker died mid-call."""
    from ..outbox import due_ids, enqueue_dispatches, stuck_rows

    now = utcnow()
    for d in stuck_rows(Dispatch, now, stuck_seconds):
        # We cannot know whether the call reached Thermostat: say so rather than risk a
        # second survey. An admin can retry it from the activity page.
        d.state = "failed"
        d.done_at = now
        d.last_error = ("the worker stopped during the call; Thermostat may or may not have "
                        "sent it. Retry from Thermostat activity if the customer did not get it")
        add_event(d.ticket, "survey", f"{_what(d)} to {d.email}: outcome unknown, "
                  f"{d.last_error}", outcome="failed")
        refresh_survey_state(d.ticket)
    db.session.commit()
    ids = due_ids(Dispatch, now, stale_seconds)
    return enqueue_dispatches(ids) if ids else 0

"""Admin actions on the outbox and on results: retry, cancel, attach an unmatched result."""

from __future__ import annotations

from ..extensions import db
from ..history import add_event
from ..models import Dispatch, SurveyResult, Ticket, User, utcnow
from .ingest import label_of, refresh_ticket_score
from .state import refresh_survey_state

RETRYABLE_STATES = {"failed", "paused", "cancelled"}
CANCELLABLE_STATES = {"pending", "retrying", "paused", "failed"}


class ActivityError(ValueError):
    """An action that does not apply to the row's current state."""


def retry_dispatch(dispatch: Dispatch, actor: User) -> None:
    """Put a failed, paused or cancelled send back in the queue (after commit)."""
    if dispatch.state not in RETRYABLE_STATES:
        raise ActivityError(f"A {dispatch.state} send cannot be retried")
    dispatch.state = "pending"
    dispatch.attempts = 0
    dispatch.last_error = None
    dispatch.next_attempt_at = None
    dispatch.done_at = None
    add_event(dispatch.ticket, "survey", f"Survey '{dispatch.survey_name}' to {dispatch.email} "
              f"queued again by {actor.name}", outcome="queued")
    refresh_survey_state(dispatch.ticket)


def cancel_dispatch(dispatch: Dispatch, actor: User) -> None:
    """Stop a send that has not happened; a worker that picks it up leaves it alone."""
    if dispatch.state not in CANCELLABLE_STATES:
        raise ActivityError(f"A {dispatch.state} send cannot be cancelled")
    dispatch.state = "cancelled"
    dispatch.done_at = utcnow()
    dispatch.last_error = f"cancelled by {actor.name}"
    add_event(dispatch.ticket, "survey", f"Survey '{dispatch.survey_name}' to {dispatch.email} "
              f"cancelled by {actor.name}", outcome="skipped")
    refresh_survey_state(dispatch.ticket)


def attach_result(result: SurveyResult, ticket: Ticket, actor: User) -> None:
    """Attach an unmatched result to a request; the request shows it as its score."""
    result.ticket = ticket
    db.session.flush()
    refresh_ticket_score(ticket)
    add_event(ticket, "survey", f"Survey '{result.survey_name}' result {label_of(result)} "
              f"attached by {actor.name}"
              + (f"\nComment: {result.feedback}" if result.feedback else ""), outcome="answered")

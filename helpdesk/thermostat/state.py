"""The survey state copied onto each request, so lists filter and sort on it without joins."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Dispatch, Ticket

SURVEY_STATES = {"none": "Not surveyed", "queued": "Survey queued", "sent": "Survey sent",
                 "answered": "Answered", "failed": "Survey failed", "skipped": "Survey skipped"}
# "Never surveyed": every state but sent and answered, spelled out for the index
NEVER_SURVEYED = tuple(s for s in SURVEY_STATES if s not in ("sent", "answered"))
_WAITING = {"pending", "sending", "retrying", "paused"}


def refresh_survey_state(ticket: Ticket) -> str:
    """Recompute the request's survey state from its result and its sends."""
    if ticket.survey_result_id is not None:
        state = "answered"
    else:
        states = set(db.session.scalars(
            select(Dispatch.state).where(Dispatch.ticket_id == ticket.id).distinct()))
        state = ("sent" if "sent" in states else "queued" if states & _WAITING
                 else "failed" if "failed" in states else "skipped" if "skipped" in states
                 else "none")
    ticket.survey_state = state
    return state

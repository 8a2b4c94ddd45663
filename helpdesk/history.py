"""Writing lines of a request's history."""

from __future__ import annotations

from .extensions import db
from .models import Ticket, TicketEvent, User


def add_event(ticket: Ticket, kind: str, body: str, author: User | None = None,
              outcome: str | None = None) -> TicketEvent:
    """Append one history line to a request (flushed with the caller's transaction)."""
    event = TicketEvent(ticket=ticket, kind=kind, body=body, author=author, outcome=outcome)
    db.session.add(event)
    return event

"""Services for requests: create, note, update, close, reopen. They flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..history import add_event
from ..models import Category, Customer, Status, Ticket, User, utcnow
from ..conditions import snapshot
from ..rules.engine import run_triggers


class TicketError(ValueError):
    """A change that is not allowed, with a message for the agent."""


def find_or_create_customer(first_name: str, last_name: str, email: str | None,
                            phone: str | None) -> Customer:
    """The customer with this email, or a new one."""
    email = (email or "").strip() or None
    if email:
        customer = db.session.scalar(
            select(Customer).where(func.lower(Customer.email) == email.lower()).limit(1))
        if customer is not None:
            return customer
    customer = Customer(first_name=first_name.strip(), last_name=last_name.strip(),
                        email=email, phone=(phone or "").strip() or None)
    db.session.add(customer)
    return customer


def active_status() -> Status:
    """The Active status (HelpSpot's open state)."""
    status = db.session.scalar(select(Status).where(Status.name == "Active"))
    if status is None:
        raise TicketError("The Active status is missing: run the seed or create it")
    return status


def create_ticket(subject: str, customer: Customer, body: str, actor: User | None,
                  category: Category | None = None, assignee: User | None = None,
                  urgent: bool = False) -> Ticket:
    """Open a request with its first note, and run the 'created' triggers."""
    ticket = Ticket(subject=subject.strip(), customer=customer, status=active_status(),
                    category=category, assignee=assignee, urgent=urgent, is_open=True)
    db.session.add(ticket)
    db.session.flush()
    add_event(ticket, "note_public", body, author=None)
    add_event(ticket, "system", f"Request opened by {actor.name}" if actor else "Request opened")
    run_triggers("created", ticket, None, actor)
    return ticket


def add_note(ticket: Ticket, body: str, public: bool, actor: User) -> None:
    """Add a public or private note; a staff member's first public note is the first response."""
    body = body.strip()
    if not body:
        raise TicketError("A note cannot be empty")
    old = snapshot(ticket)
    add_event(ticket, "note_public" if public else "note_private", body, author=actor)
    if public and ticket.first_response_at is None:
        ticket.first_response_at = utcnow()
        ticket.first_response_seconds = int(
            (ticket.first_response_at - ticket.opened_at).total_seconds())
    ticket.updated_at = utcnow()
    db.session.flush()
    run_triggers("updated", ticket, old, actor,
                 {"note_type": "public" if public else "private", "note_body": body})


@dataclass
class TicketChange:
    """What an agent submitted on the request page."""

    status_id: int
    category_id: int | None
    assignee_id: int | None
    urgent: bool
    action: str  # save | close | reopen


def update_ticket(ticket: Ticket, change: TicketChange, actor: User) -> list[str]:
    """Apply status, category, assignee, urgency, close or reopen; run 'updated' triggers."""
    old = snapshot(ticket)
    status = db.session.get(Status, change.status_id)
    if status is None:
        raise TicketError("Choose a status")
    if change.action == "close" and not status.can_close:
        raise TicketError("Choose a closing status (anything but Active) to close the request")
    if change.action == "reopen":
        status = active_status()
    said: list[str] = []
    if status.id != ticket.status_id:
        said.append(f"Status: {ticket.status.name} → {status.name}")
        ticket.status = status
    category = db.session.get(Category, change.category_id) if change.category_id else None
    if (category.id if category else None) != ticket.category_id:
        said.append(f"Category: {ticket.category.name if ticket.category else '—'} → "
                     f"{category.name if category else '—'}")
        ticket.category = category
    assignee = db.session.get(User, change.assignee_id) if change.assignee_id else None
    if (assignee.id if assignee else None) != ticket.assignee_id:
        said.append(f"Assigned: {ticket.assignee.name if ticket.assignee else 'nobody'} → "
                     f"{assignee.name if assignee else 'nobody'}")
        ticket.assignee = assignee
    if change.urgent != ticket.urgent:
        said.append(f"Urgent: {'yes' if change.urgent else 'no'}")
        ticket.urgent = change.urgent
    if change.action == "close" and ticket.is_open:
        ticket.is_open = False
        ticket.closed_at = utcnow()
        said.append("Request closed")
    elif change.action == "reopen" and not ticket.is_open:
        ticket.is_open = True
        ticket.closed_at = None
        said.append("Request reopened")
    if not said:
        return said
    ticket.updated_at = utcnow()
    add_event(ticket, "change", "\n".join(said), author=actor)
    db.session.flush()
    run_triggers("updated", ticket, old, actor)
    return said

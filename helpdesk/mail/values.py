"""The values of the placeholders for one request (see placeholders.py for the names)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Ticket


def placeholder_values(ticket: Ticket, helpdesk_url: str) -> dict[str, str]:
    """Every placeholder's value for `ticket`, keyed by canonical name (REQUESTID, CUSTOM3...).

    Missing data (no assignee, no category, a custom field without a value) is an empty
    string or absent; :func:`helpdesk.mail.placeholders.render` renders absent names empty.
    `helpdesk_url` is usually ``current_app.config["HELPDESK_URL"]``.
    """
    customer = ticket.customer
    assignee = ticket.assignee
    values = {
        "REQUESTID": str(ticket.id) if ticket.id is not None else "",
        "FIRSTNAME": (customer.first_name or "") if customer else "",
        "LASTNAME": (customer.last_name or "") if customer else "",
        "FULLNAME": customer.full_name if customer else "",
        "EMAIL": (customer.email or "") if customer else "",
        "PHONE": (customer.phone or "") if customer else "",
        "CUSTOMERID": str(customer.id) if customer and customer.id is not None else "",
        "STATUS": ticket.status.name if ticket.status else "",
        "CATEGORY": ticket.category.name if ticket.category else "",
        "ASSIGNEDTO": assignee.name if assignee else "",
        "ASSIGNEDTOEMAIL": assignee.email if assignee else "",
        "SUBJECT": ticket.subject or "",
        "DATEOPENED": ticket.opened_at.strftime("%Y-%m-%d %H:%M UTC") if ticket.opened_at else "",
        "HELPDESKURL": (helpdesk_url or "").rstrip("/"),
    }
    for field_id, value in ticket.custom_values().items():
        values[f"CUSTOM{field_id}"] = "" if value is None else str(value)
    return values

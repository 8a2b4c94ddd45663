"""The outbound email outbox row (imported at the end of helpdesk/models.py).

Only `db` is imported at the top: helpdesk/models.py imports this module at its end, so
importing this module first must not need names from a half-loaded helpdesk.models.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

if TYPE_CHECKING:
    from ..models import Ticket


def utcnow() -> datetime:
    """helpdesk.models.utcnow, looked up when called (see the module docstring)."""
    from ..models import utcnow as now

    return now()


class OutboundEmail(db.Model):
    """One email the helpdesk sends itself, written in the transaction that caused it."""

    __tablename__ = "outbound_emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    # No FK constraint to rules on purpose: the record of a sent email outlives its rule.
    rule_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(16), default="customer")  # customer | staff
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(250))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    # pending | sending | retrying | sent | failed
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    ticket: Mapped[Ticket | None] = relationship("Ticket")

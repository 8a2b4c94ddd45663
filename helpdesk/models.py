"""Database models (SQLAlchemy 2.0 style). The user-facing "request" is `Ticket` here."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    """Naive UTC now: both SQLite and PostgreSQL columns store UTC without a zone."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


DEFAULT_STATUSES = [
    "Active",
    "Problem Solved",
    "Escalated",
    "Waiting for Reply",
    "Customer Found Solution",
    "Customer Unreachable",
    "SPAM",
]


class User(UserMixin, db.Model):
    """A staff member: an admin or an agent."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login id: bumping it (password reset, deactivation) ends every session.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session and remember cookie: id and session version."""
        return f"{self.id}:{self.session_version or 0}"

    def end_sessions(self) -> None:
        """Log this account out everywhere: sessions holding the old version stop loading."""
        self.session_version = (self.session_version or 0) + 1

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive accounts
        return self.active

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class Customer(db.Model):
    """Someone who opened requests; never logs in."""

    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or (self.email or "")


class Status(db.Model):
    """A request status (HelpSpot's set by default). Active is never a closing status."""

    __tablename__ = "statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def can_close(self) -> bool:
        return self.name != "Active"


class Category(db.Model):
    """A request category."""

    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class CustomField(db.Model):
    """A custom request field, addressed by id in placeholders (##CUSTOM3##)."""

    __tablename__ = "custom_fields"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    field_type: Mapped[str] = mapped_column(String(16), default="text")  # text | number | list
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)


class Ticket(db.Model):
    """A customer's request. The latest survey result is copied onto it for fast filters."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(250))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status_id: Mapped[int] = mapped_column(ForeignKey("statuses.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    is_open: Mapped[bool] = mapped_column(default=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    survey_type: Mapped[str | None] = mapped_column(String(8))
    survey_score: Mapped[int | None]
    survey_rating: Mapped[str | None] = mapped_column(String(16))
    survey_result_id: Mapped[int | None]  # the latest SurveyResult (a copy, not a constraint)
    survey_answered_at: Mapped[datetime | None]  # that result's responded_at (a copy)
    # none | queued | sent | answered | failed | skipped: kept by thermostat/state.py
    survey_state: Mapped[str] = mapped_column(String(12), default="none",
                                              server_default="none")
    first_response_seconds: Mapped[int | None]  # copied when the first response is set

    customer: Mapped[Customer] = relationship(lazy="joined")
    status: Mapped[Status] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")
    field_values: Mapped[list[TicketFieldValue]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan"
    )
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_tickets_open_closed_at", "is_open", "closed_at"),
        # "NPS detractors closed in the past 90 days": three equalities, then the range,
        # so SQLite picks it even before ANALYZE and counts from the index alone
        Index("ix_tickets_rating_open_closed_at", "survey_type", "survey_rating", "is_open",
              "closed_at"),
        Index("ix_tickets_category_rating", "category_id", "survey_type", "survey_rating"),
        Index("ix_tickets_open_survey_state", "is_open", "survey_state"),
        Index("ix_tickets_survey_score", "survey_type", "survey_score"),
        Index("ix_tickets_opened_at", "opened_at"),
        Index("ix_tickets_survey_state", "survey_state", "closed_at"),
        Index("ix_tickets_rating_frt", "survey_rating", "first_response_seconds"),
        # reports over every NPS result, read from the index alone: NPS over time, by agent
        Index("ix_tickets_type_answered_rating", "survey_type", "survey_answered_at",
              "survey_rating"),
        Index("ix_tickets_type_assignee_rating", "survey_type", "assignee_id", "survey_rating"),
    )

    def custom_values(self) -> dict[int, str]:
        return {fv.field_id: fv.value for fv in self.field_values}


class SavedFilter(db.Model):
    """A request-list filter saved by name: personal, or shared with every agent."""

    __tablename__ = "saved_filters"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    shared: Mapped[bool] = mapped_column(default=False)
    query: Mapped[str] = mapped_column(Text)  # the list's query string: filter, columns, sort
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    owner: Mapped[User] = relationship()


class TicketFieldValue(db.Model):
    """The value of one custom field on one request."""

    __tablename__ = "ticket_field_values"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("custom_fields.id"), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    ticket: Mapped[Ticket] = relationship(back_populates="field_values")
    field: Mapped[CustomField] = relationship()


class TicketEvent(db.Model):
    """One line of a request's history: a note, an email, a change or a system event."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # note_public | note_private | change | system | survey
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))  # ok | failed | skipped
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ticket: Mapped[Ticket] = relationship(back_populates="events")
    author: Mapped[User | None] = relationship()


class Integration(db.Model):
    """A connected outside service (Thermostat). Secrets are stored encrypted."""

    __tablename__ = "integrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    token_encrypted: Mapped[str | None] = mapped_column(Text)
    token_hint: Mapped[str | None] = mapped_column(String(8))
    push_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # connected | disconnected | unauthorized | plan_limit
    state: Mapped[str] = mapped_column(String(16), default="disconnected")
    account: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime | None]
    poll_cursor: Mapped[int | None]
    last_poll_at: Mapped[datetime | None]
    last_poll_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ThermostatSurvey(db.Model):
    """A survey as `GET /api/surveys` last described it (a cache, keyed by Thermostat's id)."""

    __tablename__ = "thermostat_surveys"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    survey_type: Mapped[str] = mapped_column(String(8), default="nps")
    archived: Mapped[bool] = mapped_column(default=False)
    public_key: Mapped[str | None] = mapped_column(String(32))
    lockout_period: Mapped[int] = mapped_column(default=0)
    campaign_enabled: Mapped[bool] = mapped_column(default=False)
    csat_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    gone: Mapped[bool] = mapped_column(default=False)  # no longer listed by Thermostat
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rule(db.Model):
    """A trigger (runs on an event) or automation rule (runs on a schedule), stored as data."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="trigger")  # trigger | automation
    name: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(16), default="updated")  # created | updated | result
    match: Mapped[str] = mapped_column(String(8), default="all")  # all | any
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    # Automation rules only: how often, once per request, and a hard cap of runs per request.
    schedule: Mapped[str | None] = mapped_column(String(8))
    run_once: Mapped[bool] = mapped_column(default=True)
    max_runs: Mapped[int] = mapped_column(default=1)
    last_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RuleTicketRun(db.Model):
    """How many times an automation rule acted on a request (run once, hard cap)."""

    __tablename__ = "rule_ticket_runs"
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"),
                                         primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleResultRun(db.Model):
    """A "survey result arrives" trigger acted on this response: it acts once per response.

    Thermostat updates a response when the customer adds a comment after the score (or
    edits it); that arrives again, and a trigger that already acted on it (an email sent, a
    note added) does not act a second time. One that did not match the first arrival (say,
    "has a comment") still can."""

    __tablename__ = "rule_result_runs"
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"),
                                         primary_key=True)
    survey_result_id: Mapped[int] = mapped_column(
        ForeignKey("survey_results.id", ondelete="CASCADE"), primary_key=True, index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleRun(db.Model):
    """The run log: which conditions held for a request and what each action did."""

    __tablename__ = "rule_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                                  index=True)
    event: Mapped[str] = mapped_column(String(16))  # created | updated | result | schedule
    fired: Mapped[bool] = mapped_column(default=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)  # skipped and why; automation summaries
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Dispatch(db.Model):
    """Outbox row for one Thermostat call, written in the transaction that caused it."""

    __tablename__ = "dispatches"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("rules.id"))
    kind: Mapped[str] = mapped_column(String(16))  # sendnow | campaign
    survey_id: Mapped[int]
    survey_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254))
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # One send per request, survey and kind: a second trigger firing is a no-op.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    # pending | sending | retrying | sent | skipped | failed | paused | cancelled
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    uncertain: Mapped[bool] = mapped_column(default=False)  # an attempt timed out
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    next_attempt_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    ticket: Mapped[Ticket] = relationship()

    __table_args__ = (Index("ix_dispatches_lockout", "survey_id", "email", "state"),)


class SurveyResult(db.Model):
    """One survey response, upserted by (source, response id)."""

    __tablename__ = "survey_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20), default="thermostat")
    response_id: Mapped[str] = mapped_column(String(64))
    survey_id: Mapped[int | None]
    survey_name: Mapped[str] = mapped_column(String(200), default="")
    survey_type: Mapped[str] = mapped_column(String(8))
    score: Mapped[int]
    rating: Mapped[str] = mapped_column(String(16))
    feedback: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(254))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    xrequest: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    responded_at: Mapped[datetime | None]
    remote_updated_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ticket: Mapped[Ticket | None] = relationship(foreign_keys=[ticket_id])

    __table_args__ = (UniqueConstraint("source", "response_id", name="uq_survey_results_response"),)


class InboundDelivery(db.Model):
    """The raw body of one push to the inbound results route, stored before processing."""

    __tablename__ = "inbound_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    signature: Mapped[str] = mapped_column(String(200), unique=True)  # refuses replays
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="stored")  # stored | processed
    stored_count: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
from .mail.models import OutboundEmail  # noqa: E402,F401

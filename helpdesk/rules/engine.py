"""The trigger engine: evaluates enabled triggers against a request change, runs actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from .. import criteria
from ..extensions import db
from ..models import Rule, Ticket, User
from .actions import run_action

log = logging.getLogger(__name__)

EVENTS = {"created": "a request is created", "updated": "a request is updated",
          "result": "a survey result arrives"}


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The request's state as the condition language sees it."""
    customer = ticket.customer
    return {
        "status": ticket.status_id,
        "category": ticket.category_id,
        "assignee": ticket.assignee_id,
        "is_open": bool(ticket.is_open),
        "urgent": bool(ticket.urgent),
        "subject": ticket.subject,
        "customer_email": customer.email if customer else None,
        "customer_first_name": customer.first_name if customer else None,
        "customer_last_name": customer.last_name if customer else None,
        "survey_score": ticket.survey_score,
        "survey_rating": ticket.survey_rating,
    }


@dataclass
class RuleRun:
    """What one rule did for one event: which conditions held and each action's outcome."""

    rule_id: int
    rule_name: str
    fired: bool
    conditions: list[bool]
    actions: list[str] = field(default_factory=list)


def enabled_triggers(event: str) -> list[Rule]:
    """Enabled triggers for an event, in the admin's order."""
    return list(db.session.scalars(
        select(Rule).where(Rule.kind == "trigger", Rule.event == event, Rule.enabled.is_(True))
        .order_by(Rule.position, Rule.id)
    ))


def run_triggers(event: str, ticket: Ticket, old: dict[str, Any] | None,
                 actor: User | None = None) -> list[RuleRun]:
    """Run every matching trigger once for this event. Actions do not set off triggers."""
    if event not in EVENTS:
        raise ValueError(f"unknown trigger event {event!r}")
    new = snapshot(ticket)
    runs: list[RuleRun] = []
    for rule in enabled_triggers(event):
        try:
            criteria.validate(rule.conditions, allow_change_ops=True)
            fired, results = criteria.evaluate(rule.match, rule.conditions, old, new)
        except criteria.CriteriaError as exc:
            log.warning("trigger %s skipped: %s", rule.id, exc)
            runs.append(RuleRun(rule.id, rule.name, False, [], [f"skipped: {exc}"]))
            continue
        run = RuleRun(rule.id, rule.name, fired, results)
        if fired:
            for action in rule.actions:
                run.actions.append(run_action(rule, action, ticket, actor))
        runs.append(run)
    return runs

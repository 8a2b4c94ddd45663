"""The rules engine: triggers on events, automation rules on a schedule, and the run log.

Triggers evaluate in Python against snapshots of the request (old → new); automation rules
compile their conditions to SQL and act only on the requests the database selects.
Actions never set off triggers, so a trigger cannot loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import func, insert, select, update

from .. import criteria
from ..conditions import (broken_references, current_schema, describe_condition, snapshot,
                          tickets_matching)
from ..extensions import db
from ..models import (Category, CustomField, Rule, RuleResultRun, RuleRun, RuleTicketRun,
                      Status, ThermostatSurvey, Ticket, User, utcnow)
from .actions import action_problems, run_action

log = logging.getLogger(__name__)

EVENTS = {"created": "a request is created", "updated": "a request is updated",
          "result": "a survey result arrives"}
SCHEDULES = {"1m": ("every minute", 60), "5m": ("every 5 minutes", 300),
             "1h": ("every hour", 3600), "12h": ("twice a day", 43200),
             "1d": ("every day", 86400), "1w": ("every week", 604800),
             "1mo": ("every month", 2592000)}
AUTOMATION_BATCH = 500


@dataclass
class RuleOutcome:
    """What one rule did for one request: each condition's result and each action's outcome."""

    rule: Rule
    fired: bool
    lines: list[criteria.Explanation]
    actions: list[str] = field(default_factory=list)
    skipped: str | None = None


def rule_problems(rule: Rule, schema: criteria.Schema) -> list[str]:
    """Why a stored rule cannot run as written (deleted status, field, survey...)."""
    problems = broken_references(rule.conditions, schema)
    try:
        criteria.validate(rule.conditions, allow_change_ops=rule.kind == "trigger",
                          allow_event_fields=rule.kind == "trigger", schema=schema)
    except criteria.CriteriaError as exc:
        problems.append(str(exc))
    problems += action_problems(rule.actions)
    return list(dict.fromkeys(problems))


# Checking a rule's references is most of the cost of an update with many triggers, and its
# answer only changes when the rule is edited or a status, field, user or survey changes:
# remember it per process under both.
_PROBLEMS: dict[tuple, tuple[Any, list[str]]] = {}


def _references_fingerprint(rows: list) -> tuple:
    """What rule checks depend on: which referenced rows exist, are active, still listed."""
    return tuple(sorted(
        (type(row).__name__, row.id, getattr(row, "active", None), getattr(row, "gone", None),
         getattr(row, "archived", None), getattr(row, "field_type", None))
        for row in rows))


def cached_rule_problems(rule: Rule, schema: criteria.Schema, fingerprint: tuple) -> list[str]:
    """rule_problems(), remembered until the rule or what it references changes."""
    key = (rule.id, rule.updated_at)
    hit = _PROBLEMS.get(key)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    problems = rule_problems(rule, schema)
    if len(_PROBLEMS) > 5000:
        _PROBLEMS.clear()
    _PROBLEMS[key] = (fingerprint, problems)
    return problems


def evaluate_rule(rule: Rule, old: Mapping | None, new: Mapping, now: datetime,
                  schema: criteria.Schema, describe: bool = True,
                  fingerprint: tuple | None = None) -> RuleOutcome:
    """Evaluate a rule's conditions without acting (the dry run uses this too)."""
    problems = rule_problems(rule, schema) if fingerprint is None else \
        cached_rule_problems(rule, schema, fingerprint)
    if problems:
        return RuleOutcome(rule, False, [], skipped="; ".join(problems))
    fired, lines = criteria.evaluate(rule.match, rule.conditions, old, new, now, schema)
    if describe:
        describe_lines(lines, schema)
    return RuleOutcome(rule, fired, lines)


def describe_lines(lines: list[criteria.Explanation], schema: criteria.Schema) -> None:
    """Write the words of each condition line (groups already have theirs)."""
    for line in lines:
        if line.node is not None and not line.text:
            line.text = describe_condition(line.node, schema)


@dataclass(frozen=True)
class RuleData:
    """A rule's stored definition, detached from the session (safe to keep between requests)."""

    id: int
    name: str
    kind: str
    event: str
    match: str
    conditions: list
    actions: list
    updated_at: datetime | None


_TRIGGERS: dict[str, tuple[Any, list[RuleData]]] = {}


def enabled_triggers(event: str) -> list[RuleData]:
    """Enabled triggers for an event, in the admin's order.

    Reloading 200 rules and parsing their JSON on every update costs more than evaluating
    them, so the definitions are kept per process and reloaded when a cheap version query
    (how many, last edited) says a trigger was added, edited, reordered, toggled or deleted.
    """
    scope = (Rule.kind == "trigger", Rule.event == event, Rule.enabled.is_(True))
    version = tuple(db.session.execute(
        select(func.count(), func.max(Rule.updated_at), func.sum(Rule.id)).where(*scope)).one())
    cached = _TRIGGERS.get(event)
    if cached is not None and cached[0] == version:
        return cached[1]
    rules = [RuleData(r.id, r.name, r.kind, r.event, r.match, r.conditions, r.actions,
                      r.updated_at)
             for r in db.session.scalars(select(Rule).where(*scope)
                                         .order_by(Rule.position, Rule.id))]
    _TRIGGERS[event] = (version, rules)
    return rules


def _log(outcome: RuleOutcome, ticket_id: int | None, event: str) -> dict[str, Any]:
    return {"rule_id": outcome.rule.id, "ticket_id": ticket_id, "event": event,
            "fired": outcome.fired, "actions": outcome.actions, "note": outcome.skipped,
            "lines": [{"depth": x.depth, "text": x.text, "held": x.held} for x in outcome.lines],
            "created_at": utcnow()}


def run_triggers(event: str, ticket: Ticket, old: Mapping[str, Any] | None,
                 actor: User | None = None, event_data: Mapping[str, Any] | None = None,
                 result_id: int | None = None) -> list[RuleOutcome]:
    """Run every matching trigger once for this event, in order, and log the runs.

    The log keeps every run that acted (which conditions held, what each action did) and
    every rule skipped as broken. Why a rule did not act on a request is what the dry run
    answers, so updates do not write a row per rule that merely did not match.

    For "result" (`result_id`, the survey response that arrived), a trigger acts at most once
    per response: when the response arrives again (a comment added after the score, an
    edit), the triggers that already acted on it are left out (RuleResultRun).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown trigger event {event!r}")
    rules = enabled_triggers(event)
    if result_id is not None and rules:
        done = set(db.session.scalars(select(RuleResultRun.rule_id).where(
            RuleResultRun.survey_result_id == result_id)))
        rules = [rule for rule in rules if rule.id not in done]
    if not rules:
        return []
    schema = current_schema()
    now = utcnow()
    new = snapshot(ticket, {"actor": actor.id if actor else None, **(event_data or {})})
    # Every row a condition or action can name, held for this run: checking and describing
    # 200 rules then hits the identity map instead of one SELECT per reference.
    _held = [row for model in (Status, Category, User, CustomField, ThermostatSurvey)
             for row in db.session.scalars(select(model))]
    fingerprint = _references_fingerprint(_held)
    outcomes, rows = [], []
    for rule in rules:
        outcome = evaluate_rule(rule, old, new, now, schema, describe=False,
                                fingerprint=fingerprint)
        if outcome.skipped:
            log.warning("trigger %s skipped: %s", rule.id, outcome.skipped)
        elif outcome.fired:
            if result_id is not None:
                # in this transaction: were two arrivals of one response to race, the second
                # commit fails on the key and its actions roll back with it
                db.session.add(RuleResultRun(rule_id=rule.id, survey_result_id=result_id))
            outcome.actions = [run_action(rule, action, ticket, actor) for action in rule.actions]
        outcomes.append(outcome)
        if outcome.fired or outcome.skipped:
            describe_lines(outcome.lines, schema)  # only runs that are logged need words
            rows.append(_log(outcome, ticket.id, event))
    if rows:
        db.session.execute(insert(RuleRun), rows)
    return outcomes


# ---------------------------------------------------------------- automation rules


def is_due(rule: Rule, now: datetime) -> bool:
    """Whether an automation rule's schedule says it should run now."""
    if rule.schedule not in SCHEDULES:
        return False
    interval = SCHEDULES[rule.schedule][1]
    # A little slack so a 60 s cron tick does not skip an "every minute" rule by jitter.
    return rule.last_run_at is None or rule.last_run_at <= now - timedelta(seconds=interval - 5)


def automation_query(rule: Rule, now: datetime, schema: criteria.Schema):
    """The SELECT of request ids this automation rule would act on now (all in SQL)."""
    query = tickets_matching(rule.match, rule.conditions, now, schema)
    done = select(RuleTicketRun.runs).where(RuleTicketRun.rule_id == rule.id,
                                            RuleTicketRun.ticket_id == Ticket.id)
    cap = 1 if rule.run_once else max(1, rule.max_runs)
    return query.where(func.coalesce(done.correlate(Ticket).scalar_subquery(), 0) < cap)


def run_automation(rule_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Run one automation rule over the requests SQL selects for it; commit per batch."""
    rule = db.session.get(Rule, rule_id)
    if rule is None or rule.kind != "automation":
        return {"skipped": "no such automation rule"}
    now = now or utcnow()
    schema = current_schema()
    problems = rule_problems(rule, schema)
    rule.last_run_at = now
    if problems:
        db.session.add(RuleRun(rule_id=rule.id, event="schedule", fired=False,
                               note="skipped: " + "; ".join(problems)))
        db.session.commit()
        return {"skipped": problems}
    # Sorted here, not in SQL: an ORDER BY id lets SQLite prefer a full scan in id order to
    # the index that serves the rule's range condition (300 ms instead of 1 ms at 1M rows).
    ids = sorted(db.session.scalars(automation_query(rule, now, schema)))
    acted = 0
    for start in range(0, len(ids), AUTOMATION_BATCH):
        for ticket_id in ids[start:start + AUTOMATION_BATCH]:
            ticket = db.session.get(Ticket, ticket_id)
            outcome = RuleOutcome(rule, True, [])
            outcome.actions = [run_action(rule, a, ticket, None) for a in rule.actions]
            _count_run(rule.id, ticket_id, now)
            db.session.add(RuleRun(**_log(outcome, ticket_id, "schedule")))
            acted += 1
        db.session.commit()
    db.session.add(RuleRun(rule_id=rule.id, event="schedule", fired=acted > 0,
                           note=f"{acted} request(s) matched and acted on"))
    db.session.commit()
    return {"rule": rule.id, "acted": acted}


def _count_run(rule_id: int, ticket_id: int, now: datetime) -> None:
    updated = db.session.execute(
        update(RuleTicketRun).where(RuleTicketRun.rule_id == rule_id,
                                    RuleTicketRun.ticket_id == ticket_id)
        .values(runs=RuleTicketRun.runs + 1, last_at=now))
    if updated.rowcount == 0:
        db.session.add(RuleTicketRun(rule_id=rule_id, ticket_id=ticket_id, runs=1, last_at=now))
        db.session.flush()


def due_automations(now: datetime) -> list[int]:
    """Ids of enabled automation rules whose schedule says run now."""
    rules = db.session.scalars(select(Rule).where(Rule.kind == "automation",
                                                  Rule.enabled.is_(True)).order_by(Rule.id))
    return [r.id for r in rules if is_due(r, now)]

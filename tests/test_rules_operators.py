"""Every operator of every field kind, groups, validation, every action, schedules and caps.

The condition language is pure Python (helpdesk.criteria), so its operators are tested as
tables against snapshots; the same state conditions are then compiled to SQL and must select
exactly the requests Python says match. Actions run through `run_action` against real
requests, each effect asserted. Automation rules: `is_due` for each schedule, run once and
the hard cap of runs per request.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from helpdesk import criteria
from helpdesk.criteria import CHANGE_OPS, OPS_BY_KIND, CriteriaError, Schema

NOW = datetime(2026, 6, 15, 12, 0, 0)  # a Monday in June: this month and last month differ
SCHEMA = Schema({7: ("Plan", "list"), 8: ("Seats", "number")})
CREATED = object()  # "old" is None: the request was just created
SAME = object()  # "old" equals "new": nothing changed


def _case(field, op, value, new, expected, old=SAME):
    return (field, op, value, new, old, expected)


# (field, op, value, new snapshot, old snapshot | SAME | CREATED, expected)
CASES = [
    # ---- ref (status, assignee): ids, None for "nobody"
    _case("status", "is", 2, {"status": 2}, True),
    _case("status", "is", 2, {"status": 1}, False),
    _case("assignee", "is", None, {"assignee": None}, True),
    _case("assignee", "is", None, {"assignee": 5}, False),
    _case("status", "is_not", 2, {"status": 1}, True),
    _case("status", "is_not", 2, {"status": 2}, False),
    _case("assignee", "is_not", None, {"assignee": 5}, True),
    _case("assignee", "is_not", "0", {"assignee": None}, False),  # "0" means nobody
    _case("status", "changed", None, {"status": 2}, True, {"status": 1}),
    _case("status", "changed", None, {"status": 2}, False),
    _case("status", "changed", None, {"status": 2}, True, CREATED),
    _case("assignee", "changed", None, {"assignee": None}, False, CREATED),
    _case("status", "changed_to", "2", {"status": 2}, True, {"status": 1}),
    _case("status", "changed_to", 2, {"status": 2}, False),  # already there: no change
    _case("status", "changed_to", 2, {"status": 2}, True, CREATED),
    _case("status", "changed_to", 2, {"status": 3}, False, {"status": 1}),
    _case("assignee", "changed_to", None, {"assignee": None}, True, {"assignee": 5}),
    _case("status", "changed_from", 1, {"status": 2}, True, {"status": 1}),
    _case("status", "changed_from", 1, {"status": 2}, False, CREATED),
    _case("status", "changed_from", 1, {"status": 2}, False, {"status": 3}),
    _case("status", "changed_from", 1, {"status": 1}, False),
    _case("status", "not_changed", None, {"status": 1}, True),
    _case("status", "not_changed", None, {"status": 2}, False, {"status": 1}),
    _case("status", "not_changed", None, {"status": 2}, False, CREATED),
    _case("assignee", "not_changed", None, {"assignee": None}, True, CREATED),
    # ---- bool
    _case("is_open", "is", "no", {"is_open": False}, True),
    _case("is_open", "is", "yes", {"is_open": False}, False),
    _case("urgent", "is", True, {"urgent": True}, True),
    _case("is_open", "changed", None, {"is_open": False}, True, {"is_open": True}),
    _case("is_open", "changed", None, {"is_open": True}, True, CREATED),
    _case("is_open", "changed_to", "no", {"is_open": False}, True, {"is_open": True}),
    _case("is_open", "changed_to", "no", {"is_open": False}, False),
    _case("is_open", "changed_to", "off", {"is_open": False}, True, CREATED),
    _case("is_open", "changed_from", "yes", {"is_open": False}, True, {"is_open": True}),
    _case("is_open", "changed_from", "yes", {"is_open": False}, False, CREATED),
    _case("is_open", "not_changed", None, {"is_open": True}, True),
    _case("is_open", "not_changed", None, {"is_open": True}, False, {"is_open": False}),
    # ---- text: case-insensitive, None never contains anything
    _case("subject", "is", "printer on fire", {"subject": "Printer on FIRE"}, True),
    _case("subject", "is", "printer", {"subject": "Printer on FIRE"}, False),
    _case("customer_email", "is", "pat@example.com", {"customer_email": None}, False),
    _case("subject", "is_not", "printer", {"subject": "Printer on FIRE"}, True),
    _case("subject", "is_not", "PRINTER ON FIRE", {"subject": "Printer on fire"}, False),
    _case("customer_email", "is_not", "pat@example.com", {"customer_email": None}, True),
    _case("subject", "begins_with", "PRINTER", {"subject": "Printer on fire"}, True),
    _case("subject", "begins_with", "fire", {"subject": "Printer on fire"}, False),
    _case("customer_phone", "begins_with", "+1", {"customer_phone": None}, False),
    _case("subject", "ends_with", "FIRE", {"subject": "Printer on fire"}, True),
    _case("subject", "ends_with", "printer", {"subject": "Printer on fire"}, False),
    _case("subject", "contains", "ON F", {"subject": "Printer on fire"}, True),
    _case("subject", "contains", "smoke", {"subject": "Printer on fire"}, False),
    _case("customer_phone", "contains", "5", {"customer_phone": None}, False),
    _case("subject", "not_contains", "smoke", {"subject": "Printer on fire"}, True),
    _case("subject", "not_contains", "FIRE", {"subject": "Printer on fire"}, False),
    _case("customer_phone", "not_contains", "5", {"customer_phone": None}, True),
    _case("custom:7", "contains", "pro", {"custom:7": "Pro"}, True),
    _case("subject", "changed", None, {"subject": "b"}, True, {"subject": "a"}),
    _case("subject", "changed", None, {"subject": "a"}, False),
    _case("subject", "changed_to", "URGENT", {"subject": "urgent"}, True, {"subject": "a"}),
    _case("subject", "changed_to", "urgent", {"subject": "other"}, False, {"subject": "a"}),
    _case("subject", "changed_from", "OLD", {"subject": "new"}, True, {"subject": "old"}),
    _case("subject", "changed_from", "old", {"subject": "new"}, False, CREATED),
    _case("subject", "not_changed", None, {"subject": "a"}, True),
    _case("subject", "not_changed", None, {"subject": "b"}, False, {"subject": "a"}),
    # ---- number (and a number custom field stored as text)
    _case("survey_score", "is", "3", {"survey_score": 3}, True),
    _case("survey_score", "is", 3, {"survey_score": None}, False),
    _case("survey_score", "is_not", 3, {"survey_score": 4}, True),
    _case("survey_score", "is_not", 3, {"survey_score": None}, True),
    _case("survey_score", "is_not", 3, {"survey_score": 3}, False),
    _case("survey_score", "lt", 7, {"survey_score": 6}, True),
    _case("survey_score", "lt", 7, {"survey_score": 7}, False),
    _case("survey_score", "lt", 7, {"survey_score": None}, False),
    _case("survey_score", "le", 7, {"survey_score": 7}, True),
    _case("survey_score", "le", 7, {"survey_score": 8}, False),
    _case("survey_score", "gt", 8, {"survey_score": 9}, True),
    _case("survey_score", "gt", 8, {"survey_score": 8}, False),
    _case("survey_score", "ge", 9, {"survey_score": 9}, True),
    _case("survey_score", "ge", 9, {"survey_score": None}, False),
    _case("custom:8", "gt", "10", {"custom:8": "12.5"}, True),
    _case("custom:8", "le", 10, {"custom:8": "not a number"}, False),
    _case("survey_score", "changed", None, {"survey_score": 3}, True, {"survey_score": None}),
    _case("survey_score", "changed", None, {"survey_score": 3}, False),
    _case("survey_score", "changed_to", 3, {"survey_score": 3}, True, {"survey_score": 9}),
    _case("survey_score", "changed_to", 3, {"survey_score": 3}, False),
    _case("survey_score", "changed_from", 9, {"survey_score": 3}, True, {"survey_score": 9}),
    _case("survey_score", "changed_from", 9, {"survey_score": 3}, False, {"survey_score": 8}),
    _case("survey_score", "not_changed", None, {"survey_score": None}, True),
    _case("survey_score", "not_changed", None, {"survey_score": 2}, False, {"survey_score": 1}),
    # ---- rating
    _case("survey_rating", "is", "Detractor", {"survey_rating": "detractor"}, True),
    _case("survey_rating", "is", "detractor", {"survey_rating": None}, False),
    _case("survey_rating", "is_not", "detractor", {"survey_rating": "promoter"}, True),
    _case("survey_rating", "is_not", "detractor", {"survey_rating": "detractor"}, False),
    _case("survey_rating", "changed", None, {"survey_rating": "passive"}, True,
          {"survey_rating": "detractor"}),
    _case("survey_rating", "changed_to", "detractor", {"survey_rating": "detractor"}, True,
          {"survey_rating": None}),
    _case("survey_rating", "changed_to", "detractor", {"survey_rating": "detractor"}, False),
    _case("survey_rating", "changed_from", "promoter", {"survey_rating": "detractor"}, True,
          {"survey_rating": "promoter"}),
    _case("survey_rating", "changed_from", "promoter", {"survey_rating": "detractor"}, False,
          {"survey_rating": None}),
    _case("survey_rating", "not_changed", None, {"survey_rating": "detractor"}, True),
    # ---- choice (an event field)
    _case("note_type", "is", "PRIVATE", {"note_type": "private"}, True),
    _case("note_type", "is", "public", {"note_type": "none"}, False),
    _case("note_type", "is_not", "none", {"note_type": "public"}, True),
    _case("note_type", "is_not", "public", {"note_type": "public"}, False),
    # ---- minutes since: computed against now; no moment means no match
    _case("minutes_since_closed", "lt", 100, {"closed_at": NOW - timedelta(minutes=90)}, True),
    _case("minutes_since_closed", "lt", 90, {"closed_at": NOW - timedelta(minutes=90)}, False),
    _case("minutes_since_closed", "le", 90, {"closed_at": NOW - timedelta(minutes=90)}, True),
    _case("minutes_since_closed", "le", 89, {"closed_at": NOW - timedelta(minutes=90)}, False),
    _case("minutes_since_closed", "gt", 1440, {"closed_at": NOW - timedelta(days=2)}, True),
    _case("minutes_since_closed", "gt", 1440, {"closed_at": NOW - timedelta(days=1)}, False),
    _case("minutes_since_closed", "gt", 0, {"closed_at": None}, False),
    _case("minutes_since_opened", "ge", 60, {"opened_at": NOW - timedelta(minutes=60)}, True),
    _case("minutes_since_updated", "ge", 60, {"updated_at": NOW - timedelta(minutes=59)}, False),
    _case("minutes_since_first_response", "lt", 5, {"first_response_at": None}, False),
    # ---- date ranges: [start, end) in naive UTC
    _case("closed_at", "in_range", "today", {"closed_at": NOW.replace(hour=0)}, True),
    _case("closed_at", "in_range", "today", {"closed_at": NOW - timedelta(hours=13)}, False),
    _case("closed_at", "in_range", "past_7_days", {"closed_at": NOW - timedelta(days=6)}, True),
    _case("closed_at", "in_range", "past_7_days", {"closed_at": NOW - timedelta(days=8)}, False),
    _case("closed_at", "in_range", "past_30_days", {"closed_at": NOW - timedelta(days=29)}, True),
    _case("closed_at", "in_range", "past_30_days", {"closed_at": NOW - timedelta(days=31)},
          False),
    _case("opened_at", "in_range", "past_90_days", {"opened_at": NOW - timedelta(days=89)}, True),
    _case("opened_at", "in_range", "past_90_days", {"opened_at": NOW - timedelta(days=91)},
          False),
    _case("opened_at", "in_range", "this_month", {"opened_at": datetime(2026, 6, 1)}, True),
    _case("opened_at", "in_range", "this_month", {"opened_at": datetime(2026, 5, 31, 23, 59)},
          False),
    _case("opened_at", "in_range", "last_month", {"opened_at": datetime(2026, 5, 1)}, True),
    _case("opened_at", "in_range", "last_month", {"opened_at": datetime(2026, 6, 1)}, False),
    _case("closed_at", "in_range", "today", {"closed_at": None}, False),
    _case("closed_at", "not_in_range", "today", {"closed_at": NOW}, False),
    _case("closed_at", "not_in_range", "last_month", {"closed_at": NOW}, True),
    _case("closed_at", "not_in_range", "past_7_days", {"closed_at": None}, True),
]
if "between" in OPS_BY_KIND["number"]:
    CASES += [
        _case("survey_score", "between", "0-6", {"survey_score": 6}, True),
        _case("survey_score", "between", [7, 8], {"survey_score": 7}, True),
        _case("survey_score", "between", "7..8", {"survey_score": 9}, False),
        _case("survey_score", "between", "0,6", {"survey_score": None}, False),
    ]


def _ids(cases):
    return [f"{f}-{op}-{value!r}-{'created' if old is CREATED else 'same' if old is SAME else 'old'}"
            f"-{i}" for i, (f, op, value, _new, old, _e) in enumerate(cases)]


@pytest.mark.parametrize("field, op, value, new, old, expected", CASES, ids=_ids(CASES))
def test_every_operator(field, op, value, new, old, expected):
    cond = {"field": field, "op": op, "value": value}
    before = None if old is CREATED else new if old is SAME else old
    assert criteria.evaluate_condition(cond, before, new, NOW, SCHEMA) is expected
    # the same condition, stored as the builder stores it, is valid where it may be used
    allowed_anywhere = op not in CHANGE_OPS and SCHEMA.field(field).context == criteria.STATE
    criteria.validate([cond], allow_change_ops=True, allow_event_fields=True, schema=SCHEMA)
    if not allowed_anywhere:
        with pytest.raises(CriteriaError):
            criteria.validate([cond], allow_change_ops=False, allow_event_fields=False,
                              schema=SCHEMA)


def test_the_table_covers_every_operator_of_every_kind():
    covered = {(SCHEMA.field(f).kind, op) for f, op, *_ in CASES}
    every = {(kind, op) for kind, ops in OPS_BY_KIND.items() for op in ops}
    assert every - covered == set()
    for kind, ops in OPS_BY_KIND.items():  # each operator is shown to admins in words
        assert all(op in criteria.OP_LABELS for op in ops), kind


def test_every_field_has_a_kind_with_operators():
    for f in SCHEMA.fields():
        assert f.kind in OPS_BY_KIND, f.name
    assert SCHEMA.field("custom:7").kind == "text" and SCHEMA.field("custom:8").kind == "number"
    assert [f.name for f in SCHEMA.fields(include_events=False)
            if f.context == criteria.EVENT] == []


# ---------------------------------------------------------------- all / any and nested groups


def _c(field, op, value=None):
    return {"field": field, "op": op, "value": value}


TRUE, FALSE = _c("urgent", "is", True), _c("is_open", "is", True)
NEW = {"urgent": True, "is_open": False, "status": 2}


@pytest.mark.parametrize("match, tree, expected", [
    ("all", [TRUE, TRUE], True),
    ("all", [TRUE, FALSE], False),
    ("any", [FALSE, TRUE], True),
    ("any", [FALSE, FALSE], False),
    ("all", [], True),  # no conditions: always
    ("any", [], True),
    ("all", [TRUE, {"match": "any", "conditions": [FALSE, TRUE]}], True),
    ("all", [TRUE, {"match": "all", "conditions": [FALSE, TRUE]}], False),
    ("any", [FALSE, {"match": "all", "conditions": [TRUE, {"match": "any", "conditions": [
        FALSE, TRUE]}]}], True),
    ("any", [FALSE, {"match": "any", "conditions": []}], True),  # an empty group holds
])
def test_all_any_and_nested_groups(match, tree, expected):
    held, _lines = criteria.evaluate(match, tree, NEW, NEW, NOW, SCHEMA)
    assert held is expected


def test_the_explanation_lists_every_node_in_order_with_depth():
    tree = [TRUE, {"match": "any", "conditions": [FALSE, {"match": "all", "conditions": [
        TRUE, _c("status", "changed_to", 2)]}]}]
    held, lines = criteria.evaluate("all", tree, {**NEW, "status": 1}, NEW, NOW, SCHEMA,
                                    describe=lambda c: f"{c['field']} {c['op']}")
    assert held is True
    assert [(x.depth, x.text, x.held) for x in lines] == [
        (0, "urgent is", True), (0, "any of:", True), (1, "is_open is", False),
        (1, "all of:", True), (2, "urgent is", True), (2, "status changed_to", True)]
    assert list(criteria.iter_conditions(tree)) == [TRUE, FALSE, TRUE,
                                                   _c("status", "changed_to", 2)]


# ---------------------------------------------------------------- validate()


def _deep(levels):
    tree = [TRUE]
    for _ in range(levels):
        tree = [{"match": "all", "conditions": tree}]
    return tree


@pytest.mark.parametrize("tree, triggers, message", [
    ({"field": "status"}, True, "conditions must be a list"),
    (["status is 2"], True, "each condition must be an object"),
    ([{"match": "most", "conditions": []}], True, "a group must match all or any"),
    (_deep(criteria.MAX_DEPTH + 1), True, f"groups nest at most {criteria.MAX_DEPTH} deep"),
    ([_c("colour", "is", "red")], True, "unknown field 'colour'"),
    ([_c("custom:99", "is", "x")], True, "custom field #99 no longer exists"),
    ([_c("custom:x", "is", "x")], True, "unknown field 'custom:x'"),
    ([_c("status", "contains", "x")], True, "Status: unknown operator 'contains'"),
    ([_c("minutes_since_closed", "changed", None)], True,
     "Minutes since closed: unknown operator 'changed'"),
    ([_c("status", "changed_to", 2)], False, "Status: 'changed to' only applies to triggers"),
    ([_c("note_type", "is", "private")], False, "Note type only applies to triggers"),
    ([_c("actor", "is", 1)], False, "Acting person only applies to triggers"),
    ([_c("survey_rating", "is", "grumpy")], True, "'grumpy' is not a rating"),
    ([_c("survey_score", "gt", "high")], True, "Thermostat score: 'high' is not a number"),
    ([_c("survey_score", "gt", True)], True, "Thermostat score: True is not a number"),
    ([_c("survey_score", "gt", "nan")], True, "Thermostat score: 'nan' is out of range"),
    ([_c("survey_score", "gt", "1e13")], True, "is out of range"),
    ([_c("urgent", "is", "maybe")], True, "Urgent: 'maybe' is not yes or no"),
    ([_c("note_type", "is", "secret")], True, "Note type: 'secret' is not one of public, "
                                              "private, none"),
    ([_c("closed_at", "in_range", "yesterday")], True, "'yesterday' is not a date range"),
    ([_c("status", "is", "Escalated")], True, "Status: 'Escalated' is not a valid choice"),
    ([_c("subject", "contains", "x" * 501)], True, "longer than 500 characters"),
    ([_c("subject", "contains", None)], True, "Subject: a value is required"),
    ([TRUE, {"match": "any", "conditions": [_c("survey_rating", "is", "meh")]}], True,
     "'meh' is not a rating"),
])
def test_validate_refuses_the_first_bad_node(tree, triggers, message):
    with pytest.raises(CriteriaError) as caught:
        criteria.validate(tree, allow_change_ops=triggers, allow_event_fields=triggers,
                          schema=SCHEMA)
    assert message in str(caught.value)


def test_validate_accepts_well_formed_trees():
    criteria.validate(_deep(criteria.MAX_DEPTH), True, True, SCHEMA)
    criteria.validate([{"field": "status", "op": "changed"},  # valueless: no value needed
                       _c("assignee", "is", None), _c("custom:8", "ge", "2.5")], True, True,
                      SCHEMA)
    criteria.validate([], False, False, SCHEMA)


def test_compiling_refuses_what_only_triggers_can_use():
    from helpdesk.criteria import SqlContext

    ctx = SqlContext(columns={}, custom_value=lambda fid: None)
    for cond, message in ((_c("status", "changed_to", 2), "cannot be used here"),
                          (_c("note_type", "is", "public"), "only applies to triggers")):
        with pytest.raises(CriteriaError, match=message):
            criteria.compile_condition(cond, ctx, NOW, SCHEMA)


# ---------------------------------------------------------------- the same state conditions in SQL


def _state_cases():
    seen, out = set(), []
    for field, op, value, _new, _old, _expected in CASES:
        f = SCHEMA.field(field)
        if op in CHANGE_OPS or f.context != criteria.STATE or field.startswith("custom:"):
            continue
        key = (field, op, json.dumps(value, default=str))
        if key not in seen:
            seen.add(key)
            out.append(_c(field, op, value))
    return out


STATE_CONDITIONS = _state_cases()


def test_every_state_operator_selects_in_sql_what_python_matches(app):
    """Requests spread over every value the table uses; SQL and Python must agree on each."""
    from helpdesk.conditions import current_schema, snapshot, tickets_matching
    from helpdesk.extensions import db
    from helpdesk.models import Customer, Status, Ticket, User

    statuses = [Status(name=n, position=i) for i, n in enumerate(["Active", "Problem Solved",
                                                                 "Escalated"])]
    user = User(email="a@x.org", name="A", password_hash="x")
    db.session.add_all(statuses + [user])
    db.session.flush()
    assert [s.id for s in statuses] == [1, 2, 3] and user.id == 1
    variants = [
        dict(subject="Printer on FIRE", status_id=2, is_open=False, urgent=True,
             closed_at=NOW - timedelta(minutes=90), survey_score=6, survey_rating="detractor",
             survey_type="nps", email="pat@example.com", phone="+1 555"),
        dict(subject="printer", status_id=1, assignee_id=1, closed_at=None, survey_score=7,
             survey_rating="passive", survey_type="nps", email=None, phone=None),
        dict(subject="Smoke", status_id=3, is_open=False, closed_at=NOW - timedelta(days=2),
             opened_at=NOW - timedelta(days=89), survey_score=9, survey_rating="promoter",
             survey_type="nps"),
        dict(subject="x", status_id=1, closed_at=NOW.replace(hour=0),
             opened_at=datetime(2026, 6, 1), updated_at=NOW - timedelta(minutes=59)),
        dict(subject="y", status_id=2, is_open=False, closed_at=datetime(2026, 5, 31, 23, 59),
             opened_at=datetime(2026, 5, 1), first_response_at=NOW - timedelta(minutes=3)),
        dict(subject="z", status_id=2, is_open=False, closed_at=NOW - timedelta(days=8),
             opened_at=NOW - timedelta(days=91), survey_score=8, survey_rating="passive",
             survey_type="nps"),
    ]
    for v in variants:
        customer = Customer(first_name="C", last_name="D", email=v.pop("email", "c@x.org"),
                            phone=v.pop("phone", None))
        v.setdefault("opened_at", NOW - timedelta(days=10))
        v.setdefault("updated_at", NOW - timedelta(days=1))
        v.setdefault("is_open", True)
        db.session.add(Ticket(customer=customer, **v))
    db.session.commit()
    schema = current_schema()
    tickets = list(db.session.scalars(select(Ticket).order_by(Ticket.id)))
    for cond in STATE_CONDITIONS:
        in_python = {t.id for t in tickets
                     if criteria.evaluate_condition(cond, None, snapshot(t), NOW, schema)}
        in_sql = set(db.session.scalars(tickets_matching("all", [cond], NOW, schema)))
        assert in_sql == in_python, cond
    ops = {(SCHEMA.field(c["field"]).kind, c["op"]) for c in STATE_CONDITIONS}
    state_ops = {(k, op) for k, kops in OPS_BY_KIND.items() for op in kops
                 if op not in CHANGE_OPS and k != "choice"}  # choice fields are event fields
    assert state_ops - ops == set()


# ---------------------------------------------------------------- every action


@pytest.fixture
def rule(app, seeded):
    from helpdesk.extensions import db
    from helpdesk.models import Rule

    rule = Rule(kind="trigger", name="Under test", event="updated", conditions=[], actions=[])
    db.session.add(rule)
    db.session.commit()
    return rule


def _run(rule, action, ticket, actor=None):
    from helpdesk.rules.actions import run_action

    return run_action(rule, action, ticket, actor)


def _events(ticket, kind=None):
    from helpdesk.extensions import db
    from helpdesk.models import TicketEvent

    db.session.flush()
    return [e.body for e in db.session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
            if kind is None or e.kind == kind]


def _status(name):
    from helpdesk.extensions import db
    from helpdesk.models import Status

    return db.session.scalar(select(Status).where(Status.name == name))


ACTION_TESTS = set()


def covers(kind):
    def mark(fn):
        ACTION_TESTS.add(kind)
        return fn
    return mark


@covers("thermostat_send")
def test_action_thermostat_send_queues_one_send_per_request_and_survey(rule):
    from helpdesk.extensions import db
    from helpdesk.models import Dispatch
    from helpdesk.queue import get_queue
    from tests.helpers import make_ticket

    ticket = make_ticket()
    action = {"type": "thermostat_send", "survey_id": 1, "survey_name": "Support NPS"}
    outcome = _run(rule, action, ticket)
    [d] = db.session.scalars(select(Dispatch)).all()
    assert outcome == f"queued send #{d.id}"
    assert (d.kind, d.survey_id, d.email, d.state, d.rule_id, d.dedupe_key) == (
        "sendnow", 1, "pat@example.com", "pending", rule.id, f"sendnow:{ticket.id}:1")
    assert _events(ticket, "survey") == ["Survey 'Support NPS' queued for pat@example.com"]
    assert _run(rule, action, ticket) == f"skipped: already queued or sent (send #{d.id}, pending)"
    assert get_queue().count == 0  # enqueued only after the commit
    db.session.commit()
    assert get_queue().count == 1
    nobody = make_ticket(email=None)
    assert _run(rule, action, nobody) == "skipped: the customer has no email address"


@covers("thermostat_campaign")
def test_action_thermostat_campaign_queues_an_enrolment(rule):
    from helpdesk.extensions import db
    from helpdesk.models import Dispatch
    from tests.helpers import make_ticket

    ticket = make_ticket()
    outcome = _run(rule, {"type": "thermostat_campaign", "survey_id": 3}, ticket)
    [d] = db.session.scalars(select(Dispatch)).all()
    assert outcome == f"queued send #{d.id}"
    assert (d.kind, d.survey_id, d.survey_name, d.dedupe_key) == (
        "campaign", 3, "Survey #3", f"campaign:{ticket.id}:3")
    assert _events(ticket, "survey") == [
        "Campaign enrolment for survey 'Survey #3' queued for pat@example.com"]


@covers("email_customer")
def test_action_email_customer_renders_placeholders_and_queues(rule, app):
    from helpdesk.extensions import db
    from helpdesk.mail.models import OutboundEmail
    from helpdesk.models import TicketFieldValue
    from tests.helpers import make_ticket

    ticket = make_ticket(first="Pat & Co")
    db.session.add(TicketFieldValue(ticket=ticket, field_id=1, value="Pro plus"))
    db.session.commit()
    action = {"type": "email_customer", "subject": "Request ##REQUESTID##: {{ $fname }}",
              "body": "Hi ##FIRSTNAME##, https://t.example/s/k?xrequest=##REQUESTID##"
                      "&plan=##CUSTOM1##"}
    assert _run(rule, action, ticket) == "email to pat@example.com queued"
    [email] = db.session.scalars(select(OutboundEmail)).all()
    assert (email.to_address, email.kind, email.rule_id, email.state) == (
        "pat@example.com", "customer", rule.id, "pending")
    assert email.subject == f"Request {ticket.id}: Pat & Co"
    assert email.body_text == (f"Hi Pat & Co, https://t.example/s/k?xrequest={ticket.id}"
                               "&plan=Pro%20plus")
    nobody = make_ticket(email=None)
    assert _run(rule, action, nobody) == "skipped: the customer has no email address"


@covers("notify_staff")
def test_action_notify_staff_emails_the_assignee_or_a_named_member(rule, seeded):
    from helpdesk.extensions import db
    from helpdesk.mail.models import OutboundEmail
    from tests.helpers import make_ticket

    agent, admin = seeded["agent"], seeded["admin"]
    ticket = make_ticket(assignee=agent)
    action = {"type": "notify_staff", "user_id": "assignee", "subject": "Request ##REQUESTID##",
              "body": "##SUBJECT## for ##FULLNAME##"}
    assert _run(rule, action, ticket) == f"email to {agent.name} queued"
    assert _run(rule, {**action, "user_id": admin.id}, ticket) == f"email to {admin.name} queued"
    emails = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)).all()
    assert [(e.to_address, e.kind, e.subject, e.body_text) for e in emails] == [
        (agent.email, "staff", f"Request {ticket.id}", "Printer on fire for Pat Smith"),
        (admin.email, "staff", f"Request {ticket.id}", "Printer on fire for Pat Smith")]
    unassigned = make_ticket()
    assert _run(rule, action, unassigned) == "skipped: no active staff member to notify"
    agent.active = False
    assert _run(rule, action, ticket) == "skipped: no active staff member to notify"


@covers("set_status")
def test_action_set_status(rule):
    from tests.helpers import make_ticket

    ticket = make_ticket()
    escalated = _status("Escalated")
    assert _run(rule, {"type": "set_status", "status_id": escalated.id}, ticket) == \
        "status set to Escalated"
    assert ticket.status_id == escalated.id
    assert _run(rule, {"type": "set_status", "status_id": escalated.id}, ticket) == \
        "unchanged: status already Escalated"
    assert _run(rule, {"type": "set_status", "status_id": 999}, ticket) == \
        "skipped: the status no longer exists"
    assert _events(ticket, "change") == ["Status set to Escalated by rule 'Under test'"]


@covers("set_category")
def test_action_set_category(rule):
    from helpdesk.extensions import db
    from helpdesk.models import Category
    from tests.helpers import make_ticket

    ticket = make_ticket()
    billing = db.session.scalar(select(Category).where(Category.name == "Billing"))
    assert _run(rule, {"type": "set_category", "category_id": billing.id}, ticket) == \
        "category set to Billing"
    assert ticket.category_id == billing.id
    assert _run(rule, {"type": "set_category", "category_id": None}, ticket) == \
        "category set to none"
    assert ticket.category_id is None
    assert _run(rule, {"type": "set_category", "category_id": 999}, ticket) == \
        "skipped: the category no longer exists"


@covers("set_assignee")
def test_action_set_assignee(rule, seeded):
    from tests.helpers import make_ticket

    agent = seeded["agent"]
    ticket = make_ticket()
    assert _run(rule, {"type": "set_assignee", "user_id": agent.id}, ticket) == \
        f"assigned to {agent.name}"
    assert ticket.assignee_id == agent.id
    assert _run(rule, {"type": "set_assignee", "user_id": None}, ticket) == "assigned to nobody"
    assert ticket.assignee_id is None
    agent.active = False
    assert _run(rule, {"type": "set_assignee", "user_id": agent.id}, ticket) == \
        "skipped: the staff member no longer exists or is inactive"
    assert ticket.assignee_id is None


@covers("set_custom_field")
def test_action_set_custom_field(rule):
    from helpdesk.extensions import db
    from helpdesk.models import TicketFieldValue
    from tests.helpers import make_ticket

    ticket = make_ticket()
    assert _run(rule, {"type": "set_custom_field", "field_id": 1, "value": "Pro"}, ticket) == \
        "Plan set to Pro"
    assert _run(rule, {"type": "set_custom_field", "field_id": 1, "value": "Enterprise"},
                ticket) == "Plan set to Enterprise"
    db.session.commit()
    rows = db.session.scalars(select(TicketFieldValue)).all()
    assert [(r.ticket_id, r.field_id, r.value) for r in rows] == [(ticket.id, 1, "Enterprise")]
    assert _run(rule, {"type": "set_custom_field", "field_id": 99, "value": "x"}, ticket) == \
        "skipped: the custom field no longer exists"


@covers("set_urgent")
def test_action_set_urgent(rule):
    from tests.helpers import make_ticket

    ticket = make_ticket()
    assert _run(rule, {"type": "set_urgent", "value": True}, ticket) == "urgent set to yes"
    assert ticket.urgent is True
    assert _run(rule, {"type": "set_urgent", "value": False}, ticket) == "urgent set to no"
    assert ticket.urgent is False


@covers("add_private_note")
def test_action_add_private_note(rule):
    from tests.helpers import make_ticket

    ticket = make_ticket()
    assert _run(rule, {"type": "add_private_note", "body": "Call them back"}, ticket) == \
        "private note added"
    assert _events(ticket, "note_private") == ["Call them back"]
    assert _events(ticket, "note_public") == []


@covers("close")
def test_action_close(rule):
    from tests.helpers import make_ticket

    ticket = make_ticket()
    solved = _status("Problem Solved")
    assert _run(rule, {"type": "close", "status_id": solved.id}, ticket) == \
        "closed as Problem Solved"
    assert (ticket.is_open, ticket.status_id) == (False, solved.id)
    assert ticket.closed_at is not None
    assert _run(rule, {"type": "close", "status_id": solved.id}, ticket) == \
        "unchanged: already closed"
    other = make_ticket()
    assert _run(rule, {"type": "close", "status_id": _status("Active").id}, other) == \
        "skipped: the closing status no longer exists or is Active"
    assert other.is_open is True


@covers("reopen")
def test_action_reopen(rule):
    from helpdesk.models import utcnow
    from tests.helpers import make_ticket

    ticket = make_ticket(status="Problem Solved", is_open=False, closed_at=utcnow())
    assert _run(rule, {"type": "reopen"}, ticket) == "reopened"
    assert (ticket.is_open, ticket.status.name, ticket.closed_at) == (True, "Active", None)
    assert _run(rule, {"type": "reopen"}, ticket) == "unchanged: already open"
    assert _events(ticket, "change") == ["Reopened by rule 'Under test'"]


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, self.headers["User-Agent"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@covers("webhook")
def test_action_webhook_posts_the_request_after_the_commit(rule, app):
    from helpdesk.extensions import db
    from helpdesk.queue import get_queue
    from tests.helpers import make_ticket, run_worker

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    try:
        ticket = make_ticket()
        url = f"http://127.0.0.1:{server.server_port}/hook"
        assert _run(rule, {"type": "webhook", "url": url}, ticket) == \
            f"webhook POST to {url} queued"
        assert get_queue().count == 0
        db.session.commit()
        run_worker(app)
        [(path, agent, payload)] = _Hook.received
        assert path == "/hook" and agent == "helpdesk-webhook/1.0"
        assert payload == {"rule": {"id": rule.id, "name": "Under test"},
                           "request": {"id": ticket.id, "subject": "Printer on fire",
                                       "status": "Active", "is_open": True,
                                       "customer_email": "pat@example.com",
                                       "survey_score": None, "survey_rating": None}}
        db.session.expire_all()
        assert _events(ticket, "system")[-1] == (
            f"Webhook POST to {url} by rule 'Under test': sent (HTTP 204)")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_rolled_back_webhook_is_never_posted(rule, app):
    from helpdesk.extensions import db
    from helpdesk.queue import get_queue
    from tests.helpers import make_ticket

    ticket = make_ticket()
    _run(rule, {"type": "webhook", "url": "http://127.0.0.1:9/hook"}, ticket)
    db.session.rollback()
    db.session.commit()
    assert get_queue().count == 0


def test_every_action_is_tested_and_unknown_or_raising_actions_are_reported(rule, monkeypatch):
    from helpdesk.rules import actions
    from tests.helpers import make_ticket

    assert ACTION_TESTS == set(actions.ACTIONS)
    assert set(actions.ACTION_LABELS) == set(actions.ACTIONS) == set(actions.ACTION_PARAMS)
    ticket = make_ticket()
    assert _run(rule, {"type": "teleport"}, ticket) == "skipped: unknown action 'teleport'"

    def broken(*_args):
        raise KeyError("status_id")

    monkeypatch.setitem(actions.ACTIONS, "set_status", broken)
    assert _run(rule, {"type": "set_status"}, ticket) == "failed: KeyError"


# ---------------------------------------------------------------- automation schedules and caps


@pytest.mark.parametrize("schedule", ["1m", "5m", "1h", "12h", "1d", "1w", "1mo"])
def test_is_due_for_each_schedule(schedule):
    from helpdesk.models import Rule
    from helpdesk.rules.engine import SCHEDULES, is_due

    interval = SCHEDULES[schedule][1]
    rule = Rule(kind="automation", schedule=schedule, last_run_at=None)
    assert is_due(rule, NOW)  # never ran
    rule.last_run_at = NOW - timedelta(seconds=interval)
    assert is_due(rule, NOW)
    rule.last_run_at = NOW - timedelta(seconds=interval - 5)  # a cron tick's jitter
    assert is_due(rule, NOW)
    rule.last_run_at = NOW - timedelta(seconds=interval - 6)
    assert not is_due(rule, NOW)
    rule.last_run_at = NOW
    assert not is_due(rule, NOW)


def test_an_unknown_schedule_is_never_due():
    from helpdesk.models import Rule
    from helpdesk.rules.engine import is_due

    assert not is_due(Rule(kind="automation", schedule="2d", last_run_at=None), NOW)
    assert not is_due(Rule(kind="automation", schedule=None, last_run_at=None), NOW)


def _automation(name, run_once, max_runs, enabled=True, schedule="1h"):
    from helpdesk.extensions import db
    from helpdesk.models import Rule

    rule = Rule(kind="automation", name=name, event="schedule", schedule=schedule,
                match="all", conditions=[_c("is_open", "is", False)],
                actions=[{"type": "add_private_note", "body": f"{name} ran"}],
                run_once=run_once, max_runs=max_runs, enabled=enabled)
    db.session.add(rule)
    db.session.commit()
    return rule


def test_run_once_acts_once_per_request(seeded):
    from helpdesk.extensions import db
    from helpdesk.models import RuleTicketRun, utcnow
    from helpdesk.rules.engine import run_automation
    from tests.helpers import make_ticket

    closed = make_ticket(status="Problem Solved", is_open=False, closed_at=utcnow())
    make_ticket()  # open: not selected
    rule = _automation("Once", run_once=True, max_runs=5)  # run once wins over the cap
    assert run_automation(rule.id) == {"rule": rule.id, "acted": 1}
    assert run_automation(rule.id) == {"rule": rule.id, "acted": 0}
    assert _events(closed, "note_private") == ["Once ran"]
    assert db.session.scalar(select(RuleTicketRun.runs)) == 1


def test_max_runs_caps_the_runs_per_request(seeded):
    from helpdesk.extensions import db
    from helpdesk.models import RuleRun, RuleTicketRun, utcnow
    from helpdesk.rules.engine import run_automation
    from tests.helpers import make_ticket

    closed = make_ticket(status="Problem Solved", is_open=False, closed_at=utcnow())
    rule = _automation("Twice", run_once=False, max_runs=2)
    assert [run_automation(rule.id)["acted"] for _ in range(4)] == [1, 1, 0, 0]
    assert _events(closed, "note_private") == ["Twice ran", "Twice ran"]
    assert db.session.scalar(select(RuleTicketRun.runs).where(
        RuleTicketRun.rule_id == rule.id, RuleTicketRun.ticket_id == closed.id)) == 2
    # a request that matches later still gets its own two runs
    later = make_ticket(status="Problem Solved", is_open=False, closed_at=utcnow())
    assert run_automation(rule.id)["acted"] == 1
    assert _events(later, "note_private") == ["Twice ran"]
    notes = [r.note for r in db.session.scalars(select(RuleRun).where(
        RuleRun.rule_id == rule.id, RuleRun.ticket_id.is_(None)).order_by(RuleRun.id))]
    assert notes == [f"{n} request(s) matched and acted on" for n in (1, 1, 0, 0, 1)]


def test_due_automations_lists_enabled_due_rules_only(seeded):
    from helpdesk.extensions import db
    from helpdesk.rules.engine import due_automations, run_automation

    due = _automation("Due", True, 1)
    off = _automation("Off", True, 1, enabled=False)
    ran = _automation("Ran", True, 1, schedule="1d")
    run_automation(ran.id, now=NOW - timedelta(hours=1))
    assert due_automations(NOW) == [due.id]
    assert off.id not in due_automations(NOW + timedelta(days=30))
    assert run_automation(due.id, now=NOW)["acted"] == 0
    db.session.expire_all()
    assert due_automations(NOW + timedelta(minutes=30)) == []
    assert due_automations(NOW + timedelta(days=1)) == [due.id, ran.id]


def test_run_automation_refuses_triggers_and_unknown_ids(rule):
    from helpdesk.rules.engine import run_automation

    assert run_automation(rule.id) == {"skipped": "no such automation rule"}
    assert run_automation(424242) == {"skipped": "no such automation rule"}

"""Property: for random requests and random state conditions, SQL and Python agree.

The same condition tree is compiled to a WHERE clause (automations, filters, reports) and
evaluated in Python against each request's snapshot (triggers, the dry run). Hypothesis
draws requests and trees; the set of ids the database selects must equal the set Python
says matches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from helpdesk import criteria
from helpdesk.conditions import current_schema, snapshot, tickets_matching
from helpdesk.extensions import db
from helpdesk.thermostat.state import refresh_survey_state
from helpdesk.models import (Category, Customer, CustomField, Dispatch, Status, SurveyResult,
                             Ticket, TicketFieldValue, User)

NOW = datetime(2026, 6, 15, 12, 0, 0)
TEXTS = ["", "Printer", "printer on fire", "50% off_sale", "Zoë", "a\\b"]
EMAILS = [None, "pat@example.com", "PAT@example.com", "sam@test.org"]


def _reference_data():
    statuses = [Status(name=n, position=i) for i, n in enumerate(["Active", "Problem Solved",
                                                                 "Escalated"])]
    categories = [Category(name="Billing"), Category(name="Technical")]
    users = [User(email="a@x.org", name="A", password_hash="x", role="agent"),
             User(email="b@x.org", name="B", password_hash="x", role="admin")]
    fields = [CustomField(name="Plan", field_type="list"),
              CustomField(name="Seats", field_type="number")]
    db.session.add_all(statuses + categories + users + fields)
    db.session.commit()
    return statuses, categories, users, fields


ticket_st = st.fixed_dictionaries({
    "status": st.integers(0, 2), "category": st.sampled_from([None, 0, 1]),
    "assignee": st.sampled_from([None, 0, 1]), "is_open": st.booleans(),
    "urgent": st.booleans(), "subject": st.sampled_from(TEXTS[1:]),
    "first": st.sampled_from(TEXTS), "email": st.sampled_from(EMAILS),
    "phone": st.sampled_from([None, "555", "+1 555"]),
    "opened_days": st.integers(0, 100), "closed_after_hours": st.sampled_from([None, 1, 30, 900]),
    "responded_after_minutes": st.sampled_from([None, 5, 90, 3000]),
    "response_extra_seconds": st.sampled_from([0, 30, 59]),  # 90 min 59 s shows as "1h 30m"
    "result": st.sampled_from([None, ("nps", 3, "hi"), ("nps", 9, None), ("csat", 4, ""),
                              ("nps", 7, "ok")]),
    "sent": st.booleans(),
    "plan": st.sampled_from([None, "Free", "Pro"]), "seats": st.sampled_from([None, "3", "12.5"]),
})


def _condition_st(ids):
    status_ids, category_ids, user_ids, (plan_id, seats_id) = ids
    text_ops = st.sampled_from(criteria.TEXT_OPS)
    order_ops = st.sampled_from(("is", "is_not") + criteria.ORDER_OPS)
    return st.one_of(
        st.fixed_dictionaries({"field": st.just("status"), "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(status_ids)}),
        st.fixed_dictionaries({"field": st.just("category"),
                               "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(category_ids + [None])}),
        st.fixed_dictionaries({"field": st.just("assignee"),
                               "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(user_ids + [None])}),
        st.fixed_dictionaries({"field": st.sampled_from(["is_open", "urgent",
                                                         "survey_has_response",
                                                         "survey_sent_unanswered", "survey_never",
                                                         "survey_has_comment"]),
                               "op": st.just("is"), "value": st.booleans()}),
        st.fixed_dictionaries({"field": st.sampled_from(["subject", "customer_first_name",
                                                         "customer_email", "customer_phone",
                                                         f"custom:{plan_id}"]),
                               "op": text_ops, "value": st.sampled_from(
                                   ["printer", "P", "%", "_", "pat@example.com", "Pro", "5",
                                    "\\", "zoë"])}),
        # every value a score can take (the language refuses the rest), edges included
        st.fixed_dictionaries({"field": st.sampled_from(["survey_score", "nps_score"]),
                               "op": order_ops, "value": st.integers(0, 10)}),
        st.fixed_dictionaries({"field": st.just("csat_score"),
                               "op": order_ops, "value": st.integers(1, 5)}),
        st.fixed_dictionaries({"field": st.just("first_response_minutes"), "op": order_ops,
                               "value": st.sampled_from([0, 5, 6, 90, 91, 3000])}),
        st.fixed_dictionaries({"field": st.just("first_response_minutes"),
                               "op": st.just("between"),
                               "value": st.sampled_from([(0, 5), (5, 90), (90, 91), (91, 3000)])}),
        st.fixed_dictionaries({"field": st.just(f"custom:{seats_id}"),
                               "op": order_ops, "value": st.integers(0, 12)}),
        st.fixed_dictionaries({"field": st.sampled_from(["survey_score", "nps_score"]),
                               "op": st.just("between"),
                               "value": st.tuples(st.integers(0, 5), st.integers(5, 10))}),
        st.fixed_dictionaries({"field": st.just("csat_score"), "op": st.just("between"),
                               "value": st.tuples(st.integers(1, 3), st.integers(3, 5))}),
        st.fixed_dictionaries({"field": st.just("nps_rating"),
                               "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(["promoter", "passive", "detractor"])}),
        st.fixed_dictionaries({"field": st.just("csat_rating"),
                               "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(["satisfied", "dissatisfied"])}),
        st.fixed_dictionaries({"field": st.just("survey_state"),
                               "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(["none", "sent", "answered"])}),
        st.fixed_dictionaries({"field": st.just("survey_rating"),
                               "op": st.sampled_from(["is", "is_not"]),
                               "value": st.sampled_from(criteria.RATINGS)}),
        st.fixed_dictionaries({"field": st.sampled_from(["minutes_since_opened",
                                                         "minutes_since_closed",
                                                         "minutes_since_first_response"]),
                               "op": st.sampled_from(criteria.ORDER_OPS),
                               "value": st.sampled_from([0, 60, 1440, 20000, 150000])}),
        st.fixed_dictionaries({"field": st.sampled_from(["opened_at", "closed_at"]),
                               "op": st.sampled_from(["in_range", "not_in_range"]),
                               "value": st.sampled_from(list(criteria.DATE_RANGES))}),
    )


def _tree_st(cond):
    return st.recursive(
        st.lists(cond, min_size=1, max_size=3),
        lambda children: st.lists(
            st.one_of(cond, st.fixed_dictionaries({"match": st.sampled_from(["all", "any"]),
                                                   "conditions": children})),
            min_size=1, max_size=3),
        max_leaves=6)


def test_sql_and_python_agree(app):
    statuses, categories, users, fields = _reference_data()
    ids = ([s.id for s in statuses], [c.id for c in categories], [u.id for u in users],
           (fields[0].id, fields[1].id))

    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(tickets=st.lists(ticket_st, min_size=1, max_size=6),
           match=st.sampled_from(["all", "any"]), tree=_tree_st(_condition_st(ids)))
    def check(tickets, match, tree):
        for model in (TicketFieldValue, Dispatch, SurveyResult, Ticket, Customer):
            db.session.execute(delete(model))
        made = []
        for spec in tickets:
            opened = NOW - timedelta(days=spec["opened_days"], minutes=7)
            ticket = Ticket(
                subject=spec["subject"], status=statuses[spec["status"]],
                category=None if spec["category"] is None else categories[spec["category"]],
                assignee=None if spec["assignee"] is None else users[spec["assignee"]],
                is_open=spec["is_open"], urgent=spec["urgent"], opened_at=opened,
                updated_at=opened,
                closed_at=None if spec["closed_after_hours"] is None
                else opened + timedelta(hours=spec["closed_after_hours"]),
                first_response_at=None if spec["responded_after_minutes"] is None
                else opened + timedelta(minutes=spec["responded_after_minutes"]),
                first_response_seconds=None if spec["responded_after_minutes"] is None
                else spec["responded_after_minutes"] * 60 + spec["response_extra_seconds"],
                customer=Customer(first_name=spec["first"], last_name="", email=spec["email"],
                                  phone=spec["phone"]))
            db.session.add(ticket)
            db.session.flush()
            if spec["result"]:
                kind, score, feedback = spec["result"]
                result = SurveyResult(response_id=f"r{ticket.id}", survey_id=1, survey_type=kind,
                                      score=score, feedback=feedback,
                                      rating=__import__("helpdesk.results.ratings", fromlist=["x"])
                                      .rating_for(kind, score), ticket=ticket, responded_at=NOW)
                db.session.add(result)
                db.session.flush()
                ticket.survey_result_id, ticket.survey_type = result.id, kind
                ticket.survey_score, ticket.survey_rating = score, result.rating
            if spec["sent"]:
                db.session.add(Dispatch(ticket=ticket, kind="sendnow", survey_id=1, email="x@y.z",
                                        dedupe_key=f"k{ticket.id}", state="sent"))
            db.session.flush()
            refresh_survey_state(ticket)
            for field_, value in ((fields[0], spec["plan"]), (fields[1], spec["seats"])):
                if value is not None:
                    db.session.add(TicketFieldValue(ticket=ticket, field=field_, value=value))
            made.append(ticket)
        db.session.flush()
        schema = current_schema()
        criteria.validate(tree, allow_change_ops=False, allow_event_fields=False, schema=schema)
        in_sql = set(db.session.scalars(tickets_matching(match, tree, NOW, schema)))
        in_python = {t.id for t in made
                     if criteria.evaluate(match, tree, None, snapshot(t), NOW, schema)[0]}
        db.session.rollback()
        assert in_sql == in_python, (match, tree)

    check()
    assert db.session.scalars(select(Ticket)).all() == []


EDGE_CASES = [
    # (condition, subjects that must match) — LIKE wildcards are literal, case is folded
    ({"field": "subject", "op": "contains", "value": "%"}, {"50% off_sale"}),
    ({"field": "subject", "op": "contains", "value": "_"}, {"50% off_sale"}),
    ({"field": "subject", "op": "begins_with", "value": "PRINTER"},
     {"Printer", "printer on fire"}),
    ({"field": "subject", "op": "ends_with", "value": "\\b"}, {"a\\b"}),
    ({"field": "subject", "op": "is", "value": "printer"}, {"Printer"}),
    ({"field": "subject", "op": "not_contains", "value": "printer"}, {"50% off_sale", "a\\b"}),
    ({"field": "customer_email", "op": "is_not", "value": "pat@example.com"}, {"a\\b"}),
    ({"field": "category", "op": "is", "value": None}, {"a\\b", "50% off_sale"}),
]


def test_edge_cases_agree_and_match_by_hand(app):
    _reference_data()
    billing = db.session.scalar(select(Category).where(Category.name == "Billing"))
    active = db.session.scalar(select(Status).where(Status.name == "Active"))
    specs = [("Printer", "pat@example.com", billing), ("printer on fire", "PAT@example.com",
                                                        billing),
             ("50% off_sale", "pat@example.com", None), ("a\\b", None, None)]
    made = []
    for subject, email, category in specs:
        ticket = Ticket(subject=subject, status=active, category=category,
                        customer=Customer(first_name="x", email=email))
        db.session.add(ticket)
        made.append(ticket)
    db.session.commit()
    schema = current_schema()
    by_id = {t.id: t.subject for t in made}
    for cond, expected in EDGE_CASES:
        in_sql = {by_id[i] for i in db.session.scalars(tickets_matching("all", [cond], NOW,
                                                                        schema))}
        in_python = {t.subject for t in made
                     if criteria.evaluate("all", [cond], None, snapshot(t), NOW, schema)[0]}
        assert in_sql == in_python == expected, cond

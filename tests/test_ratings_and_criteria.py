"""Scoring rules (ratings.py) and the condition language (criteria), in Python and in SQL."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from helpdesk import criteria
from helpdesk.criteria import CriteriaError, evaluate, evaluate_condition, validate
from helpdesk.results.ratings import nps, rating_for, rating_label, scale_for
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import make_ticket

# --- ratings -------------------------------------------------------------------------------

NPS_TABLE = [(0, "detractor"), (1, "detractor"), (2, "detractor"), (3, "detractor"),
             (4, "detractor"), (5, "detractor"), (6, "detractor"), (7, "passive"),
             (8, "passive"), (9, "promoter"), (10, "promoter")]
CSAT_TABLE = [(1, "dissatisfied"), (2, "dissatisfied"), (3, "dissatisfied"), (4, "satisfied"),
              (5, "satisfied")]
CSAT_LABELS = ["Awful", "Bad", "Okay", "Good", "Great"]


def test_tables_cover_every_score_of_both_scales():
    assert [s for s, _ in NPS_TABLE] == list(range(11))
    assert [s for s, _ in CSAT_TABLE] == list(range(1, 6))


@pytest.mark.parametrize("score,rating", NPS_TABLE)
def test_nps_score_rating_and_label(score, rating):
    assert rating_for("nps", score) == rating
    assert rating_label("nps", score) == f"{rating.capitalize()} {score}"


@pytest.mark.parametrize("score,rating", CSAT_TABLE)
def test_csat_score_rating_and_label(score, rating):
    assert rating_for("csat", score) == rating
    assert rating_label("csat", score) == f"{rating.capitalize()} {score}"
    # with the survey's own words, the column speaks them
    assert rating_label("csat", score, CSAT_LABELS) == f"{CSAT_LABELS[score - 1]} {score}"


@pytest.mark.parametrize("survey_type,score,expected", [
    ("nps", 3, "Detractor 3"), ("nps", 7, "Passive 7"), ("nps", 10, "Promoter 10"),
    ("csat", 2, "Dissatisfied 2"), ("csat", 5, "Satisfied 5"),
    # NPS never uses CSAT words, even when labels are passed
    ("nps", 4, "Detractor 4"),
])
def test_rating_label_examples(survey_type, score, expected):
    labels = CSAT_LABELS if survey_type == "nps" else None
    assert rating_label(survey_type, score, labels) == expected


@pytest.mark.parametrize("survey_type,score", [(None, 3), ("nps", None), (None, None)])
def test_rating_label_without_result_is_a_dash(survey_type, score):
    assert rating_label(survey_type, score) == "—"


@pytest.mark.parametrize("survey_type,score", [
    ("nps", -1), ("nps", 11), ("nps", 100), ("csat", 0), ("csat", 6), ("csat", -3),
])
def test_out_of_scale_scores_raise(survey_type, score):
    with pytest.raises(ValueError, match="outside the"):
        rating_for(survey_type, score)
    with pytest.raises(ValueError):
        rating_label(survey_type, score, CSAT_LABELS)


def test_unknown_survey_type_raises():
    with pytest.raises(ValueError, match="unknown survey type"):
        scale_for("ces")
    with pytest.raises(ValueError):
        rating_for("ces", 3)


@pytest.mark.parametrize("scores,expected", [
    ([], None),
    ([10], 100.0),
    ([0], -100.0),
    ([7, 8], 0.0),
    ([9, 10, 7, 0], 25.0),           # 2 promoters, 1 detractor of 4
    ([9, 6, 6], -33.3),              # (1 - 2) / 3, rounded to one decimal
    ([9, 9, 7], 66.7),
    ([6, 7, 8, 9], 0.0),             # boundaries: 6 detractor, 9 promoter
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], round(100 * (2 - 7) / 11, 1)),
])
def test_nps_math(scores, expected):
    assert nps(scores) == expected


# --- criteria: evaluation in Python ---------------------------------------------------------

NOW = datetime(2026, 6, 26, 12, 0, 0)
BASE = {"status": 1, "category": None, "assignee": 5, "is_open": True, "urgent": False,
        "subject": "Printer on FIRE", "customer_email": "pat@example.com",
        "customer_first_name": "Pat", "customer_last_name": "Smith", "survey_score": 3,
        "survey_rating": "detractor"}


def cond(field, op, value=None):
    return {"field": field, "op": op, "value": value}


def check(conditions, triggers):
    """validate() as a trigger (change operators allowed) or as a filter (not)."""
    validate(conditions, allow_change_ops=triggers, allow_event_fields=triggers)


def holds(condition, old, new):
    return evaluate_condition(condition, old, new, NOW)


@pytest.mark.parametrize("condition,expected", [
    (cond("status", "is", 1), True),
    (cond("status", "is", "1"), True),          # form values arrive as text
    (cond("status", "is", 2), False),
    (cond("status", "is_not", 2), True),
    (cond("status", "is_not", 1), False),
    (cond("category", "is", None), True),
    (cond("category", "is_not", 3), True),      # no category is "not 3"
    (cond("is_open", "is", True), True),
    (cond("is_open", "is", "yes"), True),
    (cond("is_open", "is", "0"), False),
    (cond("urgent", "is", False), True),
    (cond("subject", "is", "Printer on FIRE"), True),
    (cond("subject", "is", "printer on fire"), True),    # text ignores case
    (cond("subject", "is", "Printer"), False),
    (cond("subject", "is_not", "Other"), True),
    (cond("subject", "is_not", "PRINTER ON FIRE"), False),
    (cond("subject", "begins_with", "printer"), True),
    (cond("subject", "begins_with", "fire"), False),
    (cond("subject", "ends_with", "fire"), True),
    (cond("subject", "ends_with", "printer"), False),
    (cond("subject", "contains", "ON f"), True),
    (cond("subject", "contains", "paper"), False),
    (cond("subject", "not_contains", "paper"), True),
    (cond("subject", "not_contains", "fire"), False),
    (cond("survey_score", "lt", 4), True),
    (cond("survey_score", "lt", 3), False),
    (cond("survey_score", "le", 3), True),
    (cond("survey_score", "le", 2), False),
    (cond("survey_score", "gt", 2), True),
    (cond("survey_score", "gt", 3), False),
    (cond("survey_score", "ge", 3), True),
    (cond("survey_score", "ge", 4), False),
    (cond("survey_score", "is", "3"), True),
    (cond("survey_rating", "is", "Detractor"), True),
    (cond("survey_rating", "is_not", "promoter"), True),
])
def test_state_operators(condition, expected):
    check([condition], triggers=False)
    assert holds(condition, None, BASE) is expected
    assert holds(condition, BASE, BASE) is expected  # state operators ignore `old`


@pytest.mark.parametrize("condition", [
    cond("survey_score", "lt", 5), cond("survey_score", "gt", 5), cond("survey_score", "ge", 0),
    cond("customer_email", "contains", "x"), cond("customer_email", "begins_with", "p"),
    cond("customer_email", "is", "pat@example.com"),
])
def test_ordering_and_text_operators_do_not_match_a_missing_value(condition):
    empty = {**BASE, "survey_score": None, "customer_email": None}
    assert holds(condition, None, empty) is False


def test_not_contains_and_is_not_match_a_missing_value():
    empty = {**BASE, "customer_email": None}
    assert holds(cond("customer_email", "is_not", "pat@example.com"), None, empty)
    assert holds(cond("customer_email", "not_contains", "pat"), None, empty)


CHANGED = {**BASE, "status": 2, "assignee": None}


@pytest.mark.parametrize("condition,old,new,expected", [
    # changed
    (cond("status", "changed"), BASE, CHANGED, True),
    (cond("status", "changed"), BASE, BASE, False),
    (cond("assignee", "changed"), BASE, CHANGED, True),          # 5 -> nobody
    (cond("status", "changed"), None, BASE, True),               # created with a value
    (cond("category", "changed"), None, BASE, False),            # created without one
    # changed_to
    (cond("status", "changed_to", 2), BASE, CHANGED, True),
    (cond("status", "changed_to", "2"), BASE, CHANGED, True),
    (cond("status", "changed_to", 3), BASE, CHANGED, False),
    (cond("status", "changed_to", 1), BASE, BASE, False),        # is 1 but did not change
    (cond("status", "changed_to", 1), None, BASE, True),         # created as 1
    (cond("assignee", "changed_to", None), BASE, CHANGED, True),
    # changed_from
    (cond("status", "changed_from", 1), BASE, CHANGED, True),
    (cond("status", "changed_from", 2), BASE, CHANGED, False),
    (cond("status", "changed_from", 1), BASE, BASE, False),
    (cond("status", "changed_from", 1), None, BASE, False),      # nothing to change from
    (cond("assignee", "changed_from", 5), BASE, CHANGED, True),
    # not_changed
    (cond("status", "not_changed"), BASE, BASE, True),
    (cond("status", "not_changed"), BASE, CHANGED, False),
    (cond("status", "not_changed"), None, BASE, False),
    (cond("category", "not_changed"), None, BASE, True),
    # bools, text, ratings, scores
    (cond("is_open", "changed_to", False), BASE, {**BASE, "is_open": False}, True),
    (cond("is_open", "changed_from", "yes"), BASE, {**BASE, "is_open": False}, True),
    (cond("subject", "changed_to", "new subject"), BASE, {**BASE, "subject": "New Subject"},
     True),
    (cond("survey_rating", "changed_to", "promoter"), BASE,
     {**BASE, "survey_rating": "promoter"}, True),
    (cond("survey_rating", "changed_from", "detractor"), None, BASE, False),
    (cond("survey_score", "changed"), BASE, {**BASE, "survey_score": 9}, True),
    (cond("survey_score", "changed"), {**BASE, "survey_score": None}, BASE, True),
])
def test_change_operators(condition, old, new, expected):
    check([condition], triggers=True)
    assert holds(condition, old, new) is expected


@pytest.mark.parametrize("match,conditions,expected,each", [
    ("all", [cond("status", "changed_to", 2), cond("is_open", "is", True)], True, [True, True]),
    ("all", [cond("status", "changed_to", 2), cond("is_open", "is", False)], False, [True, False]),
    ("any", [cond("status", "changed_to", 3), cond("is_open", "is", False)], False,
     [False, False]),
    ("any", [cond("status", "changed_to", 3), cond("is_open", "is", True)], True, [False, True]),
    ("all", [], True, []),
    ("any", [], True, []),
])
def test_all_and_any(match, conditions, expected, each):
    verdict, lines = evaluate(match, conditions, BASE, CHANGED, NOW)
    assert verdict is expected
    assert [line.held for line in lines] == each


@pytest.mark.parametrize("conditions,triggers,message", [
    ([cond("colour", "is", "red")], True, "unknown field 'colour'"),
    ([{"op": "is", "value": 1}], True, "unknown field"),
    ([cond("status", "contains", "x")], True, "Status: unknown operator 'contains'"),
    ([cond("status", "drop table", 1)], True, "unknown operator"),
    ([cond("is_open", "lt", 1)], True, "unknown operator 'lt'"),
    ([cond("survey_rating", "gt", "promoter")], True, "unknown operator"),
    ([cond("status", "is", "abc")], True, "Status: 'abc' is not a valid choice"),
    ([cond("survey_score", "gt", "nine")], True, "'nine' is not a number"),
    ([cond("survey_score", "gt", None)], True, "is not a number"),
    ([cond("subject", "contains", None)], True, "Subject: a value is required"),
    ([cond("is_open", "is", "maybe")], True, "'maybe' is not yes or no"),
    ([cond("survey_rating", "is", "happy")], True, "'happy' is not a rating"),
    ([cond("status", "changed_to", "x")], True, "is not a valid choice"),
    ([cond("status", "changed")], False, "'changed' only applies to triggers"),
    ([cond("status", "changed_to", 2)], False, "'changed to' only applies to triggers"),
    ([cond("status", "changed_from", 2)], False, "'changed from' only applies to triggers"),
    ([cond("status", "not_changed")], False, "'did not change' only applies to triggers"),
    # the first bad condition is reported even after good ones
    ([cond("status", "is", 1), cond("urgent", "is", "perhaps")], False, "Urgent:"),
])
def test_validate_errors(conditions, triggers, message):
    with pytest.raises(CriteriaError) as info:
        check(conditions, triggers)
    assert message in str(info.value)


def test_validate_accepts_change_ops_without_value_in_triggers():
    check([cond("status", "changed"), cond("assignee", "not_changed"),
           cond("assignee", "changed_to", None)], triggers=True)


def test_compile_refuses_change_ops(app):
    from helpdesk.conditions import sql_context

    with pytest.raises(CriteriaError, match="'changed' cannot be used"):
        criteria.compile_condition(cond("status", "changed"), sql_context(), NOW)


# --- criteria: SQL and Python agree on real rows -------------------------------------------


@pytest.fixture
def rows(app, seeded):
    """A handful of requests that differ in every field the language knows."""
    from helpdesk.extensions import db
    from helpdesk.models import Category, Status, utcnow

    now = utcnow()
    statuses = {s.name: s.id for s in db.session.scalars(select(Status))}
    billing = db.session.scalar(select(Category).where(Category.name == "Billing"))
    agent = seeded["agent"]
    tickets = [
        make_ticket("Printer on FIRE", "pat@example.com", "Pat", "Smith",
                    opened_at=now - timedelta(days=2)),
        make_ticket("Invoice 100% wrong", "kim_lee@example.org", "Kim", "Lee",
                    status="Problem Solved", is_open=False, category_id=billing.id,
                    assignee_id=agent.id, survey_type="nps", survey_score=3,
                    survey_rating="detractor", opened_at=now - timedelta(days=40),
                    closed_at=now - timedelta(days=10)),
        make_ticket("Cannot log in", None, "", "Okafor", urgent=True,
                    survey_type="nps", survey_score=9, survey_rating="promoter",
                    opened_at=now - timedelta(minutes=30)),
        make_ticket("printer jam_2", "ROBIN@EXAMPLE.COM", "Robin", "MÜLLER",
                    status="Escalated", category_id=billing.id,
                    survey_type="csat", survey_score=5, survey_rating="satisfied",
                    opened_at=now - timedelta(hours=5)),
        make_ticket("Refund", "sam@example.com", "Sam", "Rossi", status="Problem Solved",
                    is_open=False, survey_type="nps", survey_score=7, survey_rating="passive",
                    opened_at=now - timedelta(days=3), closed_at=now - timedelta(hours=1)),
    ]
    return {"tickets": tickets, "statuses": statuses, "billing": billing.id, "agent": agent.id}


def _agreement_cases(rows):
    st, billing, agent = rows["statuses"], rows["billing"], rows["agent"]
    return [
        ("all", [cond("status", "is", st["Problem Solved"])]),
        ("all", [cond("status", "is_not", st["Active"])]),
        ("all", [cond("category", "is", billing)]),
        ("all", [cond("category", "is", None)]),
        ("all", [cond("category", "is_not", billing)]),
        ("all", [cond("assignee", "is", agent)]),
        ("all", [cond("assignee", "is_not", agent)]),
        ("all", [cond("is_open", "is", True)]),
        ("all", [cond("is_open", "is", "false")]),
        ("all", [cond("urgent", "is", True)]),
        ("all", [cond("subject", "is", "Refund")]),
        ("all", [cond("subject", "is", "REFUND")]),
        ("all", [cond("subject", "is_not", "Refund")]),
        ("all", [cond("subject", "begins_with", "PRINTER")]),
        ("all", [cond("subject", "ends_with", "in")]),
        ("all", [cond("subject", "contains", "100%")]),   # LIKE wildcards are literal
        ("all", [cond("subject", "contains", "%")]),
        ("all", [cond("subject", "contains", "jam_")]),
        ("all", [cond("subject", "contains", "_")]),
        ("all", [cond("subject", "not_contains", "printer")]),
        ("all", [cond("customer_email", "ends_with", "@example.com")]),
        ("all", [cond("customer_email", "is_not", "pat@example.com")]),
        ("all", [cond("customer_email", "not_contains", "example.com")]),
        ("all", [cond("customer_email", "is", "robin@example.com")]),
        ("all", [cond("customer_first_name", "is", "")]),
        ("all", [cond("customer_last_name", "begins_with", "mü")]),   # non-ASCII case folding
        ("all", [cond("customer_last_name", "contains", "Üll")]),
        ("all", [cond("customer_last_name", "is", "müller")]),
        ("all", [cond("survey_score", "lt", 7)]),
        ("all", [cond("survey_score", "le", 7)]),
        ("all", [cond("survey_score", "gt", 3)]),
        ("all", [cond("survey_score", "ge", 9)]),
        ("all", [cond("survey_score", "is_not", 3)]),
        ("all", [cond("survey_rating", "is", "PROMOTER")]),
        ("all", [cond("survey_rating", "is_not", "detractor")]),
        ("all", [cond("minutes_since_opened", "gt", 60)]),
        ("all", [cond("minutes_since_opened", "le", 24 * 60)]),
        ("all", [cond("minutes_since_closed", "lt", 24 * 60)]),
        ("all", [cond("minutes_since_closed", "ge", 24 * 60)]),
        ("all", [cond("opened_at", "in_range", "past_7_days")]),
        ("all", [cond("opened_at", "not_in_range", "past_7_days")]),
        ("all", [cond("closed_at", "in_range", "past_30_days")]),
        ("all", [cond("closed_at", "not_in_range", "today")]),
        ("all", [cond("is_open", "is", False), cond("survey_score", "lt", 5)]),
        ("any", [cond("is_open", "is", False), cond("survey_score", "lt", 5)]),
        ("any", [cond("urgent", "is", True), cond("subject", "contains", "refund"),
                 cond("customer_email", "begins_with", "sam")]),
        ("all", [cond("is_open", "is", True),
                 {"match": "any", "conditions": [cond("urgent", "is", True),
                                                 cond("survey_rating", "is", "satisfied")]}]),
        ("all", []),
    ]


def test_sql_and_python_agree_on_every_state_condition(rows):
    from helpdesk.conditions import snapshot, sql_context
    from helpdesk.extensions import db
    from helpdesk.models import Customer, Ticket, utcnow

    now = utcnow()
    tickets = rows["tickets"]
    all_ids = {t.id for t in tickets}
    snapshots = {t.id: snapshot(t) for t in tickets}
    cases = _agreement_cases(rows)
    nonempty_and_partial = 0
    for match, conditions in cases:
        check(conditions, triggers=False)
        where = criteria.compile_tree(match, conditions, sql_context(), now)
        in_sql = set(db.session.scalars(
            select(Ticket.id).join(Customer, Ticket.customer_id == Customer.id).where(where)))
        in_python = {tid for tid, snap in snapshots.items()
                     if evaluate(match, conditions, None, snap, now)[0]}
        assert in_sql == in_python, (match, conditions)
        if in_sql and in_sql != all_ids:
            nonempty_and_partial += 1
    # the table is not vacuous: most cases select some but not all rows
    assert nonempty_and_partial >= len(cases) - 8


@pytest.mark.parametrize("value,expected_subjects", [
    ("100%", {"Invoice 100% wrong"}),
    ("%", {"Invoice 100% wrong"}),
    ("jam_", {"printer jam_2"}),
    ("_", {"printer jam_2"}),
])
def test_filter_values_with_like_wildcards_match_literally(rows, value, expected_subjects):
    from helpdesk.conditions import sql_context
    from helpdesk.extensions import db
    from helpdesk.models import Customer, Ticket

    where = criteria.compile_tree("all", [cond("subject", "contains", value)], sql_context(),
                                  NOW)
    found = set(db.session.scalars(
        select(Ticket.subject).join(Customer, Ticket.customer_id == Customer.id).where(where)))
    assert found == expected_subjects

"""A rule acts at most once per event, even when updates race.

Agents press "Save and close" on the same request at the same moment (threads released by a
barrier, each with its own test client, so each request runs in its own app context, session
and database connection). The triggers are slowed down so the first transaction is still
open while the others arrive. Exactly one survey may be queued and, after the worker runs,
sent. The same holds one level down, where two transactions run the triggers for the same
change without the request page's row lock: the outbox's unique key lets one win.

Runs on SQLite (a file) and on PostgreSQL:
    scripts/with_postgres.sh .venv/bin/python -m pytest tests/test_rules_race.py
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.models import Dispatch, RuleRun, Status, Ticket
from tests.helpers import login, make_ticket, run_worker, text_of

TRIGGER_DELAY = 0.4  # seconds the first close holds its transaction open inside the triggers


@pytest.fixture
def slow_triggers(monkeypatch):
    """Widen the window: every update's triggers take TRIGGER_DELAY before they run."""
    from helpdesk.tickets import services

    real = services.run_triggers
    calls = []

    def slow(*args, **kwargs):
        calls.append(threading.current_thread().name)
        time.sleep(TRIGGER_DELAY)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "run_triggers", slow)
    return calls


def _in_threads(count: int, target) -> list:
    """Run target(index, barrier) in `count` threads at once; re-raise their errors."""
    barrier = threading.Barrier(count, timeout=30)
    results: list = [None] * count
    errors: list = []

    def run(index):
        try:
            results[index] = target(index, barrier)
        except BaseException as exc:  # handed back to the test, raised there
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), name=f"agent-{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("agents", [2, 5])
def test_concurrent_closes_of_one_request_send_one_survey(app, connected, slow_triggers,
                                                          agents):
    ticket = make_ticket(email="pat@example.com")
    ticket_id = ticket.id
    solved_id = db.session.scalar(select(Status.id).where(Status.name == "Problem Solved"))
    db.session.commit()  # hold no transaction (on SQLite: no lock) while the agents work

    def close(index, barrier):
        client = app.test_client()  # each request pushes its own app context and session
        login(client)
        barrier.wait()
        started = time.monotonic()
        response = client.post(f"/requests/{ticket_id}/update", data={
            "status_id": solved_id, "category_id": 0, "assignee_id": 0,
            "close": "Save and close"})
        finished = time.monotonic()
        page = text_of(client.get(f"/requests/{ticket_id}"))
        said = ("Request updated." if "Request updated." in page
                else "Nothing changed." if "Nothing changed." in page else page[:300])
        return response.status_code, said, started, finished

    results = _in_threads(agents, close)
    assert [code for code, *_ in results] == [302] * agents
    assert sorted(said for _, said, *_ in results) == (
        ["Nothing changed."] * (agents - 1) + ["Request updated."])
    # they really raced: every close started before the first one had finished
    first_done = min(finished for *_, finished in results)
    assert all(started < first_done for _, _, started, _ in results)
    assert len(slow_triggers) == 1  # only the close that changed something ran the triggers

    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.is_open, ticket.status_id) == (False, solved_id)
    [dispatch] = db.session.scalars(select(Dispatch)).all()
    assert (dispatch.ticket_id, dispatch.survey_id, dispatch.state) == (ticket_id, 1, "pending")
    fired = db.session.scalars(select(RuleRun).where(RuleRun.fired.is_(True))).all()
    assert [(r.ticket_id, r.event, r.actions) for r in fired] == [
        (ticket_id, "updated", [f"queued send #{dispatch.id}"])]
    closes = [e for e in ticket.events if e.kind == "change" and "Request closed" in e.body]
    assert len(closes) == 1

    run_worker(app)
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == "sent"
    sends = connected.state()["sends"]
    assert len(sends) == 1
    assert sends[0]["email"] == "pat@example.com"
    assert str(sends[0]["custom_fields"]["xrequest"]) == str(ticket_id)


def test_two_transactions_running_the_same_trigger_queue_one_send(app, seeded):
    """Without the request page's row lock: the outbox row's unique key decides."""
    from helpdesk.conditions import snapshot
    from helpdesk.rules.engine import run_triggers

    ticket = make_ticket(email="pat@example.com", status="Problem Solved", is_open=False)
    ticket_id = ticket.id
    active_id = db.session.scalar(select(Status.id).where(Status.name == "Active"))
    before = {**snapshot(ticket), "status": active_id, "is_open": True, "closed_at": None}
    db.session.commit()

    def run(index, barrier):
        with app.app_context():
            try:
                barrier.wait()
                t = db.session.get(Ticket, ticket_id)
                outcomes = run_triggers("updated", t, before)
                db.session.commit()
                return [a for o in outcomes for a in o.actions]
            finally:
                db.session.remove()

    results = _in_threads(2, run)
    queued = [r for r in results if r[0].startswith("queued send #")]
    skipped = [r for r in results if r[0].startswith("skipped: already queued")]
    assert len(queued) == 1 and len(skipped) == 1, results
    db.session.expire_all()
    [dispatch] = db.session.scalars(select(Dispatch)).all()
    assert queued[0] == [f"queued send #{dispatch.id}"]
    assert db.session.scalar(select(func.count()).select_from(RuleRun)
                             .where(RuleRun.fired.is_(True))) == 2  # both ran; one sent

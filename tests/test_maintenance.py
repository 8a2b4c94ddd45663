"""Planner statistics: refreshed after a large import and nightly, so SQLite picks its indexes."""

from __future__ import annotations

from croniter import croniter
from sqlalchemy import text

from helpdesk.extensions import db
from helpdesk.maintenance import after_bulk_load, nightly_statistics, refresh_planner_statistics
from tests.helpers import make_ticket


def test_statistics_are_refreshed_on_sqlite_and_left_to_autovacuum_on_postgresql(app, seeded):
    for n in range(3):
        make_ticket(subject=f"Request {n}", email=f"c{n}@example.com", is_open=n != 0)
    outcome = refresh_planner_statistics()
    if db.engine.dialect.name == "postgresql":
        assert outcome.startswith("skipped")
        return
    assert outcome == "analyzed"
    stats = dict(db.session.execute(text(
        "SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'tickets'")).all())
    # "3 2": three rows; each is_open value matches two of them on average (1 open, 2 closed)
    assert stats["ix_tickets_open_survey_state"].split()[:2] == ["3", "2"]
    assert nightly_statistics() == "analyzed"


def test_a_bulk_load_leaves_the_counts_to_the_index_alone(app, seeded):
    """After seed-scale the database is as autovacuum would leave it: on PostgreSQL the
    visibility map is set, so a count is an index-only scan with no heap fetches."""
    for n in range(3):
        make_ticket(subject=f"Request {n}", email=f"c{n}@example.com", is_open=n != 0)
    outcome = after_bulk_load()
    if db.engine.dialect.name == "sqlite":
        assert outcome == "analyzed"
        assert db.session.scalar(text(
            "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tickets'")) > 0
        return
    assert outcome == "vacuumed and analyzed"
    all_visible, pages = db.session.execute(text(
        "SELECT relallvisible, relpages FROM pg_class WHERE relname = 'tickets'")).one()
    assert pages > 0 and all_visible == pages


def test_the_scheduler_runs_it_nightly():
    from rq import cron as rq_cron

    import helpdesk.cron  # noqa: F401 (registers the periodic jobs)

    entries = [e for e in rq_cron._job_data_registry
               if e["func"].__name__ == "nightly_statistics"]
    assert len(entries) == 1
    assert croniter.is_valid(entries[0]["cron"]) and entries[0]["interval"] is None

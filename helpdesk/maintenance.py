"""Database upkeep that runs on a schedule (helpdesk/cron.py) and after large imports."""

from __future__ import annotations

from sqlalchemy import text

from .extensions import db
from .tasks import job


def refresh_planner_statistics() -> str:
    """Refresh the query planner's figures (SQLite's ANALYZE; PostgreSQL's autovacuum does it).

    Without them SQLite guesses how many rows an index condition matches, and for some
    filters at a million requests it guesses an index that reads ten times too many rows.
    About 3 s at a million requests, holding the write lock (writers wait on the busy
    timeout); run nightly and after `flask seed-scale`.
    """
    if db.engine.dialect.name != "sqlite":
        return "skipped: PostgreSQL's autovacuum keeps its statistics"
    # on the session's own connection: a second one would wait for the session's write lock
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return "analyzed"


@job
def nightly_statistics() -> str:
    """The scheduled form of refresh_planner_statistics."""
    return refresh_planner_statistics()

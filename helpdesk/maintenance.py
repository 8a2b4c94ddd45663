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


def after_bulk_load() -> str:
    """Leave a freshly bulk-loaded database as a running one would be.

    SQLite: its statistics (refresh_planner_statistics). PostgreSQL: VACUUM (ANALYZE), which
    its autovacuum runs by itself a minute or so after a large insert; until it has, the
    visibility map is empty and every count reads the table instead of the index alone
    (the ten sidebar counts: ~850 ms before, ~140 ms after, at a million requests).
    """
    if db.engine.dialect.name == "sqlite":
        return refresh_planner_statistics()
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")  # VACUUM cannot run inside a transaction
    return "vacuumed and analyzed"


@job
def nightly_statistics() -> str:
    """The scheduled form of refresh_planner_statistics."""
    return refresh_planner_statistics()

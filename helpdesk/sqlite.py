"""SQLite settings for a web app, a worker and a scheduler sharing one file.

pysqlite's own transaction handling breaks SAVEPOINT and begins transactions late, so we
take it over (SQLAlchemy's documented recipe) and begin every transaction ourselves:
writers (POSTs, jobs, commands) with BEGIN IMMEDIATE so they queue on the busy timeout
instead of failing when another writer got there first; page views (GET) with a plain BEGIN
so reading never waits for a writer.
"""

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine


def install_sqlite_pragmas(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and explicit BEGIN for working savepoints."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's lower() folds ASCII only; use Python's, as the condition language does.
        dbapi_connection.create_function(
            "lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        read_only = has_request_context() and request.method in ("GET", "HEAD")
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

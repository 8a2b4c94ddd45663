"""Migrations: one head, they build exactly the models' schema, and they go down and up."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent


def test_one_head():
    script = ScriptDirectory(str(ROOT / "migrations"))
    assert len(script.get_heads()) == 1


@pytest.fixture
def empty_db_url(tmp_path, pg_url):
    """A new empty database (SQLite file, or a fresh PostgreSQL database)."""
    if not pg_url:
        yield f"sqlite:///{tmp_path / 'migrate.sqlite'}"
        return
    import psycopg

    name = f"helpdesk_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def flask(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_upgrade_check_downgrade_upgrade(empty_db_url):
    up = flask(empty_db_url, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    check = flask(empty_db_url, "db", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    down = flask(empty_db_url, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    again = flask(empty_db_url, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    seed = flask(empty_db_url, "seed-demo")
    assert seed.returncode == 0 and "Demo data seeded." in seed.stdout, seed.stderr
    reseed = flask(empty_db_url, "seed-demo")
    assert "Demo data already present." in reseed.stdout


def test_result_trigger_runs_are_back_filled_from_the_run_log(empty_db_url):
    """a3f1c8d0e6b2: a result trigger that acted on a request has acted on the responses
    received before it ran, so their later updates do not set it off again."""
    from sqlalchemy import create_engine

    assert flask(empty_db_url, "db", "upgrade", "7c1e4a9d2b50").returncode == 0
    for seed in (flask(empty_db_url, "seed-demo"),  # its survey trigger
                 flask(empty_db_url, "seed-scale", "--requests", "30", "--results", "10")):
        assert seed.returncode == 0, seed.stderr
    engine = create_engine(empty_db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        rows = _back_fill(engine, empty_db_url)
    finally:
        engine.dispose()
    rule, first, got = rows
    # the first request's run came after its response; the second's acted run came before
    # its response was received, and its later run did not act
    assert got == [(rule, first)]


def _back_fill(engine, db_url):
    from sqlalchemy import text

    with engine.begin() as conn:
        rule = conn.scalar(text("SELECT min(id) FROM rules"))
        results = conn.execute(text(
            "SELECT id, ticket_id, received_at FROM survey_results "
            "WHERE ticket_id IS NOT NULL ORDER BY id LIMIT 2")).all()
        assert len(results) == 2 and results[0].ticket_id != results[1].ticket_id
        first, second = results
        for ticket_id, at, fired in ((first.ticket_id, "2999-01-01 00:00:00", True),
                                     (second.ticket_id, "2000-01-01 00:00:00", True),
                                     (second.ticket_id, "2999-01-01 00:00:00", False)):
            conn.execute(text(
                "INSERT INTO rule_runs (rule_id, ticket_id, event, fired, actions, lines, "
                "created_at) VALUES (:r, :t, 'result', :f, '[]', '[]', :at)"),
                {"r": rule, "t": ticket_id, "f": fired, "at": at})
    assert flask(db_url, "db", "upgrade").returncode == 0
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT rule_id, survey_result_id FROM rule_result_runs")).all()
    return rule, first.id, [tuple(r) for r in rows]

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

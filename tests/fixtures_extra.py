"""Fixtures shared by the newer test modules (import them into a module to use them)."""

from __future__ import annotations

import functools

import pytest
from werkzeug.security import generate_password_hash


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Cheap password hashes for the demo users (scrypt costs ~0.2 s per user per test).

    Only the cost changes: check_password_hash reads the method from the stored hash, so
    logging in still verifies the password for real.
    """
    import helpdesk.models

    monkeypatch.setattr(helpdesk.models, "generate_password_hash",
                        functools.partial(generate_password_hash, method="pbkdf2:sha256:1000"))


@pytest.fixture
def reference(app):
    """Statuses and categories only (no users): enough for make_ticket and the inbound route."""
    from helpdesk.cli import seed_reference_data
    from helpdesk.extensions import db

    seed_reference_data()
    db.session.commit()

"""Run a callable once the current transaction commits (and never if it rolls back)."""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_KEY = "helpdesk_after_commit"


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Queue `fn` to run after `session` commits; dropped if the transaction rolls back."""
    session.info.setdefault(_KEY, []).append(fn)


def install(session_class=Session) -> None:
    """Install the listeners once."""
    if getattr(install, "_installed", False):
        return
    install._installed = True

    @event.listens_for(session_class, "after_commit")
    def _run(session):
        if session.in_nested_transaction():
            return  # SQLAlchemy also fires after_commit when a SAVEPOINT is released
        for fn in session.info.pop(_KEY, []):
            try:
                fn()
            except Exception:  # the commit already happened; report, do not raise
                log.exception("after-commit callback failed")

    @event.listens_for(session_class, "after_soft_rollback")
    def _drop(session, previous_transaction):
        if not getattr(previous_transaction, "nested", False):
            session.info.pop(_KEY, None)

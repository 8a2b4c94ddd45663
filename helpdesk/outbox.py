"""Transactional outbox: Dispatch rows are written with the change, enqueued after commit.

A row flushed in a transaction is remembered on the session; once the transaction commits,
its job is enqueued. If Redis is down then, the row stays pending and the periodic sweep
enqueues it later, so a commit never loses a send and a rollback never sends one.
"""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "helpdesk_new_dispatches"


def install_session_hooks(db) -> None:
    """Listen on every ORM session once (idempotent across app instances)."""
    if getattr(install_session_hooks, "_installed", False):
        return
    install_session_hooks._installed = True
    event.listen(Session, "after_flush", _remember_new)
    event.listen(Session, "after_commit", _enqueue_remembered)
    event.listen(Session, "after_soft_rollback", _forget)


def _remember_new(session: Session, _flush_context) -> None:
    from .models import Dispatch

    ids = [obj.id for obj in session.new if isinstance(obj, Dispatch)]
    if ids:
        session.info.setdefault(_KEY, []).extend(ids)


def _forget(session: Session, _previous_transaction) -> None:
    session.info.pop(_KEY, None)


def _enqueue_remembered(session: Session) -> None:
    ids = session.info.pop(_KEY, None)
    if ids:
        enqueue_dispatches(ids)


def enqueue_dispatches(ids: list[int]) -> int:
    """Enqueue the send job of each dispatch id; returns how many were enqueued."""
    from .queue import get_queue
    from .thermostat.jobs import send_dispatch

    done = 0
    try:
        queue = get_queue()
        for dispatch_id in ids:
            queue.enqueue(send_dispatch, dispatch_id, job_timeout=120)
            done += 1
    except Exception as exc:  # Redis down: the sweep will pick these rows up
        log.warning("could not enqueue %d dispatch(es), left pending: %s", len(ids) - done, exc)
    return done


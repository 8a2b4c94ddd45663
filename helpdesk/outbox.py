"""Transactional outbox: rows are written with the change, their jobs enqueued after commit.

Two kinds of outbox rows share this one mechanism: `Dispatch` (a Thermostat call) and
`OutboundEmail` (an email the helpdesk sends). A row flushed in a transaction is remembered
on the session; once the transaction commits, its job is enqueued. If Redis is down then,
the row stays pending and the periodic sweep enqueues it later, so a commit never loses a
send and a rollback never sends one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "helpdesk_new_outbox_rows"


def install_session_hooks(db) -> None:
    """Listen on every ORM session once (idempotent across app instances)."""
    if getattr(install_session_hooks, "_installed", False):
        return
    install_session_hooks._installed = True
    event.listen(Session, "after_flush", _remember_new)
    event.listen(Session, "after_commit", _enqueue_remembered)
    event.listen(Session, "after_soft_rollback", _forget)


def _outbox_types() -> dict[type, str]:
    from .mail.models import OutboundEmail
    from .models import Dispatch

    return {Dispatch: "dispatch", OutboundEmail: "email"}


def _remember_new(session: Session, _flush_context) -> None:
    types = _outbox_types()
    for obj in session.new:
        what = types.get(type(obj))
        if what is not None:
            session.info.setdefault(_KEY, {}).setdefault(what, []).append(obj.id)


def _forget(session: Session, previous_transaction) -> None:
    # A savepoint rolling back (a lost dedupe race) must not drop the rows flushed before
    # it; ids of rows that vanished with the savepoint find nothing and their job is a no-op.
    if not getattr(previous_transaction, "nested", False):
        session.info.pop(_KEY, None)


def _enqueue_remembered(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released (SQLAlchemy fires after_commit for it too)
    rows = session.info.pop(_KEY, None)
    if not rows:
        return
    if rows.get("dispatch"):
        enqueue_dispatches(rows["dispatch"])
    if rows.get("email"):
        enqueue_emails(rows["email"])


def _enqueue(func, ids: list[int], what: str) -> int:
    from .queue import get_queue

    done = 0
    try:
        queue = get_queue()
        for row_id in ids:
            queue.enqueue(func, row_id, job_timeout=120)
            done += 1
    except Exception as exc:  # Redis down: the sweep will pick these rows up
        log.warning("could not enqueue %d %s(s), left pending: %s", len(ids) - done, what, exc)
    return done


def enqueue_dispatches(ids: list[int]) -> int:
    """Enqueue the send job of each dispatch id; returns how many were enqueued."""
    from .thermostat.jobs import send_dispatch

    return _enqueue(send_dispatch, ids, "dispatch")


def enqueue_emails(ids: list[int]) -> int:
    """Enqueue the send job of each outbound email id; returns how many were enqueued."""
    from .mail.jobs import send_email

    return _enqueue(send_email, ids, "email")


# ------------------------------------------------- the row side, shared by both send jobs
# Both outbox tables have state, attempts, created_at, updated_at and next_attempt_at, and
# move pending/retrying -> sending -> sent/retrying/failed.

SWEEP_BATCH = 1000


def claim(model, row_id: int) -> bool:
    """Atomically move a row to 'sending'; False when another worker has it or it is done."""
    from .extensions import db
    from .models import utcnow

    result = db.session.execute(
        update(model)
        .where(model.id == row_id, model.state.in_(("pending", "retrying")))
        .values(state="sending", attempts=model.attempts + 1, updated_at=utcnow()))
    db.session.commit()
    return result.rowcount == 1


def stuck_rows(model, now: datetime, stuck_seconds: int) -> list:
    """Rows left in 'sending' by a worker that died mid-call (the caller fails them)."""
    from .extensions import db

    return list(db.session.scalars(select(model).where(
        model.state == "sending",
        model.updated_at < now - timedelta(seconds=stuck_seconds)).limit(SWEEP_BATCH)))


def due_ids(model, now: datetime, stale_seconds: int) -> list[int]:
    """Ids of rows never enqueued (pending a while) or whose retry is overdue."""
    from .extensions import db

    stale = now - timedelta(seconds=stale_seconds)
    ids = list(db.session.scalars(
        select(model.id).where(or_(
            (model.state == "pending") & (model.created_at < stale),
            (model.state == "retrying") & (model.next_attempt_at < stale),
        )).order_by(model.id).limit(SWEEP_BATCH)))
    db.session.commit()
    return ids

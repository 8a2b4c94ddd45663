"""RQ jobs for automation rules."""

from __future__ import annotations

import logging

from ..extensions import db
from ..models import utcnow
from ..queue import redis_connection
from ..tasks import job
from .engine import due_automations, run_automation

log = logging.getLogger(__name__)
LOCK = "helpdesk:automations:lock"


@job
def run_due_automations() -> list[dict]:
    """Run every automation rule that is due; one run at a time across all workers."""
    lock = redis_connection().lock(LOCK, timeout=3600, blocking=False)
    if not lock.acquire():
        return [{"skipped": "another automation run is in progress"}]
    try:
        now = utcnow()
        results = []
        for rule_id in due_automations(now):
            try:
                results.append(run_automation(rule_id, now))
            except Exception:  # one broken rule must not stop the others
                db.session.rollback()
                log.exception("automation rule %s failed", rule_id)
                results.append({"rule": rule_id, "failed": True})
        return results
    finally:
        try:
            lock.release()
        except Exception:
            pass


@job
def post_webhook(url: str, payload: dict, ticket_id: int, rule_name: str) -> str:
    """POST a rule's JSON payload to a webhook URL and record the outcome on the request."""
    import requests

    from ..history import add_event
    from ..models import Ticket

    try:
        response = requests.post(url, json=payload, timeout=10,
                                 headers={"User-Agent": "helpdesk-webhook/1.0"})
        ok = 200 <= response.status_code < 300
        outcome = f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        ok, outcome = False, type(exc).__name__
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is not None:
        add_event(ticket, "system", f"Webhook POST to {url} by rule '{rule_name}': "
                  f"{'sent' if ok else 'failed'} ({outcome})", outcome="ok" if ok else "failed")
        db.session.commit()
    return outcome

"""A deterministic large helpdesk for benchmarks: `flask seed-scale`.

Rows are generated in batches with core INSERTs (no ORM objects), so a million requests
take a minute or two, not an hour. The same arguments always give the same data.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from .extensions import db
from .models import Category, Customer, Status, SurveyResult, Ticket, User
from .results.ratings import rating_for

BATCH = 20000


def seed_scale(requests: int, results: int, customers: int = 50000, seed: int = 7,
               now: datetime | None = None, echo=print) -> None:
    """Add `requests` requests (30% open) and `results` survey results to the database."""
    rng = random.Random(seed)
    now = now or datetime(2026, 12, 1, 12, 0, 0)
    statuses = {s.name: s.id for s in db.session.scalars(select(Status))}
    categories = [c.id for c in db.session.scalars(select(Category))] or [None]
    staff = [u.id for u in db.session.scalars(select(User))] or [None]
    closing = [statuses[n] for n in ("Problem Solved", "Customer Found Solution",
                                     "Customer Unreachable")]
    first_customer = (db.session.scalar(select(func.max(Customer.id))) or 0) + 1
    for start in range(0, customers, BATCH):
        db.session.execute(insert(Customer), [
            {"first_name": f"First{i}", "last_name": f"Last{i % 9973}",
             "email": f"customer{i}@example.com", "phone": None, "created_at": now}
            for i in range(start, min(customers, start + BATCH))])
    db.session.commit()
    echo(f"{customers} customers")
    first_ticket = (db.session.scalar(select(func.max(Ticket.id))) or 0) + 1
    answered = set(rng.sample(range(requests), results)) if results else set()
    result_rows = []
    for start in range(0, requests, BATCH):
        rows = []
        for i in range(start, min(requests, start + BATCH)):
            opened = now - timedelta(minutes=rng.randint(0, 730 * 24 * 60))
            is_open = rng.random() < 0.3 and i not in answered
            frt = rng.choice([None, rng.randint(60, 48 * 3600)]) if rng.random() < 0.9 \
                else None
            closed = None if is_open else opened + timedelta(minutes=rng.randint(30, 20000))
            row = {"subject": f"Request {i}", "customer_id": first_customer + i % customers,
                   "status_id": statuses["Active"] if is_open else rng.choice(closing),
                   "category_id": rng.choice(categories), "assignee_id": rng.choice(staff),
                   "is_open": is_open, "urgent": i % 17 == 0, "opened_at": opened,
                   "closed_at": closed, "updated_at": closed or opened,
                   "first_response_at": opened + timedelta(seconds=frt) if frt else None,
                   "first_response_seconds": frt, "survey_state": "none",
                   "survey_type": None, "survey_score": None, "survey_rating": None,
                   "survey_answered_at": None}
            if i in answered:
                kind = "nps" if rng.random() < 0.8 else "csat"
                score = rng.randint(0, 10) if kind == "nps" else rng.randint(1, 5)
                responded = (closed or opened) + timedelta(hours=rng.randint(1, 72))
                row.update(survey_type=kind, survey_score=score,
                           survey_rating=rating_for(kind, score), survey_state="answered",
                           survey_answered_at=responded)
                result_rows.append({
                    "source": "scale", "response_id": f"scale-{seed}-{i}",
                    "survey_id": 1 if kind == "nps" else 2,
                    "survey_name": "Support NPS" if kind == "nps" else "Support CSAT",
                    "survey_type": kind, "score": score, "rating": row["survey_rating"],
                    "feedback": rng.choice([None, "", "Thanks!", "Too slow", "Great help"]),
                    "email": None, "custom_fields": {"xrequest": str(first_ticket + i)},
                    "xrequest": str(first_ticket + i), "ticket_id": first_ticket + i,
                    "responded_at": responded,
                    "remote_updated_at": None, "received_at": now, "updated_at": now})
            elif not is_open and rng.random() < 0.3:
                row["survey_state"] = "sent"
            rows.append(row)
        db.session.execute(insert(Ticket), rows)
        db.session.commit()
        if (start // BATCH) % 10 == 0:
            echo(f"{min(requests, start + BATCH)} requests")
    for start in range(0, len(result_rows), BATCH):
        db.session.execute(insert(SurveyResult), result_rows[start:start + BATCH])
        db.session.commit()
    echo(f"{len(result_rows)} survey results")
    # Point each answered request at its result (ids were assigned by the database).
    latest = (select(SurveyResult.id).where(SurveyResult.ticket_id == Ticket.id)
              .correlate(Ticket).scalar_subquery())
    db.session.execute(update(Ticket).where(Ticket.id >= first_ticket,
                                            Ticket.survey_state == "answered")
                       .values(survey_result_id=latest))
    db.session.commit()
    echo("done")

"""Flask CLI commands: demo data, and running jobs by hand."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import click
from flask import Flask
from sqlalchemy import func, select

from .extensions import db
from .models import (DEFAULT_STATUSES, Category, Customer, CustomField, Rule, Status,
                     ThermostatSurvey, Ticket, TicketEvent, TicketFieldValue, User, utcnow)

DEMO_ADMIN = ("admin@example.com", "Ada Admin", "admin-password")
DEMO_AGENT = ("agent@example.com", "Alex Agent", "agent-password")
DEMO_CATEGORIES = ["Billing", "Technical", "Account"]
SUPPORT_NPS_ID = 1  # the emulator's seeded "Support NPS" survey
FIRST_NAMES = ["Pat", "Sam", "Robin", "Kim", "Jo", "Alex", "Chris", "Dana", "Lee", "Morgan"]
LAST_NAMES = ["Smith", "Garcia", "Nguyen", "Okafor", "Müller", "Rossi", "Kowalski", "Tanaka"]
SUBJECTS = ["Cannot log in", "Invoice is wrong", "Export fails", "Password reset email missing",
            "Upgrade to Pro", "App crashes on start", "Refund request", "How do I add a user?",
            "Slow dashboard", "Change billing address"]


def seed_reference_data() -> None:
    """Default statuses, categories and the Plan custom field (get-or-create)."""
    for position, name in enumerate(DEFAULT_STATUSES):
        if db.session.scalar(select(Status).where(Status.name == name)) is None:
            db.session.add(Status(name=name, position=position))
    for name in DEMO_CATEGORIES:
        if db.session.scalar(select(Category).where(Category.name == name)) is None:
            db.session.add(Category(name=name))
    if db.session.scalar(select(CustomField).where(CustomField.name == "Plan")) is None:
        db.session.add(CustomField(name="Plan", field_type="list",
                                   options=["Free", "Pro", "Enterprise"]))
    db.session.flush()


def _user(email: str, name: str, password: str, role: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, name=name, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
    return user


def seed_trigger() -> None:
    """The demo trigger: closed with Problem Solved sends the Support NPS survey."""
    name = "Survey customers when a request is solved"
    if db.session.scalar(select(Rule).where(Rule.name == name)) is not None:
        return
    solved = db.session.scalar(select(Status).where(Status.name == "Problem Solved"))
    db.session.add(Rule(
        kind="trigger", name=name, event="updated", match="all", position=1,
        conditions=[{"field": "status", "op": "changed_to", "value": solved.id},
                    {"field": "is_open", "op": "is", "value": False}],
        actions=[{"type": "thermostat_send", "survey_id": SUPPORT_NPS_ID,
                  "survey_name": "Support NPS"}]))


def seed_demo_data(count: int = 50) -> bool:
    """Seed users, reference data, the trigger and demo requests; False when already seeded."""
    seed_reference_data()
    admin = _user(*DEMO_ADMIN, role="admin")
    agent = _user(*DEMO_AGENT, role="agent")
    seed_trigger()
    if db.session.scalar(select(func.count()).select_from(Ticket)) > 0:
        return False
    rng = random.Random(42)
    statuses = {s.name: s for s in db.session.scalars(select(Status))}
    categories = list(db.session.scalars(select(Category).order_by(Category.id)))
    plan = db.session.scalar(select(CustomField).where(CustomField.name == "Plan"))
    now = utcnow()
    customers = []
    for i in range(20):
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[i % len(LAST_NAMES)]
        email = None if i == 19 else f"{first.lower()}.{i}@example.com"  # one without email
        customers.append(Customer(first_name=first, last_name=last, email=email,
                                  phone=f"+1 555 01{i:02d}"))
    customers[0].email = "pat@example.com"
    db.session.add_all(customers)
    for i in range(count):
        opened = now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1440))
        frt = rng.randint(5, 600) if i % 4 else None
        closed = i % 5 in (0, 2)  # not i % 3: every category and agent has closed requests
        ticket = Ticket(
            subject=SUBJECTS[i % len(SUBJECTS)], customer=customers[i % len(customers)],
            status=statuses["Problem Solved" if closed else "Active"],
            category=categories[i % len(categories)], assignee=[admin, agent, None][i % 3],
            is_open=not closed, urgent=i % 7 == 0, opened_at=opened, updated_at=opened,
            first_response_at=opened + timedelta(minutes=frt) if frt else None,
            first_response_seconds=frt * 60 if frt else None,
            closed_at=opened + timedelta(hours=rng.randint(1, 72)) if closed else None)
        db.session.add(ticket)
        db.session.add(TicketEvent(ticket=ticket, kind="note_public", created_at=opened,
                                   body=f"Hello, {SUBJECTS[i % len(SUBJECTS)].lower()}. "
                                        "Can you help?"))
        if ticket.first_response_at is not None:
            db.session.add(TicketEvent(ticket=ticket, kind="note_public", author=ticket.assignee
                                       or admin, created_at=ticket.first_response_at,
                                       body="Thanks for writing in. We are looking into it."))
        db.session.add(TicketFieldValue(ticket=ticket, field=plan,
                                        value=plan.options[i % len(plan.options)]))
    db.session.flush()
    seed_demo_results(rng)
    return True


# The emulator's two support surveys (thermostat_emulator/store.py), so the demo's results
# carry their names; connecting Thermostat refreshes this cache from GET /api/surveys.
DEMO_SURVEYS = ((SUPPORT_NPS_ID, "Support NPS", "nps"), (2, "Support CSAT", "csat"))
DEMO_COMMENTS = {  # by rating; None: answered without a comment
    "detractor": ("I had to explain the problem twice.", "Still not fixed properly.", None),
    "passive": ("Fine in the end.", None), "promoter": ("Sorted quickly, thank you!", None,
                                                    "Great support."),
    "dissatisfied": ("Nobody got back to me for days.", None),
    "satisfied": ("Helpful and friendly.", None)}


def seed_demo_results(rng: random.Random) -> None:
    """Answers for most of the closed demo requests, through the same ingestion as real ones
    (source 'demo'), so the Thermostat columns, score filters and reports have something to
    show before the first real survey comes back."""
    from .results.ratings import rating_for
    from .thermostat.ingest import ParsedResult, ingest_one

    for survey_id, name, kind in DEMO_SURVEYS:
        if db.session.get(ThermostatSurvey, survey_id) is None:
            db.session.add(ThermostatSurvey(id=survey_id, name=name, survey_type=kind))
    closed = db.session.scalars(select(Ticket).where(Ticket.is_open.is_(False))
                                .order_by(Ticket.id)).all()
    for n, ticket in enumerate(closed):
        if ticket.customer.email is None or n % 6 == 5:
            continue  # no email to ask, or no answer (yet)
        kind = "csat" if n % 5 == 4 else "nps"
        score = rng.randint(1, 5) if kind == "csat" else rng.choice(
            (0, 2, 3, 5, 6, 7, 7, 8, 8, 9, 9, 10, 10, 10))
        answered = min(ticket.closed_at + timedelta(hours=rng.randint(1, 48)), utcnow())
        comments = DEMO_COMMENTS[rating_for(kind, score)]
        ingest_one(ParsedResult(
            response_id=f"demo-{ticket.id}", survey_id=2 if kind == "csat" else SUPPORT_NPS_ID,
            survey_type=kind, score=score, feedback=comments[n % len(comments)],
            email=ticket.customer.email, custom_fields={"xrequest": str(ticket.id)},
            xrequest=str(ticket.id), created_at=answered, updated_at=answered), source="demo")


def register(app: Flask) -> None:
    """Install the commands."""

    @app.cli.command("seed-demo")
    def seed_demo():
        """Seed demo data (safe to run again: nothing is duplicated)."""
        created = seed_demo_data()
        db.session.commit()
        click.echo("Demo data seeded." if created else "Demo data already present.")
        click.echo(f"  admin: {DEMO_ADMIN[0]} / {DEMO_ADMIN[2]}")
        click.echo(f"  agent: {DEMO_AGENT[0]} / {DEMO_AGENT[2]}")

    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.password_option()
    def create_admin(email, name, password):
        """Create an admin account (for a production install)."""
        if db.session.scalar(select(User).where(User.email == email)):
            raise click.ClickException(f"{email} already exists")
        user = User(email=email, name=name, role="admin")
        user.set_password(password)
        db.session.add(user)
        seed_reference_data()
        db.session.commit()
        click.echo(f"Admin {email} created.")

    @app.cli.command("seed-scale")
    @click.option("--requests", "count", default=1_000_000, show_default=True)
    @click.option("--results", default=300_000, show_default=True)
    @click.option("--seed", default=7, show_default=True)
    def seed_scale_command(count, results, seed):
        """Add a deterministic large data set (benchmarks): requests and survey results."""
        from .maintenance import after_bulk_load
        from .scale import seed_scale

        seed_reference_data()
        _user(*DEMO_ADMIN, role="admin")
        _user(*DEMO_AGENT, role="agent")
        db.session.commit()
        seed_scale(count, results, seed=seed, echo=click.echo)
        click.echo("planner statistics: " + after_bulk_load())

    @app.cli.command("thermostat-poll")
    def thermostat_poll():
        """Fetch new survey results from Thermostat now, in this process."""
        from .thermostat.jobs import poll_results

        click.echo(json.dumps(poll_results()))

    @app.cli.command("outbox-sweep")
    def outbox_sweep():
        """Re-enqueue outbox rows that were never enqueued or whose retry is due."""
        from .thermostat.jobs import sweep_outbox

        click.echo(f"{sweep_outbox()} dispatch(es) enqueued")

    @app.cli.command("rotate-secrets")
    def rotate_secrets():
        """Re-encrypt the stored Thermostat token and push secret with the newest key."""
        from cryptography.fernet import InvalidToken

        from .crypto import rotate
        from .models import Integration

        rotated = 0
        for integ in db.session.scalars(select(Integration).order_by(Integration.id)):
            for column in ("token_encrypted", "push_secret_encrypted"):
                value = getattr(integ, column)
                if not value:
                    continue
                try:
                    setattr(integ, column, rotate(value))
                except InvalidToken:
                    db.session.rollback()
                    raise click.ClickException(
                        f"{integ.name} {column.removesuffix('_encrypted').replace('_', ' ')} "
                        "cannot be decrypted with any key in ENCRYPTION_KEYS: nothing was "
                        "changed. Put the old key back (after the new one) and run this again.")
                rotated += 1
        db.session.commit()
        click.echo(f"{rotated} secret(s) re-encrypted with the newest key. The older keys can "
                   "now be removed from ENCRYPTION_KEYS.")

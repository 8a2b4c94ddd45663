"""Helpers shared by the helpdesk tests (factories, a burst worker, HTML parsing)."""

from __future__ import annotations

import re

import requests
from bs4 import BeautifulSoup

EMULATOR_TOKEN = "helpdesk-test-token-0123456789"


class Emulator:
    """Small helpers over the emulator's test hooks and pages."""

    def __init__(self, url: str):
        self.url = url

    def state(self) -> dict:
        return requests.get(f"{self.url}/_state.json", timeout=5).json()

    def faults(self, **switches) -> None:
        requests.post(f"{self.url}/_faults", json=switches, timeout=5).raise_for_status()

    def answer(self, link: str, score: int, comment: str = "") -> requests.Response:
        """Open a survey link like a customer and submit a score (GET, then POST the form)."""
        session = requests.Session()
        page = session.get(link, timeout=5)
        page.raise_for_status()
        soup = BeautifulSoup(page.text, "html.parser")
        form = soup.find("form")
        data = {i["name"]: i.get("value", "") for i in form.find_all("input")
                if i.get("type") == "hidden" and i.get("name")}
        data["score"] = str(score)
        data["feedback"] = comment
        action = requests.compat.urljoin(page.url, form.get("action") or page.url)
        return session.post(action, data=data, timeout=5)


def login(client, email="admin@example.com", password="admin-password"):
    """Log a staff member in through the login form."""
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def make_ticket(subject="Printer on fire", email="pat@example.com", first="Pat", last="Smith",
                status="Active", is_open=True, **kwargs):
    """A request with a customer, committed."""
    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import Customer, Status, Ticket

    customer = Customer(first_name=first, last_name=last, email=email)
    st = db.session.scalar(select(Status).where(Status.name == status))
    ticket = Ticket(subject=subject, customer=customer, status=st, is_open=is_open, **kwargs)
    db.session.add(ticket)
    db.session.commit()
    return ticket


def run_worker(app):
    """Drain the queue with a real RQ worker in this process (burst mode)."""
    from rq import SimpleWorker

    from helpdesk.queue import get_queue

    queue = get_queue()
    worker = SimpleWorker([queue], connection=queue.connection)
    worker.work(burst=True, with_scheduler=False)
    return worker


def soup(response) -> BeautifulSoup:
    """Parse an HTML response."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text_of(response) -> str:
    """The visible text of an HTML response, whitespace folded."""
    return re.sub(r"\s+", " ", soup(response).get_text(" "))


def fresh_database(tmp_path, pg_url) -> str:
    """A new empty database: a SQLite file, or a new PostgreSQL database on the test server."""
    import uuid

    if not pg_url:
        return f"sqlite:///{tmp_path / 'stack.sqlite'}"
    import psycopg

    name = f"helpdesk_stack_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


def running_stack(tmp_path, redis_url, emulator_url, pg_url, log_dir, redis_db: int,
                  queue_prefix: str, seed: tuple[str, ...] = ("seed-demo",),
                  jobs: bool = True):
    """Migrate, seed, and start the web app, a worker and RQ cron; yields the web URL.

    A generator for fixtures: each caller gets its own database, Redis database number and
    queue, so end-to-end and browser tests never see each other's jobs. `seed` is the flask
    command that fills the database; jobs=False starts the web app alone.
    """
    import os
    import uuid

    from scripts.stack import Stack, free_port

    port = free_port()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": fresh_database(tmp_path, pg_url),
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
        "RQ_QUEUE": f"{queue_prefix}-{uuid.uuid4().hex[:6]}",
        "THERMOSTAT_BASE_URL": emulator_url,
        "THERMOSTAT_POLL_SECONDS": "2",
        "HELPDESK_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": f"{queue_prefix}-secret-key-" + "x" * 24,
        "HELPDESK_INSTANCE_DIR": str(tmp_path / "instance"),
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("TEST_DATABASE_URL", None)
    stack = Stack(env=env, log_dir=log_dir)
    try:
        stack.flask("db", "upgrade")
        stack.flask(*seed)
        stack.start_web(port)
        if jobs:
            stack.start_worker()
            stack.start_cron()
        yield f"http://127.0.0.1:{port}"
    finally:
        stack.stop()

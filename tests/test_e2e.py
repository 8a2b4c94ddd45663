"""The whole loop across real processes: web app, RQ worker, RQ cron, Redis, emulator.

Nothing is mocked between them: the test drives the helpdesk and the emulator over HTTP,
as the newcomer in the README does in a browser.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urljoin

import pytest
import requests
from bs4 import BeautifulSoup

from scripts.webclient import form_data, login, poll
from tests.helpers import running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(tmp_path, redis_url, emulator, pg_url, artifacts_dir):
    """Migrate, seed, and start the web app, a worker and the cron scheduler."""
    yield from running_stack(tmp_path, redis_url, emulator.url, pg_url, artifacts_dir / "e2e",
                             redis_db=1, queue_prefix="e2e")


def test_the_survey_loop_end_to_end(running, emulator):
    base = running

    # 1. log in as the seeded admin (CSRF is on in the real app)
    web, answer = login(base, "admin@example.com", "admin-password")
    assert answer.url.rstrip("/") == base

    # 2. Admin > Integrations: "Get an API Token" opens the emulator's account page
    page = web.get(f"{base}/admin/integrations/")
    soup = BeautifulSoup(page.text, "html.parser")
    link = soup.find("a", string=re.compile("Get an API Token"))
    assert link["href"] == f"{emulator.url}/account#api" and link["target"] == "_blank"
    thermo = requests.Session()
    account = thermo.get(link["href"])
    button_form = BeautifulSoup(account.text, "html.parser").select_one("#api form")
    button_data = {i["name"]: i.get("value", "") for i in button_form.find_all("input")
                   if i.get("name")}
    popup = thermo.post(urljoin(account.url, button_form.get("action") or account.url),
                        data=button_data)
    dialog = BeautifulSoup(popup.text, "html.parser").find(attrs={"role": "dialog"})
    token = dialog.find("input")["value"]
    assert len(token) > 20
    action, data = form_data(page.text, "form[action$='/thermostat/token']")
    data["token"] = token
    saved = web.post(urljoin(page.url, action), data=data)
    state = BeautifulSoup(saved.text, "html.parser").select_one("#connection-state")
    assert state.get_text(strip=True).startswith("Connected")
    assert token not in saved.text

    # 3. the seeded trigger is listed in words
    rules = BeautifulSoup(web.get(f"{base}/admin/rules/").text, "html.parser")
    description = rules.select_one(".rule-description").get_text(" ", strip=True)
    assert description == ("When a request is updated, if all: status changed to Problem "
                           "Solved, request is closed: Send a Thermostat Survey (Support NPS)")

    # 4. create a request, then close it with status Problem Solved
    page = web.get(f"{base}/requests/new")
    action, data = form_data(page.text, "main form")
    email = f"e2e-{uuid.uuid4().hex[:6]}@example.com"
    data.update(first_name="Erin", last_name="Endtoend", email=email, subject="Broken export",
                body="The CSV export fails.", category_id="0", assignee_id="0")
    created = web.post(urljoin(page.url, action), data=data)
    ticket_id = int(re.search(r"/requests/(\d+)", created.url).group(1))
    page = created
    soup = BeautifulSoup(page.text, "html.parser")
    update = soup.select_one("form[action$='/update']")
    data = {i["name"]: i.get("value", "") for i in update.find_all("input")
            if i.get("name") and i.get("type") == "hidden"}
    solved = update.find("select", id="status_id").find("option", string="Problem Solved")
    data.update(status_id=solved["value"], category_id="0", assignee_id="0",
                close="Save and close")
    closed = web.post(urljoin(page.url, update["action"]), data=data)
    closed_text = BeautifulSoup(closed.text, "html.parser").select_one("#history").get_text(" ")
    assert f"Survey 'Support NPS' queued for {email}" in closed_text

    # 5. the survey email reaches the emulator's outbox; the customer answers 3 with a comment
    def sent():
        return [s for s in emulator.state()["sends"] if s["email"] == email]

    send = poll(sent, "sendnow to reach the emulator", timeout=40)[0]
    assert f"xrequest={ticket_id}" in send["link"]
    outbox = BeautifulSoup(requests.get(f"{emulator.url}/outbox").text, "html.parser")
    assert outbox.find("a", href=send["link"]) is not None
    answered = emulator.answer(send["link"], 3, "Slow, but solved in the end")
    assert answered.status_code == 200

    # 6. the scheduler's poll brings it back: score on the page, in the column, in the filter
    def scored():
        html = web.get(f"{base}/requests/{ticket_id}").text
        badge = BeautifulSoup(html, "html.parser").select_one(".result .badge")
        return html if badge is not None and badge.get_text(strip=True) == "Detractor 3" else None

    html = poll(scored, "the result on the request page", timeout=40)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select_one(".result .feedback").get_text(strip=True) == "Slow, but solved in the end"
    history = soup.select_one("#history").get_text(" ", strip=True)
    assert f"Survey 'Support NPS' sent to {email}" in history
    assert "Survey 'Support NPS' answered: Detractor 3" in history
    listing = BeautifulSoup(web.get(f"{base}/?rating=detractor").text, "html.parser")
    row = listing.select_one(f"tr[data-request-id='{ticket_id}']")
    assert row is not None and row.select_one(".thermostat").get_text(strip=True) == "Detractor 3"
    for other in listing.select("tr[data-request-id] .thermostat"):
        assert other.get_text(strip=True).startswith("Detractor")

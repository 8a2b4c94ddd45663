"""Admin > Integrations > Thermostat, through the page, against the real emulator."""

import re

import pytest
import requests
from bs4 import BeautifulSoup
from sqlalchemy import select

from helpdesk.crypto import decrypt
from helpdesk.extensions import db
from helpdesk.models import Integration, ThermostatSurvey
from scripts.stack import free_port
from tests.fixtures_extra import fast_password_hashing  # noqa: F401 (autouse)
from tests.helpers import EMULATOR_TOKEN, soup, text_of

PAGE = "/admin/integrations/"
SAVE = "/admin/integrations/thermostat/token"
COLUMNS = ("token_encrypted", "token_hint", "push_secret_encrypted", "state", "account",
           "checked_at", "poll_cursor", "last_poll_at", "last_poll_error", "updated_at")


@pytest.fixture
def page_on_emulator(app, emulator, admin_client):
    app.config["THERMOSTAT_BASE_URL"] = emulator.url
    return admin_client


def token_from_emulator(emulator) -> str:
    """Get a token the way a person does: the account page's button, then the popup."""
    session = requests.Session()
    account = session.get(f"{emulator.url}/account", timeout=5)
    page = BeautifulSoup(account.text, "html.parser")
    button = next(b for b in page.select("#api form button")
                  if b.get_text(strip=True) == "Enable HelpSpot Integration")
    form = button.find_parent("form")
    popup = session.post(requests.compat.urljoin(account.url, form["action"]), timeout=5)
    popup.raise_for_status()
    dialog = BeautifulSoup(popup.text, "html.parser").select_one("[role=dialog]")
    label = dialog.find("label", string=re.compile("API token"))
    return dialog.select_one(f"#{label['for']}")["value"]


def stored_state():
    db.session.expire_all()
    integ = db.session.scalar(select(Integration))
    return {c: getattr(integ, c) for c in COLUMNS} if integ else None


def surveys_cached():
    db.session.expire_all()
    return sorted(s.id for s in db.session.scalars(select(ThermostatSurvey)))


def test_get_a_token_link_opens_the_account_page_in_a_new_tab(page_on_emulator, emulator):
    page = soup(page_on_emulator.get(PAGE))
    link = page.find("a", string=re.compile(r"^\s*Get an API Token\s*$"))
    assert link["href"] == f"{emulator.url}/account#api"
    assert link["target"] == "_blank"
    assert {"noopener", "noreferrer"} <= set(link["rel"])
    assert page.select_one("#connection-state").get_text(strip=True) == "Not connected"


def test_a_token_from_the_account_page_connects_and_shows_plan_usage(page_on_emulator,
                                                                     emulator):
    token = token_from_emulator(emulator)
    assert len(token) >= 20
    response = page_on_emulator.post(SAVE, data={"token": token}, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = soup(response)
    state = page.select_one("#connection-state").get_text(strip=True)
    assert state == f"Connected (token ending …{token[-4:]})"
    account = emulator_account(emulator)
    assert page.select_one("#plan-usage").get_text(" ", strip=True).startswith(
        f"{account['monthly_plan_use']} of {account['monthly_plan_limit']} surveys")
    assert "Thermostat connected." in [f.get_text(strip=True) for f in page.select(".flash")]
    # the token is nowhere in the page, and stored encrypted only
    assert token not in html
    assert token[:-4] not in html
    integ = db.session.scalar(select(Integration))
    assert integ.state == "connected"
    assert integ.token_encrypted and token not in integ.token_encrypted
    assert decrypt(integ.token_encrypted) == token
    # a fresh view of the page does not show it either
    assert token not in page_on_emulator.get(PAGE).get_data(as_text=True)


def emulator_account(emulator):
    return requests.get(f"{emulator.url}/api/account", timeout=5,
                        headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"}).json()


def test_the_survey_table_lists_the_emulator_surveys(page_on_emulator, emulator):
    page_on_emulator.post(SAVE, data={"token": EMULATOR_TOKEN})
    page = soup(page_on_emulator.get(PAGE))
    rows = {}
    for tr in page.select("#surveys tbody tr"):
        cells = [td.get_text(strip=True) for td in tr.find_all("td")]
        rows[int(cells[0])] = cells[1:]
    assert rows == {
        1: ["Support NPS", "NPS", "off", "0 days"],
        2: ["Support CSAT", "CSAT", "off", "0 days"],
        3: ["Onboarding NPS", "NPS", "on", "30 days"],
        4: ["Old Survey (archived)", "NPS", "off", "0 days"],
    }


def _post_wrong_token(client):
    response = client.post(SAVE, data={"token": "definitely-not-a-token-1234"})
    assert response.status_code == 400
    page = soup(response)
    errors = [e.get_text(strip=True) for e in page.select(".field .error")]
    assert errors == [("Thermostat refused this token (401). Check that you copied the whole "
                       "token.")]
    assert "definitely-not-a-token-1234" not in response.get_data(as_text=True)
    return page


def test_wrong_token_when_disconnected_changes_nothing(page_on_emulator):
    page_on_emulator.get(PAGE)  # the row exists from the first visit on
    before = stored_state()
    assert before["state"] == "disconnected"
    page = _post_wrong_token(page_on_emulator)
    assert page.select_one("#connection-state").get_text(strip=True) == "Not connected"
    assert stored_state() == before
    assert surveys_cached() == []


def test_wrong_token_after_a_good_one_keeps_the_good_one(page_on_emulator):
    page_on_emulator.post(SAVE, data={"token": EMULATOR_TOKEN})
    before = stored_state()
    assert before["state"] == "connected"
    page = _post_wrong_token(page_on_emulator)
    assert page.select_one("#connection-state").get_text(strip=True).startswith("Connected")
    assert stored_state() == before
    assert decrypt(stored_state()["token_encrypted"]) == EMULATOR_TOKEN


def test_unreachable_thermostat_gives_a_clear_message_and_saves_nothing(app, admin_client):
    port = free_port()
    app.config["THERMOSTAT_BASE_URL"] = f"http://127.0.0.1:{port}"
    admin_client.get(PAGE)
    before = stored_state()
    response = admin_client.post(SAVE, data={"token": EMULATOR_TOKEN})
    assert response.status_code == 400
    errors = [e.get_text(strip=True) for e in soup(response).select(".field .error")]
    assert errors == [(f"Thermostat could not be reached at http://127.0.0.1:{port}. Nothing "
                       "was saved; try again when Thermostat is reachable.")]
    assert stored_state() == before
    assert before["token_encrypted"] is None
    assert EMULATOR_TOKEN not in response.get_data(as_text=True)


def test_slow_thermostat_times_out_with_a_clear_message(page_on_emulator, emulator, app):
    app.config["THERMOSTAT_TIMEOUT"] = 0.3
    emulator.faults(delay_seconds=1.0)
    page_on_emulator.get(PAGE)
    before = stored_state()
    response = page_on_emulator.post(SAVE, data={"token": EMULATOR_TOKEN})
    assert response.status_code == 400
    assert "did not answer within 0.3 s. Nothing was saved" in text_of(response)
    assert stored_state() == before


def test_server_error_while_checking_saves_nothing(page_on_emulator, emulator):
    emulator.faults(error_status=500, error_count=1)
    page_on_emulator.get(PAGE)
    before = stored_state()
    response = page_on_emulator.post(SAVE, data={"token": EMULATOR_TOKEN})
    assert response.status_code == 400
    assert "Nothing was saved" in text_of(response)
    assert stored_state() == before


def test_an_empty_save_disconnects(page_on_emulator):
    page_on_emulator.post(SAVE, data={"token": EMULATOR_TOKEN})
    assert stored_state()["state"] == "connected"
    response = page_on_emulator.post(SAVE, data={"token": "   "}, follow_redirects=True)
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("#connection-state").get_text(strip=True) == "Not connected"
    assert page.select_one("#plan-usage") is None
    assert any("Thermostat disconnected" in f.get_text() for f in page.select(".flash"))
    state = stored_state()
    assert (state["state"], state["token_encrypted"], state["token_hint"], state["account"]) == (
        "disconnected", None, None, {})


def test_the_token_field_is_a_password_field_never_filled_in(page_on_emulator):
    page_on_emulator.post(SAVE, data={"token": EMULATOR_TOKEN})
    field = soup(page_on_emulator.get(PAGE)).select_one("input[name=token]")
    assert field["type"] == "password"
    assert field.get("value") in (None, "")

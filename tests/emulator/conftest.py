"""Fixtures for the Thermostat emulator tests: an app on a tmp database, a client, a clock."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from thermostat_emulator import create_app, store

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NPS_KEY = "5f2b1c0d9e8a7b61"
CSAT_KEY = "a1b2c3d4e5f60718"
ONBOARDING_KEY = "0c0ffee0c0ffee00"
OLD_KEY = "deadbeefdeadbeef"
T0 = 1_780_000_000  # 2026-05-28 20:26:40 UTC


class FakeClock:
    """A settable clock standing in for store.clock."""

    def __init__(self, start: float) -> None:
        """Start at `start` unix seconds."""
        self.t = float(start)

    def __call__(self) -> float:
        """Return the current fake time."""
        return self.t

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.t += seconds


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Keep the developer's EMULATOR_* environment out of the tests."""
    for key in ("EMULATOR_DB", "EMULATOR_TOKEN", "EMULATOR_RATE_LIMIT", "EMULATOR_RATE_WINDOW",
                "EMULATOR_PLAN_LIMIT", "EMULATOR_PUSH_URL", "EMULATOR_PUSH_SECRET", "SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def make_app(tmp_path):
    """Return a factory of emulator apps sharing one tmp database."""

    def _make(**overrides):
        config = {
            "EMULATOR_DB": str(tmp_path / "emulator.sqlite"),
            "EMULATOR_TOKEN": TOKEN,
            "SECRET_KEY": "test-secret",
            "TESTING": True,
        }
        config.update(overrides)
        return create_app(config)

    return _make


@pytest.fixture
def app(make_app):
    """Build a default emulator app."""
    return make_app()


@pytest.fixture
def client(app):
    """Return a test client of the default app."""
    return app.test_client()


@pytest.fixture
def clock(monkeypatch):
    """Freeze the emulator's clock at T0; tests move it with clock.advance()."""
    fake = FakeClock(T0)
    monkeypatch.setattr(store, "clock", fake)
    return fake


def soup(resp) -> BeautifulSoup:
    """Parse an HTML response."""
    return BeautifulSoup(resp.get_data(as_text=True), "html.parser")


def control(page: BeautifulSoup, label_text: str):
    """Find the form control whose visible <label> reads `label_text` (exact, trimmed)."""
    label = page.find("label", string=lambda s: s is not None and s.strip() == label_text)
    assert label is not None, f"no label {label_text!r}"
    element = page.find(id=label["for"])
    assert element is not None, f"label {label_text!r} points at nothing"
    return element


def button(page: BeautifulSoup, text: str):
    """Find a button by its visible text."""
    found = page.find("button", string=lambda s: s is not None and s.strip() == text)
    assert found is not None, f"no button {text!r}"
    return found


def form_data(form) -> dict:
    """Collect the hidden inputs of a form (what the browser would resend)."""
    return {i["name"]: i.get("value", "") for i in form.find_all("input", type="hidden")}


def state(client) -> dict:
    """Return /_state.json."""
    resp = client.get("/_state.json")
    assert resp.status_code == 200
    return resp.get_json()


def answer(client, public_key: str, score, feedback: str = "", query: str = "", **extra):
    """Open a survey link like a browser and submit the form with a score."""
    url = f"/s/{public_key}" + (f"?{query}" if query else "")
    page = soup(client.get(url))
    form = page.find("form")
    data = form_data(form)
    if score is not None:
        data["score"] = str(score)
    data["feedback"] = feedback
    data.update(extra)
    return client.post(form["action"], data=data)


def comment_form(resp):
    """Return (action, data) of the 'Add a comment' form on a thank-you page."""
    page = soup(resp)
    heading = page.find("h2", string=re.compile("Add a comment"))
    assert heading is not None
    form = heading.find_next("form")
    return form["action"], form_data(form)

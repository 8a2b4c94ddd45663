"""Driving the running helpdesk over real HTTP, as a browser without JavaScript would.

Shared by the end-to-end tests and scripts/scaleout_smoke.py: read a form's fields (the CSRF
token among them), log in through the login form, wait for something to happen.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin

import requests
from bs4 import BeautifulSoup


def form_data(html: str, selector: str) -> tuple[str, dict]:
    """A form's action and its named inputs (hidden ones included)."""
    form = BeautifulSoup(html, "html.parser").select_one(selector)
    assert form is not None, f"no form {selector}"
    data = {i["name"]: i.get("value", "") for i in form.find_all("input")
            if i.get("name") and i.get("type") not in ("submit", "checkbox", "radio")}
    return form.get("action") or "", data


def poll(check, what: str, timeout: float = 60.0, every: float = 0.5):
    """Call check() until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def login(base: str, email: str, password: str) -> tuple[requests.Session, requests.Response]:
    """A new session that submits the login form (with its CSRF token)."""
    web = requests.Session()
    page = web.get(f"{base}/login", timeout=10)
    action, data = form_data(page.text, "main form")
    data.update(email=email, password=password)
    return web, web.post(urljoin(page.url, action), data=data, timeout=10)

"""Fixtures for the real-browser tests: Debian's chromium driven by Playwright (sync API).

The stack is started like tests/test_e2e.py's `running` fixture does: a fresh database
(SQLite, or a new PostgreSQL database when TEST_DATABASE_URL is set), the web app, an RQ
worker and RQ cron against the real Thermostat emulator, with a 2 s poll interval.

Chromium is never downloaded (`playwright install` is not used): the tests use the
system's /usr/bin/chromium and fail, not skip, when it is missing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.helpers import running_stack

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-dev-shm-usage"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (rep_setup, rep_call, rep_teardown)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser() -> Browser:
    """One headless chromium for the whole run."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(apt-get install -y chromium; .ci/run installs it)", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request, artifacts_dir) -> Page:
    """A page in a new browser context; a full-page screenshot is saved if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shots = artifacts_dir / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        # every open tab of the context: the helpdesk, the emulator's account page, ...
        for i, p in enumerate(context.pages):
            suffix = "" if p is page else f"-tab{i}"
            try:
                p.screenshot(path=str(shots / f"{name}{suffix}.png"), full_page=True)
            except Exception as exc:  # a screenshot must not hide the test's own failure
                print(f"screenshot of {p.url} failed: {exc}")
    context.close()


@pytest.fixture
def stack_url(tmp_path, redis_url, emulator, pg_url, artifacts_dir):
    """Migrate, seed, and start the web app, a worker and the cron scheduler (as e2e)."""
    yield from running_stack(tmp_path, redis_url, emulator.url, pg_url,
                             artifacts_dir / "browser", redis_db=2, queue_prefix="browser")

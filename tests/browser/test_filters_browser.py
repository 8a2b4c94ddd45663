"""Filters in a real browser: an admin builds a score filter, picks columns, saves and shares
it; an agent finds it in the sidebar with its live count, opens it and runs its report.

The helpdesk is filled by `flask seed-scale --requests 400 --results 160` (deterministic
requests with NPS and CSAT results) and only the web app runs. Controls are found by their
visible labels and roles.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import running_stack

pytestmark = pytest.mark.e2e

COLUMNS = ["#", "Subject", "NPS", "Comment", "Survey status"]


@pytest.fixture
def lists_url(tmp_path, redis_url, pg_url, artifacts_dir):
    yield from running_stack(tmp_path, redis_url, "http://127.0.0.1:9", pg_url,
                             artifacts_dir / "browser-lists", redis_db=3,
                             queue_prefix="browser-lists",
                             seed=("seed-scale", "--requests", "400", "--results", "160"),
                             jobs=False)


def log_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def total(page: Page) -> int:
    text = page.locator("p.count").inner_text()
    return int(re.match(r"(\d+) requests?", text).group(1))


def headers(page: Page) -> list[str]:
    return [h.strip().rstrip("▲▼ ").strip() for h in
            page.locator("#requests").get_by_role("columnheader").all_inner_texts()]


def sidebar_count(page: Page, name: str):
    item = page.locator("ul.saved-filters li").filter(
        has=page.get_by_role("link", name=name, exact=True))
    return item.locator(".count")


def test_build_save_share_and_report_a_score_filter(page: Page, lists_url: str):
    base = lists_url
    log_in(page, base, "admin@example.com", "admin-password")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", name="Requests", level=1)).to_be_visible()
    everything = total(page)
    assert everything == 400

    # build: NPS detractors with a score of at least 2, closed; columns chosen and ordered
    page.get_by_text("More conditions and columns").click()
    page.get_by_label("Condition 1 field").select_option(label="NPS rating")
    # only the operators a rating takes are offered
    offered = page.get_by_label("Condition 1 operator").locator("option:enabled")
    expect(offered).to_have_text(["is", "is not"])
    page.get_by_label("Condition 1 operator").select_option(label="is")
    page.get_by_label("Condition 1 value").fill("detractor")
    page.get_by_label("Show", exact=True).select_option(label="Closed")
    for label in ("Customer", "Status", "Category", "Assigned to", "Opened", "Thermostat"):
        page.get_by_label(label, exact=True).fill("")
    for position, label in enumerate(("#", "Subject", "NPS", "Comment", "Survey status"), 1):
        page.get_by_label(label, exact=True).fill(str(position))
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"c=nps_rating%3Ais%3Adetractor"))
    expect(page).to_have_url(re.compile(r"cols=id%2Csubject%2Cnps%2Ccomment%2Csurvey_state"))
    assert headers(page) == COLUMNS
    detractors = total(page)
    assert 0 < detractors < everything
    nps_cells = page.locator("#requests tbody td.nps").all_inner_texts()
    assert nps_cells and all(re.fullmatch(r"Detractor [0-6]", c.strip()) for c in nps_cells)

    # a second condition from the builder's empty row: score at least 2
    page.get_by_label("Condition 2 field").select_option(label="NPS score")
    page.get_by_label("Condition 2 operator").select_option(label="is at least")
    page.get_by_label("Condition 2 value").fill("2")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"c=nps_score%3Age%3A2"))
    narrowed = total(page)
    assert 0 < narrowed < detractors
    scores = [int(c.split()[-1]) for c in page.locator("#requests tbody td.nps").all_inner_texts()]
    assert scores and all(2 <= s <= 6 for s in scores)

    # sort by the NPS column, lowest first
    page.locator("#requests").get_by_role("link", name="NPS", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=nps"))
    page.locator("#requests").get_by_role("link", name=re.compile("^NPS")).click()
    expect(page).to_have_url(re.compile(r"sort=nps&dir=asc"))
    scores = [int(c.split()[-1]) for c in page.locator("#requests tbody td.nps").all_inner_texts()]
    assert scores == sorted(scores)
    filtered_url = page.url

    # save and share it
    page.get_by_label("Filter name", exact=True).fill("Closed detractors, 2 and up")
    page.get_by_label("Share with everyone", exact=True).check()
    page.get_by_role("button", name="Save filter").click()
    expect(page.get_by_role("status").filter(
        has_text="Filter 'Closed detractors, 2 and up' saved and shared.")).to_be_visible()
    expect(sidebar_count(page, "Closed detractors, 2 and up")).to_have_text(str(narrowed))

    # the admin reopens one of them: it leaves the filter
    page.locator("#requests tbody td.subject a").first.click()
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("status").filter(has_text="Request updated.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    # the agent sees the shared filter with its live count, which the page's script fetches
    # after the list is shown
    with page.expect_response(re.compile(r"/filters/counts$")) as fetched:
        log_in(page, base, "agent@example.com", "agent-password")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    assert fetched.value.ok
    expect(sidebar_count(page, "Closed detractors, 2 and up")).to_have_text(str(narrowed - 1))
    page.get_by_role("link", name="Closed detractors, 2 and up", exact=True).click()
    assert page.url == filtered_url
    assert headers(page) == COLUMNS and total(page) == narrowed - 1
    narrowed -= 1

    # and runs the report on it: the first response table counts this filter's requests
    page.get_by_role("link", name="Reports on this filter").click()
    expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    frt = page.get_by_role("region", name="First response time by rating")
    counts = [int(n) for n in frt.locator("table").first.locator("td.n").all_inner_texts()]
    assert counts and sum(counts) <= narrowed
    assert set(frt.locator("table").first.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.rating)")) <= {"detractor", "none"}

"""The survey loop in a real browser, as a person does it (README, "Try the survey loop").

Every form control is found by its visible label or its role and name: the test proves the
pages can be used that way, not only that the server answers.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

ADMIN = ("admin@example.com", "admin-password")
SENTENCE = ("When a request is updated, if all: status changed to Problem Solved, request is "
            "closed: Send a Thermostat Survey (Support NPS)")


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email", exact=True).fill(ADMIN[0])
    page.get_by_label("Password", exact=True).fill(ADMIN[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def open_integrations(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("heading", name="Integrations", level=1)).to_be_visible()


def token_field(page: Page):
    return page.get_by_label("Thermostat API token", exact=True)


def connection_state(page: Page):
    # a <dd> beside the <dt>Connection</dt>: text, not a control, so found by its id
    return page.locator("#connection-state")


def column_cell(page: Page, row, header: str):
    """The cell of `row` under the column header named `header`."""
    headers = [h.strip() for h in page.get_by_role("columnheader").all_inner_texts()]
    return row.get_by_role("cell").nth(headers.index(header))


def test_survey_loop_in_a_browser(page: Page, stack_url: str, emulator):
    base = stack_url
    context = page.context

    # 1. log in as the seeded admin
    log_in(page, base)

    # 2. Integrations > "Get an API Token" opens the emulator's account page in a new tab
    open_integrations(page)
    expect(connection_state(page)).to_have_text("Not connected")
    with context.expect_page() as new_tab:
        page.get_by_role("link", name="Get an API Token").click()
    thermostat = new_tab.value
    thermostat.wait_for_load_state()
    assert thermostat.url.startswith(f"{emulator.url}/account")
    thermostat.get_by_role("button", name="Enable HelpSpot Integration").click()
    dialog = thermostat.get_by_role("dialog")
    expect(dialog).to_be_visible()
    token = dialog.get_by_label("API token", exact=True).input_value()
    assert len(token) > 20
    thermostat.close()

    page.bring_to_front()
    token_field(page).fill(token)
    page.get_by_role("button", name="Save Thermostat API Token").click()
    expect(connection_state(page)).to_have_text(re.compile(r"^Connected"))
    expect(page.get_by_role("status").filter(has_text="Thermostat connected.")).to_be_visible()
    assert token not in page.content()

    # 3. the seeded trigger, in words
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Triggers & Rules").click()
    expect(page.get_by_role("cell", name=SENTENCE, exact=True)).to_be_visible()

    # 4. a new request, closed with status Problem Solved
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New request").click()
    email = f"browser-{uuid.uuid4().hex[:6]}@example.com"
    subject = f"Export broken {uuid.uuid4().hex[:4]}"
    comment = "Slow, but solved in the end"
    page.get_by_label("Customer first name", exact=True).fill("Bea")
    page.get_by_label("Customer last name", exact=True).fill("Browser")
    page.get_by_label("Customer email", exact=True).fill(email)
    page.get_by_label("Subject", exact=True).fill(subject)
    page.get_by_label("Message", exact=True).fill("The CSV export fails.")
    page.get_by_role("button", name="Create request").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(subject)
    request_url = page.url
    assert re.search(r"/requests/\d+$", request_url), request_url

    page.get_by_label("Status", exact=True).select_option(label="Problem Solved")
    page.get_by_role("button", name="Save and close").click()
    history = page.get_by_role("region", name="History")
    expect(history).to_contain_text(f"Survey 'Support NPS' queued for {email}")

    # 5. the customer: the emulator's outbox, the email's link, score 3 with a comment
    customer = context.new_page()
    deadline = time.monotonic() + 30
    while True:
        customer.goto(f"{emulator.url}/outbox")
        row = customer.get_by_role("row").filter(has_text=email)
        if row.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    customer.get_by_role("radio", name="3", exact=True).check()
    customer.get_by_label("Comment (optional)", exact=True).fill(comment)
    customer.get_by_role("button", name="Submit").click()
    expect(customer.get_by_role("heading", name="Thank you")).to_be_visible()
    customer.close()

    # 6. back on the helpdesk: the scheduler's poll (every 2 s here) brings the result
    page.bring_to_front()
    box = page.get_by_role("region", name="Thermostat")
    deadline = time.monotonic() + 60
    while True:
        page.goto(request_url)
        if "Detractor 3" in box.inner_text() or time.monotonic() > deadline:
            break
        time.sleep(1)
    expect(box).to_contain_text("Detractor 3")
    expect(box.get_by_text(comment, exact=True)).to_be_visible()
    expect(history).to_contain_text("Survey 'Support NPS' answered: Detractor 3")

    # the request list, filtered on detractors, shows it in the Thermostat column
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    page.get_by_label("Thermostat rating", exact=True).select_option(label="Detractors (0–6)")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]rating=detractor"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=subject, exact=True))
    expect(row).to_have_count(1)
    expect(column_cell(page, row, "Thermostat")).to_have_text("Detractor 3")


def test_a_wrong_token_is_refused_and_nothing_is_saved(page: Page, stack_url: str):
    log_in(page, stack_url)
    open_integrations(page)
    expect(connection_state(page)).to_have_text("Not connected")

    field = token_field(page)
    field.fill("not-a-real-token-0123456789")
    page.get_by_role("button", name="Save Thermostat API Token").click()

    # the error is shown under the field (in the field's own block, below the input)
    field = token_field(page)
    error = page.locator(".field", has=field).get_by_role("alert")
    expect(error).to_have_text(
        "Thermostat refused this token (401). Check that you copied the whole token.")
    field_box, error_box = field.bounding_box(), error.bounding_box()
    assert error_box["y"] >= field_box["y"] + field_box["height"]
    expect(field).to_have_value("")  # the token is never filled back in
    expect(connection_state(page)).to_have_text("Not connected")


def connect(page: Page, emulator) -> None:
    """Connect Thermostat through the token popup, as in the survey loop test."""
    open_integrations(page)
    with page.context.expect_page() as new_tab:
        page.get_by_role("link", name="Get an API Token").click()
    thermostat = new_tab.value
    thermostat.wait_for_load_state()
    thermostat.get_by_role("button", name="Enable HelpSpot Integration").click()
    token = thermostat.get_by_role("dialog").get_by_label("API token", exact=True).input_value()
    thermostat.close()
    page.bring_to_front()
    token_field(page).fill(token)
    page.get_by_role("button", name="Save Thermostat API Token").click()
    expect(connection_state(page)).to_have_text(re.compile(r"^Connected"))


def test_build_the_problem_solved_trigger_in_the_builder(page: Page, stack_url: str, emulator):
    base = stack_url
    log_in(page, base)
    connect(page, emulator)

    # switch the seeded trigger off, then build the same rule by hand
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Triggers & Rules").click()
    page.get_by_role("button", name="Disable: Survey customers when a request is solved").click()
    page.get_by_role("link", name="New trigger").click()
    page.get_by_label("Name", exact=True).fill("Survey solved requests (built by hand)")
    page.get_by_label("When", exact=True).select_option(label="a request is updated")
    page.get_by_label("all of these conditions").check()
    page.get_by_label("Condition 1 field", exact=True).select_option(label="Status")
    page.get_by_label("Condition 1 operator", exact=True).select_option(label="changed to")
    page.get_by_label("Condition 1 value", exact=True).fill("Problem Solved")
    page.get_by_label("Condition 2 field", exact=True).select_option(label="Request is open")
    page.get_by_label("Condition 2 operator", exact=True).select_option(label="is")
    page.get_by_label("Condition 2 value", exact=True).fill("no")
    page.get_by_label("Action", exact=True).select_option(label="Send a Thermostat Survey")
    page.get_by_label("Target", exact=True).fill("Support NPS")
    page.get_by_role("button", name="Save rule").click()
    sentence = SENTENCE
    expect(page.get_by_role("status").filter(has_text="saved")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Survey solved requests (built by hand)")
    expect(row.locator(".rule-description")).to_have_text(sentence)

    # the dry run explains it against a request before anything happens
    row.get_by_role("link", name="Test").click()
    page.get_by_label("Request #", exact=True).fill("1")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#dry-run")).to_contain_text("status changed to Problem Solved")

    # a request closed as Problem Solved is surveyed by the hand-built trigger
    nav.get_by_role("link", name="New request").click()
    email = f"builder-{uuid.uuid4().hex[:6]}@example.com"
    page.get_by_label("Customer email", exact=True).fill(email)
    page.get_by_label("Subject", exact=True).fill("Built by hand")
    page.get_by_label("Message", exact=True).fill("Please help.")
    page.get_by_role("button", name="Create request").click()
    page.get_by_label("Status", exact=True).select_option(label="Problem Solved")
    page.get_by_role("button", name="Save and close").click()
    expect(page.get_by_role("region", name="History")).to_contain_text(
        f"Survey 'Support NPS' queued for {email}")
    deadline = time.monotonic() + 30
    while not [s for s in emulator.state()["sends"] if s["email"] == email]:
        assert time.monotonic() < deadline, "the survey never reached Thermostat"
        time.sleep(0.5)

    # the run log shows why it acted
    nav.get_by_role("link", name="Triggers & Rules").click()
    page.get_by_role("row").filter(has_text="Survey solved requests (built by hand)") \
        .get_by_role("link", name="Run log").click()
    expect(page.locator("#runs")).to_contain_text("✔ status changed to Problem Solved")
    expect(page.locator("#runs")).to_contain_text("queued send")

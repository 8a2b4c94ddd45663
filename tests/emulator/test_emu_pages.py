"""The emulator's HTML pages: token popup, survey link page, fields, settings, labels."""

from __future__ import annotations

import sqlite3

import pytest

from .conftest import (
    AUTH,
    CSAT_KEY,
    NPS_KEY,
    OLD_KEY,
    answer,
    button,
    comment_form,
    control,
    form_data,
    soup,
    state,
)


def test_token_popup_flow(client, app):
    """Enable HelpSpot Integration shows a new token once, in a labelled dialog; it works."""
    page = soup(client.get("/account"))
    api = page.find(id="api")
    assert api is not None
    enable = button(api, "Enable HelpSpot Integration")
    form = enable.find_parent("form")
    assert form["method"].lower() == "post"
    assert page.find(attrs={"role": "dialog"}) is None
    resp = client.post(form["action"])
    assert resp.status_code == 200
    page = soup(resp)
    dialog = page.find(attrs={"role": "dialog"})
    assert dialog is not None and dialog["aria-label"] == "Your API token"
    field = control(dialog, "API token")
    assert field.name == "input" and field.has_attr("readonly")
    token = field["value"]
    assert len(token) >= 40
    assert "copy it now" in dialog.get_text().lower()
    assert client.get("/api/account",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Shown once: the account page lists it by its last 4 characters only.
    again = client.get("/account").get_data(as_text=True)
    assert token not in again and f"…{token[-4:]}" in again
    assert 'role="dialog"' not in again
    # Only a hash is stored.
    conn = sqlite3.connect(app.config["EMULATOR_DB"])
    try:
        stored = [row[0] for row in conn.execute("SELECT token_hash FROM tokens")]
    finally:
        conn.close()
    assert token not in stored and len(stored) == 2


def test_survey_get_records_nothing(client):
    """Opening a link (scanners do) shows the form and records nothing."""
    for _ in range(3):
        resp = client.get(f"/s/{NPS_KEY}?xrequest=42&plan=gold&junk=zzz&score=10")
        assert resp.status_code == 200
    assert state(client)["responses"] == []
    page = soup(resp)
    radios = page.find_all("input", type="radio", attrs={"name": "score"})
    assert [r["value"] for r in radios] == [str(i) for i in range(11)]
    assert not any(r.has_attr("checked") for r in radios)
    for value in range(11):
        assert control(page, str(value))["value"] == str(value)
    text = page.get_text()
    assert "Not at all likely" in text and "Extremely likely" in text
    assert "recommend" in page.find("legend").get_text()
    assert control(page, "Comment (optional)").name == "textarea"
    assert button(page, "Submit")
    hidden = form_data(page.find("form"))
    assert hidden == {"xrequest": "42", "plan": "gold"}


def test_csat_page_shows_labels(client):
    """A CSAT survey offers 1-5 with the survey's words."""
    page = soup(client.get(f"/s/{CSAT_KEY}"))
    radios = page.find_all("input", type="radio")
    assert [r["value"] for r in radios] == ["1", "2", "3", "4", "5"]
    assert control(page, "1 Very dissatisfied")["value"] == "1"
    assert control(page, "5 Very satisfied")["value"] == "5"


def test_post_records_response_with_declared_fields_only(client):
    """The POST records one response; only declared fields survive; xRequest works."""
    resp = answer(client, NPS_KEY, 10, "Great", query="xRequest=42&PLAN=gold&junk=zzz")
    assert resp.status_code == 200
    page = soup(resp)
    assert page.find(id="thanks").get_text() == (
        "Thank you! We are delighted you would recommend us.")
    [saved] = state(client)["responses"]
    assert saved["score"] == 10 and saved["feedback"] == "Great"
    assert saved["custom_fields"] == {"xrequest": "42", "plan": "gold"}


@pytest.mark.parametrize(("score", "category_text"), [
    (6, "We are sorry we let you down"),
    (7, "We will keep working to earn a 10"),
    (8, "We will keep working to earn a 10"),
    (0, "We are sorry we let you down"),
])
def test_thanks_message_by_category(client, score, category_text):
    """NPS thank-you messages follow detractor / passive / promoter."""
    page = soup(answer(client, NPS_KEY, score))
    assert category_text in page.find(id="thanks").get_text()


def test_csat_uses_general_thanks(client):
    """CSAT answers get the general thanks."""
    page = soup(answer(client, CSAT_KEY, 5))
    assert page.find(id="thanks").get_text() == (
        "Thank you for taking the time to answer our survey.")
    assert state(client)["responses"][0]["type"] == "csat"


def test_comment_updates_same_response(client, clock):
    """Add a comment later: the same id, feedback changed, updated_at bumped."""
    resp = answer(client, NPS_KEY, 3, query="xrequest=8")
    [before] = state(client)["responses"]
    assert before["feedback"] is None
    clock.advance(30)
    action, data = comment_form(resp)
    assert control(soup(resp), "Comment").name == "textarea"
    data["feedback"] = "Slow <b>answer</b>"
    resp = client.post(action, data=data)
    assert resp.status_code == 200
    assert "Your comment was saved." in resp.get_data(as_text=True)
    [after] = state(client)["responses"]
    assert after["id"] == before["id"]
    assert after["feedback"] == "Slow <b>answer</b>"
    assert after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"]
    assert after["custom_fields"] == {"xrequest": "8"}
    # A forged edit token is refused and changes nothing.
    data["token"] = "forged"
    data["feedback"] = "hacked"
    assert client.post(action, data=data).status_code == 404
    assert state(client)["responses"][0]["feedback"] == "Slow <b>answer</b>"


def test_feedback_is_escaped_on_pages(client):
    """Customer text is shown escaped on the responses page and the thank-you page."""
    resp = answer(client, NPS_KEY, 9, "<script>alert(1)</script>", query="xrequest=<i>x</i>")
    assert "<script>alert(1)</script>" not in resp.get_data(as_text=True)
    html = client.get("/responses").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<i>x</i>" not in html


@pytest.mark.parametrize(("key", "score"), [
    (NPS_KEY, None), (NPS_KEY, "11"), (NPS_KEY, "-1"), (NPS_KEY, "abc"), (NPS_KEY, "7.5"),
    (CSAT_KEY, "0"), (CSAT_KEY, "6"),
])
def test_score_out_of_scale_refused(client, key, score):
    """A missing or out-of-scale score re-renders the form with a message (400)."""
    resp = answer(client, key, score, "keep me", query="xrequest=5")
    assert resp.status_code == 400
    page = soup(resp)
    assert page.find(attrs={"role": "alert"}) is not None
    assert control(page, "Comment (optional)").get_text() == "keep me"
    assert form_data(page.find("form")) == {"xrequest": "5"}
    assert state(client)["responses"] == []


def test_closed_and_unknown_surveys(client):
    """An archived survey's page says it is closed (410); unknown keys are 404."""
    resp = client.get(f"/s/{OLD_KEY}?xrequest=1")
    assert resp.status_code == 410
    assert "closed" in resp.get_data(as_text=True)
    assert client.post(f"/s/{OLD_KEY}", data={"score": "9"}).status_code == 410
    assert client.get("/s/0000000000000000").status_code == 404
    assert state(client)["responses"] == []


def test_emailed_link_records_email_and_resubmit_updates(client):
    """Following a sendnow link ties the response to the send and its address."""
    send = client.post("/api/survey/1/sendnow", headers=AUTH,
                       data={"email": "pat@example.com", "xrequest": "31"}).get_json()
    link = state(client)["sends"][0]["link"]
    query = link.split("?", 1)[1]
    answer(client, NPS_KEY, 4, query=query)
    answer(client, NPS_KEY, 9, "Changed my mind", query=query)
    [saved] = state(client)["responses"]
    assert saved["email"] == "pat@example.com" and saved["send_id"] == send["id"]
    assert saved["score"] == 9 and saved["feedback"] == "Changed my mind"
    assert saved["custom_fields"] == {"xrequest": "31"}


def test_fields_page_add_and_remove(client):
    """Declared fields decide which link parameters a response keeps."""
    page = soup(client.get("/surveys/2/fields"))
    assert "xrequest" in page.get_text()
    name = control(page, "Field name")
    form = name.find_parent("form")
    assert client.post(form["action"], data={"name": "Region"}).status_code == 303
    assert client.post(form["action"], data={"name": "bad name!"}).status_code == 400
    assert client.post(form["action"], data={"name": "score"}).status_code == 400
    assert client.post(form["action"], data={"name": "region"}).status_code == 400
    answer(client, CSAT_KEY, 4, query="xrequest=1&region=emea")
    page = soup(client.get("/surveys/2/fields"))
    remove = page.find("button", attrs={"aria-label": "Remove field region"})
    client.post(remove.find_parent("form")["action"])
    answer(client, CSAT_KEY, 4, query="xrequest=2&region=emea")
    fields = [r["custom_fields"] for r in state(client)["responses"]]
    assert fields == [{"xrequest": "1", "region": "emea"}, {"xrequest": "2"}]


def test_settings_page_push_target(client):
    """The push secret is a password input, never rendered back; only set / not set."""
    page = soup(client.get("/settings"))
    assert page.find(id="secret-state").get_text() == "not set"
    secret = control(page, "Push secret")
    assert secret["type"] == "password"
    resp = client.post("/settings", data={
        "push_url": "http://127.0.0.1:9/hook", "push_secret": "s3cr3t-value", "action": "save"})
    assert resp.status_code == 303
    resp = client.get("/settings")
    html = resp.get_data(as_text=True)
    assert "s3cr3t-value" not in html
    page = soup(resp)
    assert page.find(id="secret-state").get_text() == "set"
    assert control(page, "Push URL")["value"] == "http://127.0.0.1:9/hook"
    # Saving again with a blank secret keeps it.
    client.post("/settings", data={"push_url": "http://127.0.0.1:9/other", "push_secret": "",
                                   "action": "save"})
    assert soup(client.get("/settings")).find(id="secret-state").get_text() == "set"
    assert client.post("/settings", data={"push_url": "ftp://x", "action": "save"}
                       ).status_code == 400
    client.post("/settings", data={"action": button(page, "Clear push settings")["value"]})
    page = soup(client.get("/settings"))
    assert page.find(id="secret-state").get_text() == "not set"
    assert control(page, "Push URL")["value"] == ""


def test_every_control_has_a_visible_label(client):
    """Every visible form control on every page is named by a <label for>."""
    client.post("/api/survey/3/sendnow", headers=AUTH, data={"email": "a@example.com"})
    answer(client, NPS_KEY, 9, "ok", query="xrequest=1")
    urls = ["/", "/account", "/surveys", "/surveys/1/fields", "/surveys/3/email", "/outbox",
            "/responses", "/settings", "/_faults", f"/s/{NPS_KEY}", f"/s/{CSAT_KEY}"]
    pages = [soup(client.get(url)) for url in urls]
    pages.append(soup(client.post("/account/tokens")))
    pages.append(soup(answer(client, CSAT_KEY, 2)))
    for page in pages:
        for element in page.find_all(["input", "textarea", "select"]):
            if element.name == "input" and element.get("type") == "hidden":
                continue
            assert element.get("id"), element
            label = page.find("label", attrs={"for": element["id"]})
            assert label is not None and label.get_text(strip=True), element


def test_index_links_everything(client):
    """The index links every page."""
    hrefs = {a["href"] for a in soup(client.get("/")).find_all("a")}
    for path in ("/account", "/surveys", "/outbox", "/responses", "/settings", "/_faults",
                 "/_state.json"):
        assert path in hrefs

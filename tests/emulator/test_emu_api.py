"""The emulator's JSON API: auth, throttle, errors, sendnow, campaign enrolment, surveys."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from .conftest import AUTH, NPS_KEY, TOKEN, button, soup, state


def test_auth_missing_wrong_and_scheme_case(client):
    """Missing or wrong tokens are 401 with the contract's body; the scheme is case-free."""
    resp = client.get("/api/account")
    assert resp.status_code == 401
    assert resp.get_json() == ["Unauthenticated."]
    assert client.get("/api/account", headers={"Authorization": "Bearer nope"}).status_code == 401
    basic = client.get("/api/account", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    for scheme in ("bearer", "BEARER", "Bearer"):
        resp = client.get("/api/account", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert resp.status_code == 200, scheme
    # No Accept header is required, and the answer is JSON anyway.
    assert resp.is_json


def test_revoked_token_is_401(client):
    """Revoking the token on the account page makes it fail at once."""
    assert client.get("/api/account", headers=AUTH).status_code == 200
    page = soup(client.get("/account"))
    revoke = page.find("button", attrs={"aria-label": f"Revoke token ending in {TOKEN[-4:]}"})
    assert revoke is not None and revoke.get_text(strip=True) == "Revoke"
    resp = client.post(revoke.find_parent("form")["action"])
    assert resp.status_code == 303
    resp = client.get("/api/surveys", headers=AUTH)
    assert resp.status_code == 401
    assert resp.get_json() == ["Unauthenticated."]
    assert state(client)["tokens"][0]["revoked_at"] is not None


def test_surveys_lists_seeded_surveys_with_all_keys(client):
    """GET /api/surveys: the four fixed surveys, archived included, typed like the doc."""
    resp = client.get("/api/surveys", headers=AUTH)
    assert resp.status_code == 200
    surveys = resp.get_json()
    assert [(s["id"], s["name"], s["type"], s["public_key"]) for s in surveys] == [
        (1, "Support NPS", "nps", "5f2b1c0d9e8a7b61"),
        (2, "Support CSAT", "csat", "a1b2c3d4e5f60718"),
        (3, "Onboarding NPS", "nps", "0c0ffee0c0ffee00"),
        (4, "Old Survey", "nps", "deadbeefdeadbeef"),
    ]
    keys = {
        "id", "archived", "name", "slug", "headline", "question", "label_scale_0",
        "label_scale_10", "submit_survey", "msg_general_thanks", "msg_promoter", "msg_passive",
        "msg_detractor", "created_at", "publicly_available", "publicly_show_passives",
        "publicly_show_detractors", "public_key", "explanation", "lockout_period",
        "campaign_enabled", "reply_to_name", "reply_to_email", "daily_survey_target",
        "deleted_at", "type", "csat_1", "csat_2", "csat_3", "csat_4", "csat_5", "email_subject",
        "email_footer", "anonymous", "show_feedback_promoter", "show_feedback_passive",
        "show_feedback_detractor", "feedback_question_promoter", "feedback_question_passive",
        "feedback_question_detractor",
    }
    for survey in surveys:
        assert set(survey) == keys
        assert survey["archived"] is (survey["id"] == 4)
        assert isinstance(survey["campaign_enabled"], bool)
        assert survey["publicly_available"] == 0 and survey["publicly_available"] is not False
        assert isinstance(survey["anonymous"], int) and not isinstance(survey["anonymous"], bool)
        assert len({survey[k] for k in ("msg_promoter", "msg_passive", "msg_detractor",
                                        "msg_general_thanks")}) == 4
    assert surveys[1]["csat_1"] == "Very dissatisfied" and surveys[1]["csat_5"] == "Very satisfied"
    assert surveys[2]["campaign_enabled"] is True and surveys[2]["lockout_period"] == 30
    assert surveys[0]["created_at"] == "2024-01-10 09:00:00"


def test_deleted_survey_is_gone_from_list_and_404(client):
    """A survey deleted on the Surveys page leaves the list and answers 404."""
    page = soup(client.get("/surveys"))
    delete = [b for b in page.find_all("button", value="delete")
              if b.find_parent("form")["action"] == "/surveys/2/state"][0]
    client.post("/surveys/2/state", data={"action": delete["value"]})
    ids = [s["id"] for s in client.get("/api/surveys", headers=AUTH).get_json()]
    assert ids == [1, 3, 4]
    resp = client.post("/api/survey/2/sendnow", headers=AUTH, data={"email": "a@example.com"})
    assert resp.status_code == 404
    assert client.get("/s/a1b2c3d4e5f60718").status_code == 410


def test_sendnow_sends_with_declared_fields_only(client):
    """Sendnow records an outbox email whose link carries xrequest and declared fields."""
    resp = client.post("/api/survey/1/sendnow", headers=AUTH, data={
        "email": "Pat@Example.com", "xRequest": "12345", "plan": "gold", "junk": "x",
    })
    assert resp.status_code == 200
    body = resp.get_json()
    assert body == {"id": body["id"], "survey_id": 1, "email": "Pat@Example.com", "status": "sent"}
    [send] = state(client)["sends"]
    assert send["id"] == body["id"] and send["status"] == "sent"
    assert send["subject"] == "How likely are you to recommend us?"
    link = urlparse(send["link"])
    assert f"{link.scheme}://{link.netloc}/" == "http://localhost/"
    assert link.path == f"/s/{NPS_KEY}"
    assert parse_qs(link.query) == {"xrequest": ["12345"], "plan": ["gold"],
                                    "send": [str(body["id"])]}
    assert send["custom_fields"] == {"xrequest": "12345", "plan": "gold"}
    # Survey 1 has no campaign: nobody enrolled.
    assert state(client)["campaign_members"] == []
    # The outbox page shows it with a clickable link.
    page = soup(client.get("/outbox"))
    anchor = page.find("a", href=send["link"])
    assert anchor is not None
    assert "Pat@Example.com" in page.get_text() and "Support NPS" in page.get_text()


def test_sendnow_accepts_json_body(client):
    """POST bodies may be a JSON object; numbers become text custom fields."""
    resp = client.post("/api/survey/1/sendnow", headers=AUTH,
                       json={"email": "jo@example.com", "xrequest": 77})
    assert resp.status_code == 200 and resp.get_json()["status"] == "sent"
    assert state(client)["sends"][0]["custom_fields"] == {"xrequest": "77"}
    resp = client.post("/api/survey/1/sendnow", headers=AUTH, json=["jo@example.com"])
    assert resp.status_code == 422


def test_sendnow_and_email_error_codes(client):
    """422 for missing/bad email, 404 for unknown and archived surveys."""
    for path in ("/api/survey/1/sendnow", "/api/survey/3/email"):
        resp = client.post(path, headers=AUTH, data={"xrequest": "1"})
        assert resp.status_code == 422
        assert resp.get_json() == ["The email field is required."]
        resp = client.post(path, headers=AUTH, data={"email": "not-an-email"})
        assert resp.status_code == 422
        assert resp.get_json() == ["The email must be a valid email address."]
    resp = client.post("/api/survey/99/sendnow", headers=AUTH, data={"email": "a@example.com"})
    assert resp.status_code == 404 and isinstance(resp.get_json(), list)
    resp = client.post("/api/survey/4/sendnow", headers=AUTH, data={"email": "a@example.com"})
    assert resp.status_code == 404
    assert "archived" in resp.get_json()[0]
    assert client.post("/api/survey/4/email", headers=AUTH,
                       data={"email": "a@example.com"}).status_code == 404
    assert state(client)["sends"] == []


def test_unknown_path_and_method_are_json(client):
    """Unknown /api paths are 404 and wrong methods 405, both JSON arrays."""
    resp = client.get("/api/nothing/here", headers=AUTH)
    assert resp.status_code == 404 and resp.get_json() == ["Not Found."]
    resp = client.get("/api/survey/1/sendnow", headers=AUTH)
    assert resp.status_code == 405 and isinstance(resp.get_json(), list)


def test_plan_limit_403_and_account_usage(make_app):
    """Use counts sent emails only; at the limit sendnow is 403 and limit_reached is true."""
    client = make_app(EMULATOR_PLAN_LIMIT=2).test_client()
    assert client.get("/api/account", headers=AUTH).get_json() == {
        "monthly_plan_limit": 2, "monthly_plan_use": 0, "limit_reached": False}
    for email in ("a@example.com", "b@example.com"):
        assert client.post("/api/survey/1/sendnow", headers=AUTH,
                           data={"email": email}).status_code == 200
    # Enrolment is not an email: it does not use the plan.
    assert client.post("/api/survey/3/email", headers=AUTH,
                       data={"email": "c@example.com"}).status_code == 200
    assert client.get("/api/account", headers=AUTH).get_json() == {
        "monthly_plan_limit": 2, "monthly_plan_use": 2, "limit_reached": True}
    resp = client.post("/api/survey/1/sendnow", headers=AUTH, data={"email": "d@example.com"})
    assert resp.status_code == 403
    assert resp.get_json() == ["Your monthly plan limit has been reached."]
    page = soup(client.get("/account"))
    assert page.find(id="plan-use").get_text() == "2"
    assert page.find(id="plan-limit").get_text() == "2"


def test_sendnow_lockout_and_campaign(client, clock):
    """Survey 3 (campaign, 30-day lockout): enrol on send, lock out repeats for 30 days."""
    first = client.post("/api/survey/3/sendnow", headers=AUTH,
                        data={"email": "kim@example.com", "xrequest": "9"}).get_json()
    assert first["status"] == "sent"
    members = state(client)["campaign_members"]
    assert [(m["survey_id"], m["email"], m["custom_fields"]) for m in members] == [
        (3, "kim@example.com", {"xrequest": "9"})]
    clock.advance(29 * 86400)
    again = client.post("/api/survey/3/sendnow", headers=AUTH,
                        data={"email": "KIM@example.com", "xrequest": "10"})
    assert again.status_code == 200
    body = again.get_json()
    assert body["status"] == "locked_out" and body["id"] != first["id"]
    other = client.post("/api/survey/3/sendnow", headers=AUTH, data={"email": "lee@example.com"})
    assert other.get_json()["status"] == "sent"
    sends = state(client)["sends"]
    assert [s["status"] for s in sends] == ["sent", "locked_out", "sent"]
    assert sends[1]["link"] is None
    # T0 is in May and 29 days later is June: this month only lee's email counts.
    assert client.get("/api/account", headers=AUTH).get_json()["monthly_plan_use"] == 1
    clock.advance(2 * 86400)
    later = client.post("/api/survey/3/sendnow", headers=AUTH, data={"email": "kim@example.com"})
    assert later.get_json()["status"] == "sent"
    # The campaign page shows the enrolled addresses with their custom fields.
    page = soup(client.get("/surveys/3/email"))
    text = page.get_text()
    assert "kim@example.com" in text and "lee@example.com" in text and "xrequest" in text


def test_email_endpoint_added_then_already_added(client):
    """POST /api/survey/<id>/email enrols once, keeping custom fields; repeats are no-ops."""
    resp = client.post("/api/survey/3/email", headers=AUTH,
                       data={"email": "ann@example.com", "xrequest": "55", "other": "no"})
    assert resp.status_code == 200
    assert resp.get_json() == {"survey_id": 3, "email": "ann@example.com", "status": "added"}
    resp = client.post("/api/survey/3/email", headers=AUTH, json={"email": "ANN@example.com"})
    assert resp.get_json()["status"] == "already_added"
    snapshot = state(client)
    assert [(m["email"], m["custom_fields"]) for m in snapshot["campaign_members"]] == [
        ("ann@example.com", {"xrequest": "55"})]
    assert snapshot["sends"] == []


def test_campaign_switch_on_email_page(client):
    """Disabling the campaign stops sendnow enrolment; delivering sends to the list."""
    page = soup(client.get("/surveys/3/email"))
    assert page.find(id="campaign-state").get_text() == "enabled"
    disable = button(page, "Disable campaign")
    client.post("/surveys/3/email", data={"action": disable["value"]})
    client.post("/api/survey/3/sendnow", headers=AUTH, data={"email": "x@example.com"})
    assert state(client)["campaign_members"] == []
    assert client.get("/api/surveys", headers=AUTH).get_json()[2]["campaign_enabled"] is False
    page = soup(client.get("/surveys/1/email"))
    client.post("/surveys/1/email", data={"action": button(page, "Enable campaign")["value"]})
    client.post("/api/survey/1/email", headers=AUTH, data={"email": "y@example.com"})
    page = soup(client.get("/surveys/1/email"))
    client.post("/surveys/1/email", data={"action": button(page, "Deliver campaign now")["value"]})
    sends = state(client)["sends"]
    assert [(s["email"], s["source"], s["status"]) for s in sends][-1] == (
        "y@example.com", "campaign", "sent")


def test_throttle_with_retry_after(make_app, clock):
    """Above the per-token limit: 429, a JSON array, and Retry-After until a slot frees."""
    app = make_app(EMULATOR_RATE_LIMIT=3, EMULATOR_RATE_WINDOW=10)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/account", headers=AUTH).status_code == 200
        clock.advance(1)
    resp = client.get("/api/account", headers=AUTH)
    assert resp.status_code == 429
    assert isinstance(resp.get_json(), list)
    assert resp.headers["Retry-After"] == "7"  # the first call (t=0) ages out at t=10
    # Unauthenticated calls are not counted against (or blocked by) the token's window.
    assert client.get("/api/account").status_code == 401
    # Another token has its own window.
    page = soup(client.post("/account/tokens"))
    other = page.find(id="new-token")["value"]
    assert client.get("/api/account",
                      headers={"Authorization": f"Bearer {other}"}).status_code == 200
    clock.advance(7)
    assert client.get("/api/account", headers=AUTH).status_code == 200
    resp = client.get("/api/account", headers=AUTH)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1

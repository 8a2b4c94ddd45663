"""Fault switches (JSON and HTML), the state dump and reset."""

from __future__ import annotations

import threading
import time

from .conftest import AUTH, NPS_KEY, answer, soup, state


def test_error_status_for_n_calls_then_normal(client):
    """error_status with error_count N: the next N API calls fail, then all is normal."""
    resp = client.post("/_faults", json={"error_status": 500, "error_count": 2})
    assert resp.status_code == 200
    assert resp.get_json() == {"error_status": 500, "error_count": 2, "delay_seconds": 0.0,
                               "throttle_count": 0, "retry_after": 1}
    # Pages are never faulted and do not use up the count.
    assert client.get("/surveys").status_code == 200
    first = client.get("/api/account", headers=AUTH)
    assert first.status_code == 500 and first.get_json() == ["Server Error."]
    assert client.get("/_faults.json").get_json()["error_count"] == 1
    # Faults strike before authentication, like a broken upstream.
    assert client.get("/api/surveys").status_code == 500
    assert client.get("/api/account", headers=AUTH).status_code == 200
    calls = state(client)["api_calls"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("GET", "/api/account", 500), ("GET", "/api/surveys", 500), ("GET", "/api/account", 200)]


def test_error_until_cleared_and_delete(client):
    """A status without a count stays on until DELETE /_faults."""
    client.post("/_faults", json={"error_status": 503, "retry_after": 4})
    assert client.get("/_faults.json").get_json()["error_count"] == -1
    for _ in range(3):
        resp = client.post("/api/survey/1/sendnow", headers=AUTH, data={"email": "a@b.co"})
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "4"
    assert state(client)["sends"] == []
    cleared = client.delete("/_faults")
    assert cleared.get_json()["error_status"] is None
    assert client.get("/api/account", headers=AUTH).status_code == 200


def test_401_and_403_faults(client):
    """Auth-like fault statuses answer with matching messages."""
    client.post("/_faults", json={"error_status": 401, "error_count": 1})
    resp = client.get("/api/account", headers=AUTH)
    assert resp.status_code == 401 and resp.get_json() == ["Unauthenticated."]
    client.post("/_faults", json={"error_status": 403, "error_count": 1})
    assert client.get("/api/account", headers=AUTH).status_code == 403
    assert client.get("/api/account", headers=AUTH).status_code == 200


def test_delay(client):
    """delay_seconds stalls every API call, and only API calls."""
    client.post("/_faults", json={"delay_seconds": 0.4})
    start = time.monotonic()
    assert client.get("/api/account", headers=AUTH).status_code == 200
    assert time.monotonic() - start >= 0.4
    start = time.monotonic()
    client.get("/surveys")
    assert time.monotonic() - start < 0.4
    client.delete("/_faults")
    start = time.monotonic()
    client.get("/api/account", headers=AUTH)
    assert time.monotonic() - start < 0.4


def test_throttle_storm(client):
    """throttle_count N: N answers of 429 with Retry-After, then normal service."""
    client.post("/_faults", json={"throttle_count": 3, "retry_after": 7})
    for _ in range(3):
        resp = client.get("/api/surveys", headers=AUTH)
        assert resp.status_code == 429
        assert resp.headers["Retry-After"] == "7"
        assert resp.get_json() == ["Too Many Attempts."]
    assert client.get("/api/surveys", headers=AUTH).status_code == 200
    assert client.get("/_faults.json").get_json()["throttle_count"] == 0


def test_fault_counting_is_thread_safe(app):
    """Concurrent calls consume exactly error_count faults."""
    client = app.test_client()
    client.post("/_faults", json={"error_status": 500, "error_count": 10})
    statuses: list[int] = []
    lock = threading.Lock()

    def worker():
        local = app.test_client()
        for _ in range(5):
            code = local.get("/api/account", headers=AUTH).status_code
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) == 40
    assert statuses.count(500) == 10
    assert statuses.count(200) == 30


def test_fault_json_validation(client):
    """Bad switches are refused with 400 and a list of errors; nothing changes."""
    resp = client.post("/_faults", json={"error_status": 200, "bogus": 1})
    assert resp.status_code == 400
    errors = resp.get_json()["errors"]
    assert any("bogus" in e for e in errors) and any("error_status" in e for e in errors)
    assert client.post("/_faults", json={"delay_seconds": "slow"}).status_code == 400
    assert client.post("/_faults", json=[1]).status_code == 400
    assert client.get("/_faults.json").get_json()["error_status"] is None


def test_fault_html_form(client):
    """The HTML form sets every switch; the clear button switches them off."""
    page = soup(client.get("/_faults"))
    form = page.find("form")
    resp = client.post(form["action"], data={
        "error_status": "502", "error_count": "1", "delay_seconds": "0", "throttle_count": "0",
        "retry_after": "2"})
    assert resp.status_code == 303
    assert client.get("/_faults.json").get_json()["error_status"] == 502
    page = soup(client.get("/_faults"))
    assert page.find(id="error-status")["value"] == "502"
    assert client.get("/api/account", headers=AUTH).status_code == 502
    clear = page.find("button", string="Clear all faults").find_parent("form")
    client.post(clear["action"])
    assert client.get("/_faults.json").get_json() == {
        "error_status": None, "error_count": 0, "delay_seconds": 0.0, "throttle_count": 0,
        "retry_after": 1}


def test_reset_wipes_activity_but_keeps_surveys_and_tokens(client):
    """POST /_reset empties the outbox, campaigns, responses, logs and faults."""
    client.post("/api/survey/3/sendnow", headers=AUTH, data={"email": "a@example.com"})
    answer(client, NPS_KEY, 9, query="xrequest=1")
    client.post("/_faults", json={"delay_seconds": 0.1})
    before = state(client)
    assert before["sends"] and before["campaign_members"] and before["responses"]
    assert client.post("/_reset").get_json() == {"reset": True}
    after = state(client)
    for key in ("sends", "campaign_members", "responses", "api_calls", "push_log"):
        assert after[key] == [], key
    assert after["faults"]["delay_seconds"] == 0.0
    assert client.get("/api/surveys", headers=AUTH).status_code == 200
    # Ids keep growing, so an upsert by id never confuses old and new responses.
    answer(client, NPS_KEY, 9)
    assert state(client)["responses"][0]["id"] > before["responses"][0]["id"]

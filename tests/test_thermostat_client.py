"""The Thermostat HTTP client against the real emulator (and a few hand-made servers)."""

import http.server
import threading

import pytest

from helpdesk.thermostat import client as tc
from helpdesk.thermostat.client import ThermostatClient
from scripts.stack import free_port
from tests.helpers import EMULATOR_TOKEN

WRONG_TOKEN = "wrong-token-abcdefghijklmnop"


@pytest.fixture
def thermostat(emulator):
    return ThermostatClient(emulator.url, EMULATOR_TOKEN, timeout=2.0)


def test_account_reports_plan_usage(thermostat):
    account = thermostat.account()
    assert set(account) >= {"monthly_plan_limit", "monthly_plan_use", "limit_reached"}
    assert isinstance(account["monthly_plan_limit"], int)
    assert account["limit_reached"] is False


def test_surveys_lists_the_team_surveys_with_their_types(thermostat):
    surveys = {s["id"]: s for s in thermostat.surveys()}
    assert {sid: (s["name"], s["type"]) for sid, s in surveys.items()} == {
        1: ("Support NPS", "nps"), 2: ("Support CSAT", "csat"), 3: ("Onboarding NPS", "nps"),
        4: ("Old Survey", "nps")}
    assert surveys[3]["lockout_period"] == 30
    assert surveys[4]["archived"] is True


def test_send_now_sends_and_carries_the_request_id(thermostat, emulator):
    answer = thermostat.send_now(1, "pat@example.com", 42, {"plan": "Pro"})
    assert answer["status"] == "sent"
    assert answer["survey_id"] == 1 and answer["email"] == "pat@example.com"
    sends = emulator.state()["sends"]
    assert [s["id"] for s in sends] == [answer["id"]]
    assert sends[0]["custom_fields"] == {"xrequest": "42", "plan": "Pro"}
    assert "xrequest=42" in sends[0]["link"]


def test_add_to_campaign_then_again_is_already_added(thermostat, emulator):
    assert thermostat.add_to_campaign(3, "kim@example.com", 7)["status"] == "added"
    assert thermostat.add_to_campaign(3, "KIM@example.com", 8)["status"] == "already_added"
    members = emulator.state()["campaign_members"]
    assert [(m["survey_id"], m["email"]) for m in members] == [(3, "kim@example.com")]
    assert emulator.state()["sends"] == []


def test_responses_feed_returns_answers_and_a_cursor(thermostat, emulator):
    empty = thermostat.responses()
    assert empty["responses"] == []
    thermostat.send_now(1, "pat@example.com", 12)
    link = emulator.state()["sends"][0]["link"]
    assert emulator.answer(link, 8, "Fine").status_code == 200
    page = thermostat.responses()
    assert [(r["score"], r["feedback"], r["custom_fields"].get("xrequest"))
            for r in page["responses"]] == [(8, "Fine", "12")]
    assert isinstance(page["since"], int) and page["since"] > 0
    # the cursor's second comes back again (the feed's rule), later ones would follow
    again = thermostat.responses(since=page["since"])
    assert [r["id"] for r in again["responses"]] == [page["responses"][0]["id"]]
    assert thermostat.responses(since=page["since"] + 1)["responses"] == []


# --- typed errors ----------------------------------------------------------------------------


def _raises(exc_type, call):
    with pytest.raises(exc_type) as info:
        call()
    exc = info.value
    assert EMULATOR_TOKEN not in str(exc) and WRONG_TOKEN not in str(exc)
    assert EMULATOR_TOKEN not in exc.message and WRONG_TOKEN not in exc.message
    return exc


@pytest.mark.parametrize("call", ["account", "surveys", "send_now", "responses"])
def test_wrong_token_is_unauthorized_on_every_endpoint(emulator, call):
    client = ThermostatClient(emulator.url, WRONG_TOKEN, timeout=2.0)
    args = {"send_now": (1, "pat@example.com", 1)}.get(call, ())
    exc = _raises(tc.Unauthorized, lambda: getattr(client, call)(*args))
    assert exc.status == 401 and exc.retryable is False and exc.kind == "unauthorized"
    assert emulator.state()["sends"] == []


@pytest.mark.parametrize("method", ["send_now", "add_to_campaign"])
def test_unknown_survey_is_survey_not_found(thermostat, method):
    exc = _raises(tc.SurveyNotFound, lambda: getattr(thermostat, method)(999, "p@example.com", 1))
    assert exc.status == 404 and not exc.retryable
    assert "999" in exc.message


def test_archived_survey_is_survey_not_found(thermostat):
    _raises(tc.SurveyNotFound, lambda: thermostat.send_now(4, "p@example.com", 1))


@pytest.mark.parametrize("email", ["not-an-email", "", "a@b", "two@@example.com"])
def test_bad_email_is_invalid_input(thermostat, emulator, email):
    exc = _raises(tc.InvalidInput, lambda: thermostat.send_now(1, email, 1))
    assert exc.status == 422 and not exc.retryable
    assert "email" in exc.message
    assert emulator.state()["sends"] == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(thermostat, emulator, status):
    emulator.faults(error_status=status, error_count=1)
    exc = _raises(tc.ServerError, thermostat.account)
    assert exc.status == status and exc.retryable is True
    # the fault was consumed: the next call works
    assert "monthly_plan_limit" in thermostat.account()


def test_throttle_storm_is_throttled_with_retry_after(thermostat, emulator):
    emulator.faults(throttle_count=2, retry_after=7)
    for _ in range(2):
        exc = _raises(tc.Throttled, lambda: thermostat.send_now(1, "pat@example.com", 1))
        assert exc.status == 429 and exc.retryable is True and exc.retry_after == 7.0
    assert thermostat.send_now(1, "pat@example.com", 1)["status"] == "sent"
    assert len(emulator.state()["sends"]) == 1


def test_delay_longer_than_the_timeout_is_timeout(emulator):
    emulator.faults(delay_seconds=1.0)
    client = ThermostatClient(emulator.url, EMULATOR_TOKEN, timeout=0.3)
    exc = _raises(tc.Timeout, client.account)
    assert exc.retryable is True and "0.3 s" in exc.message


def test_closed_port_is_unreachable():
    port = free_port()
    client = ThermostatClient(f"http://127.0.0.1:{port}", EMULATOR_TOKEN, timeout=1.0)
    exc = _raises(tc.Unreachable, client.account)
    assert exc.retryable is True and f"127.0.0.1:{port}" in exc.message


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b"<html>Thermostat maintenance</html>"
    content_type = "text/html"
    echo_auth = False

    def do_GET(self):
        if self.echo_auth:  # a careless server that echoes the request back in its error
            # long enough that a message cut at 200 characters would end inside the token
            echoed = f"bad credentials: {self.headers.get('Authorization')}"
            self.body = ("x" * 170 + echoed).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def tiny_server():
    """A local HTTP server in a thread; yields a function making a handler class and URL."""
    servers = []

    def start(status=200, body=b"<html>Thermostat maintenance</html>",
              content_type="text/html", echo_auth=False):
        handler = type("Handler", (_Handler,), {"status": status, "body": body,
                                                "content_type": content_type,
                                                "echo_auth": echo_auth})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_non_json_2xx_is_bad_response(tiny_server):
    url = tiny_server()
    exc = _raises(tc.BadResponse, ThermostatClient(url, EMULATOR_TOKEN, timeout=2).account)
    assert exc.status == 200 and exc.retryable is False


@pytest.mark.parametrize("method,body", [
    ("account", b"[1, 2]"), ("surveys", b'{"surveys": []}'), ("responses", b"[]"),
    ("responses", b'{"since": 1}'),
])
def test_json_of_the_wrong_shape_is_bad_response(tiny_server, method, body):
    url = tiny_server(body=body, content_type="application/json")
    _raises(tc.BadResponse, getattr(ThermostatClient(url, EMULATOR_TOKEN, timeout=2), method))


@pytest.mark.parametrize("status,body,exc_type,detail", [
    (401, b"<h1>nope</h1>", tc.Unauthorized, "<h1>nope</h1>"),
    (403, b'{"message": "Plan limit"}', tc.PlanLimitReached, "Plan limit"),
    (418, b"", tc.ClientError, "(418)"),
    (504, b'["Gateway Timeout."]', tc.ServerError, "Gateway Timeout."),
])
def test_any_error_body_is_tolerated(tiny_server, status, body, exc_type, detail):
    url = tiny_server(status=status, body=body, content_type="application/json")
    exc = _raises(exc_type, ThermostatClient(url, EMULATOR_TOKEN, timeout=2).account)
    assert exc.status == status and detail in exc.message


@pytest.mark.parametrize("status,exc_type", [
    (401, tc.Unauthorized), (422, tc.InvalidInput), (500, tc.ServerError), (400, tc.ClientError),
])
def test_an_error_body_echoing_the_token_does_not_put_it_in_the_message(tiny_server, status,
                                                                        exc_type):
    url = tiny_server(status=status, echo_auth=True)
    exc = _raises(exc_type, ThermostatClient(url, EMULATOR_TOKEN, timeout=2).account)
    assert "bad credentials" in exc.message  # the rest of the detail is kept
    assert EMULATOR_TOKEN[:6] not in exc.message  # not even a cut-off part of it


def test_repr_never_shows_the_token(emulator):
    client = ThermostatClient(emulator.url, EMULATOR_TOKEN)
    assert EMULATOR_TOKEN not in repr(client) and EMULATOR_TOKEN not in str(client)
    assert emulator.url in repr(client)
    assert EMULATOR_TOKEN not in repr(vars(client).get("session"))

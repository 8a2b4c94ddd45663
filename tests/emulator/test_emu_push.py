"""Pushes of saved responses to a local HTTP server, with a checked HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from thermostat_emulator import push

from .conftest import AUTH, NPS_KEY, answer, comment_form, state

SECRET = "push-secret-for-tests"


class Receiver:
    """A tiny HTTP server recording every POST; answers the queued statuses, then 200."""

    def __init__(self, statuses=()) -> None:
        """Start listening on a free local port."""
        self.received: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body,
                                          "path": self.path})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/inbound/results"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10) -> None:
        """Wait until `count` requests arrived."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, self.received

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    """Run a receiver that answers 200."""
    server = Receiver()
    yield server
    server.close()


def check_signature(request: dict) -> dict:
    """Verify X-Signature like the helpdesk would; return the parsed body."""
    header = request["headers"]["X-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + request["body"],
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - time.time()) < 60
    assert request["headers"]["Content-Type"] == "application/json"
    return json.loads(request["body"])


def wait_log(client, count: int, timeout: float = 10) -> list[dict]:
    """Wait until the push log holds `count` attempts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = state(client)["push_log"]
        if len(log) >= count:
            return log
        time.sleep(0.02)
    raise AssertionError(state(client)["push_log"])


def test_push_signed_response_and_its_edit(make_app, receiver):
    """Each save and each edit is pushed, signed, exactly as the feed shows it."""
    client = make_app(EMULATOR_PUSH_URL=receiver.url, EMULATOR_PUSH_SECRET=SECRET).test_client()
    resp = answer(client, NPS_KEY, 2, query="xrequest=77")
    receiver.wait_for(1)
    body = check_signature(receiver.received[0])
    assert receiver.received[0]["path"] == "/inbound/results"
    feed = client.get("/api/helpspot?since=0", headers=AUTH).get_json()["responses"]
    assert body == feed[0]
    assert body["custom_fields"] == {"xrequest": "77"} and body["score"] == 2
    action, data = comment_form(resp)
    data["feedback"] = "Nobody called back"
    client.post(action, data=data)
    receiver.wait_for(2)
    edited = check_signature(receiver.received[1])
    assert edited["id"] == body["id"] and edited["feedback"] == "Nobody called back"
    log = wait_log(client, 2)
    assert [(p["response_id"], p["attempt"], p["status"]) for p in log] == [
        (body["id"], 1, 200), (body["id"], 1, 200)]


def test_push_retries_then_succeeds(make_app, monkeypatch):
    """A failing target is retried (3 attempts at most), each attempt logged."""
    monkeypatch.setattr(push, "BACKOFF", (0.01, 0.01))
    server = Receiver(statuses=[500, 503])
    try:
        client = make_app(EMULATOR_PUSH_URL=server.url,
                          EMULATOR_PUSH_SECRET=SECRET).test_client()
        answer(client, NPS_KEY, 10)
        server.wait_for(3)
        log = wait_log(client, 3)
        assert [(p["attempt"], p["status"]) for p in log] == [(1, 500), (2, 503), (3, 200)]
        for request in server.received:
            check_signature(request)
    finally:
        server.close()


def test_push_target_from_settings_and_refused_connection(client, monkeypatch, receiver):
    """A target set on /settings is used; an unreachable one logs errors, not crashes."""
    monkeypatch.setattr(push, "BACKOFF", (0.01, 0.01))
    client.post("/settings", data={"push_url": receiver.url, "push_secret": SECRET,
                                   "action": "save"})
    answer(client, NPS_KEY, 8)
    receiver.wait_for(1)
    assert check_signature(receiver.received[0])["score"] == 8
    wait_log(client, 1)
    client.post("/settings", data={"push_url": "http://127.0.0.1:9/nothing", "action": "save"})
    answer(client, NPS_KEY, 7)
    log = wait_log(client, 4)
    assert [p["attempt"] for p in log[1:]] == [1, 2, 3]
    assert all(p["status"] is None and p["error"] for p in log[1:])
    assert "127.0.0.1:9" in client.get("/settings").get_data(as_text=True)

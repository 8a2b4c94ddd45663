"""Start the real `python -m thermostat_emulator` and talk HTTP to it."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "server-test-token-abc"


def call(method: str, url: str, data: dict | None = None, token: str | None = TOKEN):
    """Make one HTTP call; return (status, headers, body text)."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read().decode()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_real_server_round_trip(tmp_path, stop_signal):
    """Serve on a free port, run the survey loop over HTTP, then stop cleanly on a signal."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "thermostat_emulator", "--host", "127.0.0.1", "--port", "0",
         "--db", str(tmp_path / "emu.sqlite"), "--token", TOKEN, "--rate-limit", "50"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        first = lines.get(timeout=20)
        match = re.fullmatch(r"Thermostat emulator on (http://127\.0\.0\.1:\d+)\n", first)
        assert match, first
        base = match.group(1)
        status, _h, body = call("GET", f"{base}/api/account")
        assert status == 200 and json.loads(body)["limit_reached"] is False
        assert call("GET", f"{base}/api/account", token=None)[0] == 401
        status, _h, body = call("POST", f"{base}/api/survey/1/sendnow",
                                {"email": "pat@example.com", "xrequest": "123"})
        assert status == 200 and json.loads(body)["status"] == "sent"
        status, _h, body = call("GET", f"{base}/_state.json", token=None)
        link = json.loads(body)["sends"][0]["link"]
        assert link.startswith(f"{base}/s/5f2b1c0d9e8a7b61?xrequest=123")
        assert call("GET", link, token=None)[0] == 200
        status, _h, _b = call("POST", f"{base}/s/5f2b1c0d9e8a7b61",
                              {"score": "9", "xrequest": "123"}, token=None)
        assert status == 200
        status, headers, body = call("GET", f"{base}/api/helpspot?since=0")
        [response] = json.loads(body)["responses"]
        assert response["score"] == 9 and response["custom_fields"] == {"xrequest": "123"}
        assert headers["X-RateLimit-Limit"] == "50"
    finally:
        proc.send_signal(stop_signal)
        try:
            code = proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(timeout=5)
            stderr = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
    assert code == 0, stderr

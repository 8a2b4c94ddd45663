"""Push saved responses to the helpdesk's inbound results route, signed with HMAC-SHA256.

One daemon worker thread per app drains a queue, so a response and its later edit are
delivered in the order they were saved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import urllib.error
import urllib.request

from . import store

ATTEMPTS = 3
TIMEOUT = 5
BACKOFF = (0.5, 1.0)  # seconds to wait after attempt 1 and 2


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the X-Signature header value for a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class Pusher:
    """Queue of responses to push, with one lazily started delivery thread."""

    def __init__(self, db_path: str) -> None:
        """Remember the store; the thread starts on the first push."""
        self.db_path = db_path
        self.queue: queue.Queue[dict] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def enqueue(self, response: dict) -> None:
        """Schedule one response object for delivery (no-op when no target is set)."""
        url, secret = self._target()
        if not url or not secret:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="thermostat-push", daemon=True
                )
                self._thread.start()
        self.queue.put(response)

    def _target(self) -> tuple[str | None, str | None]:
        """Read the push URL and secret as currently stored."""
        conn = store.connect(self.db_path)
        try:
            return store.get_setting(conn, "push_url"), store.get_setting(conn, "push_secret")
        finally:
            conn.close()

    def _run(self) -> None:
        """Deliver queued responses forever; never let an error kill the thread."""
        while True:
            response = self.queue.get()
            try:
                self.deliver(response)
            except Exception:  # noqa: BLE001 - the worker must outlive any single failure
                pass
            finally:
                self.queue.task_done()

    def deliver(self, response: dict) -> bool:
        """POST one response with up to ATTEMPTS tries; log each try; return success."""
        body = json.dumps(response, separators=(",", ":")).encode()
        for attempt in range(1, ATTEMPTS + 1):
            url, secret = self._target()
            if not url or not secret:
                return False
            status, error = _post(url, secret, body)
            self._log(response["id"], attempt, url, status, error)
            if status is not None and 200 <= status < 300:
                return True
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF[attempt - 1])
        return False

    def _log(self, response_id: int, attempt: int, url: str, status: int | None,
             error: str | None) -> None:
        """Record one delivery attempt in the push log."""
        conn = store.connect(self.db_path)
        try:
            with store.tx(conn):
                conn.execute(
                    "INSERT INTO push_log (response_id, attempt, url, status_code, error, at_ts)"
                    " VALUES (?,?,?,?,?,?)",
                    (response_id, attempt, url, status, error, store.clock()),
                )
        finally:
            conn.close()


def _post(url: str, secret: str, body: bytes) -> tuple[int | None, str | None]:
    """Send one signed POST; return (HTTP status, None) or (None, error text)."""
    timestamp = int(time.time())
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Signature": sign(secret, timestamp, body),
            "User-Agent": "thermostat-emulator",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as resp:
            resp.read()
            return resp.status, None
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:300]

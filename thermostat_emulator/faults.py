"""Fault switches: make the emulator's /api routes fail, stall or throttle on demand.

State lives in the `faults` table (a single row), and every count is consumed inside an
IMMEDIATE transaction, so concurrent waitress threads (or processes) never over-count.
"""

from __future__ import annotations

import sqlite3

from . import store

DEFAULTS: dict = {
    "error_status": None,
    "error_count": 0,
    "delay_seconds": 0.0,
    "throttle_count": 0,
    "retry_after": 1,
}
KEYS = tuple(DEFAULTS)
MAX_DELAY = 120.0


def get_faults(conn: sqlite3.Connection) -> dict:
    """Return the current fault switches as a plain dict."""
    row = conn.execute(
        "SELECT error_status, error_count, delay_seconds, throttle_count, retry_after"
        " FROM faults WHERE id = 1"
    ).fetchone()
    if row is None:
        return dict(DEFAULTS)
    return {
        "error_status": row["error_status"],
        "error_count": row["error_count"],
        "delay_seconds": float(row["delay_seconds"]),
        "throttle_count": row["throttle_count"],
        "retry_after": row["retry_after"],
    }


def _as_int(value, name: str, errors: list[str]) -> int | None:
    """Coerce a JSON or form value to int, collecting a message on failure."""
    if isinstance(value, bool):
        errors.append(f"{name} must be an integer.")
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    errors.append(f"{name} must be an integer.")
    return None


def validate(data: dict, current: dict) -> tuple[dict, list[str]]:
    """Merge a partial update into the current state; return (new state, error messages)."""
    errors = [f"Unknown fault switch: {key}." for key in data if key not in KEYS]
    new = dict(current)
    if "error_status" in data:
        value = data["error_status"]
        if value is None or value == "":
            new["error_status"] = None
            new["error_count"] = 0
        else:
            status = _as_int(value, "error_status", errors)
            if status is not None and not 400 <= status <= 599:
                errors.append("error_status must be between 400 and 599.")
            new["error_status"] = status
            # A status switched on without a count stays on until cleared.
            if "error_count" not in data:
                new["error_count"] = -1
    if "error_count" in data and data["error_count"] not in (None, ""):
        count = _as_int(data["error_count"], "error_count", errors)
        if count is not None and count < -1:
            errors.append("error_count must be -1 (until cleared) or more.")
        new["error_count"] = count
    for key in ("throttle_count", "retry_after"):
        if key in data and data[key] not in (None, ""):
            value = _as_int(data[key], key, errors)
            if value is not None and value < 0:
                errors.append(f"{key} must be 0 or more.")
            new[key] = value
    if "delay_seconds" in data and data["delay_seconds"] not in (None, ""):
        raw = data["delay_seconds"]
        try:
            if isinstance(raw, bool):
                raise ValueError
            delay = float(raw)
        except (TypeError, ValueError):
            errors.append("delay_seconds must be a number.")
        else:
            if not 0 <= delay <= MAX_DELAY:
                errors.append(f"delay_seconds must be between 0 and {MAX_DELAY:g}.")
            new["delay_seconds"] = delay
    return new, errors


def save(conn: sqlite3.Connection, values: dict) -> None:
    """Store a complete fault state."""
    with store.tx(conn):
        conn.execute("INSERT OR IGNORE INTO faults (id) VALUES (1)")
        conn.execute(
            "UPDATE faults SET error_status = ?, error_count = ?, delay_seconds = ?,"
            " throttle_count = ?, retry_after = ? WHERE id = 1",
            (values["error_status"], values["error_count"], values["delay_seconds"],
             values["throttle_count"], values["retry_after"]),
        )


def clear(conn: sqlite3.Connection) -> None:
    """Switch every fault off."""
    save(conn, DEFAULTS)


def consume(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """Take one fault for this API call, if any: return (status, retry_after) or None.

    Throttle storms win over error statuses, so both can be queued: first N 429s, then errors.
    """
    state = get_faults(conn)
    if state["throttle_count"] <= 0 and (state["error_status"] is None
                                         or state["error_count"] == 0):
        return None  # nothing armed: skip the write lock on the hot path
    with store.tx(conn):
        state = get_faults(conn)
        if state["throttle_count"] > 0:
            conn.execute("UPDATE faults SET throttle_count = throttle_count - 1 WHERE id = 1")
            return 429, state["retry_after"]
        if state["error_status"] is not None and state["error_count"] != 0:
            if state["error_count"] > 0:
                conn.execute("UPDATE faults SET error_count = error_count - 1 WHERE id = 1")
            return state["error_status"], state["retry_after"]
    return None

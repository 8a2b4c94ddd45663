"""The JSON API of the emulator (`/api/...`), exactly per docs/thermostat-api.md."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import faults, get_db, hash_token, store

bp = Blueprint("api", __name__, url_prefix="/api")

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
INT_RE = re.compile(r"^-?\d{1,18}$")
FEED_PAGE = 100
# Names that are never custom fields: they steer the survey page itself.
RESERVED_FIELDS = frozenset({"score", "feedback", "send", "email", "response", "token"})

FAULT_MESSAGES = {
    401: "Unauthenticated.",
    403: "This action is unauthorized.",
    404: "Not Found.",
    429: "Too Many Attempts.",
    500: "Server Error.",
    502: "Bad Gateway.",
    503: "Service Unavailable.",
    504: "Gateway Timeout.",
}


def is_api_path() -> bool:
    """Tell whether the current request is an API call (the only calls faults touch)."""
    return request.path == "/api" or request.path.startswith("/api/")


def api_error(status: int, *messages: str, headers: dict | None = None) -> Response:
    """Return the contract's error shape: a JSON array of messages with a 4xx/5xx code."""
    resp = jsonify(list(messages))
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _authenticate(conn: sqlite3.Connection) -> int | None:
    """Return the id of the valid token in the Authorization header, or None."""
    header = request.headers.get("Authorization", "")
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].strip():
        return None
    row = conn.execute(
        "SELECT id FROM tokens WHERE token_hash = ? AND revoked_ts IS NULL",
        (hash_token(parts[1].strip()),),
    ).fetchone()
    return row["id"] if row else None


def _throttle(conn: sqlite3.Connection, token_id: int) -> int | None:
    """Count this call against the token's sliding window; return Retry-After if over it."""
    limit = current_app.config["EMULATOR_RATE_LIMIT"]
    window = current_app.config["EMULATOR_RATE_WINDOW"]
    now = store.clock()
    with store.tx(conn):
        conn.execute(
            "DELETE FROM rate_hits WHERE token_id = ? AND at <= ?", (token_id, now - window)
        )
        count, oldest = conn.execute(
            "SELECT COUNT(*), MIN(at) FROM rate_hits WHERE token_id = ?", (token_id,)
        ).fetchone()
        if count >= limit:
            wait = window if oldest is None else oldest + window - now
            return max(1, math.ceil(wait))
        conn.execute("INSERT INTO rate_hits (token_id, at) VALUES (?, ?)", (token_id, now))
    g.rate_remaining = limit - count - 1
    return None


@bp.before_app_request
def guard_api():
    """Apply fault switches, authentication and the throttle to every /api call."""
    if not is_api_path():
        return None
    conn = get_db()
    delay = faults.get_faults(conn)["delay_seconds"]
    if delay > 0:
        time.sleep(delay)
    fault = faults.consume(conn)
    if fault is not None:
        status, retry_after = fault
        message = FAULT_MESSAGES.get(status, "Error.")
        headers = {"X-Emulator-Fault": "1"}
        if status in (429, 503):
            headers["Retry-After"] = str(retry_after)
        return api_error(status, message, headers=headers)
    if request.url_rule is None:
        return None  # unknown path or method: routing raises, the handler below answers JSON
    token_id = _authenticate(conn)
    if token_id is None:
        return api_error(401, "Unauthenticated.")
    g.api_token_id = token_id
    retry_after = _throttle(conn, token_id)
    if retry_after is not None:
        return api_error(429, "Too Many Attempts.", headers={
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(current_app.config["EMULATOR_RATE_LIMIT"]),
            "X-RateLimit-Remaining": "0",
        })
    return None


@bp.after_app_request
def log_api_call(response: Response) -> Response:
    """Record every /api call (method, path, status, time) for /_state.json."""
    if not is_api_path():
        return response
    if "rate_remaining" in g:
        response.headers["X-RateLimit-Limit"] = str(current_app.config["EMULATOR_RATE_LIMIT"])
        response.headers["X-RateLimit-Remaining"] = str(g.rate_remaining)
    get_db().execute(
        "INSERT INTO api_calls (method, path, query, status, token_id, at) VALUES (?,?,?,?,?,?)",
        (request.method, request.path, request.query_string.decode("latin-1"),
         response.status_code, g.get("api_token_id"), store.clock()),
    )
    return response


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Answer errors on /api paths as JSON arrays; leave page errors to Flask."""
    if not is_api_path():
        return exc
    message = FAULT_MESSAGES.get(exc.code or 500) or f"{exc.name}."
    if exc.code == 405:
        message = "Method Not Allowed."
    return api_error(exc.code or 500, message)


# --- request helpers -----------------------------------------------------------------------


def _payload() -> dict | Response:
    """Return the call's fields (form, JSON object, or query) with lower-cased names."""
    data: dict = {key: value for key, value in request.args.items()}
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return api_error(422, "The request body must be a JSON object.")
        data.update(body)
    else:
        data.update(request.form.to_dict())
    # xRequest and xrequest are the same field; so is any other spelling of a name.
    return {str(key).lower(): value for key, value in data.items()}


def _text(value) -> str | None:
    """Turn a scalar body value into the text a custom field holds."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _email(data: dict) -> str | Response:
    """Validate the `email` field; return it stripped, or the 422 answer."""
    raw = data.get("email")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return api_error(422, "The email field is required.")
    if not isinstance(raw, str) or len(raw.strip()) > 254 or not EMAIL_RE.match(raw.strip()):
        return api_error(422, "The email must be a valid email address.")
    return raw.strip()


def _custom_fields(data: dict, declared: list[str]) -> dict:
    """Keep xrequest (it always rides on the link) and the survey's declared fields."""
    fields = {}
    for key, value in data.items():
        if key in RESERVED_FIELDS or (key != "xrequest" and key not in declared):
            continue
        text = _text(value)
        if text is not None:
            fields[key] = text
    return fields


def _survey(conn: sqlite3.Connection, survey_id: int) -> sqlite3.Row | Response:
    """Load a live survey, or the 404 answer (unknown, deleted or archived)."""
    row = conn.execute(
        "SELECT * FROM surveys WHERE id = ? AND deleted_ts IS NULL", (survey_id,)
    ).fetchone()
    if row is None:
        return api_error(404, f"Survey {survey_id} not found.")
    if row["archived"]:
        return api_error(404, f"Survey {survey_id} is archived and cannot be sent.")
    return row


def survey_link(base: str, public_key: str, fields: dict, send_id: int | None = None) -> str:
    """Build the customer's survey link: xrequest first, then other fields, then the send."""
    params = []
    if "xrequest" in fields:
        params.append(("xrequest", fields["xrequest"]))
    params.extend((k, v) for k, v in sorted(fields.items()) if k != "xrequest")
    if send_id is not None:
        params.append(("send", str(send_id)))
    link = f"{base.rstrip('/')}/s/{public_key}"
    return f"{link}?{urlencode(params)}" if params else link


def _prepare(survey_id: int):
    """Do the common part of sendnow and email: survey, payload, email, custom fields."""
    conn = get_db()
    survey = _survey(conn, survey_id)
    if isinstance(survey, Response):
        return survey
    data = _payload()
    if isinstance(data, Response):
        return data
    email = _email(data)
    if isinstance(email, Response):
        return email
    fields = _custom_fields(data, store.declared_fields(conn, survey_id))
    return conn, survey, email, fields


def _enrol(conn: sqlite3.Connection, survey_id: int, email: str, fields: dict, ts: int) -> bool:
    """Add an address to a survey's campaign; return False when it was already there."""
    cur = conn.execute(
        "INSERT OR IGNORE INTO campaign_members"
        " (survey_id, email, email_norm, custom_fields, added_ts) VALUES (?,?,?,?,?)",
        (survey_id, email, email.lower(), json.dumps(fields), ts),
    )
    return cur.rowcount == 1


def record_send(conn: sqlite3.Connection, survey: sqlite3.Row, email: str, fields: dict,
                source: str, base: str, ts: int) -> tuple[int, str]:
    """Inside a write transaction: apply the lockout and record one outbox email.

    Returns (send id, "sent" | "locked_out").
    """
    locked = False
    if survey["lockout_period"] > 0:
        locked = conn.execute(
            "SELECT 1 FROM sends WHERE survey_id = ? AND email_norm = ? AND status = 'sent'"
            " AND created_ts >= ? LIMIT 1",
            (survey["id"], email.lower(), ts - survey["lockout_period"] * 86400),
        ).fetchone() is not None
    status = "locked_out" if locked else "sent"
    subject = json.loads(survey["attrs"]).get("email_subject") or survey["name"]
    cur = conn.execute(
        "INSERT INTO sends (survey_id, email, email_norm, subject, link, custom_fields, status,"
        " source, created_ts) VALUES (?,?,?,?,'',?,?,?,?)",
        (survey["id"], email, email.lower(), subject, json.dumps(fields), status, source, ts),
    )
    send_id = cur.lastrowid
    if not locked:
        link = survey_link(base, survey["public_key"], fields, send_id)
        conn.execute("UPDATE sends SET link = ? WHERE id = ?", (link, send_id))
    return send_id, status


# --- endpoints -----------------------------------------------------------------------------


@bp.get("/account")
def account():
    """Plan usage; also the cheapest way to check a token."""
    conn = get_db()
    limit = current_app.config["EMULATOR_PLAN_LIMIT"]
    use = store.plan_use(conn, store.now())
    return jsonify(monthly_plan_limit=limit, monthly_plan_use=use, limit_reached=use >= limit)


@bp.get("/surveys")
def surveys():
    """Every survey of the team, archived included, deleted excluded."""
    rows = get_db().execute("SELECT * FROM surveys WHERE deleted_ts IS NULL ORDER BY id")
    return jsonify([store.survey_object(row) for row in rows])


@bp.post("/survey/<int:survey_id>/sendnow")
def sendnow(survey_id: int):
    """Email the survey to one customer now (and enrol them if the campaign is enabled)."""
    prepared = _prepare(survey_id)
    if isinstance(prepared, Response):
        return prepared
    conn, survey, email, fields = prepared
    ts = store.now()
    with store.tx(conn):
        # Plan use is read inside the write lock so concurrent sends cannot overshoot.
        if store.plan_use(conn, ts) >= current_app.config["EMULATOR_PLAN_LIMIT"]:
            return api_error(403, "Your monthly plan limit has been reached.")
        send_id, status = record_send(conn, survey, email, fields, "sendnow",
                                      request.host_url, ts)
        if status == "sent" and survey["campaign_enabled"]:
            _enrol(conn, survey_id, email, fields, ts)
    return jsonify(id=send_id, survey_id=survey_id, email=email, status=status)


@bp.post("/survey/<int:survey_id>/email")
def add_to_campaign(survey_id: int):
    """Add the address to the survey's campaign without sending now."""
    prepared = _prepare(survey_id)
    if isinstance(prepared, Response):
        return prepared
    conn, _survey_row, email, fields = prepared
    with store.tx(conn):
        added = _enrol(conn, survey_id, email, fields, store.now())
    return jsonify(survey_id=survey_id, email=email, status="added" if added else "already_added")


@bp.get("/helpspot")
def helpspot():
    """Serve the results feed: responses updated at or after `since`, paged by whole seconds."""
    raw = request.args.get("since", "").strip()
    if raw and not INT_RE.match(raw):
        return api_error(422, "The since must be an integer.")
    since = int(raw) if raw else None
    conn = get_db()
    cols = "SELECT * FROM responses"
    order = "ORDER BY updated_ts, id"
    with store.tx(conn, immediate=False):  # one snapshot for all three reads
        head = []
        if since is not None:
            head = conn.execute(f"{cols} WHERE updated_ts = ? {order}", (since,)).fetchall()
        after, args = ("updated_ts > ?", (since,)) if since is not None else ("1 = 1", ())
        later = conn.execute(
            f"{cols} WHERE {after} {order} LIMIT ?", (*args, FEED_PAGE)
        ).fetchall()
        if len(later) == FEED_PAGE:
            # Never end inside a second: take every response of the page's last second.
            last = later[-1]["updated_ts"]
            later = conn.execute(
                f"{cols} WHERE {after} AND updated_ts <= ? {order}", (*args, last)
            ).fetchall()
    rows = head + later
    new_since = rows[-1]["updated_ts"] if rows else (since if since is not None else 0)
    return jsonify(since=new_since, responses=[store.response_object(r) for r in rows])

"""HTML pages of the emulator and its JSON test hooks (`/_faults`, `/_state.json`, `/_reset`).

Pages: account, surveys (fields, email campaign), outbox, responses, survey links, settings.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from . import faults, get_db, hash_token, store
from .api import EMAIL_RE, RESERVED_FIELDS, record_send

bp = Blueprint("pages", __name__)

FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FEEDBACK = 5000
MAX_FIELD_VALUE = 500
MAX_LINK_FIELDS = 30


def _fmt(ts):
    """Jinja filter: unix seconds to the contract's UTC time text."""
    return store.fmt_ts(ts) or ""


bp.add_app_template_filter(_fmt, "ts")


def _survey_or_404(conn: sqlite3.Connection, survey_id: int) -> sqlite3.Row:
    """Load any survey (deleted included) for the admin pages, or 404."""
    row = conn.execute("SELECT * FROM surveys WHERE id = ?", (survey_id,)).fetchone()
    if row is None:
        abort(404)
    return row


def _push(response_id: int) -> None:
    """Queue the current state of a response for the push target (if one is set)."""
    row = get_db().execute("SELECT * FROM responses WHERE id = ?", (response_id,)).fetchone()
    current_app.extensions["thermostat_push"].enqueue(store.response_object(row))


# --- index and account ---------------------------------------------------------------------


@bp.get("/")
def index():
    """Index with links to every page."""
    return render_template("index.html")


def _account_context(conn: sqlite3.Connection) -> dict:
    """Tokens and plan usage for the account page."""
    tokens = conn.execute(
        "SELECT id, last4, created_ts, revoked_ts FROM tokens ORDER BY id DESC"
    ).fetchall()
    limit = current_app.config["EMULATOR_PLAN_LIMIT"]
    use = store.plan_use(conn, store.now())
    return {"tokens": tokens, "plan_limit": limit, "plan_use": use}


@bp.get("/account")
def account():
    """Account page: the API section (token button and list) and plan usage."""
    return render_template("account.html", **_account_context(get_db()))


@bp.post("/account/tokens")
def create_token():
    """Create a token, store only its hash, and show it once in a popup."""
    conn = get_db()
    token = secrets.token_urlsafe(32)
    with store.tx(conn):
        conn.execute(
            "INSERT INTO tokens (token_hash, last4, created_ts) VALUES (?,?,?)",
            (hash_token(token), token[-4:], store.now()),
        )
    return render_template("account.html", new_token=token, **_account_context(conn))


@bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    """Revoke one token; API calls with it answer 401 from now on."""
    conn = get_db()
    with store.tx(conn):
        row = conn.execute("SELECT last4 FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            abort(404)
        conn.execute(
            "UPDATE tokens SET revoked_ts = COALESCE(revoked_ts, ?) WHERE id = ?",
            (store.now(), token_id),
        )
    flash(f"Token ending in {row['last4']} revoked.")
    return redirect(url_for(".account", _anchor="api"), code=303)


# --- surveys -------------------------------------------------------------------------------


@bp.get("/surveys")
def surveys():
    """List every survey with links to its Fields and Email Survey pages."""
    conn = get_db()
    rows = conn.execute("SELECT * FROM surveys ORDER BY id").fetchall()
    fields = {row["id"]: store.declared_fields(conn, row["id"]) for row in rows}
    return render_template("surveys.html", surveys=rows, fields=fields)


@bp.post("/surveys/<int:survey_id>/state")
def survey_state(survey_id: int):
    """Archive, unarchive, delete (soft) or restore a survey."""
    conn = get_db()
    _survey_or_404(conn, survey_id)
    action = request.form.get("action", "")
    updates = {
        "archive": "archived = 1",
        "unarchive": "archived = 0",
        "delete": "deleted_ts = ?",
        "restore": "deleted_ts = NULL",
    }
    if action not in updates:
        abort(400)
    args = (store.now(), survey_id) if action == "delete" else (survey_id,)
    with store.tx(conn):
        conn.execute(f"UPDATE surveys SET {updates[action]} WHERE id = ?", args)
    flash(f"Survey {survey_id}: {action} done.")
    return redirect(url_for(".surveys"), code=303)


@bp.route("/surveys/<int:survey_id>/fields", methods=["GET", "POST"])
def survey_fields(survey_id: int):
    """Fields page: list the survey's custom text fields and add new ones."""
    conn = get_db()
    survey = _survey_or_404(conn, survey_id)
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        candidate = name.lower()
        if not FIELD_NAME_RE.match(candidate):
            error = ("A field name starts with a letter and holds only letters, digits and"
                     " underscores (at most 40).")
        elif candidate in RESERVED_FIELDS:
            error = f"'{candidate}' is reserved by the survey page."
        elif candidate in store.declared_fields(conn, survey_id):
            error = f"The field '{candidate}' already exists."
        else:
            with store.tx(conn):
                conn.execute(
                    "INSERT INTO survey_fields (survey_id, name, created_ts) VALUES (?,?,?)",
                    (survey_id, candidate, store.now()),
                )
            flash(f"Field '{candidate}' added.")
            return redirect(url_for(".survey_fields", survey_id=survey_id), code=303)
    rows = conn.execute(
        "SELECT name, created_ts FROM survey_fields WHERE survey_id = ? ORDER BY name",
        (survey_id,),
    ).fetchall()
    return render_template(
        "fields.html", survey=survey, fields=rows, error=error, name=name
    ), (400 if error else 200)


@bp.post("/surveys/<int:survey_id>/fields/<name>/delete")
def delete_field(survey_id: int, name: str):
    """Remove a custom field; later responses drop it."""
    conn = get_db()
    _survey_or_404(conn, survey_id)
    with store.tx(conn):
        conn.execute(
            "DELETE FROM survey_fields WHERE survey_id = ? AND name = ?", (survey_id, name)
        )
    flash(f"Field '{name}' removed.")
    return redirect(url_for(".survey_fields", survey_id=survey_id), code=303)


@bp.route("/surveys/<int:survey_id>/email", methods=["GET", "POST"])
def survey_email(survey_id: int):
    """Email Survey page: switch the campaign on or off, see and deliver its list."""
    conn = get_db()
    survey = _survey_or_404(conn, survey_id)
    if request.method == "POST":
        action = request.form.get("action", "")
        if action in ("enable", "disable"):
            with store.tx(conn):
                conn.execute(
                    "UPDATE surveys SET campaign_enabled = ? WHERE id = ?",
                    (1 if action == "enable" else 0, survey_id),
                )
            flash(f"Campaign {action}d.")
        elif action == "deliver":
            flash(_deliver_campaign(conn, survey_id))
        else:
            abort(400)
        return redirect(url_for(".survey_email", survey_id=survey_id), code=303)
    members = conn.execute(
        "SELECT * FROM campaign_members WHERE survey_id = ? ORDER BY id", (survey_id,)
    ).fetchall()
    return render_template("email.html", survey=survey, members=members, loads=json.loads)


def _deliver_campaign(conn: sqlite3.Connection, survey_id: int) -> str:
    """Run one scheduled delivery of a campaign now: email each member not locked out."""
    ts = store.now()
    sent = locked = 0
    with store.tx(conn):
        survey = conn.execute("SELECT * FROM surveys WHERE id = ?", (survey_id,)).fetchone()
        if not survey["campaign_enabled"] or survey["archived"] or survey["deleted_ts"]:
            return "The campaign is not enabled (or the survey is closed): nothing sent."
        members = conn.execute(
            "SELECT * FROM campaign_members WHERE survey_id = ? ORDER BY id", (survey_id,)
        ).fetchall()
        for member in members:
            if store.plan_use(conn, ts) >= current_app.config["EMULATOR_PLAN_LIMIT"]:
                break
            _id, status = record_send(conn, survey, member["email"],
                                      json.loads(member["custom_fields"]), "campaign",
                                      request.host_url, ts)
            if status == "sent":
                sent += 1
            else:
                locked += 1
    return f"Campaign delivered: {sent} sent, {locked} locked out."


# --- outbox and responses ------------------------------------------------------------------


@bp.get("/outbox")
def outbox():
    """Every email the emulator "sent", newest first."""
    rows = get_db().execute(
        "SELECT sends.*, surveys.name AS survey_name FROM sends"
        " JOIN surveys ON surveys.id = sends.survey_id ORDER BY sends.id DESC"
    ).fetchall()
    return render_template("outbox.html", sends=rows)


@bp.get("/responses")
def responses():
    """Every survey response, newest change first."""
    rows = get_db().execute(
        "SELECT responses.*, surveys.name AS survey_name FROM responses"
        " JOIN surveys ON surveys.id = responses.survey_id"
        " ORDER BY responses.updated_ts DESC, responses.id DESC"
    ).fetchall()
    return render_template("responses.html", responses=rows, loads=json.loads)


# --- the customer's survey page ------------------------------------------------------------


def _category(survey: sqlite3.Row, score: int) -> str:
    """Return promoter/passive/detractor for NPS, 'general' for CSAT."""
    if survey["type"] == "csat":
        return "general"
    if score >= 9:
        return "promoter"
    return "passive" if score >= 7 else "detractor"


def _scale(survey: sqlite3.Row) -> list[tuple[int, str]]:
    """Return the (value, label) choices of the survey's scale."""
    attrs = json.loads(survey["attrs"])
    if survey["type"] == "csat":
        return [(i, f"{i} {attrs.get(f'csat_{i}') or ''}".strip()) for i in range(1, 6)]
    return [(i, str(i)) for i in range(0, 11)]


def _link_context(conn: sqlite3.Connection, survey: sqlite3.Row, source: MultiDict) -> dict:
    """Read custom fields, the send and the email from link params (or their hidden inputs)."""
    declared = store.declared_fields(conn, survey["id"])
    fields: dict[str, str] = {}
    for key, value in source.items(multi=True):
        name = key.lower()
        if name in RESERVED_FIELDS or name not in declared or name in fields:
            continue
        if len(fields) < MAX_LINK_FIELDS:
            fields[name] = value[:MAX_FIELD_VALUE]
    send = None
    raw_send = source.get("send", "")
    if raw_send.isdigit():
        send = conn.execute(
            "SELECT id, email FROM sends WHERE id = ? AND survey_id = ? AND status = 'sent'",
            (int(raw_send), survey["id"]),
        ).fetchone()
    email = send["email"] if send else None
    raw_email = source.get("email", "").strip()
    if email is None and raw_email and EMAIL_RE.match(raw_email) and len(raw_email) <= 254:
        email = raw_email
    return {"fields": fields, "send_id": send["id"] if send else None, "email": email}


def _load_public(conn: sqlite3.Connection, public_key: str) -> sqlite3.Row | tuple:
    """Find a survey by public key; unknown is 404, archived or deleted is 410 (closed)."""
    survey = conn.execute(
        "SELECT * FROM surveys WHERE public_key = ?", (public_key,)
    ).fetchone()
    if survey is None:
        return render_template("closed.html", survey=None, customer=True), 404
    if survey["archived"] or survey["deleted_ts"] is not None:
        return render_template("closed.html", survey=survey, customer=True), 410
    return survey


def _render_form(survey: sqlite3.Row, link: dict, error: str | None = None,
                 score: str = "", feedback: str = "", status: int = 200):
    """Render the survey form (question, scale, comment) with link params as hidden inputs."""
    hidden = dict(link["fields"])
    if link["send_id"]:
        hidden["send"] = str(link["send_id"])
    elif link["email"]:
        hidden["email"] = link["email"]
    return render_template(
        "survey.html", survey=survey, attrs=json.loads(survey["attrs"]), scale=_scale(survey),
        hidden=hidden, error=error, score=score, feedback=feedback, customer=True,
    ), status


def _render_thanks(survey: sqlite3.Row, response: sqlite3.Row, saved: bool = False,
                   error: str | None = None, status: int = 200):
    """Render the thank-you message for the score's category and the comment form."""
    attrs = json.loads(survey["attrs"])
    category = _category(survey, response["score"])
    message = attrs.get(f"msg_{'general_thanks' if category == 'general' else category}")
    question = attrs.get(f"feedback_question_{category}") if category != "general" else None
    return render_template(
        "thanks.html", survey=survey, response=response, message=message, question=question,
        category=category, saved=saved, error=error, customer=True,
    ), status


@bp.route("/s/<public_key>", methods=["GET", "POST"])
def survey_page(public_key: str):
    """Show the customer's survey: GET only shows it (scanners record nothing), POST records."""
    conn = get_db()
    survey = _load_public(conn, public_key)
    if isinstance(survey, tuple):
        return survey
    if request.method == "GET":
        return _render_form(survey, _link_context(conn, survey, request.args))
    source = MultiDict(request.args)
    source.update(request.form)
    link = _link_context(conn, survey, source)
    raw_score = request.form.get("score", "").strip()
    feedback = request.form.get("feedback", "").strip()
    low, high = (1, 5) if survey["type"] == "csat" else (0, 10)
    error = None
    if not raw_score:
        error = "Please choose a score."
    elif not re.fullmatch(r"-?\d{1,3}", raw_score) or not low <= int(raw_score) <= high:
        error = f"The score must be a whole number from {low} to {high}."
    elif len(feedback) > MAX_FEEDBACK:
        error = f"The comment is too long (at most {MAX_FEEDBACK} characters)."
    if error:
        return _render_form(survey, link, error, raw_score, feedback, status=400)
    response_id = _save_response(conn, survey, link, int(raw_score), feedback or None)
    _push(response_id)
    row = conn.execute("SELECT * FROM responses WHERE id = ?", (response_id,)).fetchone()
    return _render_thanks(survey, row)


def _save_response(conn: sqlite3.Connection, survey: sqlite3.Row, link: dict, score: int,
                   feedback: str | None) -> int:
    """Insert a response, or update the one already given for the same emailed send."""
    ts = store.now()
    with store.tx(conn):
        existing = None
        if link["send_id"]:
            existing = conn.execute(
                "SELECT * FROM responses WHERE send_id = ? ORDER BY id LIMIT 1",
                (link["send_id"],),
            ).fetchone()
        if existing is not None:
            fields = json.loads(existing["custom_fields"])
            fields.update(link["fields"])
            conn.execute(
                "UPDATE responses SET score = ?, feedback = COALESCE(?, feedback),"
                " custom_fields = ?, updated_ts = ? WHERE id = ?",
                (score, feedback, json.dumps(fields), ts, existing["id"]),
            )
            return existing["id"]
        cur = conn.execute(
            "INSERT INTO responses (survey_id, send_id, email, score, feedback, type,"
            " custom_fields, created_ts, updated_ts, edit_token) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (survey["id"], link["send_id"], link["email"], score, feedback, survey["type"],
             json.dumps(link["fields"]), ts, ts, secrets.token_urlsafe(16)),
        )
        return cur.lastrowid


@bp.post("/s/<public_key>/comment")
def survey_comment(public_key: str):
    """Add or change the comment of the customer's own response (same id, newer updated_at)."""
    conn = get_db()
    survey = _load_public(conn, public_key)
    if isinstance(survey, tuple):
        return survey
    raw_id = request.form.get("response", "")
    token = request.form.get("token", "")
    row = None
    if raw_id.isdigit():
        row = conn.execute(
            "SELECT * FROM responses WHERE id = ? AND survey_id = ?", (int(raw_id), survey["id"])
        ).fetchone()
    if row is None or not secrets.compare_digest(row["edit_token"], token):
        abort(404)
    feedback = request.form.get("feedback", "").strip()
    if len(feedback) > MAX_FEEDBACK:
        return _render_thanks(survey, row, error=(
            f"The comment is too long (at most {MAX_FEEDBACK} characters)."), status=400)
    with store.tx(conn):
        conn.execute(
            "UPDATE responses SET feedback = ?, updated_ts = ? WHERE id = ?",
            (feedback or None, store.now(), row["id"]),
        )
    _push(row["id"])
    row = conn.execute("SELECT * FROM responses WHERE id = ?", (row["id"],)).fetchone()
    return _render_thanks(survey, row, saved=True)


# --- settings (push target) ----------------------------------------------------------------


def _settings_page(error: str | None = None, status: int = 200):
    """Render the settings page with the push target and the last 50 pushes."""
    conn = get_db()
    log = conn.execute("SELECT * FROM push_log ORDER BY id DESC LIMIT 50").fetchall()
    return render_template(
        "settings.html",
        push_url=store.get_setting(conn, "push_url") or "",
        secret_set=bool(store.get_setting(conn, "push_secret")),
        log=log, error=error,
    ), status


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Set or clear the push URL and secret (the secret is never shown back)."""
    if request.method == "GET":
        return _settings_page()
    conn = get_db()
    if request.form.get("action") == "clear":
        with store.tx(conn):
            store.set_setting(conn, "push_url", None)
            store.set_setting(conn, "push_secret", None)
        flash("Push target cleared.")
        return redirect(url_for(".settings"), code=303)
    url = request.form.get("push_url", "").strip()
    secret = request.form.get("push_secret", "")
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return _settings_page("The push URL must be an http:// or https:// URL.", 400)
    with store.tx(conn):
        store.set_setting(conn, "push_url", url or None)
        if secret:  # blank keeps the stored secret: it is never rendered back to edit
            store.set_setting(conn, "push_secret", secret)
    flash("Push settings saved.")
    return redirect(url_for(".settings"), code=303)


# --- test hooks: faults, state, reset -------------------------------------------------------


@bp.route("/_faults", methods=["GET", "POST", "DELETE"])
def faults_page():
    """Fault switches: HTML form on GET/POST (form), JSON on POST (JSON body) and DELETE."""
    conn = get_db()
    if request.method == "DELETE":
        faults.clear(conn)
        return jsonify(faults.get_faults(conn))
    if request.method == "GET":
        return render_template("faults.html", state=faults.get_faults(conn), errors=[])
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(errors=["The body must be a JSON object."]), 400
        new, errors = faults.validate(body, faults.get_faults(conn))
        if errors:
            return jsonify(errors=errors), 400
        faults.save(conn, new)
        return jsonify(faults.get_faults(conn))
    # The HTML form always submits every switch; an empty status means "no error".
    form = {key: request.form.get(key, "") for key in faults.KEYS}
    if not form["error_status"]:
        form["error_count"] = ""
    new, errors = faults.validate(form, dict(faults.DEFAULTS))
    if errors:
        return render_template("faults.html", state=faults.get_faults(conn), errors=errors), 400
    faults.save(conn, new)
    flash("Faults saved.")
    return redirect(url_for(".faults_page"), code=303)


@bp.post("/_faults/clear")
def faults_clear():
    """Switch every fault off (the HTML form's way to DELETE /_faults)."""
    faults.clear(get_db())
    flash("All faults cleared.")
    return redirect(url_for(".faults_page"), code=303)


@bp.get("/_faults.json")
def faults_json():
    """Return the current fault switches as JSON."""
    return jsonify(faults.get_faults(get_db()))


@bp.get("/_state.json")
def state_json():
    """Everything tests want to assert on, oldest first."""
    conn = get_db()
    sends = [
        {
            "id": r["id"], "survey_id": r["survey_id"], "email": r["email"],
            "subject": r["subject"], "link": r["link"] or None,
            "custom_fields": json.loads(r["custom_fields"]), "status": r["status"],
            "source": r["source"], "created_at": store.fmt_ts(r["created_ts"]),
        }
        for r in conn.execute("SELECT * FROM sends ORDER BY id")
    ]
    members = [
        {
            "id": r["id"], "survey_id": r["survey_id"], "email": r["email"],
            "custom_fields": json.loads(r["custom_fields"]),
            "added_at": store.fmt_ts(r["added_ts"]),
        }
        for r in conn.execute("SELECT * FROM campaign_members ORDER BY id")
    ]
    responses_ = [
        {**store.response_object(r), "send_id": r["send_id"]}
        for r in conn.execute("SELECT * FROM responses ORDER BY id")
    ]
    calls = [
        {
            "id": r["id"], "method": r["method"], "path": r["path"], "query": r["query"],
            "status": r["status"], "at": store.fmt_ts(r["at"]), "ts": r["at"],
        }
        for r in conn.execute("SELECT * FROM api_calls ORDER BY id")
    ]
    pushes = [
        {
            "id": r["id"], "response_id": r["response_id"], "attempt": r["attempt"],
            "url": r["url"], "status": r["status_code"], "error": r["error"],
            "at": store.fmt_ts(r["at_ts"]),
        }
        for r in conn.execute("SELECT * FROM push_log ORDER BY id")
    ]
    tokens = [
        {
            "id": r["id"], "last4": r["last4"], "created_at": store.fmt_ts(r["created_ts"]),
            "revoked_at": store.fmt_ts(r["revoked_ts"]),
        }
        for r in conn.execute("SELECT * FROM tokens ORDER BY id")
    ]
    return jsonify(
        sends=sends, campaign_members=members, responses=responses_, api_calls=calls,
        push_log=pushes, faults=faults.get_faults(conn), tokens=tokens,
    )


@bp.post("/_reset")
def reset() -> Response:
    """Wipe sends, campaign members, responses, call log, push log, throttle and faults.

    Surveys, fields, tokens and settings stay. Ids keep growing (AUTOINCREMENT), so a
    client that upserts by id never mistakes a new response for an old one.
    """
    conn = get_db()
    with store.tx(conn):
        for table in ("sends", "campaign_members", "responses", "api_calls", "push_log",
                      "rate_hits"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    faults.clear(conn)
    return jsonify(reset=True)

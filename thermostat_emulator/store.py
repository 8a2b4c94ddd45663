"""SQLite store of the Thermostat emulator: schema, seed data, connections and row shapes."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    last4 TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    revoked_ts INTEGER
);
CREATE TABLE IF NOT EXISTS surveys (
    id INTEGER PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('nps', 'csat')),
    archived INTEGER NOT NULL DEFAULT 0,
    campaign_enabled INTEGER NOT NULL DEFAULT 0,
    lockout_period INTEGER NOT NULL DEFAULT 0,
    created_ts INTEGER NOT NULL,
    deleted_ts INTEGER,
    attrs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS survey_fields (
    survey_id INTEGER NOT NULL REFERENCES surveys (id),
    name TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (survey_id, name)
);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id INTEGER NOT NULL,
    email TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    subject TEXT NOT NULL,
    link TEXT NOT NULL,
    custom_fields TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    created_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sends_lockout ON sends (survey_id, email_norm, status, created_ts);
CREATE TABLE IF NOT EXISTS campaign_members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id INTEGER NOT NULL,
    email TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    custom_fields TEXT NOT NULL,
    added_ts INTEGER NOT NULL,
    UNIQUE (survey_id, email_norm)
);
CREATE TABLE IF NOT EXISTS responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id INTEGER NOT NULL,
    send_id INTEGER,
    email TEXT,
    score INTEGER NOT NULL,
    feedback TEXT,
    type TEXT NOT NULL,
    custom_fields TEXT NOT NULL,
    created_ts INTEGER NOT NULL,
    updated_ts INTEGER NOT NULL,
    edit_token TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_feed ON responses (updated_ts, id);
CREATE TABLE IF NOT EXISTS api_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    status INTEGER NOT NULL,
    token_id INTEGER,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_hits (
    token_id INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_hits_token ON rate_hits (token_id, at);
CREATE TABLE IF NOT EXISTS push_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    response_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    url TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    at_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    error_status INTEGER,
    error_count INTEGER NOT NULL DEFAULT 0,
    delay_seconds REAL NOT NULL DEFAULT 0,
    throttle_count INTEGER NOT NULL DEFAULT 0,
    retry_after INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT
);
"""

# Order of the documented survey keys, so JSON comes out in the order of the contract.
SURVEY_KEYS = (
    "id", "archived", "name", "slug", "headline", "question", "label_scale_0", "label_scale_10",
    "submit_survey", "msg_general_thanks", "msg_promoter", "msg_passive", "msg_detractor",
    "created_at", "publicly_available", "publicly_show_passives", "publicly_show_detractors",
    "public_key", "explanation", "lockout_period", "campaign_enabled", "reply_to_name",
    "reply_to_email", "daily_survey_target", "deleted_at", "type", "csat_1", "csat_2", "csat_3",
    "csat_4", "csat_5", "email_subject", "email_footer", "anonymous", "show_feedback_promoter",
    "show_feedback_passive", "show_feedback_detractor", "feedback_question_promoter",
    "feedback_question_passive", "feedback_question_detractor",
)

CSAT_LABELS = ("Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied")

SEED_CREATED_TS = 1704877200  # 2024-01-10 09:00:00 UTC: fixed so seeded data is reproducible.


def _seed_attrs(name: str, kind: str, subject: str) -> dict:
    """Return the text/flag keys of a seeded survey (the columns hold the rest)."""
    slug = name.lower().replace(" ", "-")
    attrs = {
        "slug": slug,
        "headline": "How did we do?",
        "question": (
            "How likely are you to recommend our support team to a friend or colleague?"
            if kind == "nps"
            else "How satisfied were you with the help you received?"
        ),
        "label_scale_0": "Not at all likely",
        "label_scale_10": "Extremely likely",
        "submit_survey": "Submit",
        "msg_general_thanks": "Thank you for taking the time to answer our survey.",
        "msg_promoter": "Thank you! We are delighted you would recommend us.",
        "msg_passive": "Thanks for your score. We will keep working to earn a 10.",
        "msg_detractor": "We are sorry we let you down. A team lead will review your request.",
        "publicly_available": 0,
        "publicly_show_passives": 0,
        "publicly_show_detractors": 0,
        "explanation": "",
        "reply_to_name": "Support Team",
        "reply_to_email": "support@example.com",
        "daily_survey_target": 0,
        "email_subject": subject,
        "email_footer": "You received this email because you recently contacted our support team.",
        "anonymous": 0,
        "show_feedback_promoter": 1,
        "show_feedback_passive": 1,
        "show_feedback_detractor": 1,
        "feedback_question_promoter": "What did you like most?",
        "feedback_question_passive": "What could we do better?",
        "feedback_question_detractor": "What went wrong?",
    }
    for i, label in enumerate(CSAT_LABELS, start=1):
        attrs[f"csat_{i}"] = label
    return attrs


SEED_SURVEYS = (
    # id, name, type, public_key, campaign_enabled, lockout_period, archived, fields, subject
    (1, "Support NPS", "nps", "5f2b1c0d9e8a7b61", 0, 0, 0, ("xrequest", "plan"),
     "How likely are you to recommend us?"),
    (2, "Support CSAT", "csat", "a1b2c3d4e5f60718", 0, 0, 0, ("xrequest",),
     "How satisfied were you with our help?"),
    (3, "Onboarding NPS", "nps", "0c0ffee0c0ffee00", 1, 30, 0, ("xrequest",),
     "How was your onboarding?"),
    (4, "Old Survey", "nps", "deadbeefdeadbeef", 0, 0, 1, ("xrequest",),
     "Tell us about your experience"),
)


def clock() -> float:
    """Return the current unix time; one place so tests can move time with monkeypatch."""
    return time.time()


def now() -> int:
    """Return the current unix time in whole seconds (the store's resolution)."""
    return int(clock())


def fmt_ts(ts: float | None) -> str | None:
    """Format unix seconds as the contract's 'YYYY-MM-DD HH:MM:SS' UTC, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def month_start_ts(ts: int) -> int:
    """Return the unix time of the first second of ts's UTC month."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return int(dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())


def connect(path: str) -> sqlite3.Connection:
    """Open a connection in autocommit mode; transactions are explicit via `tx`."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def tx(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """Run a block in one transaction (IMMEDIATE by default).

    IMMEDIATE takes the write lock up front so read-then-write sequences (counters, lockout,
    plan use) cannot interleave between threads or processes.
    """
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def init_db(path: str) -> None:
    """Create the directory, the schema and (on first startup) the seeded surveys."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        with tx(conn):
            if conn.execute("SELECT COUNT(*) FROM surveys").fetchone()[0] == 0:
                _seed(conn)
            conn.execute("INSERT OR IGNORE INTO faults (id) VALUES (1)")
    finally:
        conn.close()


def _seed(conn: sqlite3.Connection) -> None:
    """Insert the four fixed surveys the helpdesk's demo data refers to."""
    for sid, name, kind, key, campaign, lockout, archived, fields, subject in SEED_SURVEYS:
        conn.execute(
            "INSERT INTO surveys (id, public_key, name, type, archived, campaign_enabled,"
            " lockout_period, created_ts, deleted_ts, attrs) VALUES (?,?,?,?,?,?,?,?,NULL,?)",
            (sid, key, name, kind, archived, campaign, lockout, SEED_CREATED_TS,
             json.dumps(_seed_attrs(name, kind, subject))),
        )
        for field in fields:
            conn.execute(
                "INSERT INTO survey_fields (survey_id, name, created_ts) VALUES (?,?,?)",
                (sid, field, SEED_CREATED_TS),
            )


def survey_object(row: sqlite3.Row) -> dict:
    """Return a survey row as the contract's survey object (booleans and 0/1 ints kept)."""
    attrs = json.loads(row["attrs"])
    values = dict(attrs)
    values.update(
        id=row["id"],
        archived=bool(row["archived"]),
        name=row["name"],
        created_at=fmt_ts(row["created_ts"]),
        public_key=row["public_key"],
        lockout_period=row["lockout_period"],
        campaign_enabled=bool(row["campaign_enabled"]),
        deleted_at=fmt_ts(row["deleted_ts"]),
        type=row["type"],
    )
    return {key: values.get(key) for key in SURVEY_KEYS}


def response_object(row: sqlite3.Row) -> dict:
    """Return a response row exactly as the feed (and the push) carries it."""
    return {
        "id": row["id"],
        "survey_id": row["survey_id"],
        "score": row["score"],
        "feedback": row["feedback"],
        "type": row["type"],
        "created_at": fmt_ts(row["created_ts"]),
        "updated_at": fmt_ts(row["updated_ts"]),
        "email": row["email"],
        "custom_fields": json.loads(row["custom_fields"]),
    }


def declared_fields(conn: sqlite3.Connection, survey_id: int) -> list[str]:
    """Return the names of the custom text fields declared on a survey, sorted."""
    rows = conn.execute(
        "SELECT name FROM survey_fields WHERE survey_id = ? ORDER BY name", (survey_id,)
    )
    return [r["name"] for r in rows]


def get_setting(conn: sqlite3.Connection, key: str) -> str | None:
    """Return one stored setting, or None when unset."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else None


def set_setting(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    """Store (or with None, clear) one setting."""
    if value is None:
        conn.execute("DELETE FROM settings WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def plan_use(conn: sqlite3.Connection, ts: int) -> int:
    """Return how many emails were actually sent in ts's UTC month."""
    return conn.execute(
        "SELECT COUNT(*) FROM sends WHERE status = 'sent' AND created_ts >= ?",
        (month_start_ts(ts),),
    ).fetchone()[0]

#!/usr/bin/env python
"""Benchmarks of the request list, saved filters, reports and CSV export at a million requests.

Figures in docs/benchmarks.md, section "Filters, columns and reports".

The database is built the way an operator would: `flask db upgrade`, then
`flask seed-scale --requests N --results M` (SQLite in a temp file; with --database-url a
fresh database is created on that PostgreSQL server and dropped at the end). Ten saved
filters are added for the admin. Then, each the median of --runs runs after --warmups
warm-ups, measured in this process with the Flask test client logged in (HTML rendered):

  a. "closed requests, newest first"  /?state=closed&sort=closed_at         target < 100 ms
  b. "NPS detractors closed in the past 90 days, by closed date, 50 rows with the Thermostat
     column"  /?state=closed&c=nps_rating:is:detractor&c=closed_at:in_range:past_90_days
              &sort=closed_at&per_page=50                                    target < 100 ms
  c. sidebar counts of the ten saved filters (list_views.sidebar_counts, and over HTTP
     GET /filters/counts, the JSON the list page's script fetches)          target < 200 ms
  d. first response time by NPS rating over all requests
     (reports.services.first_response_by_rating(true()))                    target < 1 s
  e. CSV export of 10k, 50k and 100k rows, each in its own subprocess that consumes the
     streamed body and reports its peak RSS (ru_maxrss)                     target < 200 MB,
                                                                             flat
  f. the whole Reports page (/reports: every report, charts drawn) over all requests, and
     over b's filter                                   our target < 1 s (no progress needed)

Each of a-d is set against the bare SQL of the same queries, measured in the same run:
the statements compiled from `listing.count_query` / `listing.page_query` (for d, the
statements the report ran, captured once) executed on a raw DB-API cursor of the same
engine, no ORM, no Flask, no template. (a) and (b) are measured as the admin, who has the ten
saved filters (the page is sent without their counts, which the page's script fetches: c),
and as the agent, who has none. Nothing is cached: every run counts afresh.

Usage:
    .venv/bin/python scripts/bench_lists.py [--requests 1000000] [--results 300000]
        [--runs 15] [--warmups 2] [--database-url postgresql://...]
        [--reuse PATH.sqlite | --reuse postgresql://...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGE_A = "/?state=closed&sort=closed_at"
PAGE_B = ("/?state=closed&c=nps_rating:is:detractor&c=closed_at:in_range:past_90_days"
          "&sort=closed_at&per_page=50")
SAVED = [  # ten filters an admin keeps in the sidebar
    ("Open", "state=open"),
    ("Closed", "state=closed"),
    ("Detractors", "rating=detractor"),
    ("NPS detractors, closed in the past 90 days",
     "state=closed&c=nps_rating:is:detractor&c=closed_at:in_range:past_90_days"),
    ("Promoters", "c=nps_rating:is:promoter"),
    ("CSAT dissatisfied", "c=csat_rating:is:dissatisfied"),
    ("Surveyed, no answer", "c=survey_sent_unanswered:is:yes"),
    ("Closed, never surveyed", "state=closed&c=survey_never:is:yes"),
    ("NPS below 5", "c=nps_score:lt:5"),
    ("Billing detractors", "c=category:is:1&c=nps_rating:is:detractor"),
]
CSV_COLUMNS = ("id,subject,customer,email,status,category,assignee,opened_at,closed_at,frt,"
               "nps,csat,thermostat,comment,survey_state")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict:
    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = ""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    import sqlite3

    import sqlalchemy

    return {"date_utc": subprocess.run(["date", "-u"], capture_output=True,
                                       text=True).stdout.strip(),
            "nproc": os.cpu_count(), "memory": mem, "cpu": cpu,
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sqlalchemy.__version__,
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     capture_output=True, text=True).stdout.strip()}


# ---------------------------------------------------------------- database


def build(db_url: str, requests: int, results: int) -> list[str]:
    """flask db upgrade + flask seed-scale, as subprocesses; returns the commands run."""
    env = dict(os.environ, DATABASE_URL=db_url, RATELIMIT_ENABLED="0")
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi"]
    commands = [flask + ["db", "upgrade"],
                flask + ["seed-scale", "--requests", str(requests), "--results", str(results)]]
    for cmd in commands:
        log("$ " + " ".join(cmd[1:]))
        started = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        log(f"  {time.perf_counter() - started:.0f} s")
    return [f"DATABASE_URL={db_url} flask --app wsgi " + " ".join(c[3:]) for c in commands]


def make_app(db_url: str):
    from helpdesk import create_app
    from helpdesk.config import TestingConfig

    return create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": db_url, "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "REDIS_URL": "redis://127.0.0.1:1/0"})


def login(client, email: str, password: str) -> None:
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302, response.status_code


# ---------------------------------------------------------------- timing


def timed(fn, runs: int, warmups: int) -> dict:
    """Median of `runs` timed calls of fn after `warmups`."""
    for _ in range(warmups):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 2),
            "min_ms": round(samples[0], 2), "max_ms": round(samples[-1], 2), "runs": runs}


class Bare:
    """Compiled statements run on a raw DB-API cursor of the app's engine (same pragmas)."""

    def __init__(self, engine):
        self.engine = engine
        self.conn = engine.raw_connection()

    def compile(self, stmt) -> tuple[str, object]:
        compiled = stmt.compile(dialect=self.engine.dialect,
                                compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        processors = compiled._bind_processors
        params = {k: processors[k](v) if k in processors and v is not None else v
                  for k, v in params.items()}
        if compiled.positional:
            return str(compiled), tuple(params[k] for k in compiled.positiontup)
        return str(compiled), params

    def run(self, sql: str, params) -> list:
        cursor = self.conn.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.close()
        return rows

    def explain(self, sql: str, params) -> str:
        if self.engine.dialect.name == "postgresql":
            rows = self.run("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            self.conn.rollback()
            return "\n".join(r[0] for r in rows)
        rows = self.run("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(r[-1] for r in rows)

    def close(self):
        try:
            self.conn.rollback()
        finally:
            self.conn.close()


def statement_times(app, fn) -> list[tuple[float, str]]:
    """Each SQL statement one call of `fn` ran, with its time in ms (slowest first)."""
    from sqlalchemy import event

    from helpdesk.extensions import db

    with app.app_context():
        engine = db.engine
    found: list[tuple[float, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        found.append((round((time.perf_counter() - conn.info["bench_started"]) * 1000, 2),
                      " ".join(statement.split())[:160]))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return sorted(found, reverse=True)


def list_statements(query_string: str):
    """count_query and page_query of a list URL, compiled against now."""
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    from helpdesk.conditions import current_schema
    from helpdesk.models import utcnow
    from helpdesk.tickets import listing as L

    schema = current_schema()
    q = L.parse(MultiDict(parse_qsl(query_string, keep_blank_values=True)), schema)
    now = utcnow()
    return L.count_query(q, schema, now), L.page_query(q, schema, now)


# ---------------------------------------------------------------- the measurements


def bench_pages(app, runs: int, warmups: int) -> dict:
    from sqlalchemy import event, select, true

    from helpdesk.cli import DEMO_AGENT, _user
    from helpdesk.conditions import current_schema
    from helpdesk.extensions import db
    from helpdesk.models import SavedFilter, User
    from helpdesk.reports import services as S
    from helpdesk.tickets import list_views

    out: dict = {}
    # Setup, bare SQL and service calls each in their own app context; the test client's
    # requests run outside any, so each request gets its own context, session and `g`.
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
        _user(*DEMO_AGENT, role="agent")
        db.session.execute(SavedFilter.__table__.delete())
        for position, (name, query) in enumerate(SAVED):
            db.session.add(SavedFilter(name=name, query=query, owner_id=admin.id,
                                       position=position))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:  # autovacuum would get there within a minute
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        admin_id = admin.id

    # a and b: the page, as the admin (ten saved filters in the sidebar) and as the agent
    for key, url in (("a", PAGE_A), ("b", PAGE_B)):
        with app.app_context():
            bare = Bare(db.engine)
            count_stmt, page_stmt = list_statements(url.split("?", 1)[1])
            count_sql, page_sql = bare.compile(count_stmt), bare.compile(page_stmt)
            total = bare.run(*count_sql)[0][0]
            rows = len(bare.run(*page_sql))
            result = {"url": url, "total": total, "rows": rows,
                      "explain_count": bare.explain(*count_sql),
                      "explain_page": bare.explain(*page_sql),
                      "sql_count": count_sql[0], "sql_page": page_sql[0]}
            result["bare"] = timed(lambda: (bare.run(*count_sql), bare.run(*page_sql)),
                                   runs, warmups)
            bare.close()
        for who, email, password in (("admin", "admin@example.com", "admin-password"),
                                     ("agent", "agent@example.com", "agent-password")):
            client = app.test_client()
            login(client, email, password)

            def get():
                response = client.get(url)
                assert response.status_code == 200, response.status_code
                body = response.get_data()
                assert body.count(b"data-request-id=") == rows
                return body

            result[who] = timed(get, runs, warmups)
            result[who]["statements"] = statement_times(app, get)
            result[who]["ratio"] = round(result[who]["median_ms"]
                                         / result["bare"]["median_ms"], 2)
        out[key] = result
        log(f"{key}: admin {result['admin']['median_ms']} ms, agent "
            f"{result['agent']['median_ms']} ms, bare {result['bare']['median_ms']} ms")

    with app.app_context():
        bare = Bare(db.engine)
        # c: the ten sidebar counts
        schema = current_schema()
        filters = list(db.session.scalars(select(SavedFilter).where(
            SavedFilter.owner_id == admin_id).order_by(SavedFilter.position)))
        counts = list_views.sidebar_counts(filters, schema)
        compiled = [bare.compile(list_statements(f.query)[0]) for f in filters]
        result = {"counts": {f.name: counts[f.id] for f in filters},
                  "each_ms": {f.name: timed(lambda c=c: bare.run(*c), 3, 1)["median_ms"]
                              for f, c in zip(filters, compiled)},
                  "explain": {f.name: bare.explain(*c) for f, c in zip(filters, compiled)}}
        assert [bare.run(*c)[0][0] for c in compiled] == [counts[f.id] for f in filters]
        result["bare"] = timed(lambda: [bare.run(*c) for c in compiled], runs, warmups)

        def sidebar():
            list_views.sidebar_counts(filters, schema)
            db.session.rollback()  # end the read, as a request does

        result["app"] = timed(sidebar, runs, warmups)
        result["app"]["ratio"] = round(result["app"]["median_ms"]
                                       / result["bare"]["median_ms"], 2)
        db.session.rollback()
        # the same over HTTP: the JSON the list page's script fetches
        client = app.test_client()
        login(client, "admin@example.com", "admin-password")

        def endpoint():
            response = client.get("/filters/counts")
            assert response.status_code == 200
            assert {int(k): v for k, v in response.get_json()["counts"].items()} == counts

        result["http"] = timed(endpoint, runs, warmups)
        result["http"]["ratio"] = round(result["http"]["median_ms"]
                                        / result["bare"]["median_ms"], 2)
        out["c"] = result
        log(f"c: app {result['app']['median_ms']} ms, http {result['http']['median_ms']} ms, "
            f"bare {result['bare']['median_ms']} ms")

        # d: first response time by rating over every request
        captured: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if not statement.startswith("BEGIN"):  # the bare cursor runs in autocommit
                captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        rows = S.first_response_by_rating(true())
        event.remove(db.engine, "before_cursor_execute", capture)
        db.session.rollback()
        result = {"rows": [{"rating": r.rating, "count": r.count, "median": r.median,
                            "mean": r.mean, "p90": r.p90, "histogram": r.histogram}
                           for r in rows],
                  "statements": len(captured)}
        result["app"] = timed(lambda: (S.first_response_by_rating(true()),
                                       db.session.rollback()), runs, warmups)
        result["bare"] = timed(lambda: [bare.run(s, p) for s, p in captured], runs, warmups)
        result["app"]["ratio"] = round(result["app"]["median_ms"]
                                       / result["bare"]["median_ms"], 2)
        out["d"] = result
        log(f"d: {result['app']['median_ms']} ms, bare {result['bare']['median_ms']} ms")
        bare.close()
    return out


REPORTS = {"all requests": "/reports",
           "b's filter": "/reports?state=closed&c=nps_rating:is:detractor"
                         "&c=closed_at:in_range:past_90_days"}


def bench_reports(app, runs: int, warmups: int) -> dict:
    """f: the whole Reports page, and the bare SQL of the statements it ran."""
    from sqlalchemy import event

    from helpdesk.extensions import db

    out = {}
    client = app.test_client()
    login(client, "admin@example.com", "admin-password")
    with app.app_context():
        engine = db.engine
    for name, url in REPORTS.items():
        def get():
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            body = response.get_data()
            assert body.count(b"data:image/svg+xml;base64,") >= 4  # the charts were drawn
            return body

        captured: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
                captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        get()
        event.remove(engine, "before_cursor_execute", capture)
        result = {"url": url, "statements": len(captured)}
        result["page"] = timed(get, runs, warmups)
        result["page"]["statements"] = statement_times(app, get)
        with app.app_context():
            bare = Bare(db.engine)
            result["bare"] = timed(lambda: [bare.run(s, p) for s, p in captured], runs, warmups)
            bare.close()
        result["page"]["ratio"] = round(result["page"]["median_ms"]
                                        / result["bare"]["median_ms"], 2)
        out[name] = result
        log(f"f ({name}): page {result['page']['median_ms']} ms, "
            f"bare {result['bare']['median_ms']} ms, {len(captured)} statements")
    return out


def csv_query(app, rows: int) -> str:
    """A list URL selecting about `rows` requests: opened in the last M minutes."""
    import math

    from sqlalchemy import select

    from helpdesk.extensions import db
    from helpdesk.models import Ticket, utcnow

    with app.app_context():
        if rows == 0:
            return f"cols={CSV_COLUMNS}&c=subject:is:no-such-request"
        cutoff = db.session.scalar(select(Ticket.opened_at).order_by(Ticket.opened_at.desc())
                                   .offset(rows - 1).limit(1))
        minutes = math.ceil((utcnow() - cutoff).total_seconds() / 60)
        return f"cols={CSV_COLUMNS}&c=minutes_since_opened:lt:{minutes}"


def csv_child(db_url: str, query: str) -> None:
    """Run one export in this (fresh) process; print rows, bytes, time and peak RSS as JSON."""
    app = make_app(db_url)
    client = app.test_client()
    login(client, "admin@example.com", "admin-password")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(f"/requests.csv?{query}")
    assert response.status_code == 200 and response.is_streamed
    size = lines = 0
    for chunk in response.response:
        size += len(chunk)
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    response.close()
    print(json.dumps({"rows": lines - 1, "bytes": size,
                      "seconds": round(time.perf_counter() - started, 2),
                      "rss_before_mb": round(before / 1024, 1),
                      "peak_rss_mb": round(
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def bench_csv(app, db_url: str, sizes: list[int]) -> list[dict]:
    out = []
    for rows in [0] + sizes:
        query = csv_query(app, rows)
        done = subprocess.run([sys.executable, __file__, "--csv-child", db_url, query],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result.update(asked=rows, query=query)
        out.append(result)
        log(f"e: {result['rows']} rows, {result['bytes'] / 1e6:.1f} MB, "
            f"{result['seconds']} s, peak RSS {result['peak_rss_mb']} MB")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--results", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--database-url", help="a PostgreSQL server (a fresh database is "
                                               "created on it and dropped at the end)")
    parser.add_argument("--reuse", help="an already seeded database: a SQLite file's path or "
                                         "a PostgreSQL URL (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--csv-rows", type=int, nargs="*", default=[10_000, 50_000, 100_000])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--csv-child", nargs=2, metavar=("DB_URL", "QUERY"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.csv_child:
        csv_child(*args.csv_child)
        return

    report = {"machine": machine(), "argv": sys.argv[1:]}
    tmp = Path(tempfile.mkdtemp(prefix="bench-lists-"))
    drop = lambda: None  # noqa: E731
    try:
        if args.reuse:
            db_url = args.reuse if "://" in args.reuse \
                else f"sqlite:///{Path(args.reuse).resolve()}"
            report["commands"] = [f"(reused {args.reuse}, built with flask db upgrade and "
                                  f"flask seed-scale)"]
        else:
            from scripts.stack import fresh_database

            db_url, drop = fresh_database(args.database_url, tmp, "helpdesk_lists")
            started = time.perf_counter()
            report["commands"] = build(db_url, args.requests, args.results)
            report["build_seconds"] = round(time.perf_counter() - started)
        report["database"] = db_url.split(":", 1)[0]
        app = make_app(db_url)
        report.update(bench_pages(app, args.runs, args.warmups))
        report["f"] = bench_reports(app, args.runs, args.warmups)
        report["e"] = bench_csv(app, db_url, args.csv_rows)
        with app.app_context():
            from helpdesk.extensions import db

            db.engine.dispose()
        report["machine"]["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    finally:
        if not args.keep:
            drop()
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

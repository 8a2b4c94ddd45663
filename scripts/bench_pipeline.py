#!/usr/bin/env python
"""Benchmarks of the survey pipeline (figures in docs/benchmarks.md).

Measures on this machine, against real processes (embedded Redis, the emulator, `rq worker`,
gunicorn), with nothing mocked:

1. sends: how fast 1, 2 and 4 `rq worker` processes drain N queued survey sends under the
   shared rate limiter, against the emulator's limit (default scaled 10x: 200 calls per 6 s,
   helpdesk limiter 196 per 6 s, the same ratio as 200/196 per minute); the percentage of the
   limit achieved and how many 429s the emulator answered. `--real-window` adds one burst of
   `--burst` closes with 4 workers at the real 60 s window (about 5 minutes for 1,000).
2. inbound: results per second through POST /inbound/thermostat under `gunicorn -w 2`, from a
   bounded thread pool on loopback, one result per body and batches of 50.
3. ingest: time for poll_results() to store a feed of 10,000 responses, against two
   baselines measured in the same run: fetching the same feed pages without storing, and a
   bare INSERT of 10,000 rows into survey_results.

Usage (SQLite in a temp dir by default):
    .venv/bin/python scripts/bench_pipeline.py [--real-window] [--json out.json]
    scripts/with_postgres.sh .venv/bin/python scripts/bench_pipeline.py \
        --database-url "$TEST_DATABASE_URL"
With --database-url a fresh database is created on that server and dropped at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from scripts.stack import BIN, Stack, free_port, fresh_database, wait_http  # noqa: E402

TOKEN = "bench-token-0123456789abcdef0123"
SECRET_KEY = "bench-secret-key-bench-secret-key-0123456789"
EMULATOR_LIMIT = 200
HELPDESK_MARGIN = 4  # the helpdesk's default: 196 of Thermostat's 200
FINAL = ("sent", "skipped", "failed", "paused", "cancelled")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- environment -------------------------------------------------------------------------------


class Bench:
    """The helpdesk app in this process plus the child processes it talks to."""

    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.db_url, self.drop_db = fresh_database(args.database_url, tmp, "helpdesk_bench")
        self.infra = Stack(env=dict(os.environ), log_dir=tmp / "logs")
        port = free_port()
        self.infra.start_redis(port, tmp / "redis")
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.queue_name = "bench"
        self.env = dict(os.environ)
        self.env.pop("TEST_DATABASE_URL", None)
        self.env.update({
            "DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url,
            "RQ_QUEUE": self.queue_name, "SECRET_KEY": SECRET_KEY,
            "HELPDESK_INSTANCE_DIR": str(tmp / "instance"), "THERMOSTAT_TIMEOUT": "10",
            "PYTHONUNBUFFERED": "1",
        })
        os.environ.update(self.env)  # the in-process app reads the same settings
        from helpdesk import create_app

        self.app = create_app(None, {"WTF_CSRF_ENABLED": False})
        self.ctx = self.app.app_context()
        self.ctx.push()
        self._setup_db()
        self.client = self.app.test_client()
        r = self.client.post("/login", data={"email": "bench@example.com",
                                             "password": "bench-password"})
        assert r.status_code == 302, "login failed"
        self._seq = 0

    def _setup_db(self) -> None:
        from sqlalchemy import select

        from helpdesk.cli import _user, seed_reference_data, seed_trigger
        from helpdesk.extensions import db
        from helpdesk.models import Status

        db.create_all()
        seed_reference_data()
        _user("bench@example.com", "Bench Admin", "bench-password", role="admin")
        seed_trigger()
        db.session.commit()
        self.solved_id = db.session.scalar(select(Status.id).where(
            Status.name == "Problem Solved"))
        db.session.commit()

    def start_emulator(self, name: str, rate_limit: int, window: float) -> tuple[Stack, str]:
        stack = Stack(env=dict(os.environ), log_dir=self.tmp / "logs")
        port = free_port()
        proc = stack.start(name, [sys.executable, "-m", "thermostat_emulator", "--host",
                                  "127.0.0.1", "--port", str(port), "--db",
                                  str(self.tmp / f"{name}.sqlite"), "--token", TOKEN,
                                  "--rate-limit", str(rate_limit), "--rate-window", str(window),
                                  "--plan-limit", "100000000"])
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/", "the Thermostat emulator", proc)
        return stack, url

    def connect(self, emulator_url: str, limit: int, window: int) -> None:
        """Point the app at an emulator and save the token (checked, encrypted)."""
        from helpdesk.extensions import db
        from helpdesk.thermostat.services import (check_token, get_integration, make_client,
                                                  save_token, store_surveys)

        self.app.config.update(THERMOSTAT_BASE_URL=emulator_url, THERMOSTAT_RATE_LIMIT=limit,
                               THERMOSTAT_RATE_WINDOW=window)
        self.flush_redis()
        save_token(get_integration(), TOKEN, check_token(TOKEN))
        store_surveys(make_client(TOKEN).surveys())
        db.session.commit()

    def flush_redis(self) -> None:
        from redis import Redis

        Redis.from_url(self.redis_url).flushdb()

    def make_tickets(self, n: int) -> list[int]:
        from helpdesk.extensions import db
        from helpdesk.models import Customer, Ticket

        from sqlalchemy import select

        from helpdesk.models import Status

        active = db.session.scalar(select(Status).where(Status.name == "Active"))
        tickets = []
        for _ in range(n):
            self._seq += 1
            customer = Customer(first_name="Bench", last_name=str(self._seq),
                                email=f"bench{self._seq}-{uuid.uuid4().hex[:4]}@example.com")
            tickets.append(Ticket(subject=f"Bench request {self._seq}", customer=customer,
                                  status=active, is_open=True))
        db.session.add_all(tickets)
        db.session.commit()
        ids = [t.id for t in tickets]
        db.session.commit()
        return ids

    def close(self, ticket_id: int) -> None:
        r = self.client.post(f"/requests/{ticket_id}/update", data={
            "status_id": self.solved_id, "category_id": 0, "assignee_id": 0,
            "close": "Save and close"})
        assert r.status_code == 302, r.status_code

    def dispatch_counts(self, ids: list[int]) -> dict[str, int]:
        from sqlalchemy import func, select

        from helpdesk.extensions import db
        from helpdesk.models import Dispatch

        rows = db.session.execute(select(Dispatch.state, func.count()).where(
            Dispatch.ticket_id >= min(ids), Dispatch.ticket_id <= max(ids))
            .group_by(Dispatch.state)).all()
        db.session.rollback()  # never hold a transaction (SQLite: the write lock) while polling
        return dict(rows)

    def start_workers(self, count: int, emulator_url: str, limit: int, window: int) -> Stack:
        env = dict(self.env)
        env.update(THERMOSTAT_BASE_URL=emulator_url, THERMOSTAT_RATE_LIMIT=str(limit),
                   THERMOSTAT_RATE_WINDOW=str(window))
        stack = Stack(env=env, log_dir=self.tmp / "logs")
        for i in range(count):
            if self.args.worker_mode == "shipped":
                stack.start_worker(f"worker{i + 1}")  # exactly the command `make run` uses
            else:
                # `-c <module>` makes the worker import the job module before forking, so
                # each job's work horse does not import the whole app again (~0.6 s).
                stack.start(f"worker{i + 1}", [str(BIN / "rq"), "worker", "--with-scheduler",
                                               "-c", "helpdesk.thermostat.jobs", "--url",
                                               env["REDIS_URL"], env["RQ_QUEUE"]])
        from redis import Redis
        from rq import Worker

        conn = Redis.from_url(self.redis_url)
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=conn)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not register")
            time.sleep(0.1)
        return stack

    def close_all(self) -> None:
        try:
            self.ctx.pop()
        finally:
            self.infra.stop()
            self.drop_db()


# --- 1. sends ------------------------------------------------------------------------------------


def analyse_calls(calls: list[dict], window: float, t_start: float | None = None) -> dict:
    """Rates from the emulator's call log: overall, at saturation, peak window, 429s."""
    sends = sorted(c["ts"] for c in calls if c["path"].endswith("/sendnow") and c["status"] == 200)
    allowed = sorted(c["ts"] for c in calls if c["status"] != 429)
    throttled = sum(1 for c in calls if c["status"] == 429)
    t0 = sends[0] if t_start is None else t_start
    drain = sends[-1] - t0
    limit_rate = EMULATOR_LIMIT / window
    overall = len(sends) / drain if drain > 0 else float("inf")
    # full windows after the first (the first is the initial burst the limit allows)
    first = sends[0]
    buckets: dict[int, int] = {}
    for ts in sends:
        buckets[int((ts - first) // window)] = buckets.get(int((ts - first) // window), 0) + 1
    last = max(buckets)
    full = [buckets.get(k, 0) for k in range(1, last)]
    steady = statistics.mean(full) / window if full else None
    peak, j = 0, 0
    for i, ts in enumerate(allowed):
        while allowed[j] <= ts - window:
            j += 1
        peak = max(peak, i - j + 1)
    return {
        "sent": len(sends), "http_429": throttled, "drain_seconds": round(drain, 2),
        "overall_per_window": round(overall * window, 1),
        "sends_per_minute": round(overall * 60, 1),  # what these workers do per real minute
        "overall_pct_of_limit": round(100 * overall / limit_rate, 1),
        "saturated_per_window": round(steady * window, 1) if steady else None,
        "saturated_pct_of_limit": round(100 * steady / limit_rate, 1) if steady else None,
        "full_windows_measured": len(full),
        "peak_calls_in_any_window": peak,
    }


def sends_run(bench: Bench, emulator_url: str, workers: int, n: int, window: int,
              preload: bool) -> dict:
    limit = EMULATOR_LIMIT - HELPDESK_MARGIN
    requests.post(f"{emulator_url}/_reset", timeout=10).raise_for_status()
    bench.connect(emulator_url, limit, window)
    requests.post(f"{emulator_url}/_reset", timeout=10).raise_for_status()  # token check too
    bench.flush_redis()
    ids = bench.make_tickets(n)
    stack = None
    t_start = None
    try:
        if preload:
            for tid in ids:
                bench.close(tid)
            stack = bench.start_workers(workers, emulator_url, limit, window)
        else:
            stack = bench.start_workers(workers, emulator_url, limit, window)
            t_start = time.time()
            for tid in ids:
                bench.close(tid)
            closes_done = time.time() - t_start
        timeout = (n / limit + 2) * window * 3 + 60
        deadline = time.monotonic() + timeout
        while True:
            counts = bench.dispatch_counts(ids)
            if sum(v for k, v in counts.items() if k in FINAL) >= n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"sends not drained within {timeout:.0f} s: {counts}")
            time.sleep(0.25)
    finally:
        if stack is not None:
            stack.stop()
    calls = requests.get(f"{emulator_url}/_state.json", timeout=60).json()["api_calls"]
    result = analyse_calls(calls, window, t_start)
    result.update(workers=workers, n=n, window_seconds=window, states=counts)
    if not preload:
        result["closes_seconds"] = round(closes_done, 2)
    return result


def bench_sends(bench: Bench, args) -> dict:
    out: dict = {"scaled": {}, "real": None}
    stack, url = bench.start_emulator("emulator-sends", EMULATOR_LIMIT, args.window)
    try:
        for workers in args.workers:
            runs = []
            for rep in range(args.send_repeats):
                r = sends_run(bench, url, workers, args.sends, args.window, preload=True)
                log(f"sends: {workers} worker(s), run {rep + 1}: {r}")
                runs.append(r)
            out["scaled"][workers] = runs
    finally:
        stack.stop()
    if args.real_window:
        stack, url = bench.start_emulator("emulator-real", EMULATOR_LIMIT, 60)
        try:
            r = sends_run(bench, url, 4, args.burst, 60, preload=False)
            log(f"burst at the real 60 s window: {r}")
            out["real"] = r
        finally:
            stack.stop()
    return out


# --- 2. inbound ----------------------------------------------------------------------------------


def bench_inbound(bench: Bench, args) -> dict:
    from sqlalchemy import func, select

    from helpdesk.extensions import db
    from helpdesk.models import SurveyResult
    from helpdesk.results.signing import sign
    from helpdesk.thermostat.services import ensure_push_secret, get_integration

    secret = ensure_push_secret(get_integration())
    db.session.commit()
    ticket_ids = bench.make_tickets(200)
    port = free_port()
    stack = Stack(env=dict(bench.env), log_dir=bench.tmp / "logs")
    proc = stack.start("gunicorn", [str(BIN / "gunicorn"), "-w", str(args.gunicorn_workers),
                                    "-b", f"127.0.0.1:{port}", "wsgi:app"])
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", "gunicorn", proc)
    next_id = [10_000_000]
    local = threading.local()

    def result(rid: int) -> dict:
        return {"id": rid, "survey_id": 1, "score": rid % 11, "type": "nps",
                "feedback": "Bench comment" if rid % 3 else None,
                "created_at": "2026-06-26 14:03:26", "updated_at": "2026-06-26 14:05:10",
                "email": f"r{rid}@example.com",
                "custom_fields": {"xrequest": str(ticket_ids[rid % len(ticket_ids)])}}

    def post(batch: list[int]) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        payload = result(batch[0]) if len(batch) == 1 else [result(r) for r in batch]
        body = json.dumps(payload).encode()
        r = local.session.post(f"{url}/inbound/thermostat", data=body, timeout=60, headers={
            "X-Signature": sign(secret, body), "Content-Type": "application/json"})
        return r.status_code

    def run(total: int, per_body: int) -> dict:
        batches = []
        for _ in range(total // per_body):
            batches.append(list(range(next_id[0], next_id[0] + per_body)))
            next_id[0] += per_body
        before = db.session.scalar(select(func.count()).select_from(SurveyResult))
        db.session.rollback()
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.inbound_threads) as pool:
            statuses = list(pool.map(post, batches))
        elapsed = time.perf_counter() - started
        after = db.session.scalar(select(func.count()).select_from(SurveyResult))
        db.session.rollback()
        ok = statuses.count(200)
        return {"results": total, "per_body": per_body, "requests": len(batches),
                "ok_requests": ok, "stored": after - before, "seconds": round(elapsed, 2),
                "results_per_second": round(total / elapsed, 1),
                "requests_per_second": round(len(batches) / elapsed, 1)}

    out: dict = {"gunicorn_workers": args.gunicorn_workers, "threads": args.inbound_threads}
    try:
        run(100, 1)  # warm up both gunicorn workers
        for per_body, total in ((1, args.inbound), (50, args.inbound)):
            runs = []
            for rep in range(args.repeats):
                r = run(total, per_body)
                log(f"inbound: {per_body} result(s) per body, run {rep + 1}: {r}")
                if r["ok_requests"] != r["requests"] or r["stored"] != r["results"]:
                    raise RuntimeError(f"inbound run lost results: {r}")
                runs.append(r)
            out[f"per_body_{per_body}"] = runs
    finally:
        stack.stop()
    return out


# --- 3. feed ingest ------------------------------------------------------------------------------


def fill_feed(db_path: Path, n: int, ticket_ids: list[int]) -> None:
    """Write n responses straight into the emulator's store, 10 per second of updated_at."""
    from thermostat_emulator import store

    conn = store.connect(str(db_path))
    base = store.now() - n // 10 - 100
    rows = []
    for i in range(n):
        ts = base + i // 10
        rows.append((1, None, f"feed{i}@example.com", i % 11,
                     "Feed comment" if i % 2 else None, "nps",
                     json.dumps({"xrequest": str(ticket_ids[i % len(ticket_ids)])}), ts, ts,
                     secrets.token_urlsafe(8)))
    with store.tx(conn):
        conn.execute("DELETE FROM responses")
        conn.executemany(
            "INSERT INTO responses (survey_id, send_id, email, score, feedback, type,"
            " custom_fields, created_ts, updated_ts, edit_token) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows)
    conn.close()


def clear_results() -> None:
    from sqlalchemy import delete, update

    from helpdesk.extensions import db
    from helpdesk.models import SurveyResult, Ticket, TicketEvent
    from helpdesk.thermostat.services import get_integration

    db.session.execute(update(Ticket).values(survey_result_id=None, survey_type=None,
                                             survey_score=None, survey_rating=None))
    db.session.execute(delete(TicketEvent).where(TicketEvent.outcome == "answered"))
    db.session.execute(delete(SurveyResult))
    get_integration().poll_cursor = None
    db.session.commit()


def bench_ingest(bench: Bench, args) -> dict:
    from sqlalchemy import func, insert, select

    from helpdesk.extensions import db
    from helpdesk.models import SurveyResult
    from helpdesk.thermostat.jobs import FEED_PAGE_FULL, poll_results
    from helpdesk.thermostat.services import make_client

    # a separate emulator without a meaningful throttle: this measures storing, not waiting
    stack, url = bench.start_emulator("emulator-feed", 1_000_000, 60)
    try:
        bench.connect(url, 1_000_000, 60)
        ticket_ids = bench.make_tickets(500)
        fill_feed(bench.tmp / "emulator-feed.sqlite", args.feed, ticket_ids)
        runs = []
        for rep in range(args.repeats):
            clear_results()
            # baseline 1: the same feed pages fetched, nothing stored
            client = make_client(TOKEN)
            started = time.perf_counter()
            cursor, pages, seen = None, 0, set()
            while True:
                page = client.responses(since=cursor)
                pages += 1
                fresh = {r["id"] for r in page["responses"]} - seen
                seen |= fresh
                if not fresh or len(page["responses"]) < FEED_PAGE_FULL or page["since"] == cursor:
                    break
                cursor = page["since"]
            fetch = time.perf_counter() - started
            assert len(seen) == args.feed, len(seen)
            # baseline 2: a bare INSERT of as many rows, one transaction
            rows = [{"source": "bench", "response_id": str(i), "survey_id": 1,
                     "survey_name": "Support NPS", "survey_type": "nps", "score": i % 11,
                     "rating": "promoter", "feedback": None, "custom_fields": {},
                     "xrequest": None, "ticket_id": None} for i in range(args.feed)]
            started = time.perf_counter()
            db.session.execute(insert(SurveyResult), rows)
            db.session.commit()
            bare = time.perf_counter() - started
            clear_results()
            # the real thing: poll until the feed is drained
            started = time.perf_counter()
            polls, created = 0, 0
            while True:
                totals = poll_results()
                polls += 1
                created += totals.get("created", 0)
                if "error" in totals:
                    raise RuntimeError(totals)
                if totals.get("created", 0) + totals.get("updated", 0) == 0:
                    break
            ingest = time.perf_counter() - started
            stored = db.session.scalar(select(func.count()).select_from(SurveyResult))
            db.session.rollback()
            if stored != args.feed or created != args.feed:
                raise RuntimeError(f"ingest stored {stored}, created {created}, want {args.feed}")
            r = {"responses": args.feed, "ingest_seconds": round(ingest, 2),
                 "poll_runs": polls, "feed_pages": pages, "fetch_only_seconds": round(fetch, 2),
                 "bare_insert_seconds": round(bare, 2),
                 "ingest_per_second": round(args.feed / ingest, 1),
                 "ratio_to_fetch": round(ingest / fetch, 1),
                 "ratio_to_bare_insert": round(ingest / bare, 1)}
            log(f"ingest run {rep + 1}: {r}")
            runs.append(r)
        return {"runs": runs}
    finally:
        stack.stop()


# --- report --------------------------------------------------------------------------------------


def median(runs: list[dict], key: str):
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def summary(results: dict, args) -> str:
    lines = []
    if "sends" in results:
        w = args.window
        lines.append(f"Sends (emulator 200 calls / {w} s, helpdesk limiter 196 / {w} s, "
                     f"{args.sends} queued sends, median of {args.send_repeats}, "
                     f"workers: {args.worker_mode}):")
        lines.append("| workers | drain s | overall % of limit | saturated % of limit "
                     "| sends per minute | 429s | peak calls in a window |")
        lines.append("|---|---|---|---|---|---|---|")
        for workers, runs in results["sends"]["scaled"].items():
            lines.append(
                f"| {workers} | {median(runs, 'drain_seconds')} | "
                f"{median(runs, 'overall_pct_of_limit')} | "
                f"{median(runs, 'saturated_pct_of_limit')} | {median(runs, 'sends_per_minute')} | "
                f"{sum(r['http_429'] for r in runs)} (all runs) | "
                f"{max(r['peak_calls_in_any_window'] for r in runs)} |")
        real = results["sends"].get("real")
        if real:
            lines.append(f"Burst of {real['n']} closes, 4 workers, real 60 s window: {real}")
    if "inbound" in results:
        for key in ("per_body_1", "per_body_50"):
            runs = results["inbound"][key]
            lines.append(f"Inbound {key}: median {median(runs, 'results_per_second')} results/s "
                         f"({median(runs, 'requests_per_second')} requests/s), runs "
                         f"{[r['results_per_second'] for r in runs]}")
    if "ingest" in results:
        runs = results["ingest"]["runs"]
        lines.append(f"Ingest {args.feed}: median {median(runs, 'ingest_seconds')} s "
                     f"({median(runs, 'ingest_per_second')}/s); fetch only "
                     f"{median(runs, 'fetch_only_seconds')} s (x{median(runs, 'ratio_to_fetch')})"
                     f"; bare insert {median(runs, 'bare_insert_seconds')} s "
                     f"(x{median(runs, 'ratio_to_bare_insert')})")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--database-url", help="PostgreSQL server URL (a fresh db is created)")
    p.add_argument("--only", choices=["sends", "inbound", "ingest"], action="append",
                   help="run only these parts (repeatable)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--sends", type=int, default=1000, help="queued sends per scaled run")
    p.add_argument("--window", type=int, default=6, help="scaled throttle window, seconds")
    p.add_argument("--repeats", type=int, default=3, help="runs of the inbound and ingest parts")
    p.add_argument("--send-repeats", type=int, default=1, help="runs per worker count")
    p.add_argument("--real-window", action="store_true",
                   help="also a burst at the real 60 s window with 4 workers (~5 min)")
    p.add_argument("--burst", type=int, default=1000)
    p.add_argument("--inbound", type=int, default=1000, help="results per run (each body size)")
    p.add_argument("--inbound-threads", type=int, default=8)
    p.add_argument("--gunicorn-workers", type=int, default=2)
    p.add_argument("--feed", type=int, default=10_000)
    p.add_argument("--worker-mode", choices=["shipped", "preload"], default="shipped",
                   help="shipped: `rq worker --with-scheduler` as scripts/stack.py runs it; "
                        "preload: the same plus `-c helpdesk.thermostat.jobs`")
    p.add_argument("--json", help="write all raw figures here")
    return p.parse_args(argv)


def _stop_on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")  # runs the finally blocks: children stop


def main(argv=None) -> int:
    import signal

    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)  # also when started in the background
    args = parse_args(argv)
    random.seed(1)
    tmp = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
    parts = args.only or ["sends", "inbound", "ingest"]
    log(f"working in {tmp}; parts: {parts}; database: "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}")
    bench = Bench(args, tmp)
    results: dict = {"database": "postgresql" if args.database_url else "sqlite"}
    try:
        if "sends" in parts:
            results["sends"] = bench_sends(bench, args)
        if "inbound" in parts:
            results["inbound"] = bench_inbound(bench, args)
        if "ingest" in parts:
            results["ingest"] = bench_ingest(bench, args)
    finally:
        bench.close_all()
    text = summary(results, args)
    print(text, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

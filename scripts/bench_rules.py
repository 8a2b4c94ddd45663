#!/usr/bin/env python
"""Benchmarks of the rules engine (figures in docs/benchmarks.md, section "Rules engine").

1. triggers: a request update with 200 enabled triggers (varied, realistic conditions, most
   not firing). Measures the time spent in `run_triggers` per update (median and p95 over
   --updates updates, target < 10 ms), against a baseline measured in the same run: the same
   updates with 0 triggers. The whole update (snapshot, change, triggers, commit) is timed
   too, for context.
2. automations: one run of 50 automation rules over --tickets requests (default 1,000,000)
   on SQLite, selecting in SQL (target < 30 s for the run). Rows are generated with
   INSERT ... SELECT in a temp SQLite file. Reported: per rule its matches and time (median
   over --passes passes: the first pass acts on what matches, later passes find everything
   already acted on, as a scheduled rule usually does), per-pass totals, the bare-SQL
   baseline (each rule's SELECT run on a plain sqlite3 connection, without the app), and
   EXPLAIN QUERY PLAN of a typical rule's query.

Usage:
    .venv/bin/python scripts/bench_rules.py [--updates 300] [--tickets 1000000] [--passes 3]
                                            [--only triggers|automations] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine() -> dict:
    """What this ran on."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    import sqlalchemy

    return {"date_utc": subprocess.run(["date", "-u"], capture_output=True, text=True,
                                          check=False).stdout.strip(),
            "nproc": os.cpu_count(), "memory": mem, "cpu": cpu,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sqlalchemy.__version__}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def make_app(db_path: Path):
    from helpdesk import create_app
    from helpdesk.config import TestingConfig

    return create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        # Nothing here queues a job; an unreachable Redis makes sure of it.
        "REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_ENABLED": False,
    })


# ---------------------------------------------------------------- 1. triggers


def trigger_rules(ids: dict, rng: random.Random) -> list[dict]:
    """200 triggers in the shapes admins write, most not firing on a plain status change."""
    st, cat, users, plan = ids["status"], ids["category"], ids["users"], ids["plan"]
    shapes = [
        lambda: [{"field": "status", "op": "changed_to", "value": st["Problem Solved"]},
                 {"field": "is_open", "op": "is", "value": False}],
        lambda: [{"field": "urgent", "op": "changed_to", "value": True},
                 {"field": "category", "op": "is", "value": rng.choice(list(cat.values()))}],
        lambda: [{"field": "subject", "op": "contains", "value": rng.choice(
            ["refund", "invoice", "cancel", "outage", "password"])},
                 {"field": "status", "op": "changed", "value": None}],
        lambda: [{"field": "customer_email", "op": "ends_with",
                  "value": f"@customer{rng.randint(1, 500)}.example"}],
        lambda: [{"field": "survey_rating", "op": "changed_to", "value": "detractor"}],
        lambda: [{"field": "assignee", "op": "changed_to", "value": rng.choice(users)},
                 {"field": "is_open", "op": "is", "value": True}],
        lambda: [{"field": f"custom:{plan}", "op": "is", "value": "Enterprise"},
                 {"field": "status", "op": "changed_to", "value": st["Escalated"]},
                 {"field": "category", "op": "is", "value": cat["Billing"]}],
        lambda: [{"field": "minutes_since_opened", "op": "gt", "value": rng.randint(10, 90) * 1440},
                 {"field": "status", "op": "changed_from", "value": st["Waiting for Reply"]},
                 {"field": "urgent", "op": "is", "value": True}],
        lambda: [{"match": "any", "conditions": [
            {"field": "status", "op": "changed_to", "value": st["SPAM"]},
            {"field": "subject", "op": "begins_with", "value": "[spam]"}]},
                 {"field": "is_open", "op": "is", "value": True}],
        lambda: [{"field": "note_type", "op": "is", "value": "public"},
                 {"field": "note_body", "op": "contains", "value": "thank"}],
    ]
    rules = []
    for i in range(200):
        conditions = shapes[i % len(shapes)]()
        # about 2% fire on the benchmark's updates (status changed to Escalated)
        firing = i % 50 == 7
        if firing:
            conditions = [{"field": "status", "op": "changed_to", "value": st["Escalated"]}]
        rules.append({"name": f"Trigger {i:03d}", "conditions": conditions,
                      "actions": [{"type": "add_private_note", "body": f"rule {i} fired"}]
                      if firing else [{"type": "set_urgent", "value": True},
                                      {"type": "add_private_note", "body": f"rule {i}"}]})
    return rules


def bench_triggers(updates: int, tmp: Path) -> dict:
    from sqlalchemy import select

    from helpdesk.cli import DEMO_ADMIN, _user, seed_reference_data
    from helpdesk.conditions import snapshot
    from helpdesk.extensions import db
    from helpdesk.models import (
        Category,
        Customer,
        CustomField,
        Rule,
        RuleRun,
        Status,
        Ticket,
        TicketFieldValue,
        User,
    )
    from helpdesk.rules import engine

    app = make_app(tmp / "triggers.sqlite")
    results = {}
    with app.app_context():
        db.create_all()
        seed_reference_data()
        admin = _user(*DEMO_ADMIN, role="admin")
        for i in range(5):
            db.session.add(User(email=f"agent{i}@example.com", name=f"Agent {i}",
                                password_hash="x", role="agent"))
        db.session.commit()
        ids = {"status": {s.name: s.id for s in db.session.scalars(select(Status))},
               "category": {c.name: c.id for c in db.session.scalars(select(Category))},
               "users": list(db.session.scalars(select(User.id))),
               "plan": db.session.scalar(select(CustomField.id).where(CustomField.name == "Plan"))}
        customer = Customer(first_name="Pat", last_name="Smith", email="pat@example.com")
        ticket = Ticket(subject="Export fails on large files", customer=customer,
                        status_id=ids["status"]["Active"], is_open=True)
        db.session.add(ticket)
        db.session.flush()
        db.session.add(TicketFieldValue(ticket_id=ticket.id, field_id=ids["plan"], value="Pro"))
        db.session.commit()
        ticket_id = ticket.id
        cycle = [ids["status"][n] for n in ("Escalated", "Waiting for Reply", "Active")]

        def run(label: str) -> dict:
            eval_ms, total_ms = [], []
            for i in range(updates):
                started = time.perf_counter()
                t = db.session.get(Ticket, ticket_id)
                old = snapshot(t)
                t.status_id = cycle[i % len(cycle)]
                db.session.flush()
                db.session.expire(t, ["status"])
                t0 = time.perf_counter()
                engine.run_triggers("updated", t, old, None)
                t1 = time.perf_counter()
                db.session.commit()
                total_ms.append((time.perf_counter() - started) * 1000)
                eval_ms.append((t1 - t0) * 1000)
            fired = db.session.scalar(select(db.func.count()).select_from(RuleRun)
                                      .where(RuleRun.fired.is_(True)))
            out = {"updates": updates, "run_triggers_median_ms": statistics.median(eval_ms),
                   "run_triggers_p95_ms": pct(eval_ms, 0.95),
                   "run_triggers_max_ms": max(eval_ms),
                   "update_median_ms": statistics.median(total_ms),
                   "update_p95_ms": pct(total_ms, 0.95), "fired_runs_logged": fired}
            log(f"  {label}: run_triggers median {out['run_triggers_median_ms']:.2f} ms, "
                f"p95 {out['run_triggers_p95_ms']:.2f} ms; whole update median "
                f"{out['update_median_ms']:.2f} ms")
            return out

        log(f"triggers: {updates} updates with 0 triggers (baseline)")
        results["baseline_0_triggers"] = run("0 triggers")
        rng = random.Random(7)
        for position, spec in enumerate(trigger_rules(ids, rng), start=1):
            db.session.add(Rule(kind="trigger", event="updated", match="all", position=position,
                                enabled=True, **spec))
        db.session.commit()
        log(f"triggers: {updates} updates with 200 enabled triggers")
        results["with_200_triggers"] = run("200 triggers")
        results["firing_triggers"] = 4
        del admin
    return results


# ---------------------------------------------------------------- 2. automations

N_CUSTOMERS = 20_000


def generate(db_path: Path, n: int, now: datetime) -> dict:
    """Fill a migrated-shape SQLite file with n requests, fast (INSERT ... SELECT)."""
    from sqlalchemy import select

    from helpdesk.cli import seed_reference_data
    from helpdesk.extensions import db
    from helpdesk.models import Category, CustomField, Status, Ticket, User

    app = make_app(db_path)
    with app.app_context():
        db.create_all()
        seed_reference_data()
        for i in range(8):
            db.session.add(User(email=f"agent{i}@example.com", name=f"Agent {i}",
                                password_hash="x", role="agent"))
        db.session.commit()
        statuses = [(s.id, s.name) for s in db.session.scalars(select(Status).order_by(Status.id))]
        categories = [c.id for c in db.session.scalars(select(Category).order_by(Category.id))]
        users = list(db.session.scalars(select(User.id).order_by(User.id)))
        plan = db.session.scalar(select(CustomField.id).where(CustomField.name == "Plan"))
        ticket_cols = {c.name for c in Ticket.__table__.columns}
        db.engine.dispose()

    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    base = now.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.perf_counter()
    statuses = {name: sid for sid, name in statuses}
    conn.execute(
        f"""WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq
                                       WHERE n < {N_CUSTOMERS})
            INSERT INTO customers (id, first_name, last_name, email, phone, created_at)
            SELECT n, 'First' || (n % 97), 'Last' || (n % 89),
                   'customer' || n || '@customer' || (n % 500) || '.example',
                   CASE WHEN n % 5 = 0 THEN NULL ELSE '+1 555 ' || n END, '{base}'
            FROM seq""")
    # Requests opened over the last 3 years, one every ~95 s; 85% closed 1 h to 30 days
    # after opening; 12% of closed ones have a result (30% detractors, 20% passives).
    opened = f"datetime('{base}', '-' || (n * 95) || ' seconds')"
    is_closed = "(n % 20 < 17)"
    has_result = f"({is_closed} AND (n * 31) % 100 < 12)"
    sent = f"({is_closed} AND NOT {has_result} AND (n * 17) % 100 < 40)"
    score = "((n * 13) % 11)"
    st = statuses
    columns = {
        "id": "n",
        "subject": """CASE n % 7 WHEN 0 THEN 'Refund request' WHEN 1 THEN 'Cannot log in'
                      WHEN 2 THEN 'Invoice is wrong' WHEN 3 THEN 'Export fails'
                      WHEN 4 THEN 'Upgrade to Pro' WHEN 5 THEN 'Slow dashboard'
                      ELSE 'Password reset email missing' END || ' #' || n""",
        "customer_id": f"1 + n % {N_CUSTOMERS}",
        "status_id": f"""CASE WHEN {is_closed} THEN {st['Problem Solved']}
                         WHEN n % 10 = 0 THEN {st['Escalated']}
                         WHEN n % 10 = 1 THEN {st['Waiting for Reply']}
                         ELSE {st['Active']} END""",
        "category_id": f"CASE WHEN n % 10 = 0 THEN NULL ELSE {categories[0]} + n % "
                       f"{len(categories)} END",
        "assignee_id": f"CASE WHEN n % 9 = 0 THEN NULL ELSE {users[0]} + n % {len(users)} END",
        "is_open": f"NOT {is_closed}",
        "urgent": "n % 23 = 0",
        "opened_at": opened,
        "closed_at": f"""CASE WHEN {is_closed} THEN datetime({opened}, '+' ||
                         ((n * 7919) % 2592000 + 3600) || ' seconds') END""",
        "first_response_at": f"""CASE WHEN n % 4 > 0 THEN datetime({opened}, '+' ||
                                 ((n * 37) % 36000) || ' seconds') END""",
        "updated_at": opened,
        "survey_type": f"CASE WHEN {has_result} THEN 'nps' END",
        "survey_score": f"CASE WHEN {has_result} THEN {score} END",
        "survey_rating": f"""CASE WHEN {has_result} THEN (CASE WHEN {score} <= 6 THEN 'detractor'
                             WHEN {score} <= 8 THEN 'passive' ELSE 'promoter' END) END""",
        # the results themselves are not generated; the copy on the request is what rules read
        "survey_result_id": f"CASE WHEN {has_result} THEN n END",
    }
    if "survey_state" in ticket_cols:
        columns["survey_state"] = (f"CASE WHEN {has_result} THEN 'answered' WHEN {sent} "
                                   "THEN 'sent' ELSE 'none' END")
    if "first_response_seconds" in ticket_cols:
        columns["first_response_seconds"] = "CASE WHEN n % 4 > 0 THEN (n * 37) % 36000 END"
    conn.execute(
        f"""WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {n})
            INSERT INTO tickets ({', '.join(columns)})
            SELECT {', '.join(columns.values())} FROM seq""")
    conn.execute(f"""INSERT INTO ticket_field_values (ticket_id, field_id, value)
                     SELECT id, {plan}, CASE id % 3 WHEN 0 THEN 'Free' WHEN 1 THEN 'Pro'
                                                   ELSE 'Enterprise' END
                     FROM tickets WHERE id % 2 = 0""")
    # Sent surveys as the outbox keeps them (one row per surveyed request).
    conn.execute("""INSERT INTO dispatches (ticket_id, kind, survey_id, survey_name, email, fields,
                                             dedupe_key, state, attempts, uncertain, created_at,
                                             updated_at, done_at)
                     SELECT t.id, 'sendnow', 1, 'Support NPS', c.email, '{}',
                            'sendnow:' || t.id || ':1', 'sent', 1, 0, t.closed_at, t.closed_at,
                            t.closed_at
                     FROM tickets t JOIN customers c ON c.id = t.customer_id
                     WHERE t.closed_at IS NOT NULL AND (t.survey_type IS NOT NULL
                                                        OR (t.id * 17) % 100 < 40)""")
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("tickets", "customers", "ticket_field_values", "dispatches")}
    conn.close()
    counts["generate_seconds"] = round(time.perf_counter() - t0, 1)
    counts["file_mb"] = round(db_path.stat().st_size / 1e6)
    return {"counts": counts, "plan": plan, "statuses": statuses, "categories": categories,
            "users": users}


def automation_rules(ids: dict) -> list[dict]:
    """50 automation rules as admins write them for an hourly schedule."""
    c, u, plan = ids["categories"], ids["users"], ids["plan"]
    rules = []

    def add(name, conditions, actions=None):
        rules.append({"name": name, "conditions": conditions,
                      "actions": actions or [{"type": "add_private_note", "body": name}]})

    for i in range(10):  # "closed more than a day ago, not surveyed" in hourly windows
        low = 1440 + 60 * i
        add(f"Survey closed {low // 60} h ago", [
            {"field": "minutes_since_closed", "op": "gt", "value": low},
            {"field": "minutes_since_closed", "op": "le", "value": low + 60},
            {"field": "survey_never", "op": "is", "value": True}])
    for i in range(8):  # detractors of one category, follow up once
        add(f"Detractor follow-up {i}", [
            {"field": "survey_rating", "op": "is", "value": "detractor"},
            {"field": "category", "op": "is", "value": c[i % len(c)]},
            {"field": "closed_at", "op": "in_range", "value": "today"}],
            [{"type": "set_urgent", "value": True}])
    for i in range(8):  # stale open requests of one agent
        add(f"Stale for agent {i}", [
            {"field": "is_open", "op": "is", "value": True},
            {"field": "assignee", "op": "is", "value": u[i % len(u)]},
            {"field": "minutes_since_updated", "op": "gt", "value": 1440 * (3 + i)},
            {"field": "minutes_since_updated", "op": "le", "value": 1440 * (3 + i) + 60}])
    for i in range(6):  # enterprise customers, recently closed
        add(f"Enterprise closed {i}", [
            {"field": f"custom:{plan}", "op": "is", "value": "Enterprise"},
            {"field": "minutes_since_closed", "op": "gt", "value": 60 * (i + 1)},
            {"field": "minutes_since_closed", "op": "le", "value": 60 * (i + 2)}])
    for i in range(6):  # subject keywords on fresh requests
        add(f"Keyword {i}", [
            {"field": "subject", "op": "contains",
             "value": ["refund", "invoice", "log in", "export", "upgrade", "slow"][i]},
            {"field": "minutes_since_opened", "op": "le", "value": 60 * 24}])
    for i in range(6):  # unanswered surveys, remind once
        add(f"Unanswered {i}", [
            {"field": "survey_sent_unanswered", "op": "is", "value": True},
            {"field": "minutes_since_closed", "op": "gt", "value": 1440 * (7 + i)},
            {"field": "minutes_since_closed", "op": "le", "value": 1440 * (7 + i) + 60}])
    for i in range(6):  # any-of groups: urgent or a domain, no first response yet
        add(f"No response {i}", [
            {"field": "is_open", "op": "is", "value": True},
            {"field": "minutes_since_opened", "op": "gt", "value": 60 * (i + 1)},
            {"field": "minutes_since_opened", "op": "le", "value": 60 * (i + 2)},
            {"match": "any", "conditions": [
                {"field": "urgent", "op": "is", "value": True},
                {"field": "customer_email", "op": "ends_with",
                 "value": f"@customer{i}.example"}]}])
    assert len(rules) == 50
    return rules


def bare_sql(compiled) -> tuple[str, tuple]:
    """The compiled SELECT and its parameters as plain sqlite3 takes them."""
    params = compiled.construct_params()
    values = []
    for name in compiled.positiontup:
        v = params[name]
        if isinstance(v, datetime):
            v = v.strftime("%Y-%m-%d %H:%M:%S.%f")
        elif isinstance(v, bool):
            v = int(v)
        values.append(v)
    return str(compiled), tuple(values)


def bench_automations(n: int, passes: int, tmp: Path) -> dict:
    from sqlalchemy import select

    from helpdesk.conditions import current_schema
    from helpdesk.extensions import db
    from helpdesk.models import Rule
    from helpdesk.rules import engine

    db_path = tmp / "automations.sqlite"
    now = datetime.now().replace(microsecond=0)  # generate relative to the run's now
    log(f"automations: generating {n:,} requests")
    ids = generate(db_path, n, now)
    log(f"  generated {ids['counts']}")
    app = make_app(db_path)
    out: dict = {"counts": ids["counts"], "rules": [], "passes": []}
    with app.app_context():
        for spec in automation_rules(ids):
            db.session.add(Rule(kind="automation", event="schedule", schedule="1h", match="all",
                                run_once=True, max_runs=1, enabled=True, **spec))
        db.session.commit()
        rule_ids = list(db.session.scalars(select(Rule.id).where(Rule.kind == "automation")
                                           .order_by(Rule.id)))
        schema = current_schema()
        per_rule = {rid: {"seconds": [], "acted": []} for rid in rule_ids}
        for p in range(passes):
            started = time.perf_counter()
            run_now = engine.utcnow()
            for rid in rule_ids:
                t0 = time.perf_counter()
                result = engine.run_automation(rid, run_now)
                per_rule[rid]["seconds"].append(time.perf_counter() - t0)
                per_rule[rid]["acted"].append(result.get("acted"))
            total = time.perf_counter() - started
            acted = sum(per_rule[r]["acted"][-1] or 0 for r in rule_ids)
            out["passes"].append({"pass": p + 1, "seconds": round(total, 2), "acted": acted})
            log(f"  pass {p + 1}: 50 rules in {total:.2f} s, acted on {acted} request(s)")
        # the bare-SQL baseline and the query plan, for the same SELECTs
        sqls = {}
        for rid in rule_ids:
            rule = db.session.get(Rule, rid)
            query = engine.automation_query(rule, engine.utcnow(), schema)  # as run_automation
            sqls[rid] = bare_sql(query.compile(dialect=db.engine.dialect,
                                               compile_kwargs={"render_postcompile": True}))
        names = {r.id: r.name for r in db.session.scalars(select(Rule))}
        db.engine.dispose()

    conn = sqlite3.connect(db_path)
    conn.create_function("lower", 1, lambda s: s.lower() if isinstance(s, str) else s,
                         deterministic=True)  # as the app registers it
    bare = {}
    for rid, (sql, params) in sqls.items():
        times = []
        for _ in range(max(passes, 3)):
            t0 = time.perf_counter()
            conn.execute(sql, params).fetchall()
            times.append(time.perf_counter() - t0)
        bare[rid] = statistics.median(times)
    typical = rule_ids[0]
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sqls[typical][0],
                                           sqls[typical][1])]
    conn.close()
    for rid in rule_ids:
        out["rules"].append({"id": rid, "name": names[rid],
                             "acted_first_pass": per_rule[rid]["acted"][0],
                             "median_s": round(statistics.median(per_rule[rid]["seconds"]), 5),
                             "first_pass_s": round(per_rule[rid]["seconds"][0], 5),
                             "bare_sql_median_s": round(bare[rid], 6)})
    out["bare_sql_total_s"] = round(sum(bare.values()), 2)
    out["typical_rule"] = {"name": names[typical], "sql": sqls[typical][0],
                           "explain_query_plan": plan}
    log(f"  bare SQL total: {out['bare_sql_total_s']} s")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--only", choices=("triggers", "automations"))
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)  # "could not enqueue" and similar are not figures
    tmp = Path(tempfile.mkdtemp(prefix="bench-rules-"))
    report = {"machine": machine(), "command": " ".join([Path(sys.executable).name] + sys.argv)}
    log(f"machine: {report['machine']}")
    try:
        if args.only in (None, "triggers"):
            report["triggers"] = bench_triggers(args.updates, tmp)
        if args.only in (None, "automations"):
            report["automations"] = bench_automations(args.tickets, args.passes, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scale-out smoke run: the README's "Scale-out" layout on one machine, driven over HTTP.

Run it through scripts/scaleout_smoke.sh (which provides a throwaway PostgreSQL). Starts an
embedded Redis, the Thermostat emulator, `gunicorn -w 3`, two `rq worker --with-scheduler`
and one `rq cron`, all on 127.0.0.1; migrates and seeds the PostgreSQL database; then drives
one close-to-survey round (as tests/test_e2e.py does), checks that the login throttle is
shared by the three web workers, prints a summary and stops everything.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from bs4 import BeautifulSoup

from scripts.stack import BIN, ROOT, Stack, free_port, wait_http
from scripts.webclient import form_data, login, poll

WEB_WORKERS = 3
EMULATOR_TOKEN = "scaleout-smoke-token-0123456789"


def step(message: str) -> None:
    """One line of progress, timestamped from the start."""
    print(f"[{time.monotonic() - START:6.1f}s] {message}", flush=True)


def survey_round(base: str, emulator: str) -> dict:
    """Connect Thermostat, close a request, answer the survey, see the result come back."""
    web, answer = login(base, "admin@example.com", "admin-password")
    assert answer.url.rstrip("/") == base, "admin login failed"
    step("logged in as the admin (CSRF token from the form)")

    page = web.get(f"{base}/admin/integrations/", timeout=10)
    action, data = form_data(page.text, "form[action$='/thermostat/token']")
    data["token"] = EMULATOR_TOKEN
    saved = web.post(urljoin(page.url, action), data=data, timeout=30)
    state = BeautifulSoup(saved.text, "html.parser").select_one("#connection-state")
    assert state.get_text(strip=True).startswith("Connected"), state
    step("Thermostat token checked and saved (encrypted)")

    page = web.get(f"{base}/requests/new", timeout=10)
    action, data = form_data(page.text, "main form")
    email = f"scaleout-{uuid.uuid4().hex[:6]}@example.com"
    data.update(first_name="Sky", last_name="Scale", email=email, subject="Export fails",
                body="The CSV export fails.", category_id="0", assignee_id="0")
    created = web.post(urljoin(page.url, action), data=data, timeout=10)
    ticket_id = int(re.search(r"/requests/(\d+)", created.url).group(1))
    update = BeautifulSoup(created.text, "html.parser").select_one("form[action$='/update']")
    data = {i["name"]: i.get("value", "") for i in update.find_all("input")
            if i.get("name") and i.get("type") == "hidden"}
    solved = update.find("select", id="status_id").find("option", string="Problem Solved")
    data.update(status_id=solved["value"], category_id="0", assignee_id="0",
                close="Save and close")
    web.post(urljoin(created.url, update["action"]), data=data, timeout=10)
    step(f"request #{ticket_id} created and closed as Problem Solved")

    def sent():
        state = requests.get(f"{emulator}/_state.json", timeout=5).json()
        return [s for s in state["sends"] if s["email"] == email]

    send = poll(sent, "the survey send to reach the emulator")[0]
    step(f"survey sent by an RQ worker: {send['link']}")

    customer = requests.Session()
    survey = customer.get(send["link"], timeout=10)
    form = BeautifulSoup(survey.text, "html.parser").find("form")
    answer = {i["name"]: i.get("value", "") for i in form.find_all("input")
              if i.get("type") == "hidden" and i.get("name")}
    answer.update(score="3", feedback="Slow, but solved")
    customer.post(urljoin(survey.url, form.get("action") or survey.url), data=answer, timeout=10)
    step("customer answered 3 with a comment")

    def scored():
        html = web.get(f"{base}/requests/{ticket_id}", timeout=10).text
        badge = BeautifulSoup(html, "html.parser").select_one(".result .badge")
        return badge is not None and badge.get_text(strip=True) == "Detractor 3"

    poll(scored, "the polled result on the request page")
    step("rq cron's poll brought the result back: the request shows Detractor 3")
    listing = BeautifulSoup(web.get(f"{base}/?rating=detractor", timeout=10).text, "html.parser")
    assert listing.select_one(f"tr[data-request-id='{ticket_id}']") is not None
    pages = [web.get(f"{base}/", timeout=10).status_code for _ in range(30)]
    assert pages == [200] * 30, pages
    step("30 more pages with the same session: all 200 (cookie sessions, any web worker)")
    return {"ticket": ticket_id}


def shared_throttle(base: str) -> int:
    """Bad logins until 429: the count is shared by every gunicorn worker (Redis)."""
    for attempt in range(1, 16):
        _web, answer = login(base, "admin@example.com", "not-the-password")
        if answer.status_code == 429:
            message = BeautifulSoup(answer.text, "html.parser").select_one("main p")
            step(f"bad login #{attempt} answered 429: {message.get_text(strip=True)!r}")
            return attempt
    raise AssertionError("no 429 after 15 bad logins")


def worker_stats(log_dir: Path) -> dict[str, int]:
    """How many jobs each RQ worker finished (from its log)."""
    stats = {}
    for name in ("worker-1", "worker-2"):
        text = (log_dir / f"{name}.log").read_text(errors="replace")
        stats[name] = len(re.findall(r"Job OK|Successfully completed", text))
    return stats


def main() -> int:
    """Start the stack, run the round, print a summary, stop everything."""
    database_url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        print("Run me through scripts/scaleout_smoke.sh (it provides PostgreSQL).")
        return 2
    work = Path(tempfile.mkdtemp(prefix="helpdesk-scaleout-"))
    log_dir = ROOT / "test-artifacts" / "scaleout"
    for old in log_dir.glob("*.log"):
        old.unlink()
    redis_port, emulator_port, web_port = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.pop("TEST_DATABASE_URL", None)
    env.update({
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "THERMOSTAT_BASE_URL": f"http://127.0.0.1:{emulator_port}",
        "THERMOSTAT_POLL_SECONDS": "2",
        "HELPDESK_URL": f"http://127.0.0.1:{web_port}",
        "SECRET_KEY": "scaleout-secret-key-scaleout-secret-key",
        "HELPDESK_INSTANCE_DIR": str(work / "instance"),
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(free_port()),  # no email in this round
        "DB_POOL_SIZE": "5", "DB_MAX_OVERFLOW": "5",
        "RQ_QUEUE": "helpdesk",
        "PYTHONUNBUFFERED": "1",
    })
    stack = Stack(env=env, log_dir=log_dir)
    try:
        stack.start_redis(redis_port, work / "redis")
        step(f"embedded Redis on 127.0.0.1:{redis_port}")
        stack.start_emulator(emulator_port, work / "emulator.sqlite",
                             ["--token", EMULATOR_TOKEN])
        step(f"Thermostat emulator on 127.0.0.1:{emulator_port}")
        stack.flask("db", "upgrade")
        stack.flask("seed-demo")
        step("flask db upgrade + flask seed-demo against PostgreSQL")
        web = stack.start("web", [str(BIN / "gunicorn"), "-w", str(WEB_WORKERS), "-b",
                                  f"127.0.0.1:{web_port}", "--graceful-timeout", "5",
                                  "wsgi:app"])
        wait_http(f"http://127.0.0.1:{web_port}/healthz", "gunicorn", web)
        stack.start_worker("worker-1")
        stack.start_worker("worker-2")
        stack.start_cron()
        step(f"gunicorn -w {WEB_WORKERS} on 127.0.0.1:{web_port}, 2 rq workers, 1 rq cron")
        base = f"http://127.0.0.1:{web_port}"
        survey_round(base, f"http://127.0.0.1:{emulator_port}")
        blocked_at = shared_throttle(base)
        booted = (log_dir / "web.log").read_text().count("Booting worker with pid")
        dead = [p.name for p in stack.dead()]
        jobs = worker_stats(log_dir)
        print("\n=== Scale-out smoke: summary ===")
        print(f"PostgreSQL: {database_url}")
        print(f"gunicorn web workers booted: {booted}")
        print(f"RQ jobs finished per worker: {jobs}")
        print(f"login throttle shared across web workers: 429 at bad login #{blocked_at}")
        print(f"processes that died during the run: {dead or 'none'}")
        print(f"logs: {log_dir}")
        ok = booted == WEB_WORKERS and blocked_at == 11 and not dead and sum(jobs.values()) > 0
        print("RESULT: OK" if ok else "RESULT: FAILED")
        return 0 if ok else 1
    finally:
        stack.stop()
        step("all processes stopped")


START = time.monotonic()

if __name__ == "__main__":
    sys.exit(main())

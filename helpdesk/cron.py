"""Periodic jobs, declared as data for `rq cron helpdesk.cron`. Every run is idempotent."""

import os

from rq import cron

from .mail.jobs import sweep_emails
from .maintenance import nightly_statistics
from .rules.jobs import run_due_automations
from .thermostat.jobs import poll_results, sweep_outbox

QUEUE = os.environ.get("RQ_QUEUE", "helpdesk")

cron.register(poll_results, QUEUE, interval=int(os.environ.get("THERMOSTAT_POLL_SECONDS", "60")),
              job_timeout=600)
cron.register(sweep_outbox, QUEUE, interval=60, job_timeout=120)
cron.register(run_due_automations, QUEUE, interval=60, job_timeout=3600)
cron.register(sweep_emails, QUEUE, interval=60, job_timeout=120)
cron.register(nightly_statistics, QUEUE, cron="17 3 * * *", job_timeout=3600)

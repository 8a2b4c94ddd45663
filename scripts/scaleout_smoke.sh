#!/usr/bin/env bash
# Try the README's "Scale-out" layout on this machine (loopback only):
#   scripts/scaleout_smoke.sh
# A throwaway PostgreSQL 15 (scripts/with_postgres.sh), then scripts/scaleout_smoke.py starts
# an embedded Redis, the emulator, gunicorn -w 3, two rq workers and one rq cron, runs one
# close-to-survey round over HTTP and stops everything. Logs: test-artifacts/scaleout/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own port, so it can run beside a test suite on with_postgres.sh's default.
export PGPORT="${PGPORT:-54341}"
exec scripts/with_postgres.sh .venv/bin/python scripts/scaleout_smoke.py

#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL 15 cluster:
#   scripts/with_postgres.sh make test
# Starts a cluster in a temp dir on a free-ish local port, exports TEST_DATABASE_URL (and
# DATABASE_URL for the command), runs the command, and always stops the cluster.
# initdb refuses root, so as root the cluster runs as the unprivileged `postgres` user.
set -euo pipefail

PGBIN="${PGBIN:-}"
if [[ -z "$PGBIN" ]]; then
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then PGBIN=/usr/lib/postgresql/15/bin
  else PGBIN="$(dirname "$(command -v initdb)")"; fi
fi
PGPORT="${PGPORT:-54329}"
PGDATA="$(mktemp -d /tmp/helpdesk-pg.XXXXXX)"
RUN_AS=()
if [[ "$(id -u)" == "0" ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$PGDATA"
  RUN_AS=(runuser -u postgres --)
fi

cleanup() {
  "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDATA"
}
trap cleanup EXIT

"${RUN_AS[@]}" "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
  -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
"${RUN_AS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres helpdesk_test

export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PGPORT/helpdesk_test"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $PGPORT (TEST_DATABASE_URL=$TEST_DATABASE_URL)"
"$@"

#!/usr/bin/env bash
# Baseline of bench case 1: the steps of `gulp migrate:local --provider embedded`, by hand, with the same binaries.
# initdb (the provider's options) in a private temp dir, start on 127.0.0.1 at a random free port (`pg_ctl -w`: no fixed
# sleeps), create the application role and database as postgres/init/10-app-role.sql does, node-pg-migrate's own CLI
# `up`, `pg_ctl stop -m fast`, rm -rf. As root the server binaries run as $SERVER_USER (PostgreSQL refuses root).
#
# Run from the project folder (the one holding migrations/). Environment (bench/cases/migrate-local.ts sets it):
#   PG_BIN       folder with initdb, pg_ctl, postgres (what the embedded provider picks)
#   PSQL         a psql (the same install's, else the system's)
#   PGMIGRATE    node-pg-migrate's CLI (node_modules/.bin/node-pg-migrate)
#   DB_NAME, DB_USER, DB_PASSWORD   the application database and role (URL-safe characters only)
#   SERVER_USER  OS user the server runs as when we are root (default postgres)
#   MIGRATIONS_DIR  default migrations
set -euo pipefail

: "${PG_BIN:?}" "${PSQL:?}" "${PGMIGRATE:?}" "${DB_NAME:?}" "${DB_USER:?}" "${DB_PASSWORD:?}"
SERVER_USER="${SERVER_USER:-postgres}"
MIGRATIONS_DIR="${MIGRATIONS_DIR:-migrations}"

# "step NAME N ms" on stderr after each step ($EPOCHREALTIME: no extra process), for the bench's notes.
last_mark="$EPOCHREALTIME"
step() {
  local now="$EPOCHREALTIME"
  echo "step $1 $(( (${now//[.,]/} - ${last_mark//[.,]/}) / 1000 )) ms" >&2
  last_mark="$now"
}

uid="$(id -u)"
as_server() {
  if [ "$uid" = 0 ]; then runuser -u "$SERVER_USER" -- "$@"; else "$@"; fi
}

# Traps first: a Ctrl-C at any point after mktemp still stops the server and removes the folder.
tmp=
stop_and_remove() {
  [ -n "$tmp" ] || return 0
  if [ -f "$tmp/data/postmaster.pid" ]; then as_server "$PG_BIN/pg_ctl" -D "$tmp/data" stop -m fast -s >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap stop_and_remove EXIT
trap 'exit 130' INT TERM
tmp="$(mktemp -d "${TMPDIR:-/tmp}/pgmt-bench-sh-XXXXXX")"
chmod 700 "$tmp"
if [ "$uid" = 0 ]; then chown "$SERVER_USER:" "$tmp"; fi

# initdb, as the provider runs it: scram, a random superuser password from a file, UTF8, no locale, no fsync.
super_password="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
(umask 077 && printf '%s' "$super_password" >"$tmp/pw")
if [ "$uid" = 0 ]; then chown "$SERVER_USER:" "$tmp/pw"; fi
as_server "$PG_BIN/initdb" -D "$tmp/data" -U postgres -A scram-sha-256 --pwfile="$tmp/pw" \
  -E UTF8 --no-locale --no-sync --no-instructions >"$tmp/initdb.log"
rm -f "$tmp/pw"
step initdb

# Start on a random port (retry when taken), with the provider's disposable-server settings; -w waits until it accepts.
started=
for _ in 1 2 3; do
  port="$(shuf -i 20000-60999 -n 1)"
  if as_server "$PG_BIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 -s start \
    -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; then
    started=1
    break
  fi
done
[ -n "$started" ] || { tail -n 5 "$tmp/server.log" >&2; exit 1; }
step start

# The application role and database (postgres/init/10-app-role.sql).
PGPASSWORD="$super_password" "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -v app_user="$DB_USER" -v app_password="$DB_PASSWORD" -v app_db="$DB_NAME" <<'SQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
\connect :"app_db"
GRANT ALL ON SCHEMA public TO :"app_user";
SQL
step role+database

# node-pg-migrate's own CLI (one transaction for all, its default), as the application role.
DATABASE_URL="postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$port/$DB_NAME" \
  "$PGMIGRATE" up -m "$MIGRATIONS_DIR" >"$tmp/migrate.log" 2>&1 || { tail -n 20 "$tmp/migrate.log" >&2; exit 1; }
grep -q 'Migrations complete' "$tmp/migrate.log" || { tail -n 20 "$tmp/migrate.log" >&2; exit 1; }
step migrate

as_server "$PG_BIN/pg_ctl" -D "$tmp/data" stop -m fast -s
rm -rf "$tmp"
trap - EXIT
step stop+remove

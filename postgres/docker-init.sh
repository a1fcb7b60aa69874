#!/usr/bin/env bash
# First start of the official postgres image (mounted into /docker-entrypoint-initdb.d): runs every script in
# postgres/init (mounted at /pgmt-init) as superuser in the application database, with the settings the scripts
# read. The tasks run the same scripts themselves for servers they start, so both paths create the same role.
set -euo pipefail
shopt -s nullglob
for script in /pgmt-init/*.sql; do
  echo "pg-migrate-tasks: running ${script##*/}"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v app_user="$APP_DB_USER" -v app_password="$APP_DB_PASSWORD" -v script="$script" <<'EOSQL'
SELECT set_config('pgmt.app_user', :'app_user', false) AS app_user,
       set_config('pgmt.app_password', :'app_password', false) AS app_password \gset ignored_
\i :script
EOSQL
done

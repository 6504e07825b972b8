#!/usr/bin/env bash
# One role and one database per component, on the postgres service of docker-compose.yml:
#   Dagster's instance storage  DAGSTER_POSTGRES_USER / _PASSWORD / _DB  (deploy/dagster/dagster.yaml)
#   the LRS's SQL store         PG_LRS_USER / PG_LRS_PASSWORD / PG_LRS_DB (LRSDB_URL: documents
#                               and clients; tables created by the LRS API on start)
# Each role owns its database and nothing else, and PUBLIC loses CONNECT on both, so Dagster
# cannot open the LRS's documents (keyed by agents' emails) and the LRS cannot open Dagster's.
# The superuser (POSTGRES_USER) is neither of them.
#
# The postgres image runs this once, on the first start of an empty postgres-data volume (it is
# mounted into /docker-entrypoint-initdb.d). Changing a name or password later means changing it
# in the database too (ALTER ROLE ... PASSWORD ...), not only in .env.
set -eo pipefail

: "${POSTGRES_USER:?}" "${DAGSTER_POSTGRES_USER:?}" "${DAGSTER_POSTGRES_PASSWORD:?}" \
  "${DAGSTER_POSTGRES_DB:?}" "${PG_LRS_USER:?}" "${PG_LRS_PASSWORD:?}" "${PG_LRS_DB:?}"

# psql substitutes :"name" as a quoted identifier and :'name' as a quoted literal, so no value is
# ever pasted into SQL text by the shell.
create_owned_database() {
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="$1" -v password="$2" -v db="$3" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create_owned_database "$DAGSTER_POSTGRES_USER" "$DAGSTER_POSTGRES_PASSWORD" "$DAGSTER_POSTGRES_DB"
create_owned_database "$PG_LRS_USER" "$PG_LRS_PASSWORD" "$PG_LRS_DB"

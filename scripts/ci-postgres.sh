#!/usr/bin/env bash
# Makes a PostgreSQL database reachable on 127.0.0.1:5432 for the conformance suite and prints
# its URL: the one in CUSTODIA_TEST_POSTGRES_URL if set, else the machine's own server (started
# if it is stopped, installed from Debian's packages if missing). Progress goes to stderr.
set -euo pipefail

say() { echo "ci-postgres: $*" >&2; }
works() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

if [ -n "${CUSTODIA_TEST_POSTGRES_URL:-}" ]; then
    echo "$CUSTODIA_TEST_POSTGRES_URL"
    exit 0
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    say "installing postgresql"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >&2
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    for _ in $(seq 60); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
fi

# This kind of machine trusts local connections as root to the database `test`.
if works "postgres://root@127.0.0.1:5432/test"; then
    echo "postgres://root@127.0.0.1:5432/test"
    exit 0
fi

# A fresh install authenticates by password over TCP: make a role and a database for CI.
say "creating role and database custodia_ci"
su postgres -c "psql -qc \"DO \\\$\\\$ BEGIN CREATE ROLE custodia_ci LOGIN PASSWORD 'custodia_ci'; EXCEPTION WHEN duplicate_object THEN NULL; END \\\$\\\$\"" >&2
su postgres -c "createdb -O custodia_ci custodia_ci" >&2 2>/dev/null || true
url="postgres://custodia_ci:custodia_ci@127.0.0.1:5432/custodia_ci"
works "$url" || { say "cannot reach PostgreSQL at 127.0.0.1:5432"; exit 1; }
echo "$url"

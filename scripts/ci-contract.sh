#!/usr/bin/env bash
# The HTTP API's contract, checked from outside against a live `custodia serve` over the demo
# ledger: the served OpenAPI document must pass openapi-spec-validator, and schemathesis (every
# check, response schemas included) must find no failure for tokens of several roles.
# Installs both tools from PyPI into a virtualenv under target/ (pinned versions); needs
# python3 with venv and the Rust toolchain. Bounded: a few minutes on two cores.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
VALIDATOR_VERSION=0.9.0
# Examples per operation and phase; the coverage phase adds its own boundary cases.
EXAMPLES=${CONTRACT_EXAMPLES:-10}
SEED=${CONTRACT_SEED:-20261204}

# Python 3.12 or later where there is one: CPython 3.11 before 3.11.8 fails inside
# Hypothesis with "AST constructor recursion depth mismatch" on some of the document's schemas.
python=""
for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 python3; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    python=python3
    echo "warning: no Python 3.12 or later; schemathesis may fail inside Hypothesis on $($python --version)" >&2
fi
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=target/contract-venv-$version
installed=$("$venv/bin/schemathesis" --version 2>/dev/null || true)
installed+=" $("$venv/bin/pip" show openapi-spec-validator 2>/dev/null | grep '^Version:' || true)"
if [ "$installed" != "schemathesis, version $SCHEMATHESIS_VERSION Version: $VALIDATOR_VERSION" ]; then
    echo "==> installing schemathesis $SCHEMATHESIS_VERSION, openapi-spec-validator $VALIDATOR_VERSION (Python $version)"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$VALIDATOR_VERSION"
fi

# The binary `cargo test --workspace` builds for the end-to-end tests (the same features and
# profile, so after the tests in .ci/run nothing is compiled again).
cargo test --workspace --no-run --quiet
bin=target/debug/custodia

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "==> demo ledger ($SECONDS s)"
"$bin" demo --data "$work/data" >"$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }

# Principals that hold the SMS roles in the demo, so that commands reach the domain's rules.
token() {
    "$bin" tokens create --data "$work/data" --principal "$1" --role "$2" 2>/dev/null | head -n 1
}
security_manager=$(token user:sofia.reyes.security@globallogistics.example security_manager)
auditor=$(token user:ines.duarte.audit@globallogistics.example auditor)
subscriber=$(token service:siem subscriber)

"$bin" serve --data "$work/data" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$work/serve.out")
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "custodia serve did not start:" >&2
    cat "$work/serve.err" >&2
    exit 1
fi

echo "==> openapi-spec-validator on $url/v1/openapi.json ($SECONDS s)"
"$venv/bin/python" -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())' \
    "$url/v1/openapi.json" >"$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

# One run per role, side by side, each in the scratch directory (schemathesis keeps a cache
# in its working directory).
config=$PWD/scripts/schemathesis.toml
st=$PWD/$venv/bin/schemathesis
pids=()
for role in security_manager auditor subscriber; do
    # A subscriber may use only the event stream: every other operation answers it 403, which
    # the coverage phase (every parameter's boundaries, every documented status) shows.
    phases=coverage,fuzzing
    [ "$role" = subscriber ] && phases=coverage
    # The event stream never ends, so it is left to the subscription tests (crates/api/tests).
    (cd "$work" && exec "$st" --config-file "$config" run "$url/v1/openapi.json" \
        --phases "$phases" \
        --checks all \
        --header "Authorization: Bearer ${!role}" \
        --exclude-path /v1/events/stream \
        --max-examples "$EXAMPLES" \
        --seed "$SEED" \
        --workers 2 \
        --request-timeout 30 \
        --no-color \
        --output-truncate true) >"$work/schemathesis-$role.log" 2>&1 &
    pids+=("$!")
done
status=0
roles=(security_manager auditor subscriber)
for i in "${!pids[@]}"; do
    role=${roles[$i]}
    if wait "${pids[$i]}"; then
        echo "==> schemathesis as $role: no failure ($SECONDS s)"
        grep -E "^  (Selected|Tested):|generated,|^Seed:" "$work/schemathesis-$role.log" || true
    else
        status=1
        echo "==> schemathesis as $role: FAILED" >&2
        cat "$work/schemathesis-$role.log" >&2
    fi
done
if [ "$status" -ne 0 ]; then
    mkdir -p target/contract
    cp "$work"/schemathesis-*.log "$work/serve.err" target/contract/
    echo "schemathesis logs kept in target/contract/" >&2
fi
if ! kill -0 "$server" 2>/dev/null; then
    echo "custodia serve stopped during the run:" >&2
    cat "$work/serve.err" >&2
    status=1
fi
exit "$status"

#!/usr/bin/env bash
# The main job on the embedded default, end to end, in a fresh temporary directory:
# create a ledger, append the sample ISO 28000 events, sign a checkpoint, export a bundle
# and verify it offline. Needs only Rust; run from anywhere.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-$(mktemp -d)}"
data="$work/custodia-data"
bundle="$work/bundle"

echo "==> building custodia (release)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin custodia
# Through cargo, so that any target directory setting is honoured; it does not rebuild.
custodia() {
    cargo run --release --quiet --manifest-path "$root/Cargo.toml" --bin custodia -- "$@"
}

echo "==> custodia init --data $data --name acme.example/sms"
custodia init --data "$data" --name acme.example/sms

echo "==> custodia append --data $data --file examples/events.jsonl"
custodia append --data "$data" --file "$root/examples/events.jsonl"

echo "==> custodia checkpoint --data $data"
custodia checkpoint --data "$data" | tee "$work/checkpoint.txt"

echo "==> custodia export --data $data --out $bundle"
custodia export --data "$data" --out "$bundle"

echo "==> custodia verify --bundle $bundle --trusted-checkpoint $work/checkpoint.txt"
custodia verify --bundle "$bundle" --trusted-checkpoint "$work/checkpoint.txt"

echo "==> custodia prove inclusion --data $data --seq 3"
custodia prove inclusion --data "$data" --seq 3

echo
echo "All held. The ledger is in $data, the bundle in $bundle."

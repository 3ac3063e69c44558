#!/usr/bin/env bash
# mailroom's main job on the embedded default (SQLite + local Maildir + file
# outbox, no servers): the sample customer mails in examples/inbox flow through
# the Maildir inbox into threaded tickets; acknowledgements and owner
# notifications appear as .eml files. Usage: examples/quickstart.sh [WORKDIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
mr=$repo/target/release/mailroom
work=${1:-$(mktemp -d /tmp/mailroom-quickstart.XXXXXX)}
mkdir -p "$work/mail/inbox/new"
cd "$work"
cp "$repo/examples/quickstart.toml" mailroom.toml
cp "$repo/rules.example.toml" rules.toml
cp "$repo"/examples/inbox/*.eml mail/inbox/new/

step() { printf '\n\033[1m$ mailroom %s\033[0m\n' "$*"; "$mr" "$@"; }
step rules check
step poll --once
step tickets list
step outbox flush
step tickets show MR-1
printf '\n\033[1m$ ls mail/outbox\033[0m\n'; ls mail/outbox
step quarantine
step rules explain mail/inbox/cur/02-dan-export.eml:2,S
printf '\nEverything is in %s (mailroom.db, mail/inbox, mail/outbox).\n' "$work"

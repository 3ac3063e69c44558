#!/usr/bin/env bash
# Instructions, not seconds: `valgrind --tool=callgrind` counts what one
# `mailroom poll --once` executes over the same generated Maildir, for each
# binary given. The count repeats for the same binary and input whatever else
# the machine does, so two builds compare even on a noisy 2-core VM.
#
#   bash scripts/bench-instructions.sh [--messages N] BIN [BIN…]
#
# Generates N mails (default 1,500) once with the ingest bench's generator
# (`cargo bench --bench ingest -- --messages N --keep DIR`, release build of
# this checkout), then per binary: the mails back into a fresh Maildir, a
# fresh SQLite database, `migrate`, and `poll --once` under callgrind. Prints
# each binary's total instructions (Ir) and the check that every mail was
# processed. Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."

messages=1500
if [ "${1:-}" = --messages ]; then
  messages=$2
  shift 2
fi
[ $# -ge 1 ] || { echo "usage: $0 [--messages N] BIN [BIN…]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/mailroom-instructions.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "generating $messages mails (the ingest bench, release build)…" >&2
cargo bench --quiet --bench ingest -- --messages "$messages" --keep "$work/gen" >/dev/null 2>"$work/gen.log" \
  || { cat "$work/gen.log" >&2; exit 1; }
# The bench ran poll --once over them: every mail is in cur/ now.
mails=$work/mails
mkdir -p "$mails"
find "$work/gen/mail/inbox/cur" "$work/gen/mail/inbox/new" -type f -exec cp {} "$mails/" \;
count=$(ls "$mails" | wc -l)
[ "$count" -eq "$messages" ] || { echo "expected $messages mails, found $count" >&2; exit 1; }

for bin in "$@"; do
  run=$work/run
  rm -rf "$run"
  mkdir -p "$run/mail/inbox/new" "$run/mail/inbox/cur" "$run/mail/inbox/tmp"
  # Names without the ":2,S" flags the first run added: new mail again.
  for f in "$mails"/*; do
    cp "$f" "$run/mail/inbox/new/$(basename "$f" | sed 's/:2,.*$//')"
  done
  sed "s#$work/gen#$run#g" "$work/gen/mailroom.toml" > "$run/mailroom.toml"
  "$bin" --config "$run/mailroom.toml" migrate >/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$run/callgrind.out" \
    "$bin" --config "$run/mailroom.toml" poll --once >"$run/out.txt" 2>"$run/valgrind.txt"
  ir=$(grep -m1 '^summary:' "$run/callgrind.out" | awk '{print $2}')
  printf '%s\t%s instructions\t%s\n' "$bin" "$ir" "$(tail -n 1 "$run/out.txt")"
done

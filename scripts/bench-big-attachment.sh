#!/usr/bin/env bash
# Memory with one large mail (DESIGN §11: a 30 MiB attachment ingests with peak
# RSS < 200 MiB). Builds the release binary, ingests one generated mail with a
# 30 MiB attachment into a fresh SQLite database, flushes the outbox (the owner's
# notification carries the attachment), and prints peak RSS of each step.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
mr=$repo/target/release/mailroom
work=$(mktemp -d /tmp/mailroom-big.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
{
  printf 'From: big@customer.test\r\nTo: support@localhost\r\nSubject: huge log\r\n'
  printf 'Message-ID: <big1@customer.test>\r\nMIME-Version: 1.0\r\n'
  printf 'Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
  printf -- '--XX\r\nContent-Type: application/octet-stream; name=dump.bin\r\n'
  printf 'Content-Disposition: attachment; filename=dump.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n'
  head -c $((30 * 1024 * 1024)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'
  printf -- '--XX--\r\n'
} > big.eml
printf '[mailroom]\nsupport_address = "support@localhost"\ndefault_owner = "bob@localhost"\n[[agent]]\nemail = "bob@localhost"\n' > mailroom.toml
echo "mail: $(stat -c %s big.eml) bytes"
/usr/bin/time -f "ingest: %e s, peak RSS %M KiB" "$mr" ingest big.eml
/usr/bin/time -f "outbox flush: %e s, peak RSS %M KiB" "$mr" outbox flush

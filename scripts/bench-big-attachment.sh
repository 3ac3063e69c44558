#!/usr/bin/env bash
# Memory with one large mail (DESIGN §11: a 30 MiB attachment ingests with peak
# RSS < 200 MiB). Builds the release binary, ingests one generated mail with a
# 30 MiB attachment into a fresh database, flushes the outbox (the owner's
# notification carries the attachment), and prints peak RSS of each step.
#
#   bash scripts/bench-big-attachment.sh              # SQLite in a temp dir (default)
#   bash scripts/bench-big-attachment.sh --postgres   # a fresh PostgreSQL database
#
# --postgres creates a uniquely named database with psql on the server of
# MAILROOM_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres,
# trust auth; its database part is only used to connect for CREATE and DROP)
# and drops it at exit. Every line printed starts with the backend.
# CARGO_TARGET_DIR is honoured (the binary is taken from there).
set -euo pipefail
backend=sqlite
case "${1:-}" in
  '') ;;
  --postgres) backend=postgres ;;
  *) echo "usage: $0 [--postgres]" >&2; exit 2 ;;
esac
repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
target=${CARGO_TARGET_DIR:-$repo/target}
case "$target" in /*) ;; *) target=$PWD/$target ;; esac
mr=$target/release/mailroom
work=$(mktemp -d /tmp/mailroom-big.XXXXXX)
admin_url=${MAILROOM_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=''
database='' # the [database] section; none: SQLite in the work dir
cleanup() {
  # Runs on every exit: the database goes too, not only the files.
  if [ -n "$db" ]; then
    psql -q -X -v ON_ERROR_STOP=1 "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null ||
      echo "[$backend] warning: could not drop database $db" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '[%s] %s\n' "$backend" "$*"; }
cd "$work"
if [ "$backend" = postgres ]; then
  # Unique per run (pid + time + random), a valid unquoted identifier.
  name=mailroom_big_$$_$(date +%s)_$RANDOM
  psql -q -X -v ON_ERROR_STOP=1 "$admin_url" -c "CREATE DATABASE $name" >/dev/null
  db=$name # from here on, dropped at exit
  # The same server and credentials, the new database (query string kept).
  base=${admin_url%%\?*}
  query=${admin_url#"$base"}
  database=$(printf '[database]\nurl = "%s/%s%s"' "${base%/*}" "$db" "$query")
  say "database: $db on ${base%/*}"
else
  say "database: $work/mailroom.db (the default url, sqlite://./mailroom.db)"
fi
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
printf '%s\n' "$database" >> mailroom.toml
say "mail: $(stat -c %s big.eml) bytes"

# Runs and times one step; its output and the figures, each line tagged.
step() {
  local name=$1
  shift
  if ! /usr/bin/time -o time.txt -f '%e %M' "$@" > out.txt 2>&1; then
    sed "s/^/[$backend] $name: /" out.txt time.txt >&2
    say "$name: FAILED"
    exit 1
  fi
  sed "s/^/[$backend] $name: /" out.txt
  read -r secs kib < time.txt
  say "$name: $secs s, peak RSS $kib KiB ($(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB)"
}
step ingest "$mr" ingest big.eml
step "outbox flush" "$mr" outbox flush

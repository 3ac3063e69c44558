#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests of the pure core, and the
# integration tests through the real binary on SQLite AND PostgreSQL, plus the
# real-world corpus test (../shared/corpus, when present).
#
# Needs: a Rust toolchain; PostgreSQL on 127.0.0.1:5432 (started here if it is
# installed but stopped; installed with apt-get when missing and we are root);
# Dovecot and Postfix binaries (installed with apt-get when missing; the tests
# start private instances of them per test, see scripts/mailenv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

pg_url=${MAILROOM_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; then
    return 0
  fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "PostgreSQL is not running on 127.0.0.1:5432 and not installed; install it (apt-get install postgresql) or set MAILROOM_TEST_PG_URL" >&2
      exit 1
    fi
    log "installing PostgreSQL (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    installed_here=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q && break
    sleep 1
  done
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL did not start" >&2; exit 1; }
  if [ "${installed_here:-0}" = 1 ] && [ -z "${MAILROOM_TEST_PG_URL:-}" ]; then
    # A stock Debian cluster wants a password over TCP: give the test user one.
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'mailroom-test'\"" >/dev/null
    pg_url=postgres://postgres:mailroom-test@127.0.0.1:5432/postgres
  fi
}

ensure_postgres
export MAILROOM_TEST_PG_URL=$pg_url

log "Dovecot + Postfix for the IMAP tests"
bash scripts/mailenv.sh install
/usr/sbin/dovecot --version
/usr/sbin/postconf -h mail_version

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (warnings are errors)"
cargo clippy --all-targets --quiet -- -D warnings

log "cargo test (unit + integration on SQLite and PostgreSQL + corpus)"
# Benches are commands, not tests: they are not run here.
set +e
cargo test --lib --bins --tests -- --nocapture 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "test run failed (exit $status)" >&2
  exit "$status"
fi
grep -q 'test result: ok' target/test-output.log || { echo "no test results found" >&2; exit 1; }
echo "all tests passed"

#!/usr/bin/env bash
# mailenv.sh: private Dovecot (IMAP + LMTP) and Postfix (SMTP -> LMTP) instances
# for the integration tests, one short temp directory per instance, on 127.0.0.1.
# Nothing reads /etc/dovecot or /etc/postfix; no mail ever leaves the machine.
# Usage and what tests must know: README-mailenv.md next to this script.
#
#   mailenv.sh install
#   mailenv.sh start DIR IMAP_PORT IMAPS_PORT SMTP_PORT LMTP_PORT
#   mailenv.sh stop DIR
#   mailenv.sh stop-dovecot DIR | start-dovecot DIR
#   mailenv.sh stop-postfix DIR | start-postfix DIR
#   mailenv.sh reset-uidvalidity DIR USER
#   mailenv.sh deliver-count DIR USER
#
# USER is a full address (support@example.test) or just the local part (support).
#
# MAILENV_EXTRA_USERS (for `start`): more users, full addresses separated by
# spaces (help@example.test c1@customers.test ...), same password. Their
# domains are delivered into Dovecot like example.test (not to the catch-all).
set -euo pipefail

readonly DOMAIN=example.test
readonly USERS="support sales catchall"
readonly PASSWORD=secret
readonly MAIL_UID=8 # the stock Debian "mail" user: Dovecot refuses to touch mail as root
# Absolute paths: a test runner's PATH may lack /usr/sbin.
readonly DOVECOT=/usr/sbin/dovecot
readonly POSTFIX=/usr/sbin/postfix
readonly POSTFIX_MASTER=/usr/lib/postfix/sbin/master
readonly WAIT_SECS=10
EXTRA_USERS=${MAILENV_EXTRA_USERS:-}

die() {
  echo "mailenv: error: $*" >&2
  exit 1
}
warn() { echo "mailenv: warning: $*" >&2; }

usage() {
  sed -n '/^#   mailenv.sh install/,/^# USER is/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------
# install

need_install() {
  [ -x "$DOVECOT" ] && [ -x "$POSTFIX" ] && command -v openssl >/dev/null &&
    [ -x /usr/lib/dovecot/imap ] && [ -x /usr/lib/dovecot/lmtp ] && return 1
  return 0
}

cmd_install() {
  need_install || return 0
  [ "$(id -u)" -eq 0 ] || die "dovecot/postfix/openssl missing and not root: cannot apt-get install them"
  # Remember what was running before, so we only stop system instances apt started.
  local dv_before pf_before
  dv_before=$(system_pid /run/dovecot/master.pid)
  pf_before=$(system_pid /var/spool/postfix/pid/master.pid)
  local pkgs="dovecot-imapd dovecot-lmtpd postfix openssl"
  echo "mailenv: installing $pkgs" >&2
  # Never install Exim/OpenSMTPD next to it: apt would remove Postfix (conflicts).
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >/tmp/mailenv-apt.log 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>/tmp/mailenv-apt.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >>/tmp/mailenv-apt.log 2>&1 ||
      { tail -n 20 /tmp/mailenv-apt.log >&2; die "apt-get install $pkgs failed (log: /tmp/mailenv-apt.log)"; }
  fi
  need_install && die "packages installed but dovecot/postfix/openssl still missing"
  # The packages may start system services on the standard ports (25, 143, 993):
  # our instances never use them, so stop what the install started (by pid).
  local pid
  pid=$(system_pid /run/dovecot/master.pid)
  [ -n "$pid" ] && [ -z "$dv_before" ] && { kill -TERM "$pid" 2>/dev/null || true; wait_session_gone "$pid" || true; }
  pid=$(system_pid /var/spool/postfix/pid/master.pid)
  [ -n "$pid" ] && [ -z "$pf_before" ] && { kill -TERM "$pid" 2>/dev/null || true; wait_session_gone "$pid" || true; }
  return 0
}

# pid of a live process from a system pid file, or empty
system_pid() {
  local pid
  pid=$(read_pid "$1")
  [ -n "$pid" ] && alive "$pid" && echo "$pid"
  return 0
}

# ---------------------------------------------------------------------------
# process helpers (pid files, sessions)

read_pid() { # first number in a pid file (Postfix pads it with spaces), or empty
  local line=""
  [ -r "$1" ] && { read -r line <"$1"; } 2>/dev/null
  line=${line//[^0-9]/}
  echo "$line"
}

alive() { # running and not a zombie (a reaped-late zombie still answers kill -0)
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

session_pids() { # live pids in session $1; both masters setsid(), their children stay in it
  local sid=$1 f stat
  for f in /proc/[0-9]*/stat; do
    { read -r stat <"$f"; } 2>/dev/null || continue
    # fields after "(comm) ": state ppid pgrp session ...
    set -- ${stat##*) }
    if [ "${4:-}" = "$sid" ] && [ "$1" != Z ]; then
      f=${f#/proc/}
      echo "${f%/stat}"
    fi
  done
  return 0
}

wait_session_gone() { # wait until no process of session $1 is left
  local i
  for ((i = 0; i < WAIT_SECS * 20; i++)); do
    [ -z "$(session_pids "$1")" ] && return 0
    sleep 0.05
  done
  return 1
}

dovecot_pid() { # pid of THIS DIR's Dovecot master, or empty (stale pid file / pid reused)
  local pid
  pid=$(read_pid "$DIR/run/master.pid")
  [ -n "$pid" ] && alive "$pid" &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/dovecot.conf" && echo "$pid"
  return 0
}

postfix_pid() { # pid of THIS DIR's Postfix master: the master binary, cwd = our queue dir
  local pid
  pid=$(read_pid "$DIR/spool/pid/master.pid")
  [ -n "$pid" ] && alive "$pid" &&
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$POSTFIX_MASTER" ] &&
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$DIR/spool" ] && echo "$pid"
  return 0
}

# SIGTERM a master (what `dovecot stop` / `postfix stop` do, but by pid, never by
# name: other instances run beside it), then wait for it AND its children (they
# share its session). Also cleans up after a master that was SIGKILLed: its pid
# file is stale and any children still alive are in the session it led.
stop_master() { # stop_master NAME PIDFILE OUR_PID EXE_DIR [ALL_BUT_EXE]
  local name=$1 pidfile=$2 pid=$3 exe_dir=$4 spare=${5:-} sid left p exe
  sid=$(read_pid "$pidfile")
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    # With ALL_BUT_EXE, the master's children get SIGTERM too (all of them
    # but that one), as systemd does for a whole service (KillMode=control-group).
    if [ -n "$spare" ]; then
      for p in $(session_pids "$sid"); do
        exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
        case $exe in
        "$exe_dir/$spare") ;;
        "$exe_dir"/*) kill -TERM "$p" 2>/dev/null || true ;;
        esac
      done
    fi
    wait_session_gone "$sid" || warn "$name did not stop within ${WAIT_SECS}s"
  fi
  # Leftovers, only if the session is ours: our master, or a dead/zombie one
  # (a live process with that pid that is not our master belongs to someone
  # else, e.g. another instance), and only this service's binaries.
  if [ -n "$sid" ] && { [ -n "$pid" ] || ! alive "$sid"; }; then
    left=""
    [ -n "$pid" ] && alive "$pid" && left=" $pid"
    for p in $(session_pids "$sid"); do
      case $(readlink "/proc/$p/exe" 2>/dev/null) in
      "$exe_dir"/*) [ "$p" = "$pid" ] || left="$left $p" ;;
      esac
    done
    if [ -n "$left" ]; then
      warn "killing leftover $name processes:$left"
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null || true
      sleep 0.2
      for p in $left; do
        ! alive "$p" || die "$name process $p is still alive"
      done
    fi
  fi
  # A dead (or zombie) master's pid file makes the next start refuse: remove it.
  rm -f "$pidfile"
}

# ---------------------------------------------------------------------------
# ports

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports_free() {
  local p
  for p in "$@"; do
    port_open "$p" && die "port $p on 127.0.0.1 is already in use (another instance? run: $0 stop DIR)"
  done
  return 0
}

wait_ports() { # wait_ports PORT...: until all accept connections, else show logs and fail
  local p i
  for p in "$@"; do
    for ((i = 0; i < WAIT_SECS * 50; i++)); do
      port_open "$p" && continue 2
      sleep 0.02
    done
    echo "mailenv: port $p did not open within ${WAIT_SECS}s; last log lines:" >&2
    show_logs
    die "start failed (port $p)"
  done
}

show_logs() {
  local f
  for f in "$DIR/dovecot.log" "$DIR/postfix.log"; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 25 "$f" >&2; }
  done
  return 0
}

# ---------------------------------------------------------------------------
# the instance directory

set_dir() { # set_dir DIR [create]: absolute, short, o+x all the way up
  [ -n "${1:-}" ] || usage
  DIR=$(realpath -m -- "$1")
  # Unix socket paths are limited to 107 bytes (Postfix queue + Dovecot base_dir).
  [ "${#DIR}" -le 60 ] || die "$DIR is ${#DIR} chars; keep it <= 60 (unix socket paths are limited to 107 bytes)"
  if [ "${2:-}" = create ]; then
    mkdir -p -- "$DIR" || die "cannot create $DIR"
  fi
  [ -d "$DIR" ] || die "$DIR is not a directory"
  if [ "${2:-}" = create ]; then
    chmod 755 "$DIR" # mktemp -d makes 0700; Dovecot runs mail processes as uid 8
  fi
  # uid 8 must be able to traverse every parent to reach the Maildirs.
  local d=$DIR
  while [ "$d" != / ]; do
    d=$(dirname "$d")
    [ "$(($(stat -c %#a "$d") & 1))" -eq 1 ] || die "parent $d is not o+x (chmod o+x it or use another dir, e.g. under /tmp)"
  done
  [ "$(($(stat -c %#a "$DIR") & 5))" -eq 5 ] || die "$DIR must be o+rx (chmod 755)"
}

load_ports() {
  [ -f "$DIR/mailenv.env" ] || die "$DIR has no mailenv.env: run '$0 start $DIR ...' first"
  # shellcheck disable=SC1091
  . "$DIR/mailenv.env"
}

user_addr() { # support -> support@example.test
  case $1 in
  *@*) echo "$1" ;;
  *) echo "$1@$DOMAIN" ;;
  esac
}

maildir_of() {
  local u
  u=$(user_addr "$1")
  [[ $u =~ ^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$ ]] || die "bad user '$1'"
  echo "$DIR/mail/$u"
}

write_tls() {
  # Generated once per DIR and kept: tests may already trust DIR/tls/cert.pem.
  # The cert is self-signed with CA:FALSE: rustls/webpki rejects a server cert
  # that says CA:TRUE (CaUsedAsEndEntity), and openssl req -x509 sets CA:TRUE by
  # default. A CA:FALSE self-signed cert still works as its own trust anchor
  # (load it as ca_file / root store). SANs cover "localhost" and 127.0.0.1.
  mkdir -p "$DIR/tls"
  [ -s "$DIR/tls/cert.pem" ] && [ -s "$DIR/tls/key.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 3650 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" >"$DIR/tls/openssl.log" 2>&1 ||
    { cat "$DIR/tls/openssl.log" >&2; die "openssl req failed"; }
  chmod 600 "$DIR/tls/key.pem"
  chmod 644 "$DIR/tls/cert.pem"
}

# Every user's full address: the stock ones, then MAILENV_EXTRA_USERS.
all_users() {
  local u
  for u in $USERS; do echo "$u@$DOMAIN"; done
  for u in $EXTRA_USERS; do echo "$u"; done
}

# The domains Postfix delivers into Dovecot: example.test and those of the extra users.
mail_domains() {
  { echo "$DOMAIN"; for u in $EXTRA_USERS; do echo "${u#*@}"; done; } | sort -u
}

write_users() {
  local addr
  mkdir -p "$DIR/mail"
  chown "$MAIL_UID:$MAIL_UID" "$DIR/mail"
  chmod 755 "$DIR/mail"
  : >"$DIR/passwd"
  chmod 600 "$DIR/passwd" # root-owned: hence `service auth { user = root }`
  for addr in $(all_users); do
    # user:password:uid:gid:gecos:home:shell  (uid/gid come from mail_uid/mail_gid)
    echo "$addr:{PLAIN}$PASSWORD::::::" >>"$DIR/passwd"
    # Pre-create the Maildir so deliver-count works before the first delivery.
    mkdir -p "$DIR/mail/$addr/cur" "$DIR/mail/$addr/new" "$DIR/mail/$addr/tmp"
    chown -R "$MAIL_UID:$MAIL_UID" "$DIR/mail/$addr"
    chmod 700 "$DIR/mail/$addr"
  done
}

# ---------------------------------------------------------------------------
# Dovecot

write_dovecot_conf() {
  mkdir -p "$DIR/state"
  cat >"$DIR/dovecot.conf" <<EOF
# Generated by scripts/mailenv.sh; private instance, never reads /etc/dovecot.
# Own base_dir/state_dir/instance_name/log so instances never share sockets.
instance_name = mailenv-$(printf %s "$DIR" | cksum | cut -d' ' -f1)
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1

ssl = yes
ssl_cert = <$DIR/tls/cert.pem
ssl_key = <$DIR/tls/key.pem
# LOGIN without TLS on loopback too (STARTTLS is still offered).
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong-password tests must not delay the others (default 2 s); the anvil
# penalty (2..15 s per IP) is disabled by deleting its socket after start.
# Dovecot 2.3.19 still answers a failed login only on its next 500 ms failure
# tick (AUTH_FAILURE_DELAY_CHECK_MSECS; the auth_failure_delay=0 bypass came in
# a later version): ~0.5 s per failed login, constant, other logins unaffected.
auth_failure_delay = 0
auth_verbose = yes

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/passwd
}
$(fast_auth_fail_passdb)
userdb {
  driver = passwd-file
  args = username_format=%u $DIR/passwd
}
# The passwd file is root-owned 0600. Postfix authenticates SMTP clients
# (AUTH PLAIN/LOGIN, optional: loopback may also send without) through this socket.
service auth {
  user = root
  unix_listener $DIR/spool/private/auth {
    user = postfix
    group = postfix
    mode = 0660
  }
}

# Mail processes refuse to run as root: use the stock "mail" user (uid/gid 8).
mail_uid = $MAIL_UID
mail_gid = $MAIL_UID
first_valid_uid = $MAIL_UID
first_valid_gid = $MAIL_UID
mail_location = maildir:$DIR/mail/%u
mail_fsync = never
# support+token@ must reach support@ (Postfix uses the same delimiter).
recipient_delimiter = +

protocol imap {
  # default 10 per user+IP; every test client is 127.0.0.1
  mail_max_userip_connections = 200
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}

service lmtp {
  # For Postfix: inside its queue dir (it runs unchrooted, path relative to it).
  unix_listener $DIR/spool/private/dovecot-lmtp {
    user = postfix
    group = postfix
    mode = 0600
  }
  # For tests that seed mail fast without going through SMTP.
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
EOF
}

# MAILENV_FAST_AUTH_FAIL=1: answer failed logins at once instead of after the
# 0.5 s tick, via a last passdb that accepts anyone with nologin+nodelay. The
# reply then differs from a real server's: "NO [CONTACTADMIN] Login disabled
# for this user" instead of "NO [AUTHENTICATIONFAILED] Authentication failed.".
fast_auth_fail_passdb() {
  [ "${MAILENV_FAST_AUTH_FAIL:-0}" = 1 ] || return 0
  printf '%s\n' 'passdb {' '  driver = static' '  args = nopassword=y nologin=y nodelay=y' '}'
}

start_dovecot() {
  local pid
  pid=$(dovecot_pid)
  [ -z "$pid" ] || die "Dovecot for $DIR is already running (pid $pid)"
  # A SIGKILLed master can linger as a zombie; its pid file makes dovecot refuse
  # to start ("already running"): it is not ours/alive, so drop it.
  rm -f "$DIR/run/master.pid"
  check_ports_free "$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT"
  # The LMTP socket lives in Postfix's queue dir, which must exist first.
  make_postfix_dirs
  # stdin/stdout/stderr to files: the Dovecot log process keeps the caller's
  # stdout/stderr open, and a parent that captures our output would hang.
  if ! "$DOVECOT" -c "$DIR/dovecot.conf" </dev/null >>"$DIR/dovecot.log" 2>&1; then
    show_logs
    die "dovecot failed to start"
  fi
  # Disable the per-IP auth failure penalty: the auth process connects to this
  # socket when it starts (on the first login) and gives up if it is missing.
  # Must happen before anything connects, i.e. before wait_ports.
  rm -f "$DIR/run/anvil-auth-penalty"
}

stop_dovecot() {
  # SIGTERM to the master alone is not enough: its children only notice it is
  # gone and then wait for their clients. An imap process whose client was
  # active in the last 10 s (e.g. just entered IDLE) lingers 10 s, an
  # imap-login with a connected, not logged in client until the login timeout.
  # So SIGTERM every child but the log process (which exits last, by itself,
  # keeping the last lines): clients get "* BYE Server shutting down." at once.
  stop_master dovecot "$DIR/run/master.pid" "$(dovecot_pid)" /usr/lib/dovecot log
}

# ---------------------------------------------------------------------------
# Postfix

write_postfix_conf() {
  local pf=$DIR/postfix domains alternatives
  mkdir -p "$pf"
  domains=$(mail_domains | tr '\n' ' ')
  # example\.test|customers\.test for the catch-all's negated regexp
  alternatives=$(mail_domains | sed 's/\./\\./g' | paste -sd '|')
  cat >"$pf/main.cf" <<EOF
# Generated by scripts/mailenv.sh; private instance, never reads /etc/postfix.
compatibility_level = 3.6
queue_directory = $DIR/spool
data_directory = $DIR/pfdata
maillog_file = $DIR/postfix.log
maillog_file_prefixes = $DIR
mail_owner = postfix
setgid_group = postdrop

myhostname = mx.mailenv.localhost
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP mailenv
smtpd_peername_lookup = no
biff = no

# Nothing is local; example.test goes to Dovecot over LMTP.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
virtual_mailbox_domains = $domains
virtual_transport = lmtp:unix:private/dovecot-lmtp
# One recipient per LMTP transaction, so Dovecot adds Delivered-To.
lmtp_destination_recipient_limit = 1
recipient_delimiter = +

# Catch-all: any recipient outside $domains is rewritten to catchall@$DOMAIN, so
# no mail ever leaves the machine. (A regexp catch-all needs
# virtual_alias_domains empty, else every user is "unknown in virtual alias table".)
virtual_alias_domains =
virtual_alias_maps = regexp:$pf/virtual_alias.regexp
# Recipients refused at RCPT time (refuse.regexp: refused-* for good, later-*
# for now), so tests see a real server refuse some recipients of a mail.
# smtpd checks the address as the client gave it, before the catch-all
# rewrite (that happens later, in cleanup). Relaying is still decided by
# smtpd_relay_restrictions (mynetworks, SASL).
smtpd_recipient_restrictions = check_recipient_access regexp:$pf/refuse.regexp
# Mail refused after its data (header_checks.regexp: a To naming reject-data-*),
# so tests see a real server refuse a mail whose recipients it took.
header_checks = regexp:$pf/header_checks.regexp
# Belt and braces: if anything still tried to go out, it bounces.
default_transport = error:mailenv delivers only to $DOMAIN
relay_transport = error:mailenv delivers only to $DOMAIN

# Fast test feedback.
in_flow_delay = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000

# SMTP AUTH against Dovecot's users (optional: mynetworks may send without it).
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes

# STARTTLS with the instance's self-signed cert (clients trust DIR/tls/cert.pem).
smtpd_tls_cert_file = $DIR/tls/cert.pem
smtpd_tls_key_file = $DIR/tls/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1

# Big-attachment tests (30 MiB attachment = 40 MiB of base64).
message_size_limit = 104857600
mailbox_size_limit = 0
virtual_mailbox_limit = 0
EOF
  cat >"$pf/virtual_alias.regexp" <<EOF
!/@($alternatives)\$/ catchall@$DOMAIN
EOF
  # Tests may rewrite this file and restart Postfix (MailEnv::refuse).
  cat >"$pf/refuse.regexp" <<EOF
/^refused-/ 550 5.1.1 mailbox unavailable
/^later-/ 450 4.2.0 try again later
EOF
  cat >"$pf/header_checks.regexp" <<EOF
/^To:.*reject-data-/ REJECT 5.7.1 content refused
EOF
  # Every service unchrooted (chroot = n): the queue dir has no chroot jail
  # files, and the LMTP socket path must resolve. postlog is required by maillog_file.
  cat >"$pf/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
EOF
  # Postfix waits ~2 s at start when main.cf/maps are younger than ~1-2 s.
  touch -d '-1 minute' "$pf/main.cf" "$pf/master.cf" "$pf/virtual_alias.regexp" "$pf/refuse.regexp" "$pf/header_checks.regexp"
}

# The queue and data dirs as /etc/postfix/postfix-files wants them. Making them
# here lets `postfix start` skip its integrity checks (the quick-start file):
# they cost 0.2-0.4 s per start and only (re)create exactly these dirs.
make_postfix_dirs() {
  local q=$DIR/spool d
  install -d -o root -g root -m 755 "$q" "$q/pid"
  install -d -o postfix -g root -m 700 "$DIR/pfdata" # master.lock etc.
  for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
    install -d -o postfix -g root -m 700 "$q/$d"
  done
  install -d -o postfix -g postdrop -m 730 "$q/maildrop"
  install -d -o postfix -g postdrop -m 710 "$q/public"
}

start_postfix() {
  local pid
  pid=$(postfix_pid)
  [ -z "$pid" ] || die "Postfix for $DIR is already running (pid $pid)"
  rm -f "$DIR/spool/pid/master.pid"
  check_ports_free "$SMTP_PORT"
  make_postfix_dirs
  touch "$DIR/spool/quick-start"
  # Output to the log file (same reason as Dovecot: don't hold the caller's pipes).
  if ! "$POSTFIX" -c "$DIR/postfix" start </dev/null >>"$DIR/postfix.log" 2>&1; then
    show_logs
    die "postfix failed to start"
  fi
}

stop_postfix() {
  stop_master postfix "$DIR/spool/pid/master.pid" "$(postfix_pid)" /usr/lib/postfix/sbin
}

# ---------------------------------------------------------------------------
# subcommands

cmd_start() {
  [ $# -eq 5 ] || usage
  local p
  for p in "$2" "$3" "$4" "$5"; do
    [[ $p =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port '$p'"
  done
  need_install && die "dovecot/postfix/openssl not installed: run '$0 install' (as root)"
  [ "$(id -u)" -eq 0 ] || die "must run as root (Dovecot/Postfix masters need it)"
  local u
  for u in $EXTRA_USERS; do
    [[ $u =~ ^[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$ ]] || die "MAILENV_EXTRA_USERS: bad address '$u'"
  done
  set_dir "$1" create
  IMAP_PORT=$2 IMAPS_PORT=$3 SMTP_PORT=$4 LMTP_PORT=$5
  [ -z "$(dovecot_pid)$(postfix_pid)" ] || die "an instance is already running in $DIR: run '$0 stop $DIR' first"
  check_ports_free "$IMAP_PORT" "$IMAPS_PORT" "$SMTP_PORT" "$LMTP_PORT"
  cat >"$DIR/mailenv.env" <<EOF
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
SMTP_PORT=$SMTP_PORT
LMTP_PORT=$LMTP_PORT
EOF
  write_tls
  write_users
  write_dovecot_conf
  write_postfix_conf
  # A failed start must not leave half an instance running.
  trap 'echo "mailenv: stopping what was started in $DIR" >&2; stop_postfix || true; stop_dovecot || true' EXIT
  # Dovecot first: Postfix delivers into its LMTP socket.
  start_dovecot
  start_postfix
  wait_ports "$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT" "$SMTP_PORT"
  [ -S "$DIR/spool/private/dovecot-lmtp" ] || { show_logs; die "Dovecot LMTP socket missing"; }
  trap - EXIT
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  set_dir "$1"
  stop_postfix # first: it delivers into Dovecot
  stop_dovecot
}

cmd_start_dovecot() {
  [ $# -eq 1 ] || usage
  set_dir "$1"
  [ -f "$DIR/dovecot.conf" ] || die "$DIR has no dovecot.conf: run '$0 start' first"
  load_ports
  start_dovecot
  wait_ports "$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT"
}

cmd_stop_dovecot() {
  [ $# -eq 1 ] || usage
  set_dir "$1"
  stop_dovecot
}

cmd_start_postfix() {
  [ $# -eq 1 ] || usage
  set_dir "$1"
  [ -f "$DIR/postfix/main.cf" ] || die "$DIR has no postfix/main.cf: run '$0 start' first"
  load_ports
  start_postfix
  wait_ports "$SMTP_PORT"
}

cmd_stop_postfix() {
  [ $# -eq 1 ] || usage
  set_dir "$1"
  stop_postfix
}

# New UIDVALIDITY for USER's INBOX, same messages ("folder recreated"): with
# Dovecot stopped, drop the Maildir's uidlist and indexes. On the next access
# Dovecot rebuilds them, renumbers UIDs from 1 and takes a new UIDVALIDITY from
# dovecot-uidvalidity (kept), which only ever increases.
cmd_reset_uidvalidity() {
  [ $# -eq 2 ] || usage
  set_dir "$1"
  load_ports
  local md was_running
  md=$(maildir_of "$2")
  [ -d "$md/cur" ] || die "no Maildir $md"
  was_running=$(dovecot_pid)
  stop_dovecot
  rm -f "$md"/dovecot-uidlist "$md"/dovecot-uidlist.lock "$md"/dovecot.index* "$md"/dovecot.list.index*
  if [ -n "$was_running" ]; then
    start_dovecot
    wait_ports "$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT"
  fi
}

cmd_deliver_count() {
  [ $# -eq 2 ] || usage
  set_dir "$1"
  local md
  md=$(maildir_of "$2")
  [ -d "$md" ] || die "no Maildir $md"
  find "$md/new" "$md/cur" -maxdepth 1 -type f 2>/dev/null | wc -l
}

main() {
  [ $# -ge 1 ] || usage
  local cmd=$1
  shift
  case $cmd in
  install) cmd_install "$@" ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  start-dovecot) cmd_start_dovecot "$@" ;;
  stop-dovecot) cmd_stop_dovecot "$@" ;;
  start-postfix) cmd_start_postfix "$@" ;;
  stop-postfix) cmd_stop_postfix "$@" ;;
  reset-uidvalidity) cmd_reset_uidvalidity "$@" ;;
  deliver-count) cmd_deliver_count "$@" ;;
  -h | --help | help) usage ;;
  *)
    echo "mailenv: unknown command '$cmd'" >&2
    usage
    ;;
  esac
}

main "$@"

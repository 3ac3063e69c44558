#!/usr/bin/env bash
# mailroom's main job on the embedded default (SQLite + local Maildir + file
# outbox, no servers): the sample customer mails in examples/inbox flow through
# the Maildir inbox into threaded tickets; acknowledgements and owner
# notifications appear as .eml files. Then the owner of MR-1 answers from a
# mail client (the notification quoted below, a command on top) after a
# colleague's internal note, and the clean relay to the customer appears in
# the outbox; last, the manager's next digest so far. Usage: examples/quickstart.sh [WORKDIR]
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

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { bold "\$ mailroom $*"; "$mr" "$@"; }
step rules check
step poll --once
step tickets list
step outbox flush
step tickets show MR-1
bold "\$ ls mail/outbox"; ls mail/outbox
step quarantine
step rules explain mail/inbox/cur/02-dan-export.eml:2,S

notification=$(grep -l '^To: Bob <bob@localhost>' mail/outbox/*-notification.eml | head -n 1)
header() { grep -m1 -i "^$1:" "$notification" | cut -d' ' -f2-; }

# Bob forwards his notification of MR-1 to Tess, a colleague, who answers with
# support in Cc. She is on the roster but answers a notification sent to Bob:
# an internal note on MR-1 (role colleague), never sent to Alice; Bob is told.
{
  printf 'From: Tess <tess@localhost>\nTo: Bob <bob@localhost>\nCc: support@localhost\n'
  printf 'Subject: Re: Fwd: %s\nMessage-ID: <tess-note-1@localhost>\n' "$(header Subject)"
  printf 'In-Reply-To: <bob-forward-1@localhost>\nReferences: %s <bob-forward-1@localhost>\n' "$(header Message-ID)"
  printf 'Date: Wed, 25 Nov 2026 09:40:00 +0100\nContent-Type: text/plain; charset=utf-8\n\n'
  printf 'Bob, the retry job ran twice on the 24th: that is the second charge.\nRefund it in the payment console.\n\nTess\n'
} >mail/inbox/new/07-tess-note.eml
step poll --once

# Bob, the owner of MR-1, answers the notification from his mail client:
# commands on top (a tag, and a wait: if Alice has not answered in 3 days, Bob
# is reminded and MR-1 reopens), his words, the notification quoted below (as
# Gmail does).
# His client sends it to the notification's Reply-To, support+<token>@localhost:
# coming back through that token (given only to Bob, for MR-1) is what makes
# it his answer; a forged From or a forwarded Message-ID alone proves nothing.
{
  printf 'From: Bob <bob@localhost>\nTo: %s\n' "$(header Reply-To)"
  printf 'Subject: Re: %s\nMessage-ID: <bob-answer-1@localhost>\n' "$(header Subject)"
  printf 'In-Reply-To: %s\nReferences: %s\n' "$(header Message-ID)" "$(header Message-ID)"
  printf 'Date: Wed, 25 Nov 2026 10:02:00 +0100\nContent-Type: text/plain; charset=utf-8\n\n'
  printf '#tag refund\n#pending 3d\n\nHello Alice,\n\nsorry about that: the second payment is refunded and will be on your\ncard within 3 days.\n\nBob\n\n'
  printf 'On Wed, 25 Nov 2026 at 09:13, Alice Martin via Example Support <support@localhost> wrote:\n'
  # The notification's text part, quoted (`mailroom inspect` prints it after "--- whole text ---").
  "$mr" inspect "$notification" | sed -n '/^--- whole text ---$/,$p' | tail -n +2 | sed 's/^/> /'
} >mail/inbox/new/08-bob-answers.eml
bold "\$ cat mail/inbox/new/08-bob-answers.eml   # Bob's reply, as his mail client sends it"
cat mail/inbox/new/08-bob-answers.eml
step poll --once
step outbox flush
relay=$(ls mail/outbox/*-relay.eml | head -n 1)
bold "\$ cat $relay   # what Alice receives: Bob's words only, threaded into her conversation"
# Its In-Reply-To and References hold only IDs of Alice's side (her mails, the
# acknowledgement): never the notification's, Tess's or Bob's own.
cat "$relay"
step tickets show MR-1
# Carol, the manager, gets a digest at 08:00 (Europe/Berlin) Monday to Friday,
# each covering the time since the one before. Her next one as it stands now,
# without sending anything: today's before 08:00 Berlin time, else
# tomorrow's (on a weekend, both mean Monday's).
next_day=$(TZ=Europe/Berlin date +%Y-%m-%d)
if [ $((10#$(TZ=Europe/Berlin date +%H%M))) -ge 800 ]; then
  next_day=$(TZ=Europe/Berlin date -d '+1 day' +%Y-%m-%d)
fi
step digest preview --manager carol@localhost --text --at "$next_day"
printf '\nEverything is in %s (mailroom.db, mail/inbox, mail/outbox).\n' "$work"

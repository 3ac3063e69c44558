//! `digest preview --at` shows a digest already sent with the window it was
//! recorded with: the recorded window that contains the due time, also when
//! a catch-up's window ends later than it. Previews, `digest send` and
//! `stats` need no rules file.

use super::{WEEKDAYS, t};
use crate::both_backends;
use crate::support::*;

both_backends! {
    fn preview_at_a_due_time_inside_a_catch_up_shows_the_catch_up(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), WEEKDAYS);
        assert!(at(&env, &t("2026-11-30 08:30"), &["schedule", "--once"]).contains("digests: 1 queued"));
        // Down from Monday 08:30 to Thursday 09:00: one catch-up, Monday to Thursday.
        assert!(at(&env, &t("2026-12-03 09:00"), &["schedule", "--once"]).contains("digests: 1 queued"));
        let shown = |day: &str| {
            let text = at(&env, &t("2026-12-04 10:00"), &["digest", "preview", "--manager", "carol@example.test", "--text", "--at", day]);
            text.lines().next().unwrap_or_default().trim_end().to_string()
        };
        let window = |w: &str| format!("Digest — {w} (Europe/Berlin), areas billing");
        let catch_up = window("Mon 30 Nov 2026 08:00 CET to Thu 3 Dec 2026 08:00 CET");
        assert_eq!(shown("2026-12-02"), catch_up, "Wednesday's went out in Thursday's catch-up");
        assert_eq!(shown("2026-12-01"), catch_up);
        assert_eq!(shown("2026-12-03"), catch_up);
        assert_eq!(shown("2026-11-30"), window("Fri 27 Nov 2026 08:00 CET to Mon 30 Nov 2026 08:00 CET"));
        // Not sent yet: the regular window.
        assert_eq!(shown("2026-12-04"), window("Thu 3 Dec 2026 08:00 CET to Fri 4 Dec 2026 08:00 CET"));
    }
}

both_backends! {
    fn preview_send_and_stats_read_no_rules_file(b) {
        let env = Env::with_config(b, &BASE.replace("[mailroom]", "[mailroom]\ndefault_area = \"billing\""), WEEKDAYS);
        // A rules file that does not parse: the pipeline would not start.
        std::fs::write(env.path("rules.toml"), "this is not [toml").expect("rules");
        let text = std::fs::read_to_string(&env.config).expect("config");
        std::fs::write(&env.config, format!("{text}\n[rules]\nfile = \"{}\"\n", env.path("rules.toml").display())).expect("config");
        let preview = at(&env, &t("2026-12-01 09:00"), &["digest", "preview", "--manager", "carol@example.test", "--text"]);
        assert!(preview.starts_with("Digest — Mon 30 Nov 2026 08:00 CET to Tue 1 Dec 2026 08:00 CET (Europe/Berlin)"), "{preview}");
        assert!(at(&env, &t("2026-12-01 09:00"), &["digest", "send", "--manager", "carol@example.test"]).contains("digest for carol@example.test queued"));
        assert!(at(&env, &t("2026-12-01 09:00"), &["stats", "--since", "1d"]).starts_with("Statistics"));
    }
}

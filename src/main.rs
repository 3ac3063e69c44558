//! Command-line parsing only; the commands live in `mailroom::cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mailroom::cli::{self, Command, DigestPreview, OutboxCmd, RepliesCmd, RulesCmd, TicketsCmd};
use mailroom::digest::PeriodKind;

#[derive(Parser)]
#[command(
    name = "mailroom",
    version,
    about = "Email-driven support desk: mail in, threaded tickets out"
)]
struct Args {
    /// Config file (default: ./mailroom.toml if present, else the embedded default)
    #[arg(long, global = true, env = "MAILROOM_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every inbound source, the outbox worker and /healthz + /metrics until SIGTERM/SIGINT
    Serve,
    /// Fetch and process all new mail from every inbound source, then exit
    Poll {
        /// Process what is there now and exit (the only mode; `serve` keeps running)
        #[arg(long)]
        once: bool,
    },
    /// Process raw messages from files or stdin (exit 75 = temporary failure)
    Ingest {
        /// One JSON line per message
        #[arg(long)]
        json: bool,
        /// Files with one message each; `-` or nothing reads stdin
        files: Vec<PathBuf>,
    },
    /// List, show, merge and split tickets
    Tickets {
        #[command(subcommand)]
        cmd: TicketsArgs,
    },
    /// Inspect and send the outbox
    Outbox {
        #[command(subcommand)]
        cmd: OutboxArgs,
    },
    /// List quarantined messages (could not be parsed, no sender, too large)
    Quarantine {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        cmd: Option<QuarantineArgs>,
    },
    /// Stored mail that belongs to no ticket (auto-replies and bounces that answer nothing, dropped mail)
    Suspended {
        #[command(subcommand)]
        cmd: SuspendedArgs,
    },
    /// What mailroom reads in a mail, storing nothing: kind, thread keys, reply text, commands
    Inspect {
        /// A raw mail (.eml)
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Validate the rules file and explain routing decisions
    Rules {
        #[command(subcommand)]
        cmd: RulesArgs,
    },
    /// Managers' digests: look at one, or send one now
    Digest {
        #[command(subcommand)]
        cmd: DigestArgs,
    },
    /// The digest's numbers for a recent span, compared with the span before
    Stats {
        /// How far back, e.g. 7d, 24h
        #[arg(long, default_value = "7d")]
        since: String,
        /// Only this area
        #[arg(long)]
        area: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Saved replies (templates/replies/NAME.txt) that `#reply NAME` puts in an answer
    Replies {
        #[command(subcommand)]
        cmd: RepliesArgs,
    },
    /// Run the scheduled work that is due now (SLA reminders and escalations, digests), then exit
    Schedule {
        /// Run once and exit (serve runs it continuously)
        #[arg(long)]
        once: bool,
        /// List what the SLA and lifecycle steps would do, change and send
        /// nothing (digests and relay reports are left out)
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or update the database schema
    Migrate,
}

#[derive(Subcommand)]
enum DigestArgs {
    /// Render a manager's digest (HTML, or --text) without sending anything:
    /// by default the next one they will get, with what has happened so far
    Preview {
        #[arg(long)]
        manager: String,
        /// What the numbers are compared with: day (the span of the same length
        /// right before the window) or week (the same hours a week before);
        /// default: the manager's `period`. For a manager without a `digest`
        /// cron it also sets the window previewed: local midnight to midnight
        /// (day) or Monday 00:00 to Monday 00:00 (week)
        #[arg(long, value_parser = parse_period)]
        period: Option<PeriodKind>,
        /// Another digest: a date (the one due that local day, or the next
        /// scheduled after it) or an RFC 3339 time (the one due last at or before it)
        #[arg(long)]
        at: Option<String>,
        /// The plain-text part instead of the HTML
        #[arg(long)]
        text: bool,
        /// Write to FILE instead of stdout
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Queue a manager's next digest, so far, now (the outbox sends it; the scheduled one still comes)
    Send {
        #[arg(long)]
        manager: String,
    },
}

fn parse_period(s: &str) -> Result<PeriodKind, String> {
    match s.to_ascii_lowercase().as_str() {
        "day" => Ok(PeriodKind::Day),
        "week" => Ok(PeriodKind::Week),
        other => Err(format!("{other:?}: expected day or week")),
    }
}

#[derive(Subcommand)]
enum QuarantineArgs {
    /// Process a quarantined mail's stored bytes again (after a fix or a config change)
    Release { id: i64 },
}

#[derive(Subcommand)]
enum SuspendedArgs {
    /// id, from, subject, date and reason of every ticket-less mail
    List {
        #[arg(long)]
        json: bool,
    },
    /// Process a ticket-less mail again as customer mail: a ticket or a follow-up
    Release { id: i64 },
}

#[derive(Subcommand)]
enum RulesArgs {
    /// Validate the rules file: every error with file:line and key
    Check {
        /// Rules file (default: the config's [rules] file)
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Replay stored mail through candidate rules and list what would route differently
    Backtest {
        /// The candidate rules file
        #[arg(long)]
        rules: PathBuf,
        /// How far back: tickets created within this period (e.g. 30d, 12h)
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Show which conditions of which rules match a mail, and the result
    Explain {
        /// A raw mail (.eml)
        file: PathBuf,
        #[arg(long)]
        json: bool,
        /// Rules file (default: the config's [rules] file)
        #[arg(long)]
        rules: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TicketsArgs {
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        area: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    Show {
        /// MR-1042 or 1042
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Merge a ticket into another: its mail, history, participants and tags
    /// move there, and its number leads there from now on
    Merge {
        /// The ticket that goes (MR-15 or 15)
        source: String,
        /// The ticket that stays
        #[arg(long)]
        into: String,
        /// Merge even though the two tickets have different customers
        #[arg(long)]
        force: bool,
        /// Say what would happen, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Move one customer mail (and the mail answering it) to a new ticket
    /// for its sender
    Split {
        /// The ticket it is on (MR-15 or 15)
        reference: String,
        /// Its Message-ID (`tickets show --json` lists them), with or without <>
        #[arg(long)]
        message: String,
        /// Say what would happen, change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum RepliesArgs {
    /// Every saved reply: name, whether it has HTML, its header commands, its first line
    List {
        #[arg(long)]
        json: bool,
    },
    /// A saved reply rendered for a ticket, with its header commands; nothing is sent
    Preview {
        /// The saved reply's name (NAME of templates/replies/NAME.txt)
        name: String,
        /// MR-1042 or 1042
        #[arg(long)]
        ticket: String,
        /// The answering agent (default: the ticket's owner)
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Subcommand)]
enum OutboxArgs {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send what is due now, then exit
    Flush,
}

fn main() -> ExitCode {
    mailroom::store::configure_sqlite();
    let args = Args::parse();
    let command = command(args.command);
    let code = cli::run(args.config.as_deref(), command);
    cli::report_peak_rss();
    code
}

/// The library's command for the parsed arguments.
fn command(cmd: Cmd) -> Command {
    match cmd {
        Cmd::Serve => Command::Serve,
        Cmd::Poll { once: _ } => Command::PollOnce,
        Cmd::Ingest { json, files } => Command::Ingest { json, files },
        Cmd::Tickets { cmd } => Command::Tickets(tickets(cmd)),
        Cmd::Outbox { cmd } => Command::Outbox(match cmd {
            OutboxArgs::List { json } => OutboxCmd::List { json },
            OutboxArgs::Flush => OutboxCmd::Flush,
        }),
        Cmd::Quarantine { json, cmd: None } => Command::Quarantine { json },
        Cmd::Quarantine {
            cmd: Some(QuarantineArgs::Release { id }),
            ..
        } => Command::QuarantineRelease { id },
        Cmd::Suspended { cmd } => match cmd {
            SuspendedArgs::List { json } => Command::SuspendedList { json },
            SuspendedArgs::Release { id } => Command::SuspendedRelease { id },
        },
        Cmd::Inspect { file, json } => Command::Inspect { file, json },
        Cmd::Rules { cmd } => Command::Rules(rules(cmd)),
        Cmd::Replies { cmd } => Command::Replies(match cmd {
            RepliesArgs::List { json } => RepliesCmd::List { json },
            RepliesArgs::Preview {
                name,
                ticket,
                agent,
            } => RepliesCmd::Preview {
                name,
                ticket,
                agent,
            },
        }),
        Cmd::Schedule { once: _, dry_run } => Command::ScheduleOnce { dry_run },
        Cmd::Digest { cmd } => digest(cmd),
        Cmd::Stats { since, area, json } => Command::Stats { since, area, json },
        Cmd::Migrate => Command::Migrate,
    }
}

fn tickets(cmd: TicketsArgs) -> TicketsCmd {
    match cmd {
        TicketsArgs::List {
            status,
            area,
            owner,
            limit,
            json,
        } => TicketsCmd::List {
            status,
            area,
            owner,
            limit,
            json,
        },
        TicketsArgs::Show { reference, json } => TicketsCmd::Show { reference, json },
        TicketsArgs::Merge {
            source,
            into,
            force,
            dry_run,
        } => TicketsCmd::Merge {
            source,
            into,
            force,
            dry_run,
        },
        TicketsArgs::Split {
            reference,
            message,
            dry_run,
        } => TicketsCmd::Split {
            reference,
            message,
            dry_run,
        },
    }
}

fn rules(cmd: RulesArgs) -> RulesCmd {
    match cmd {
        RulesArgs::Check { rules } => RulesCmd::Check { rules },
        RulesArgs::Explain { file, json, rules } => RulesCmd::Explain { file, json, rules },
        RulesArgs::Backtest { rules, since, json } => RulesCmd::Backtest { rules, since, json },
    }
}

fn digest(cmd: DigestArgs) -> Command {
    match cmd {
        DigestArgs::Preview {
            manager,
            period,
            at,
            text,
            out,
        } => Command::DigestPreview(DigestPreview {
            manager,
            period,
            at,
            text,
            out,
        }),
        DigestArgs::Send { manager } => Command::DigestSend { manager },
    }
}

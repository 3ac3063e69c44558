//! One integration-test binary (the machine has 2 cores: few test binaries).

mod mailenv;
mod support;

mod assign;
mod badinput;
mod chaos;
mod concurrent;
mod corpus;
mod corpus_parts;
mod dbfaults;
mod digest;
mod fakeimap;
mod fakesmtp;
mod fidelity;
mod flow;
mod fuzz;
mod hardening;
mod hostile;
mod imap;
mod instances;
mod layers;
mod maildir;
mod merge;
mod mta;
mod outbox;
mod relay;
mod relay_leak;
mod relay_refused;
mod relay_scripted;
mod relay_smtp;
mod replies;
mod rules;
mod saved_replies;
mod senders;
mod sla;
mod voices;

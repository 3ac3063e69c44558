//! One integration-test binary (the machine has 2 cores: few test binaries).

mod mailenv;
mod support;

mod assign;
mod badinput;
mod corpus;
mod fakeimap;
mod flow;
mod imap;
mod maildir;
mod replies;
mod rules;

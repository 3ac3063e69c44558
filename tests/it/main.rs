//! One integration-test binary (the machine has 2 cores: few test binaries).

mod support;

mod assign;
mod badinput;
mod corpus;
mod flow;
mod maildir;
mod rules;

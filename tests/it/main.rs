//! One integration-test binary (the machine has 2 cores: few test binaries).

mod support;

mod badinput;
mod corpus;
mod flow;
mod maildir;

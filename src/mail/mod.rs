//! Pure email logic: no I/O, no clock, no database. Must not import any other
//! mailroom module.

pub mod address;
pub mod auth;
pub mod classify;
pub mod compose;
pub mod delivery;
pub mod parse;
pub mod reply;
pub mod thread;
pub mod thread_index;
pub mod tnef;

pub use classify::{Class, Classifier};
pub use parse::{Mailbox, ParseFailure, ParsedMail, parse};
pub use thread::ThreadKeys;

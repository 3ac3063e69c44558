//! Pure email logic: no I/O, no clock, no database.

pub mod classify;
pub mod compose;
pub mod parse;
pub mod reply;
pub mod thread;

pub use classify::{Class, Classifier};
pub use parse::{Mailbox, ParseFailure, ParsedMail, parse};
pub use thread::ThreadKeys;

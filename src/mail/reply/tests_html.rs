//! Unit tests of HTML stripping.

//! Unit tests of plain-text stripping.

//! Unit tests of the quote stripper, one file per concern.

mod html;
mod phrases;
mod shapes;
mod text;

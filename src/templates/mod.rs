//! User-editable templates (minijinja), loaded once at start from the
//! configured folder; the copies built into the binary fill any gap so the
//! embedded default works from any directory. Saved replies (`saved.rs`)
//! come from the same folder's `replies/`, without built-in copies.

use std::path::Path;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::error::{Error, Result};

pub mod saved;

pub use saved::{RenderedReply, ReplyVars, SavedReplies, SavedReply, SavedReplyError};

const NAMES: &[(&str, &str)] = &[
    ("ack.txt", include_str!("../../templates/ack.txt")),
    ("ack.html", include_str!("../../templates/ack.html")),
    (
        "notification.txt",
        include_str!("../../templates/notification.txt"),
    ),
    (
        "notification.html",
        include_str!("../../templates/notification.html"),
    ),
    ("relay.txt", include_str!("../../templates/relay.txt")),
    ("relay.html", include_str!("../../templates/relay.html")),
    ("explain.txt", include_str!("../../templates/explain.txt")),
    ("explain.html", include_str!("../../templates/explain.html")),
    (
        "autoclose_warning.txt",
        include_str!("../../templates/autoclose_warning.txt"),
    ),
    (
        "autoclose_warning.html",
        include_str!("../../templates/autoclose_warning.html"),
    ),
    ("merged.txt", include_str!("../../templates/merged.txt")),
    ("merged.html", include_str!("../../templates/merged.html")),
    (
        "satisfaction.txt",
        include_str!("../../templates/satisfaction.txt"),
    ),
    (
        "satisfaction.html",
        include_str!("../../templates/satisfaction.html"),
    ),
    ("digest.txt", include_str!("../../templates/digest.txt")),
    ("digest.html", include_str!("../../templates/digest.html")),
];

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads every template from `dir` when it exists there, else the built-in copy.
    pub fn load(dir: &Path) -> Result<Templates> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_keep_trailing_newline(true);
        for (name, builtin) in NAMES {
            let path = dir.join(name);
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin.to_string(),
                Err(e) => return Err(Error::io(path, e)),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| Error::Template {
                    name: path.display().to_string(),
                    message: e.to_string(),
                })?;
        }
        Ok(Templates { env })
    }

    pub fn render<C: Serialize>(&self, name: &str, ctx: &C) -> Result<String> {
        let t = self.env.get_template(name).map_err(|e| Error::Template {
            name: name.into(),
            message: e.to_string(),
        })?;
        t.render(ctx).map_err(|e| Error::Template {
            name: name.into(),
            message: format!("{e:#}"),
        })
    }
}

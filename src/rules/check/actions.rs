//! The actions of a rule (its `then` table).

use toml::Spanned;

use super::super::model::{Actions, Node};
use super::Cx;

impl Cx<'_> {
    /// A rule's `then` table: what it sets, each key checked.
    pub(super) fn actions(&mut self, v: &Spanned<Node>, path: &str) -> Option<Actions> {
        let t = self.table(v, path)?;
        let mut a = Actions::default();
        let mut ok = true;
        for (key, value) in t {
            let k = key.get_ref().as_str();
            let kpath = format!("{path}.{k}");
            let before = self.errors.len();
            match k {
                "area" => {
                    if let Some(area) = self.string(value, &kpath) {
                        let area = area.trim().to_string();
                        if !self.areas.is_empty() && !self.areas.contains(&area) {
                            self.err(
                                &value.span(),
                                &kpath,
                                format!("unknown area {area:?} (known: {})", self.areas.join(", ")),
                            );
                        }
                        a.area = Some(area);
                    }
                }
                "priority" => {
                    if let Some(p) = self.string(value, &kpath) {
                        match p.parse() {
                            Ok(p) => a.priority = Some(p),
                            Err(e) => self.err(&value.span(), &kpath, e),
                        }
                    }
                }
                "tags" => {
                    if let Some(tags) = self.strings(value, &kpath) {
                        for t in tags {
                            let t = t.trim().to_string();
                            if t.is_empty() {
                                self.err(&value.span(), &kpath, "empty tag");
                            } else if !a.tags.contains(&t) {
                                a.tags.push(t);
                            }
                        }
                    }
                }
                "owner" => {
                    if let Some(o) = self.string(value, &kpath) {
                        let o = o.trim().to_lowercase();
                        if !self.agents.is_empty()
                            && !self.agents.iter().any(|x| x.eq_ignore_ascii_case(&o))
                        {
                            self.err(
                                &value.span(),
                                &kpath,
                                format!("unknown owner {o:?}: not a configured agent"),
                            );
                        }
                        a.owner = Some(o);
                    }
                }
                "sla" => {
                    if let Some(s) = self.string(value, &kpath) {
                        a.sla = Some(s.trim().to_string());
                    }
                }
                "suppress_ack" => a.suppress_ack = self.boolean(value, &kpath),
                "drop" => a.drop = self.boolean(value, &kpath),
                _ => self.err(
                    &key.span(),
                    &kpath,
                    format!("unknown action (expected {})", Actions::NAMES.join(", ")),
                ),
            }
            ok &= self.errors.len() == before;
        }
        ok.then_some(a)
    }
}

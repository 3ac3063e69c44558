//! The house's layers (README "Layout"): a module of `src/` imports only the
//! modules of the layers below its own, never one beside or above it. Test
//! code (`tests` modules) may reach anywhere. Read from the source text,
//! comments included, so a new `crate::…` path that points upward fails
//! here, with the file named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom first. `main.rs` and `lib.rs` sit above everything.
const LAYERS: &[&[&str]] = &[
    &["model", "text_enum", "units"],
    &["error", "tickets"],
    &["mail"],
    &["rules", "sla"],
    &["config"],
    &["net", "store", "templates"],
    &["pipeline"],
    &["inbound", "outbound"],
    &["digest"],
    &["server"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's text without its test code: files of a `tests` module, and an
/// inline `#[cfg(test)] mod tests { … }` (always last in a file here).
fn code_of(path: &Path, src: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).expect("under src");
    let is_test_file = rel.iter().any(|c| {
        let c = c.to_string_lossy();
        c == "tests" || c == "tests.rs" || c == "test_support.rs"
    });
    if is_test_file {
        return None;
    }
    let text = std::fs::read_to_string(path).expect("read file");
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    Some(code)
}

/// The top-level modules `code` names as `crate::<module>`.
fn imported(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        // `$crate::` in a macro names the crate, not a module.
        let dollar = i > 0 && code.as_bytes()[i - 1] == b'$';
        if !name.is_empty() && !dollar {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_import_points_down_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut unknown = BTreeSet::new();
    for path in &files {
        let rel = path.strip_prefix(&src).expect("under src");
        let top = rel
            .iter()
            .next()
            .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
            .expect("a top-level module");
        if top == "main" || top == "lib" {
            continue;
        }
        let Some(from) = layer_of(&top) else {
            unknown.insert(top);
            continue;
        };
        let Some(code) = code_of(path, &src) else {
            continue;
        };
        for target in imported(&code) {
            if target == top {
                continue;
            }
            match layer_of(&target) {
                Some(to) if to < from => {}
                Some(_) => wrong.push(format!("{} imports crate::{target}", rel.display())),
                None => {
                    unknown.insert(target);
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS (add them where they belong): {unknown:?}"
    );
    assert!(
        wrong.is_empty(),
        "imports beside or above their own layer:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_layer_check_sees_an_upward_import() {
    let code = "use crate::store::Store;\nfn f() { crate::cli::now(); }\nmacro_rules! m { () => { $crate::x } }";
    let names = imported(code);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec!["cli".to_string(), "store".to_string()]
    );
    assert!(layer_of("cli") > layer_of("store"));
}

//! Layering (a tidy test in the style of rust-analyzer's): every module of the domain crate
//! uses only modules of its own layer or of lower layers, so the import circle the crate once
//! had cannot come back. The layers, lowest first, are listed in ARCHITECTURE.md.

use std::path::{Path, PathBuf};

/// The layers, lowest first: (name, modules). A module is a path under `crate::`
/// (`routing::engine`); a file belongs to the longest module path that prefixes its own.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "error", "storage", "codec", "clock", "ids", "validate", "patch", "glob", "secrets",
            "catalog", "memory",
        ],
    ),
    ("records", &["record"]),
    ("schema", &["schema"]),
    (
        "data plane",
        &[
            "routing::engine",
            "snapshot",
            "audit::trail",
            "idempotency::store",
            "tx",
        ],
    ),
    ("handle", &["handle"]),
    (
        "operations",
        &[
            "access",
            "account",
            "audit",
            "idempotency",
            "bundle",
            "api_key",
            "member",
            "workspace",
            "model",
            "provider",
            "routing",
            "persona",
            "usage",
            "message",
            "check",
        ],
    ),
    ("opening", &["open"]),
];

/// Files outside the layers: the crate root (the curated public API) and the test kit.
const UNLAYERED: &[&str] = &["lib", "testkit"];

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    let mut best: Option<(usize, usize, &str)> = None;
    for (i, (name, modules)) in LAYERS.iter().enumerate() {
        for m in *modules {
            let matches = module == *m || module.starts_with(&format!("{m}::"));
            if matches && best.is_none_or(|(len, _, _)| m.len() > len) {
                best = Some((m.len(), i, name));
            }
        }
    }
    best.map(|(_, i, name)| (i, name))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/routing/engine.rs` → `routing::engine`; `src/record/mod.rs` → `record`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its unit tests: everything before `#[cfg(test)]` followed by a
/// `mod` item (the convention: tests are the last item of a file).
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]") {
        let start = at + i;
        let rest = text[start + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") {
            return &text[..start];
        }
        at = start + 1;
    }
    text
}

/// The paths a `use` tree or path expression names after `prefix` (`crate::` or `super::`):
/// `a::b`, and for groups every member, nested groups included (`{a::{b, c}, d}` → `a::b`,
/// `a::c`, `d`).
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path: String = tree
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':').to_owned();
        return if path.is_empty() {
            Vec::new()
        } else {
            vec![path]
        };
    };
    let head = tree[..open].trim_end_matches(':');
    // The matching close brace.
    let mut depth = 0;
    let mut close = tree.len();
    for (i, c) in tree.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let inner = &tree[open + 1..close.min(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut last) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[last..i]);
                last = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[last..]);
    let mut out = Vec::new();
    for part in parts {
        for p in expand(part) {
            if p == "self" || p.is_empty() {
                if !head.is_empty() {
                    out.push(head.to_owned());
                }
            } else if head.is_empty() {
                out.push(p);
            } else {
                out.push(format!("{head}::{p}"));
            }
        }
    }
    out
}

/// Every module path the non-test code of `text` (the file of module `module`) names through
/// `crate::…` or `super::…`, as a path under `crate::`. An item re-exported by the crate root
/// (`crate::ModelGates`) is resolved through `reexports` to the module that defines it.
fn crate_paths_of(
    module: &str,
    text: &str,
    reexports: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let code = without_tests(text);
    let parent: Vec<&str> = module.split("::").collect();
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", String::new()),
        ("super::", {
            let mut p = parent.clone();
            p.pop();
            p.join("::")
        }),
    ] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            let after = &rest[at + prefix.len()..];
            rest = after;
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `foo::crate::` or `a::super::` is not a path from the root
            }
            let end = after
                .find(|c: char| c == ';' || c == '\n' && !after.starts_with('{'))
                .unwrap_or(after.len());
            let tree = if after.starts_with('{') {
                // A group may span lines: up to its matching brace.
                let mut depth = 0;
                let mut stop = after.len();
                for (i, c) in after.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                stop = i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                &after[..stop]
            } else {
                &after[..end]
            };
            for p in expand(tree) {
                let full = if base.is_empty() {
                    p
                } else {
                    format!("{base}::{p}")
                };
                let first = full.split("::").next().unwrap_or("").to_owned();
                match reexports.get(&first) {
                    Some(module) => out.push(module.clone()),
                    None => out.push(full),
                }
            }
        }
    }
    out
}

/// The crate root's re-exports: item name → the module it comes from (`ModelGates` →
/// `handle`), read from `pub use module::{…};` lines of `lib.rs`.
fn reexports(lib: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut rest = lib;
    while let Some(at) = rest.find("pub use ") {
        let after = &rest[at + "pub use ".len()..];
        let end = after.find(';').unwrap_or(after.len());
        for path in expand(&after[..end]) {
            if let Some((module, item)) = path.rsplit_once("::") {
                out.insert(item.to_owned(), module.to_owned());
            }
        }
        rest = &after[end..];
    }
    out
}

/// `crate_paths_of` for a file at the crate root with no re-exports (the self-test's form).
fn crate_paths(text: &str) -> Vec<String> {
    crate_paths_of("x", text, &Default::default())
}

#[test]
fn every_module_uses_only_its_own_layer_or_lower() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let roots = reexports(&lib);
    let mut violations = Vec::new();
    let mut unplaced = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let top = module.split("::").next().unwrap_or("");
        if UNLAYERED.contains(&top) {
            continue;
        }
        let Some((own, own_name)) = layer_of(&module) else {
            unplaced.push(module);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for path in crate_paths_of(&module, &text, &roots) {
            let Some((used, used_name)) = layer_of(&path) else {
                // A crate-root re-export or an item of lib.rs: not a module.
                continue;
            };
            if used > own {
                violations.push(format!(
                    "{module} ({own_name}) uses crate::{path} ({used_name})"
                ));
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS here and to ARCHITECTURE.md): {unplaced:?}"
    );
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "{} upward uses:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn the_layer_table_knows_every_module_once() {
    let mut seen = std::collections::BTreeSet::new();
    for (_, modules) in LAYERS {
        for m in *modules {
            assert!(seen.insert(*m), "{m} is in two layers");
        }
    }
    // The checker itself: a path of a higher layer from a lower one is reported.
    assert_eq!(layer_of("routing::engine").map(|l| l.1), Some("data plane"));
    assert_eq!(layer_of("routing::rules").map(|l| l.1), Some("operations"));
    assert_eq!(
        crate_paths("use crate::{codec, ids::X};\nfn f() { crate::usage::g(); }"),
        ["codec", "ids::X", "usage::g"]
    );
    assert_eq!(
        crate_paths("use crate::{record::{a, b::C}, usage::{self, x}};"),
        ["record::a", "record::b::C", "usage", "usage::x"]
    );
    let roots = reexports("pub use handle::{Caller, ModelGates};\npub use open::Options;");
    assert_eq!(
        crate_paths_of(
            "routing::engine",
            "use super::rules::x;\nuse crate::ModelGates;",
            &roots
        ),
        ["handle", "routing::rules::x"]
    );
    assert_eq!(
        crate_paths("fn f() {}\n#[cfg(test)]\nmod tests { use crate::usage; }"),
        Vec::<String>::new()
    );
    assert!(crate_paths("trailing crate::").is_empty());
}

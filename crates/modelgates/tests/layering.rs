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
    ("data plane", &["routing::engine", "snapshot", "tx"]),
    ("handle", &["handle"]),
    (
        "operations",
        &[
            "access",
            "account",
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

/// Every `crate::a::b` path in the non-test code of `text`, as `a::b` (a `use crate::{…}`
/// group is expanded to its first level).
fn crate_paths(text: &str) -> Vec<String> {
    // Unit tests sit at the end of a file, after `#[cfg(test)]`; they may use anything.
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let path: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':').to_owned();
        if path.is_empty() && after.starts_with('{') {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for item in group.split(',') {
                let item = item.trim().split("::").next().unwrap_or("").trim();
                if !item.is_empty() {
                    out.push(item.to_owned());
                }
            }
        } else if !path.is_empty() {
            out.push(path);
        }
        rest = &after[1..];
    }
    out
}

#[test]
fn every_module_uses_only_its_own_layer_or_lower() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
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
        for path in crate_paths(&text) {
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
        ["codec", "ids", "usage::g"]
    );
}

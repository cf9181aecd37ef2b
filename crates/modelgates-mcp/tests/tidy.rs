//! Tidy tests in rust-analyzer's style: repository-wide rules checked by reading the source.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name == ".venv" || name == ".git" {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// End-to-end tests and benchmarks run the binary users run (`common::binary()`: the README's
/// `cargo build --release --bin modelgates`), never Cargo's test build of it, whose crate
/// features include the dev-dependencies' (that once hid a release binary that panicked).
#[test]
fn no_test_runs_the_test_build_of_the_binary() {
    let root = repo_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("fuzz"), &mut files);
    let needle = concat!("CARGO_BIN_", "EXE_");
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|s| s.contains(needle)))
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files run Cargo's test build of the binary; use common::binary(): {offenders:?}"
    );
}

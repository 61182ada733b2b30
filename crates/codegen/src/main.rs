//! Writes `crates/wire/src/generated/` from the botocore models pinned in
//! `crates/wire/models/`, and the table of supported operations in README.md.
//!
//! ```text
//! cargo run -p tarn-codegen            # write
//! cargo run -p tarn-codegen -- --check # fail when the checked-in files differ
//! ```
//!
//! Which operations tarn serves is [`SERVICES`]: the generated trait of a service holds exactly
//! those, so the handlers (which must implement it) and the README table cannot disagree.

mod config;
mod emit;
mod model;
mod names;
mod patterns;

use std::path::{Path, PathBuf};

fn main() {
    let root = workspace_root();
    let check = std::env::args().any(|a| a == "--check");
    let files = generate(&root);
    let mut stale = Vec::new();
    for (path, text) in &files {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current != *text {
            if check {
                stale.push(path.display().to_string());
            } else {
                std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
                println!("wrote {}", path.display());
            }
        }
    }
    if check && !stale.is_empty() {
        eprintln!("out of date (run `cargo run -p tarn-codegen`): {}", stale.join(", "));
        std::process::exit(1);
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the workspace root")
}

/// Every file the generator owns, with its full text.
fn generate(root: &Path) -> Vec<(PathBuf, String)> {
    let generated = root.join("crates/wire/src/generated");
    let mut files = Vec::new();
    let mut report = Vec::new();
    for service in config::SERVICES {
        let model = model::load(&root.join("crates/wire/models").join(service.model));
        let out = emit::service(service, &model);
        report.push(emit::report_rows(service, &model));
        files.push((generated.join(format!("{}.rs", service.module)), out));
    }
    files.push((generated.join("mod.rs"), emit::module_index(config::SERVICES)));
    files.push((generated.join("service.rs"), emit::service_enum(config::SERVICES)));
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme).expect("README.md");
    files.push((readme, emit::readme_with_report(&text, &report)));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI fails when someone edits generated code by hand, changes a model or the served
    /// lists without regenerating, or lets the README table drift.
    #[test]
    fn checked_in_files_are_current_and_generation_is_deterministic() {
        let root = workspace_root();
        let first = generate(&root);
        let second = generate(&root);
        assert_eq!(first, second, "two runs of the generator differ");
        for (path, text) in &first {
            let current = std::fs::read_to_string(path).unwrap_or_default();
            assert!(current == *text, "{} is out of date: run `cargo run -p tarn-codegen`", path.display());
        }
        // and nothing else sits among the generated files (a service dropped from the list
        // leaves its module behind otherwise)
        let written: Vec<&PathBuf> = first.iter().map(|(p, _)| p).collect();
        for entry in std::fs::read_dir(root.join("crates/wire/src/generated")).unwrap() {
            let path = entry.unwrap().path();
            assert!(written.contains(&&path), "{} is not written by the generator: remove it", path.display());
        }
    }
}

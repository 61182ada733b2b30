//! The house rules, as tests: what a review found drifting is checked on every run.
//!
//! - AWS error codes live in the wire layer (`api`, and `wire` whose tables come from the
//!   models): a domain crate says what went wrong, never how AWS spells it;
//! - the crate diagram in docs/architecture.md is the dependency graph of the manifests, and
//!   every edge points down the diagram;
//! - no two modules of a crate import each other (directly or round a longer loop);
//! - docs/formats.md documents every redb table and every folder of the data dir.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries {
        let path = e.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| root().join("crates").join(n).join("Cargo.toml").exists())
        .collect();
    names.sort();
    names
}

/// Crates whose code may spell AWS error codes: the wire layer, and the clients (test kit,
/// benchmarks) that read what AWS-shaped servers answer.
const WIRE_AND_CLIENTS: &[&str] = &["api", "wire", "codegen", "testkit", "bench"];

#[test]
fn aws_error_codes_live_in_the_wire_layer_only() {
    let mut found = Vec::new();
    for name in crates().iter().filter(|c| !WIRE_AND_CLIENTS.contains(&c.as_str())) {
        let mut files = Vec::new();
        rust_files(&root().join("crates").join(name).join("src"), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                if line.contains("Exception\"") {
                    found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "AWS error codes outside the wire layer:\n{}", found.join("\n"));
}

/// The `tarn-*` crates a manifest's `[dependencies]` name (not dev-dependencies).
fn manifest_edges(name: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("crates").join(name).join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[dependencies]"
            && let Some(dep) = line.strip_prefix("tarn-")
        {
            let dep: String = dep.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            out.insert(dep);
        }
    }
    out
}

/// The crate diagram of docs/architecture.md: crates in their order, and each one's `-> ...`.
fn diagram() -> Vec<(String, BTreeSet<String>)> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let start = doc.find("## Crates").expect("a Crates section");
    let block = &doc[start..];
    let block = &block[block.find("```").unwrap() + 3..];
    let block = &block[..block.find("```").unwrap()];
    let known = crates();
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    // the column of the entry's `->`: a list too long for one line goes on below it
    let mut arrow_column: Option<usize> = None;
    for line in block.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if !line.starts_with(' ') && known.iter().any(|c| c == first) {
            out.push((first.to_string(), BTreeSet::new()));
            arrow_column = None;
        }
        let list = match (line.find("->"), arrow_column) {
            (Some(arrow), _) => {
                arrow_column = Some(arrow);
                &line[arrow + 2..]
            }
            (None, Some(column)) if line.len() > column => &line[column..],
            _ => continue,
        };
        if let Some(last) = out.last_mut() {
            for dep in list.split(|c: char| c == ',' || c.is_whitespace()) {
                if known.iter().any(|c| c == dep) {
                    last.1.insert(dep.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_crate_diagram_is_the_dependency_graph_and_points_down() {
    let diagram = diagram();
    let listed: BTreeSet<String> = diagram.iter().map(|(n, _)| n.clone()).collect();
    let all: BTreeSet<String> = crates().into_iter().collect();
    assert_eq!(listed, all, "every crate is in the diagram, once");
    let mut problems = Vec::new();
    for (i, (name, edges)) in diagram.iter().enumerate() {
        let real = manifest_edges(name);
        if *edges != real {
            problems.push(format!("{name}: the diagram says -> {edges:?}, Cargo.toml says {real:?}"));
        }
        for dep in &real {
            let below = diagram.iter().position(|(n, _)| n == dep).is_some_and(|j| j > i);
            if !below {
                problems.push(format!("{name} -> {dep} points up the diagram"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A crate's modules (`a::b` for src/a/b.rs or src/a/b/mod.rs; "" for lib.rs or main.rs).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// The modules `text` (the file of module `me`) refers to: `crate::a::b`, `super::x`,
/// `self::x`, and `use crate::{a, b::c}` groups.
fn references(me: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let parent: Vec<&str> = if me.is_empty() { Vec::new() } else { me.split("::").collect() };
    let mut resolve = |path: Vec<String>| {
        // the longest prefix of the path that is a module
        for n in (1..=path.len()).rev() {
            let candidate = path[..n].join("::");
            if modules.contains(&candidate) {
                out.insert(candidate);
                return;
            }
        }
    };
    let words = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|w| w.trim().trim_start_matches('{').to_string())
            .take_while(|w| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect()
    };
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                resolve(words(item));
            }
        } else {
            resolve(words(rest));
        }
    }
    for (at, _) in text.match_indices("super::") {
        if at > 0 && text[..at].ends_with("super::") {
            continue;
        }
        let mut up = parent.clone();
        let mut rest = &text[at..];
        while let Some(r) = rest.strip_prefix("super::") {
            up.pop();
            rest = r;
        }
        let base: Vec<String> = up.iter().map(|s| (*s).to_string()).collect();
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                resolve(base.iter().cloned().chain(words(item)).collect());
            }
        } else {
            resolve(base.into_iter().chain(words(rest)).collect());
        }
    }
    out
}

/// `text` without its test-only items: each `#[cfg(test)]` and the item after it (up to its
/// `;`, or through the block its first `{` opens). Braces inside string and character literals
/// do not count.
fn without_test_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "#[cfg(test)]".len()..];
        rest = &rest[item_end(rest)..];
    }
    out.push_str(rest);
    out
}

/// Where the item at the start of `s` ends: after its `;`, or after the `}` that closes the
/// block its first `{` opens.
fn item_end(s: &str) -> usize {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // a string (raw strings have no escapes; `r#"..."#` is closed by `"#`)
                let raw = i > 0 && (b[i - 1] == b'r' || b[i - 1] == b'#');
                let hashes = if raw { s[..i].chars().rev().take_while(|&c| c == '#').count() } else { 0 };
                let close = format!("\"{}", "#".repeat(hashes));
                i += 1;
                while i < b.len() {
                    if !raw && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i..].starts_with(close.as_bytes()) {
                        i += close.len() - 1;
                        break;
                    }
                    i += 1;
                }
            }
            // a character literal ('{', '\'', '\u{7b}'), not a lifetime
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b';' if depth == 0 => return i + 1,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

#[test]
fn test_code_is_cut_out_exactly() {
    let text = "use a;\n#[cfg(test)]\nmod tests;\nfn live() { x('}'); }\n#[cfg(test)]\nmod t {\n    fn f() { let s = \"}\"; let c = '{'; }\n}\nuse crate::b;\n#[cfg(test)]\nuse crate::c;\n";
    assert_eq!(without_test_code(text), "use a;\n\nfn live() { x('}'); }\n\nuse crate::b;\n\n");
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let mut circles = Vec::new();
    for name in crates() {
        let src = root().join("crates").join(&name).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let me = module_of(&src, f);
            // tests sit in their module and may use anything
            let text = std::fs::read_to_string(f).unwrap();
            let text = without_test_code(&text);
            // comments may name any module
            let code: String =
                text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            for target in references(&me, &code, &modules) {
                // a module may use its ancestors (the items a parent declares) and itself
                let ancestor = target.is_empty() || me == target || me.starts_with(&format!("{target}::"));
                if !ancestor {
                    edges.entry(me.clone()).or_default().insert(target);
                }
            }
        }
        // every cycle shows as a module that reaches itself
        for start in edges.keys() {
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((at, path)) = stack.pop() {
                for next in edges.get(&at).into_iter().flatten() {
                    if next == start {
                        let mut circle = path.clone();
                        circle.push(start.clone());
                        circles.push(format!("{name}: {}", circle.join(" -> ")));
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(circles.is_empty(), "modules that import each other:\n{}", circles.join("\n"));
}

/// Folders of the data dir tarn makes; each is a string literal in the code that makes it.
const DATA_DIR_FOLDERS: &[(&str, &str)] = &[
    ("blobs", "crates/store/src/lib.rs"),
    ("keys", "crates/store/src/lib.rs"),
    ("streams", "crates/streams/src/lib.rs"),
    ("firehose", "crates/delivery/src/lib.rs"),
    ("query-spool", "crates/query/src/engine/store.rs"),
];

#[test]
fn formats_md_documents_every_table_and_folder() {
    let formats = std::fs::read_to_string(root().join("docs/formats.md")).unwrap();
    let mut tables = BTreeSet::new();
    let mut files = Vec::new();
    for name in crates() {
        rust_files(&root().join("crates").join(name).join("src"), &mut files);
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let text = without_test_code(&text);
        for (at, _) in text.match_indices("TableDefinition::new(\"") {
            let rest = &text[at + "TableDefinition::new(\"".len()..];
            tables.insert(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    assert!(tables.len() > 20, "found only {tables:?}");
    let missing: Vec<&String> = tables.iter().filter(|t| !formats.contains(&format!("`{t}`"))).collect();
    assert!(missing.is_empty(), "redb tables docs/formats.md does not document: {missing:?}");
    for (folder, maker) in DATA_DIR_FOLDERS {
        let code = std::fs::read_to_string(root().join(maker)).unwrap();
        assert!(code.contains(&format!("\"{folder}\"")), "{maker} no longer makes {folder}/: update this list");
        assert!(formats.contains(&format!("{folder}/")), "docs/formats.md does not document the {folder}/ folder");
    }
}

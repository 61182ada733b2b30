//! From listed objects to tables: exclusion globs, hidden files, and the folder structure
//! Glue's crawler reads as tables and partitions.
//!
//! How a folder tree becomes tables (`group`):
//! - A folder holding files directly is a table root; everything below it belongs to it.
//! - A folder without files of its own is a table root when its subfolders look like
//!   partitions: every file below sits at the same depth, the files' schemas are compatible,
//!   and there are at least two subfolders or they are Hive-style `key=value` folders.
//! - Otherwise each subfolder is examined the same way.
//! - Below a root, each folder level is a partition key: `key` when every folder at that level
//!   is `key=value` (same key), else `partition_<level>`; the folder names are the values.
//! - Files of one root whose schemas are incompatible become separate tables, named after
//!   their first file.

use std::collections::{BTreeMap, HashSet};

use super::classify::FileSchema;

/// `s3://bucket/prefix/`, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Path {
    pub bucket: String,
    /// Empty, or ending in `/`.
    pub prefix: String,
}

impl S3Path {
    /// Parses an S3 target path; a path not ending in `/` names a folder all the same.
    #[must_use]
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("s3://").or_else(|| path.strip_prefix("s3a://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Some(Self { bucket: bucket.to_string(), prefix })
    }

    /// The `s3://` URL of `rel` (a key or folder relative to this path).
    #[must_use]
    pub fn url(&self, rel: &str) -> String {
        format!("s3://{}/{}{}", self.bucket, self.prefix, rel)
    }

    /// The name of the folder this path names (the bucket's at its root).
    #[must_use]
    pub fn folder_name(&self) -> &str {
        self.prefix.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(&self.bucket)
    }
}

/// Whether Glue's crawler ignores an object regardless of exclusions: empty objects, folder
/// markers, and anything under a name starting with `_` or `.` (`_SUCCESS`, `.part-0.crc`,
/// `_temporary/`).
#[must_use]
pub fn is_hidden(rel: &str, size: u64) -> bool {
    size == 0
        || rel.ends_with('/')
        || rel.ends_with("_$folder$")
        || rel.split('/').any(|part| part.starts_with('_') || part.starts_with('.'))
}

// ---- globs ---------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Char(char),
    /// `?`: one character other than `/`.
    Any,
    /// `*`: any run of characters without `/`.
    Star,
    /// `**`: any run of characters, `/` included.
    StarStar,
    /// `[...]`: (negated, ranges); never matches `/`.
    Class(bool, Vec<(char, char)>),
}

/// One exclusion pattern, braces expanded.
#[derive(Clone, Debug)]
pub struct Glob {
    alternatives: Vec<Vec<Token>>,
}

impl Glob {
    /// Compiles a Glue exclude pattern: `*`, `**`, `?`, `[abc]`, `[a-z]`, `[!a]`, `{a,b}` (not
    /// nested) and `\` escapes.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for expanded in expand_braces(pattern)? {
            alternatives.push(tokenize(&expanded)?);
        }
        Ok(Self { alternatives })
    }

    #[must_use]
    pub fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        self.alternatives.iter().any(|tokens| {
            let mut failed = HashSet::new();
            match_at(tokens, 0, &chars, 0, &mut failed)
        })
    }
}

fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().ok_or_else(|| format!("pattern {pattern} ends with an escape"))?;
                for o in &mut out {
                    o.push('\\');
                    o.push(next);
                }
            }
            '{' => {
                let mut group = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') => return Err(format!("pattern {pattern} nests braces")),
                        Some('\\') => {
                            group.push('\\');
                            group.push(chars.next().ok_or_else(|| format!("pattern {pattern} ends with an escape"))?);
                        }
                        Some(c) => group.push(c),
                        None => return Err(format!("pattern {pattern} has an unclosed brace")),
                    }
                }
                let options = split_unescaped(&group);
                out = out.iter().flat_map(|prefix| options.iter().map(move |o| format!("{prefix}{o}"))).collect();
                if out.len() > 1024 {
                    return Err(format!("pattern {pattern} expands to too many alternatives"));
                }
            }
            c => out.iter_mut().for_each(|o| o.push(c)),
        }
    }
    Ok(out)
}

fn split_unescaped(group: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = group.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let last = parts.last_mut().expect("non-empty");
                last.push('\\');
                if let Some(n) = chars.next() {
                    last.push(n);
                }
            }
            ',' => parts.push(String::new()),
            c => parts.last_mut().expect("non-empty").push(c),
        }
    }
    parts
}

fn tokenize(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 1;
                tokens.push(Token::Char(*chars.get(i).ok_or("pattern ends with an escape")?));
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                tokens.push(Token::StarStar);
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::Any),
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = *chars.get(j).ok_or_else(|| format!("pattern {pattern} has an unclosed bracket"))?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let c = if c == '\\' {
                        j += 1;
                        *chars.get(j).ok_or("pattern ends with an escape")?
                    } else {
                        c
                    };
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|&e| e != ']') {
                        ranges.push((c, chars[j + 2]));
                        j += 3;
                    } else {
                        ranges.push((c, c));
                        j += 1;
                    }
                }
                i = j;
                tokens.push(Token::Class(negated, ranges));
            }
            c => tokens.push(Token::Char(c)),
        }
        i += 1;
    }
    Ok(tokens)
}

fn match_at(tokens: &[Token], ti: usize, s: &[char], si: usize, failed: &mut HashSet<(usize, usize)>) -> bool {
    if failed.contains(&(ti, si)) {
        return false;
    }
    let ok = match tokens.get(ti) {
        None => si == s.len(),
        Some(Token::Char(c)) => s.get(si) == Some(c) && match_at(tokens, ti + 1, s, si + 1, failed),
        Some(Token::Any) => s.get(si).is_some_and(|&c| c != '/') && match_at(tokens, ti + 1, s, si + 1, failed),
        Some(Token::Class(negated, ranges)) => {
            s.get(si).is_some_and(|&c| c != '/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                && match_at(tokens, ti + 1, s, si + 1, failed)
        }
        Some(Token::Star) => {
            let mut end = si;
            loop {
                if match_at(tokens, ti + 1, s, end, failed) {
                    break true;
                }
                if end == s.len() || s[end] == '/' {
                    break false;
                }
                end += 1;
            }
        }
        Some(Token::StarStar) => (si..=s.len()).any(|end| match_at(tokens, ti + 1, s, end, failed)),
    };
    if !ok {
        failed.insert((ti, si));
    }
    ok
}

/// A target's exclude patterns.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    globs: Vec<Glob>,
}

impl Exclusions {
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        Ok(Self { globs: patterns.iter().map(|p| Glob::new(p)).collect::<Result<_, _>>()? })
    }

    /// Whether a key (relative to the include path) is excluded: a pattern matches the key, or
    /// one of the folders it is in (so `logs` and `logs/**` both exclude `logs/a.csv`).
    #[must_use]
    pub fn excludes(&self, rel: &str) -> bool {
        if self.globs.is_empty() {
            return false;
        }
        let folders = rel.match_indices('/').map(|(i, _)| &rel[..i]);
        let mut candidates = std::iter::once(rel).chain(folders);
        candidates.any(|c| self.globs.iter().any(|g| g.matches(c)))
    }
}

// ---- grouping ------------------------------------------------------------------------------

/// A file to group, its key relative to the include path.
#[derive(Clone, Debug)]
pub struct GroupFile {
    pub rel: String,
    pub size: u64,
    /// `None`: not classified (sampling left it out); fits any table of its folder.
    pub schema: Option<FileSchema>,
}

#[derive(Clone, Debug, Default)]
pub struct GroupOptions {
    pub table_prefix: String,
    /// Configuration `Grouping.TableGroupingPolicy = CombineCompatibleSchemas`: one table for
    /// the include path when every file is compatible.
    pub combine_compatible: bool,
    /// Configuration `Grouping.TableLevelConfiguration`: the folder level of table roots,
    /// counting the bucket as level 1.
    pub table_level: Option<usize>,
}

/// Files of one partition (one folder path of values).
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionGroup {
    pub values: Vec<String>,
    /// Relative to the include path, ending in `/`.
    pub folder: String,
    pub location: String,
    pub schema: Option<FileSchema>,
    pub objects: u64,
    pub bytes: u64,
    /// Bytes of the files whose schema was read.
    pub sampled_bytes: u64,
}

/// A table found under an include path.
#[derive(Clone, Debug, PartialEq)]
pub struct TableGroup {
    pub name: String,
    /// The root folder relative to the include path (empty for the include path itself, a
    /// key for a single-file table).
    pub root: String,
    pub location: String,
    pub partition_keys: Vec<String>,
    pub partitions: Vec<PartitionGroup>,
    pub schema: Option<FileSchema>,
    pub objects: u64,
    pub bytes: u64,
    pub sampled_bytes: u64,
    /// Folders (relative, ending in `/`) holding the table's files.
    pub folders: Vec<String>,
}

#[derive(Default)]
struct Node {
    files: Vec<usize>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn collect(&self, out: &mut Vec<usize>) {
        out.extend_from_slice(&self.files);
        for child in self.children.values() {
            child.collect(out);
        }
    }

    fn all(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }
}

/// Lower case, anything but letters and digits replaced by `_`.
#[must_use]
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect::<String>()
        .to_lowercase()
}

/// `key=value` folder name, split.
pub(crate) fn hive(name: &str) -> Option<(&str, &str)> {
    name.split_once('=').filter(|(k, v)| !k.is_empty() && !v.is_empty())
}

/// Folder levels between `root` and a file (`root` ends in `/` or is empty).
fn depth(rel: &str, root: &str) -> usize {
    rel[root.len()..].matches('/').count()
}

/// Splits files into groups of mutually compatible schemas (files without one join the first).
fn clusters(files: &[GroupFile], ids: &[usize]) -> Vec<(Vec<usize>, Option<FileSchema>)> {
    let mut out: Vec<(Vec<usize>, Option<FileSchema>)> = Vec::new();
    let mut unknown = Vec::new();
    for &id in ids {
        let Some(schema) = &files[id].schema else {
            unknown.push(id);
            continue;
        };
        match out.iter_mut().find(|(_, s)| s.as_ref().is_none_or(|s| s.compatible(schema))) {
            Some((members, merged)) => {
                members.push(id);
                match merged {
                    Some(m) => m.merge(schema),
                    None => *merged = Some(schema.clone()),
                }
            }
            None => out.push((vec![id], Some(schema.clone()))),
        }
    }
    match out.first_mut() {
        Some((members, _)) => members.extend(unknown),
        None if !unknown.is_empty() => out.push((unknown, None)),
        None => {}
    }
    out
}

/// Groups the files under `include` into tables.
#[must_use]
pub fn group(include: &S3Path, files: &[GroupFile], opts: &GroupOptions) -> Vec<TableGroup> {
    let mut root = Node::default();
    for (id, f) in files.iter().enumerate() {
        let mut node = &mut root;
        let mut parts: Vec<&str> = f.rel.split('/').collect();
        parts.pop();
        for part in parts {
            node = node.children.entry(part.to_string()).or_default();
        }
        node.files.push(id);
    }
    let mut roots: Vec<(String, Vec<usize>)> = Vec::new();
    let prefix_levels = include.prefix.matches('/').count();
    match opts.table_level {
        Some(level) if level > prefix_levels => at_level(&root, String::new(), level - 1 - prefix_levels, &mut roots),
        _ if opts.combine_compatible && clusters(files, &root.all()).len() == 1 => {
            roots.push((String::new(), root.all()))
        }
        _ => place(&root, String::new(), files, &mut roots),
    }
    let mut out = Vec::new();
    for (rel, ids) in roots {
        make_tables(include, files, &rel, &ids, opts, &mut out);
    }
    // names must be unique: later duplicates get a hash of their location, as Glue does
    let mut seen = HashSet::new();
    for t in &mut out {
        if !seen.insert(t.name.clone()) {
            t.name = format!("{}_{:08x}", t.name, fnv32(&t.location));
            seen.insert(t.name.clone());
        }
    }
    out
}

pub(crate) fn fnv32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn at_level(node: &Node, rel: String, remaining: usize, out: &mut Vec<(String, Vec<usize>)>) {
    if remaining == 0 {
        let ids = node.all();
        if !ids.is_empty() {
            out.push((rel, ids));
        }
        return;
    }
    for (name, child) in &node.children {
        at_level(child, format!("{rel}{name}/"), remaining - 1, out);
    }
}

fn place(node: &Node, rel: String, files: &[GroupFile], out: &mut Vec<(String, Vec<usize>)>) {
    if !node.files.is_empty() {
        out.push((rel.clone(), node.all()));
        return;
    }
    if node.children.is_empty() {
        return;
    }
    let ids = node.all();
    let depths: HashSet<usize> = ids.iter().map(|&i| depth(&files[i].rel, &rel)).collect();
    let hive_keys: HashSet<Option<&str>> = node.children.keys().map(|n| hive(n).map(|(k, _)| k)).collect();
    let hive_style = hive_keys.len() == 1 && !hive_keys.contains(&None);
    // below the include path a lone subfolder is a partition level too (`sales/2026/...`);
    // at the include path it is a dataset of its own, unless its name is a number: a time
    // layout such as Firehose's `YYYY/MM/DD/HH/` starting with its first year
    let lone_number = node.children.len() == 1
        && node.children.keys().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let partition_like = node.children.len() >= 2 || hive_style || !rel.is_empty() || lone_number;
    if depths.len() == 1 && partition_like && clusters(files, &ids).len() == 1 {
        out.push((rel, ids));
        return;
    }
    for (name, child) in &node.children {
        place(child, format!("{rel}{name}/"), files, out);
    }
}

fn make_tables(
    include: &S3Path,
    files: &[GroupFile],
    rel: &str,
    ids: &[usize],
    opts: &GroupOptions,
    out: &mut Vec<TableGroup>,
) {
    let folder_name = if rel.is_empty() {
        include.folder_name().to_string()
    } else {
        rel.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string()
    };
    let groups = clusters(files, ids);
    let several = groups.len() > 1;
    for (members, schema) in groups {
        let (name, root, location) = if several && members.len() == 1 {
            // a lone file of its own schema: a table of that file
            let key = &files[members[0]].rel;
            let file_name = key.rsplit('/').next().unwrap_or(key);
            (sanitize(file_name), key.clone(), include.url(key))
        } else if several {
            let key = &files[members[0]].rel;
            let file_name = key.rsplit('/').next().unwrap_or(key);
            (sanitize(file_name), rel.to_string(), include.url(rel))
        } else {
            (sanitize(&folder_name), rel.to_string(), include.url(rel))
        };
        let mut name = format!("{}{name}", opts.table_prefix);
        if name.chars().count() > crate::limits::NAME_MAX {
            name = name.chars().take(crate::limits::NAME_MAX - 9).collect();
        }
        let depths: HashSet<usize> = members.iter().map(|&i| depth(&files[i].rel, rel)).collect();
        let levels = if root.ends_with('/') || root.is_empty() {
            match depths.iter().next() {
                Some(&d) if depths.len() == 1 => d,
                _ => 0,
            }
        } else {
            0
        };
        let mut folders: Vec<String> = members
            .iter()
            .map(|&i| {
                let r = &files[i].rel;
                r[..r.rfind('/').map_or(0, |p| p + 1)].to_string()
            })
            .collect();
        folders.sort();
        folders.dedup();
        let mut table = TableGroup {
            name,
            location,
            partition_keys: Vec::new(),
            partitions: Vec::new(),
            schema,
            objects: members.len() as u64,
            bytes: members.iter().map(|&i| files[i].size).sum(),
            sampled_bytes: members.iter().filter(|&&i| files[i].schema.is_some()).map(|&i| files[i].size).sum(),
            folders,
            root,
        };
        if levels > 0 {
            partition(include, files, rel, &members, levels, &mut table);
        }
        out.push(table);
    }
}

/// Partition keys and partitions of a table whose files all sit `levels` folders below `rel`.
fn partition(
    include: &S3Path,
    files: &[GroupFile],
    rel: &str,
    members: &[usize],
    levels: usize,
    table: &mut TableGroup,
) {
    let segments = |i: usize| -> Vec<&str> {
        let r = &files[i].rel[rel.len()..];
        r.split('/').take(levels).collect()
    };
    let mut keys = Vec::new();
    for level in 0..levels {
        let names: HashSet<Option<&str>> = members.iter().map(|&i| hive(segments(i)[level]).map(|(k, _)| k)).collect();
        let key = match names.iter().next() {
            Some(Some(k)) if names.len() == 1 => {
                let k = k.to_lowercase();
                if keys.contains(&k) { format!("partition_{level}") } else { k }
            }
            _ => format!("partition_{level}"),
        };
        keys.push(key);
    }
    let hive_levels: Vec<bool> = keys.iter().enumerate().map(|(i, k)| *k != format!("partition_{i}")).collect();
    let mut parts: BTreeMap<String, PartitionGroup> = BTreeMap::new();
    for &i in members {
        let segs = segments(i);
        let folder = format!("{rel}{}/", segs.join("/"));
        let f = &files[i];
        let p = parts.entry(folder.clone()).or_insert_with(|| PartitionGroup {
            values: segs
                .iter()
                .zip(&hive_levels)
                .map(|(s, &h)| if h { hive(s).map_or(*s, |(_, v)| v).to_string() } else { (*s).to_string() })
                .collect(),
            location: include.url(&folder),
            folder,
            schema: None,
            objects: 0,
            bytes: 0,
            sampled_bytes: 0,
        });
        p.objects += 1;
        p.bytes += f.size;
        if let Some(s) = &f.schema {
            p.sampled_bytes += f.size;
            match &mut p.schema {
                Some(m) => m.merge(s),
                None => p.schema = Some(s.clone()),
            }
        }
    }
    table.partition_keys = keys;
    table.partitions = parts.into_values().collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(keys: &[&str]) -> Vec<GroupFile> {
        keys.iter().map(|k| GroupFile { rel: (*k).to_string(), size: 10, schema: None }).collect()
    }

    fn summary(t: &TableGroup) -> (String, String, Vec<String>, Vec<Vec<String>>) {
        (
            t.name.clone(),
            t.location.clone(),
            t.partition_keys.clone(),
            t.partitions.iter().map(|p| p.values.clone()).collect(),
        )
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn paths() {
        let p = S3Path::parse("s3://bucket/data/raw").unwrap();
        assert_eq!((p.bucket.as_str(), p.prefix.as_str(), p.folder_name()), ("bucket", "data/raw/", "raw"));
        assert_eq!(p.url("x/"), "s3://bucket/data/raw/x/");
        assert_eq!(S3Path::parse("s3://bucket").unwrap().folder_name(), "bucket");
        assert!(S3Path::parse("https://bucket/x").is_none());
        assert!(S3Path::parse("s3:///x").is_none());
    }

    #[test]
    fn hidden_files() {
        assert!(is_hidden("events/_SUCCESS", 0));
        assert!(is_hidden("events/_SUCCESS", 5));
        assert!(is_hidden("events/.part-0.crc", 5));
        assert!(is_hidden("events/_temporary/0/part", 5));
        assert!(is_hidden("events/dt=1/", 0));
        assert!(is_hidden("events/x.csv", 0));
        assert!(is_hidden("events_$folder$", 1));
        assert!(!is_hidden("events/dt=1/part-0.csv", 5));
    }

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| Glob::new(p).unwrap().matches(s);
        assert!(g("*.csv", "a.csv"));
        assert!(!g("*.csv", "x/a.csv"));
        assert!(g("**.csv", "x/y/a.csv"));
        assert!(g("**/*.csv", "x/y/a.csv"));
        assert!(g("departments/**", "departments/x/y.json"));
        assert!(g("2015/0[2-9]/**", "2015/03/a"));
        assert!(!g("2015/0[2-9]/**", "2015/01/a"));
        assert!(g("2015/1[!0-1]/**", "2015/12/a"));
        assert!(g("*.{csv,json}", "a.json"));
        assert!(!g("*.{csv,json}", "a.txt"));
        assert!(g("dt=2024-0?/*", "dt=2024-01/f"));
        assert!(!g("?", "/"));
        assert!(g("a\\*b", "a*b"));
        assert!(!g("a\\*b", "axb"));
        assert!(Glob::new("{a,{b}}").is_err());
        assert!(Glob::new("[abc").is_err());

        let ex = Exclusions::new(&strings(&["logs", "**.tmp", "2015/0[1-6]/**"])).unwrap();
        assert!(ex.excludes("logs/a.csv"));
        assert!(ex.excludes("x/y/z.tmp"));
        assert!(ex.excludes("2015/03/x.csv"));
        assert!(!ex.excludes("2015/07/x.csv"));
        assert!(!ex.excludes("catalog/logs.csv"));
    }

    #[test]
    fn a_time_layout_under_the_include_path_is_one_table() {
        // Firehose's YYYY/MM/DD/HH/ layout: the include path is the table, each level a partition
        let include = S3Path::parse("s3://lake/clicks/").unwrap();
        let fs = files(&["2026/11/26/09/clicks-1-a.parquet", "2026/11/26/10/clicks-1-b.parquet"]);
        let tables = group(&include, &fs, &GroupOptions::default());
        assert_eq!(tables.len(), 1);
        assert_eq!(
            summary(&tables[0]),
            (
                "clicks".to_string(),
                "s3://lake/clicks/".to_string(),
                strings(&["partition_0", "partition_1", "partition_2", "partition_3"]),
                vec![strings(&["2026", "11", "26", "09"]), strings(&["2026", "11", "26", "10"])]
            )
        );
        // a lone named folder is still a dataset of its own
        let fs = files(&["sales/2026/a.csv", "sales/2027/b.csv"]);
        let tables = group(&include, &fs, &GroupOptions::default());
        assert_eq!(tables[0].name, "sales");
    }

    #[test]
    fn hive_partitions_two_levels() {
        let include = S3Path::parse("s3://lake/raw/").unwrap();
        let fs = files(&[
            "events/year=2025/month=12/a.csv",
            "events/year=2026/month=01/a.csv",
            "events/year=2026/month=01/b.csv",
            "events/year=2026/month=02/a.csv",
        ]);
        let tables = group(&include, &fs, &GroupOptions::default());
        assert_eq!(tables.len(), 1);
        let t = &tables[0];
        assert_eq!(
            summary(t),
            (
                "events".to_string(),
                "s3://lake/raw/events/".to_string(),
                strings(&["year", "month"]),
                vec![strings(&["2025", "12"]), strings(&["2026", "01"]), strings(&["2026", "02"])]
            )
        );
        assert_eq!(t.partitions[1].location, "s3://lake/raw/events/year=2026/month=01/");
        assert_eq!((t.partitions[1].objects, t.partitions[1].bytes), (2, 20));
        assert_eq!((t.objects, t.bytes), (4, 40));

        // a single Hive partition is still a partition
        let fs = files(&["events/dt=2026-01-01/a.json"]);
        let tables = group(&include, &fs, &GroupOptions { table_prefix: "raw_".into(), ..GroupOptions::default() });
        assert_eq!(summary(&tables[0]).0, "raw_events");
        assert_eq!(tables[0].partition_keys, ["dt"]);
    }

    #[test]
    fn unnamed_partitions_and_roots() {
        let include = S3Path::parse("s3://lake/Sales-Data/").unwrap();
        // files under dated folders of the include path: the include path is the table
        let fs = files(&["2026/01/a.csv", "2026/02/a.csv", "2025/12/x.csv"]);
        let tables = group(&include, &fs, &GroupOptions::default());
        assert_eq!(tables.len(), 1);
        assert_eq!(
            summary(&tables[0]),
            (
                "sales_data".to_string(),
                "s3://lake/Sales-Data/".to_string(),
                strings(&["partition_0", "partition_1"]),
                vec![strings(&["2025", "12"]), strings(&["2026", "01"]), strings(&["2026", "02"])]
            )
        );

        // two datasets side by side, one flat, one partitioned; uneven depth splits
        let fs = files(&[
            "orders/a.csv",
            "orders/b.csv",
            "clicks/2026/a.json",
            "clicks/2027/b.json",
            "misc/x/y/z.csv",
            "misc/q/r.csv",
        ]);
        let mut tables = group(&include, &fs, &GroupOptions::default());
        tables.sort_by(|a, b| a.location.cmp(&b.location));
        let s: Vec<_> = tables.iter().map(summary).collect();
        assert_eq!(s.len(), 4, "{s:?}");
        assert_eq!(
            s[0],
            (
                "clicks".into(),
                "s3://lake/Sales-Data/clicks/".into(),
                strings(&["partition_0"]),
                vec![strings(&["2026"]), strings(&["2027"])]
            )
        );
        assert_eq!(s[1].1, "s3://lake/Sales-Data/misc/q/");
        assert_eq!(
            s[2],
            ("x".into(), "s3://lake/Sales-Data/misc/x/".into(), strings(&["partition_0"]), vec![strings(&["y"])])
        );
        assert_eq!((s[3].0.as_str(), s[3].2.len()), ("orders", 0));

        // one dataset under the include path, with a single (unnamed) partition so far
        let fs = files(&["sales/2026/01/a.csv"]);
        let tables = group(&include, &fs, &GroupOptions::default());
        assert_eq!(summary(&tables[0]).0, "sales");
        assert_eq!(tables[0].partition_keys, ["partition_0", "partition_1"]);

        // files directly in the include path
        let fs = files(&["a.csv", "b.csv"]);
        let tables = group(&S3Path::parse("s3://lake").unwrap(), &fs, &GroupOptions::default());
        assert_eq!(summary(&tables[0]).0, "lake");

        // table level 3 (bucket = 1): roots are the second folder below the bucket
        let fs = files(&["a/x/1/f.csv", "a/y/2/f.csv"]);
        let tables = group(
            &S3Path::parse("s3://lake/").unwrap(),
            &fs,
            &GroupOptions { table_level: Some(3), ..Default::default() },
        );
        let names: Vec<_> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!(tables[0].partition_keys, ["partition_0"]);
    }

    #[test]
    fn incompatible_schemas_split() {
        use super::super::classify::classify_text;
        let csv = |body: &str| classify_text("f.csv", body.as_bytes(), body.len() as u64);
        let include = S3Path::parse("s3://b/").unwrap();
        let fs = vec![
            GroupFile { rel: "t/p=1/a.csv".into(), size: 10, schema: csv("id,name\n1,a\n") },
            GroupFile { rel: "t/p=2/a.csv".into(), size: 10, schema: csv("id,name,extra\n2,b,1.5\n") },
            GroupFile { rel: "u/1/a.csv".into(), size: 10, schema: csv("id,name\n1,a\n") },
            GroupFile { rel: "u/2/a.csv".into(), size: 10, schema: csv("sku,price\nx,1.5\n") },
        ];
        let mut tables = group(&include, &fs, &GroupOptions::default());
        tables.sort_by(|a, b| a.location.cmp(&b.location));
        let s: Vec<_> = tables.iter().map(|t| (t.name.as_str(), t.location.as_str())).collect();
        assert_eq!(s, [("t", "s3://b/t/"), ("1", "s3://b/u/1/"), ("2", "s3://b/u/2/")]);
        let cols: Vec<_> = tables[0].schema.as_ref().unwrap().columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(cols, ["id", "name", "extra"]);
        assert_eq!(tables[0].partitions[1].schema.as_ref().unwrap().columns.len(), 3);
    }
}

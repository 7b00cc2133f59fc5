//! The layering ARCHITECTURE.md promises, read from the source: no module of `src/` imports
//! one that imports it back, the data layer speaks no HTTP, and files stay small enough to
//! hold in one's head. (`scripts/modgraph.py` prints the same graph for a person.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every source file of the crate: its module path (`api::deals`, `""` for the crate root),
/// its path relative to `src/`, and its text without the unit tests.
fn sources() -> Vec<(String, String, String)> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut dirs = vec![root.clone()];
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                found.push((module_of(Path::new(&relative)), relative, read(&path)));
            }
        }
    }
    found
}

fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> =
        relative.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts.join("::")
}

fn read(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The modules a source names through `crate::` paths (`use` lines, inline paths and doc
/// links alike), each resolved to the longest module prefix that exists.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let resolve = |path: &str| {
        let segments: Vec<&str> = path.split("::").collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|candidate| modules.contains(candidate))
    };
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':');
        let mut targets = vec![path.to_owned()];
        // `crate::a::{b, c::d}` names `a::b` and `a::c` too.
        if let Some(group) = rest[path.len()..].strip_prefix("::{") {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let first = item.trim().split("::").next().unwrap_or_default();
                if !first.is_empty() && first != "self" && first.starts_with(char::is_lowercase) {
                    targets.push(if path.is_empty() {
                        first.to_owned()
                    } else {
                        format!("{path}::{first}")
                    });
                }
            }
        }
        found.extend(targets.iter().filter_map(|t| resolve(t)));
    }
    found
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|(m, _, _)| m.clone()).collect();
    let graph: BTreeMap<&str, BTreeSet<String>> = sources
        .iter()
        .map(|(module, _, text)| {
            let mut targets = imports(text, &modules);
            targets.remove(module);
            targets.remove("");
            (module.as_str(), targets)
        })
        .collect();
    assert!(graph.len() > 100, "the sources were read: {} modules", graph.len());
    let reaches = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = graph[from].iter().map(String::as_str).collect();
        while let Some(next) = todo.pop() {
            if seen.insert(next.to_owned()) {
                todo.extend(graph.get(next).into_iter().flatten().map(String::as_str));
            }
        }
        seen
    };
    let cycles: Vec<String> = graph
        .keys()
        .filter(|m| reaches(m).contains(**m))
        .map(|m| {
            let back: Vec<&String> = graph[*m].iter().filter(|t| reaches(t).contains(*m)).collect();
            format!("{m} -> {back:?} -> … -> {m}")
        })
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_data_layer_speaks_no_http_and_nothing_below_api_imports_it() {
    let mut offenders = Vec::new();
    for (_, file, text) in sources() {
        let forbidden: &[&str] = if file.starts_with("store/") || file.starts_with("db/") {
            &["actix_web", "crate::api", "crate::workflows"]
        } else if file.starts_with("workflows/") {
            &["actix_web", "crate::api"]
        } else if file.starts_with("domain/") {
            &["actix_web", "crate::api", "crate::workflows", "crate::store", "crate::db"]
        } else {
            &[]
        };
        offenders.extend(
            forbidden.iter().filter(|f| text.contains(**f)).map(|f| format!("{file}: {f}")),
        );
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// Files longer than a reader can hold in their head, still to split, with the length they
/// may not grow past. Generated (`db/schema.rs`) and data (`seed/`) files are exempt.
const STILL_TO_SPLIT: &[(&str, usize)] = &[];

#[test]
fn source_files_stay_short() {
    let mut long = Vec::new();
    for (_, file, _) in sources() {
        if file.starts_with("seed/") || file == "db/schema.rs" {
            continue;
        }
        let path = format!("{}/src/{file}", env!("CARGO_MANIFEST_DIR"));
        let lines = std::fs::read_to_string(path).unwrap().lines().count();
        let limit = STILL_TO_SPLIT.iter().find(|(f, _)| *f == file).map_or(600, |(_, n)| *n);
        if lines > limit {
            long.push(format!("{file}: {lines} lines (at most {limit})"));
        }
    }
    assert!(long.is_empty(), "{long:#?}");
}

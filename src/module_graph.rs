//! The test that the crate's top-level modules import one another without a cycle, so that each can be read
//! (and changed) knowing only the modules below it.
//!
//! A top-level module is a file `src/<name>.rs` (the crate roots `lib.rs` and `main.rs` aside) or a directory
//! `src/<name>/` with everything under it. Submodules of one top-level module may refer to one another as
//! they like: only the graph between top-level modules must be acyclic. An edge is any path in code that
//! names another top-level module: `use crate::x::...`, `use crate::{x, y::z}`, `crate::x::f()`, and a
//! `super::` path that climbs to the crate root (`super::x` in `src/y.rs`). Comment lines (docs included) are
//! not code and make no edge: a doc may point anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles between top-level modules that are accepted, each as the modules along it in the order
/// [`find_cycle`] reports them, with why. None is today: keep it that way.
const ALLOWED_CYCLES: &[(&[&str], &str)] = &[];

/// Which top-level module each module refers to.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The crate's top-level modules, by name: `src/*.rs` but the crate roots, and `src/*/`.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("src/ is readable")
        .map(|entry| entry.expect("src/ is readable").path())
        .filter_map(|path| {
            if path.is_dir() {
                return Some(path.file_name()?.to_str()?.to_owned());
            }
            let name = path.strip_prefix(src).ok()?.to_str()?.strip_suffix(".rs")?;
            (name != "lib" && name != "main").then(|| name.to_owned())
        })
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("src/ is readable").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// How deep the module a file holds sits below the crate root: 1 for `src/x.rs` and `src/x/mod.rs`, 2 for
/// `src/x/y.rs`, and so on.
fn file_depth(relative: &Path) -> usize {
    let components = relative.components().count();
    if relative.file_name().is_some_and(|name| name == "mod.rs") {
        components - 1
    } else {
        components
    }
}

/// The top-level modules (among `modules`) that the code of a file `depth` modules below the crate root
/// names. Inline modules (`mod tests {`) are found by their indentation, which rustfmt keeps exact.
fn referenced(code: &str, depth: usize, modules: &BTreeSet<String>) -> BTreeSet<String> {
    // Each line of code, with how deep its module sits.
    let mut lines: Vec<(usize, &str)> = Vec::new();
    // The indentation of each inline module the current line is in.
    let mut inline: Vec<usize> = Vec::new();
    for line in code.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed == "}" && inline.last() == Some(&indent) {
            inline.pop();
        } else if !trimmed.starts_with("//") {
            lines.push((depth + inline.len(), line));
        }
        let opens_module = trimmed
            .strip_prefix("pub ")
            .unwrap_or(trimmed)
            .strip_prefix("mod ")
            .is_some_and(|rest| rest.ends_with('{'));
        if opens_module {
            inline.push(indent);
        }
    }
    // What follows `at` in line `index`: the rest of the line, and of the lines after it while a `{` group
    // that starts there is open (`use crate::{` over several lines).
    let path_at = |index: usize, at: usize| -> String {
        let mut path = lines[index].1[at..].to_owned();
        let mut next = index + 1;
        while path.starts_with('{')
            && path.matches('{').count() > path.matches('}').count()
            && next < lines.len()
        {
            path.push_str(lines[next].1);
            next += 1;
        }
        path
    };
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    for (index, &(line_depth, line)) in lines.iter().enumerate() {
        for (at, _) in line.match_indices("crate::") {
            if line[..at].ends_with(is_name) {
                continue; // `other_crate::`, not this crate
            }
            found.extend(names_at(&path_at(index, at + "crate::".len()), modules));
        }
        for (at, _) in line.match_indices("super::") {
            if line[..at].ends_with(|c: char| is_name(c) || c == ':') {
                continue; // counted from the first `super::` of the path
            }
            let rest = &line[at..];
            let climbed = rest.len() - rest.trim_start_matches("super::").len();
            let climbed = climbed / "super::".len();
            if climbed >= line_depth {
                let after = at + climbed * "super::".len();
                found.extend(names_at(&path_at(index, after), modules));
            }
        }
    }
    found
}

/// The top-level modules named at the start of `path` (what follows `crate::`): one name, or each first name
/// of a `{...}` group.
fn names_at(path: &str, modules: &BTreeSet<String>) -> Vec<String> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    let mut names = Vec::new();
    if let Some(group) = path.strip_prefix('{') {
        // At nesting level 0 of the group, each name that starts an item.
        let mut level = 0usize;
        let mut item_start = true;
        let mut rest = group;
        while let Some(c) = rest.chars().next() {
            match c {
                '{' => level += 1,
                '}' if level == 0 => break,
                '}' => level -= 1,
                ',' if level == 0 => item_start = true,
                c if is_name(c) => {
                    let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
                    if item_start && level == 0 {
                        names.push(rest[..end].to_owned());
                        item_start = false;
                    }
                    rest = &rest[end..];
                    continue;
                }
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
        }
    } else {
        let end = path.find(|c: char| !is_name(c)).unwrap_or(path.len());
        names.push(path[..end].to_owned());
    }
    names.retain(|name| modules.contains(name));
    names
}

/// The graph between the top-level modules of the crate whose sources are in `src`.
fn crate_graph(src: &Path) -> Graph {
    let modules = top_level_modules(src);
    let mut graph: Graph = modules
        .iter()
        .map(|name| (name.clone(), BTreeSet::new()))
        .collect();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src/");
        let top = relative
            .components()
            .next()
            .and_then(|first| first.as_os_str().to_str())
            .map(|first| first.strip_suffix(".rs").unwrap_or(first).to_owned())
            .expect("a file name");
        if !modules.contains(&top) {
            continue; // a crate root
        }
        let code = std::fs::read_to_string(&file).expect("a source file is readable");
        let mut targets = referenced(&code, file_depth(relative), &modules);
        targets.remove(&top);
        graph.get_mut(&top).expect("a module").extend(targets);
    }
    graph
}

/// A cycle of `graph` if it has one, as the modules along it with the first repeated at the end, skipping
/// the cycles `allowed` lists (by their edges).
fn find_cycle(graph: &Graph, allowed: &[&[&str]]) -> Option<Vec<String>> {
    let allowed_edges: BTreeSet<(&str, &str)> = allowed
        .iter()
        .flat_map(|cycle| cycle.windows(2).map(|edge| (edge[0], edge[1])))
        .collect();
    let edges = |from: &str| -> Vec<&str> {
        graph
            .get(from)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|to| !allowed_edges.contains(&(from, to)))
            .collect()
    };
    // Depth-first, keeping the path from the root: an edge back into the path closes a cycle.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for root in graph.keys() {
        if done.contains(root.as_str()) {
            continue;
        }
        let mut path: Vec<&str> = vec![root.as_str()];
        let mut pending: Vec<Vec<&str>> = vec![edges(root)];
        while let Some(next) = pending.last_mut() {
            let Some(to) = next.pop() else {
                done.insert(path.pop().expect("as deep as pending"));
                pending.pop();
                continue;
            };
            if let Some(at) = path.iter().position(|on| *on == to) {
                let mut cycle: Vec<String> =
                    path[at..].iter().map(|name| name.to_string()).collect();
                cycle.push(to.to_owned());
                return Some(cycle);
            }
            if !done.contains(to) {
                path.push(to);
                pending.push(edges(to));
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_import_one_another_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = crate_graph(&src);
    assert!(
        graph.len() > 10 && graph["sync"].contains("reader"),
        "the graph was not read: {graph:?}"
    );
    let allowed: Vec<&[&str]> = ALLOWED_CYCLES.iter().map(|(cycle, _)| *cycle).collect();
    if let Some(cycle) = find_cycle(&graph, &allowed) {
        let edges: Vec<String> = graph
            .iter()
            .map(|(from, to)| format!("{from} -> {to:?}"))
            .collect();
        panic!(
            "the top-level modules import one another in a cycle: {}. Move what both need to the lower one, \
             or to a small module of its own. The graph:\n{}",
            cycle.join(" -> "),
            edges.join("\n")
        );
    }
}

#[test]
fn paths_to_other_modules_are_found_and_cycles_reported() {
    let modules: BTreeSet<String> = ["alpha", "beta", "gamma"].map(String::from).into();
    let code = "use crate::alpha::Thing;\n\
                // use crate::gamma::Doc;\n\
                /// [`crate::gamma`]\n\
                let x = my_crate::gamma::f();\n";
    let names: Vec<String> = referenced(code, 1, &modules).into_iter().collect();
    assert_eq!(names, ["alpha"]);
    for group in [
        "use crate::{beta::{self, One}, std_like};",
        "use crate::{\n    beta::{self, One},\n    std_like,\n};",
        "use crate::{std_like::beta, beta};",
    ] {
        let names: Vec<String> = referenced(group, 1, &modules).into_iter().collect();
        assert_eq!(names, ["beta"], "{group}");
    }
    // `super::` reaches the root from `src/x.rs`, but not from its inline `mod tests`.
    let code =
        "use super::gamma;\nmod tests {\n    use super::alpha;\n    use super::super::beta;\n}\n";
    let names: Vec<String> = referenced(code, 1, &modules).into_iter().collect();
    assert_eq!(names, ["beta", "gamma"]);
    assert!(referenced("use super::gamma;", 2, &modules).is_empty());

    let graph = |edges: &[(&str, &str)]| {
        let mut graph = Graph::new();
        for (from, to) in edges {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    let acyclic = graph(&[("a", "b"), ("b", "c"), ("a", "c")]);
    assert_eq!(find_cycle(&acyclic, &[]), None);
    let cyclic = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]);
    assert_eq!(
        find_cycle(&cyclic, &[]),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
    assert_eq!(find_cycle(&cyclic, &[&["a", "b", "c", "a"]]), None);
}

//! Layers point one way: no two modules of the provider or of its crates import each other, directly or through
//! others. A module is a file (`a/b.rs`, or `a/b/mod.rs` for `a::b`); an import is any path in it that names an
//! item of another module (`use crate::a::b::X`, `super::c::f()` in an expression), tests included. A parent and
//! its children are one room, not layers: `mod.rs` declares and re-exports them and they use its items, so paths
//! between a module and its own ancestors do not count.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

type Module = Vec<String>;

/// Every file module of the crate whose root is `src/lib.rs` (or `main.rs`) under `root`, by module path.
fn file_modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut modules = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Module = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            // `main.rs` beside `lib.rs` is another crate root; its paths go through the library by name.
            if module.is_empty() && path.file_name().is_some_and(|n| n == "main.rs") {
                continue;
            }
            modules.insert(module, path);
        }
    }
    modules
}

/// The paths one file names, each resolved against the module it is written in (inline `mod tests {}` blocks
/// included, so that their `super::` means the file's own module).
struct PathsOf<'a> {
    /// The module the code being visited is in: the file's, then any inline modules around it.
    within: Module,
    named: &'a mut Vec<Module>,
}

impl PathsOf<'_> {
    /// `segments` as an absolute module path, when it starts at `crate`, `self` or `super`.
    fn absolute(&self, segments: &[String]) -> Option<Module> {
        let mut at = self.within.clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                at.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().is_some_and(|s| s == "super") {
                    at.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        at.extend(rest.iter().cloned());
        Some(at)
    }

    fn name(&mut self, segments: &[String]) {
        if let Some(path) = self.absolute(segments) {
            self.named.push(path);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.name(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.name(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.name(prefix),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for PathsOf<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.name(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.within.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.within.pop();
    }

    // Macro bodies are token streams, not syntax: read the paths written in them as tokens.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let mut tokens = Vec::new();
        flatten(mac.tokens.clone(), &mut tokens);
        let mut i = 0;
        while i < tokens.len() {
            if !matches!(tokens[i].as_str(), "crate" | "super") {
                i += 1;
                continue;
            }
            let mut segments = vec![tokens[i].clone()];
            let mut j = i + 1;
            while let (Some(":"), Some(":"), Some(segment)) = (
                tokens.get(j).map(String::as_str),
                tokens.get(j + 1).map(String::as_str),
                tokens.get(j + 2),
            ) {
                segments.push(segment.clone());
                j += 3;
            }
            self.name(&segments);
            i = j;
        }
        syn::visit::visit_macro(self, mac);
    }
}

/// The tokens of a stream, the groups' contents in place of the groups.
fn flatten(stream: proc_macro2::TokenStream, into: &mut Vec<String>) {
    for token in stream {
        match token {
            proc_macro2::TokenTree::Group(group) => flatten(group.stream(), into),
            other => into.push(other.to_string()),
        }
    }
}

/// The deepest file module a path reaches; an item a module re-exports from a child (`pub use rollout::stuck;`
/// in `region/mod.rs`) is the child's, so that a facade hides no import.
fn module_of(
    path: &Module,
    modules: &BTreeMap<Module, PathBuf>,
    reexports: &BTreeMap<(Module, String), Module>,
) -> Module {
    let module = (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| modules.contains_key(m))
        .unwrap_or_default();
    match path.get(module.len()) {
        Some(item) => match reexports.get(&(module.clone(), item.clone())) {
            Some(origin) => module_of(origin, modules, reexports),
            None => module,
        },
        None => module,
    }
}

/// What each module's `pub use` re-exports, by (module, name): the path it names.
fn reexports_of(
    module: &Module,
    syntax: &syn::File,
    into: &mut BTreeMap<(Module, String), Module>,
) {
    fn walk(
        module: &Module,
        prefix: &mut Vec<String>,
        tree: &syn::UseTree,
        into: &mut BTreeMap<(Module, String), Module>,
    ) {
        let mut add = |name: String, prefix: &Vec<String>, last: String| {
            let mut origin = module.clone();
            let mut segments = prefix.clone();
            segments.push(last);
            match segments.first().map(String::as_str) {
                Some("self") => segments.remove(0),
                Some("crate" | "super") | None => return,
                // A child module by name (2018 paths): `pub use rollout::stuck;`.
                Some(_) => String::new(),
            };
            origin.extend(segments);
            into.insert((module.clone(), name), origin);
        };
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(module, prefix, &p.tree, into);
                prefix.pop();
            }
            syn::UseTree::Name(n) => add(n.ident.to_string(), prefix, n.ident.to_string()),
            syn::UseTree::Rename(r) => add(r.rename.to_string(), prefix, r.ident.to_string()),
            syn::UseTree::Glob(_) => {}
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    walk(module, prefix, tree, into);
                }
            }
        }
    }
    for item in &syntax.items {
        if let syn::Item::Use(u) = item {
            if !matches!(u.vis, syn::Visibility::Inherited) {
                walk(module, &mut Vec::new(), &u.tree, into);
            }
        }
    }
}

/// Which module imports which, ancestors left out.
fn imports(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = file_modules(src);
    let parsed: BTreeMap<&Module, syn::File> = modules
        .iter()
        .map(|(module, file)| {
            let text = std::fs::read_to_string(file).unwrap();
            let syntax = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
            (module, syntax)
        })
        .collect();
    let mut reexports = BTreeMap::new();
    for (module, syntax) in &parsed {
        reexports_of(module, syntax, &mut reexports);
    }
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, syntax) in parsed {
        let mut named = Vec::new();
        PathsOf {
            within: module.clone(),
            named: &mut named,
        }
        .visit_file(&syntax);
        let targets = graph.entry(module.clone()).or_default();
        for path in named {
            let target = module_of(&path, &modules, &reexports);
            if !target.starts_with(module) && !module.starts_with(&target) {
                targets.insert(target);
            }
        }
    }
    graph
}

/// The groups of modules that import each other (strongly connected components of two or more), each in order.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<String>> {
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&Module, BTreeSet<Module>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut groups: BTreeSet<Vec<String>> = BTreeSet::new();
    for (m, from_m) in &reached {
        let group: Vec<String> = from_m
            .iter()
            .filter(|other| reached.get(other).is_some_and(|r| r.contains(*m)))
            .map(|other| other.join("::"))
            .collect();
        if group.len() > 1 {
            groups.insert(group);
        }
    }
    groups.into_iter().collect()
}

fn assert_no_cycles(crate_src: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_src);
    let graph = imports(&src);
    assert!(
        graph.len() >= 3,
        "{} modules found in {crate_src}",
        graph.len()
    );
    let found = cycles(&graph);
    // Each group with the imports that close it, to say where to cut.
    let edges: Vec<String> = found
        .iter()
        .flat_map(|group| {
            let graph = &graph;
            group.iter().flat_map(move |from| {
                let module: Module = from.split("::").map(str::to_string).collect();
                graph[&module]
                    .iter()
                    .map(|to| to.join("::"))
                    .filter(|to| group.contains(to))
                    .map(move |to| format!("{from} -> {to}"))
            })
        })
        .collect();
    assert!(
        found.is_empty(),
        "modules of {crate_src} that import each other: {found:#?}\nthrough: {edges:#?}"
    );
}

#[test]
fn the_providers_modules_import_one_way() {
    assert_no_cycles("src");
}

#[test]
fn the_sandboxs_modules_import_one_way() {
    assert_no_cycles("crates/kube-sandbox/src");
}

#[test]
fn the_codecs_import_one_way() {
    assert_no_cycles("crates/kube-codecs/src");
}

/// The check itself: a cycle written into a small tree is found, through `super::`, `crate::`, a macro's tokens and
/// a facade's re-export; a path to an ancestor is not an import.
#[test]
fn a_cycle_through_super_crate_macro_and_reexport_paths_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a; mod b; mod c; pub struct Root;");
    write(
        "a/mod.rs",
        "mod inner; pub use inner::X; fn f() { super::b::g(); }",
    );
    write(
        "a/inner.rs",
        "pub struct X; use super::super::Root; use crate::a::f as _; fn h() { crate::b::g() }",
    );
    write(
        "b.rs",
        "pub fn g() {} #[cfg(test)] mod tests { use super::g; fn t() { format!(\"{}\", crate::c::K); } }",
    );
    // `crate::a::X` is a::inner's, which a re-exports.
    write("c.rs", "pub const K: u8 = 1; use crate::a::X;");
    let graph = imports(dir.path());
    let module = |s: &str| -> Module { s.split("::").map(str::to_string).collect() };
    assert_eq!(graph[&module("a")], [module("b")].into());
    assert_eq!(
        graph[&module("b")],
        [module("c")].into(),
        "a path in a macro counts"
    );
    assert_eq!(graph[&module("c")], [module("a::inner")].into());
    assert_eq!(graph[&module("a::inner")], [module("b")].into());
    assert_eq!(cycles(&graph), vec![vec!["a::inner", "b", "c"]]);
}

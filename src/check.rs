//! `ovscript check`: compile every script (and the modules it imports) with strict variables,
//! then report each call to a function that exists nowhere. Runs nothing.

use rhai::{ASTNode, Engine, Expr, Stmt, AST};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::engine::{search_dirs, Runtime, StdlibResolver};

/// Functions the language itself provides that the metadata does not list.
const LANGUAGE_FUNCTIONS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "eval",
];

/// Checks `path` with `runtime`'s engine; returns one line per problem, `file:line:col: ...`.
pub fn check_file(runtime: &Runtime, path: &Path) -> Vec<String> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return vec![format!("{name}: cannot read: {e}")],
    };
    let ast = match runtime.compile(&name, &text) {
        Ok(ast) => ast,
        Err(e) => return vec![one_line(&crate::diagnostic::parse_report(&e, &name))],
    };
    let resolver = StdlibResolver::new(
        search_dirs(path.parent(), &runtime.ctx.base_dir),
        runtime.objects.clone(),
    );
    let mut checker = Checker {
        engine: &runtime.engine,
        resolver: &resolver,
        known: known_functions(&runtime.engine),
        objects: runtime.objects.names().map(str::to_string).collect(),
        checked: HashSet::new(),
        problems: Vec::new(),
    };
    checker.check_ast(&name, &ast);
    checker.problems
}

/// The first line of a report (`error: file:line:col: message`), without the `error: ` prefix.
fn one_line(report: &str) -> String {
    report
        .lines()
        .next()
        .unwrap_or(report)
        .trim_start_matches("error: ")
        .to_string()
}

fn known_functions(engine: &Engine) -> HashSet<String> {
    let mut known: HashSet<String> = engine
        .gen_fn_signatures(true)
        .iter()
        .filter_map(|s| s.split('(').next())
        .map(|s| s.trim().to_string())
        .collect();
    known.extend(LANGUAGE_FUNCTIONS.iter().map(|s| s.to_string()));
    known
}

struct Checker<'a> {
    engine: &'a Engine,
    resolver: &'a StdlibResolver,
    known: HashSet<String>,
    objects: HashSet<String>,
    checked: HashSet<PathBuf>,
    problems: Vec<String>,
}

struct Call {
    namespace: String,
    name: String,
    line: usize,
    col: usize,
}

impl Checker<'_> {
    fn check_ast(&mut self, file: &str, ast: &AST) {
        let mut calls = Vec::new();
        let mut imports = Vec::new();
        let mut variables: HashSet<String> = self.objects.clone();
        ast.walk(&mut |path: &[ASTNode]| {
            if let Some(node) = path.last() {
                collect(node, &mut calls, &mut imports, &mut variables);
            }
            true
        });
        let mut local: HashSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        for f in ast.iter_functions() {
            variables.extend(f.params.iter().map(|p| p.to_string()));
        }
        let mut modules: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (import_path, alias, line, col) in imports {
            let functions = self.check_module(file, &import_path, line, col);
            local.extend(functions.iter().cloned());
            if let Some(alias) = alias {
                modules.insert(alias, functions);
            }
        }
        for call in calls {
            let known = if call.namespace.is_empty() {
                self.known.contains(&call.name)
                    || local.contains(&call.name)
                    || variables.contains(&call.name)
            } else {
                match modules.get(&call.namespace) {
                    Some(functions) => functions.contains(&call.name),
                    None => true, // a static module of the engine: Rhai itself checks these names
                }
            };
            if !known {
                let candidates: Vec<&str> = if call.namespace.is_empty() {
                    self.known
                        .iter()
                        .chain(local.iter())
                        .map(String::as_str)
                        .collect()
                } else {
                    modules[&call.namespace]
                        .iter()
                        .map(String::as_str)
                        .collect()
                };
                let hint = closest(&call.name, &candidates)
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_default();
                let name = if call.namespace.is_empty() {
                    call.name
                } else {
                    format!("{}::{}", call.namespace, call.name)
                };
                self.problems.push(format!(
                    "{file}:{}:{}: unknown function {name}{hint}",
                    call.line, call.col
                ));
            }
        }
    }

    /// Checks an imported module once; returns the functions it defines.
    fn check_module(
        &mut self,
        importer: &str,
        import_path: &str,
        line: usize,
        col: usize,
    ) -> BTreeSet<String> {
        let file = match self.resolver.find(Some(importer), import_path) {
            Ok(file) => file,
            Err(looked) => {
                let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
                self.problems.push(format!(
                    "{importer}:{line}:{col}: module \"{import_path}\" not found (looked for {})",
                    looked.join(", ")
                ));
                return BTreeSet::new();
            }
        };
        let name = file.display().to_string();
        let ast = match self.resolver.compile(self.engine, &file) {
            Ok(ast) => ast,
            Err(e) => {
                self.problems
                    .push(one_line(&crate::diagnostic::parse_report(&e, &name)));
                return BTreeSet::new();
            }
        };
        let functions = ast.iter_functions().map(|f| f.name.to_string()).collect();
        if self.checked.insert(file) {
            self.check_ast(&name, &ast);
        }
        functions
    }
}

/// The known name nearest to a misspelt one, if it is near enough to be what was meant.
fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), *c))
        .filter(|(distance, c)| *distance <= 2.max(name.len() / 4) && *distance < c.len())
        .min()
        .map(|(_, c)| c)
}

type Import = (String, Option<String>, usize, usize);

fn collect(
    node: &ASTNode,
    calls: &mut Vec<Call>,
    imports: &mut Vec<Import>,
    variables: &mut HashSet<String>,
) {
    let (call, pos) = match node {
        ASTNode::Expr(Expr::FnCall(call, pos)) | ASTNode::Stmt(Stmt::FnCall(call, pos)) => {
            (call, pos)
        }
        ASTNode::Expr(Expr::MethodCall(call, pos)) => (call, pos),
        ASTNode::Stmt(Stmt::Var(var, _, _)) => {
            variables.insert(var.0.name.to_string());
            return;
        }
        ASTNode::Stmt(Stmt::Import(import, pos)) => {
            if let Expr::StringConstant(path, _) = &import.0 {
                let alias = (!import.1.name.is_empty()).then(|| import.1.name.to_string());
                imports.push((
                    path.to_string(),
                    alias,
                    pos.line().unwrap_or(0),
                    pos.position().unwrap_or(1),
                ));
            }
            return;
        }
        _ => return,
    };
    if call.op_token.is_some()
        || !call
            .name
            .starts_with(|c: char| c.is_alphabetic() || c == '_')
    {
        return; // operators
    }
    calls.push(Call {
        namespace: call
            .namespace
            .path
            .iter()
            .map(|i| i.name.to_string())
            .collect::<Vec<_>>()
            .join("::"),
        name: call.name.to_string(),
        line: pos.line().unwrap_or(0),
        col: pos.position().unwrap_or(1),
    });
}

//! `ovscript check`: compile every script (and the modules it imports) with strict variables,
//! then report each call to a function that exists nowhere. Runs nothing.

use rhai::{ASTNode, Engine, Expr, Stmt, AST};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::engine::Runtime;
use crate::modules::{import_of, StdlibResolver};

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
    let text = match crate::script_file::read(path) {
        Ok(text) => text,
        Err(e) => return vec![e],
    };
    let ast = match runtime.compile(&name, &text) {
        Ok(ast) => ast,
        Err(e) => return vec![one_line(&crate::diagnostic::parse_report(&e, &name))],
    };
    check_compiled(runtime, &name, &ast)
}

/// Checks a compiled script (`name` as its errors show it) and the modules it imports: calls to
/// unknown functions, and host functions called with a number of arguments, or a literal of a
/// type, that none of their signatures takes. `run` does this before its first step.
pub fn check_compiled(runtime: &Runtime, name: &str, ast: &AST) -> Vec<String> {
    let mut checker = Checker {
        engine: &runtime.engine,
        resolver: &runtime.resolver,
        known: known_functions(&runtime.engine),
        host: host_signatures(&runtime.engine),
        objects: runtime.objects.names().map(str::to_string).collect(),
        checked: HashSet::new(),
        problems: Vec::new(),
    };
    checker.check_ast(name, ast);
    checker.problems
}

/// One signature of a host function: its parameters' types (`this` first for a method).
#[derive(Debug, Clone)]
struct Signature {
    text: String,
    params: Vec<String>,
}

impl Signature {
    /// `pause(airflow: Airflow, dag_id: String) -> bool`.
    fn parse(text: &str) -> Option<(String, Signature)> {
        let (name, rest) = text.split_once('(')?;
        // The parameter list ends at `) ->` (a return type such as `HostResult<()>` has its own).
        let inside = &rest[..rest.find(") ->").or_else(|| rest.rfind(')'))?];
        let params = if inside.trim().is_empty() {
            Vec::new()
        } else {
            inside
                .split(", ")
                // An untyped parameter (`timeout`) takes anything.
                .map(|p| {
                    p.rsplit_once(": ")
                        .map_or("", |(_, t)| t)
                        .trim()
                        .to_string()
                })
                .collect()
        };
        Some((
            name.trim().to_string(),
            Signature {
                text: text.to_string(),
                params,
            },
        ))
    }

    /// Whether a literal of `kind` may be passed where this signature has parameter `i`.
    fn takes(&self, i: usize, kind: &str) -> bool {
        let param = self.params[i].to_ascii_lowercase();
        match param.as_str() {
            "dynamic" | "?" | "" => true,
            "string" | "&str" | "immutablestring" => kind == "string",
            "i64" | "int" => kind == "int",
            "f64" | "float" => kind == "float" || kind == "int",
            "bool" => kind == "bool",
            "array" => kind == "array",
            "map" => kind == "map",
            "fn" | "fnptr" => kind == "closure",
            // A host type (Airflow, Git...) is never a literal.
            _ => false,
        }
    }
}

/// The functions ovscript registers (not Rhai's own), by name, with all their overloads.
/// The functions ovscript registers, and the names Rhai's own packages also define (`push` of
/// arrays beside `git.push`): those are checked only on a host object (`git.push(...)`), whose
/// type is known before the run.
struct HostFunctions {
    signatures: HashMap<String, Vec<Signature>>,
    shared_names: HashSet<String>,
}

fn host_signatures(engine: &Engine) -> HostFunctions {
    let all = engine.gen_fn_signatures(true);
    let ours = engine.gen_fn_signatures(false);
    let shared_names: HashSet<String> = all
        .iter()
        .filter(|s| !ours.contains(s))
        .filter_map(|s| s.split('(').next())
        .map(|s| s.trim().to_string())
        .collect();
    let mut signatures: HashMap<String, Vec<Signature>> = HashMap::new();
    for text in &ours {
        if let Some((name, signature)) = Signature::parse(text) {
            signatures.entry(name).or_default().push(signature);
        }
    }
    HostFunctions {
        signatures,
        shared_names,
    }
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
    host: HostFunctions,
    objects: HashSet<String>,
    checked: HashSet<PathBuf>,
    problems: Vec<String>,
}

struct Call {
    namespace: String,
    name: String,
    line: usize,
    col: usize,
    /// How many arguments it passes, the object of a method call included.
    arity: usize,
    /// The kind of each argument that is a literal (`string`, `int`, ...), else None.
    literals: Vec<Option<&'static str>>,
    method: bool,
    /// The variable a method is called on (`tf` in `tf.set(...)`).
    object: Option<String>,
}

impl Checker<'_> {
    fn check_ast(&mut self, file: &str, ast: &AST) {
        let mut calls = Vec::new();
        let mut imports = Vec::new();
        let mut variables: HashSet<String> = self.objects.clone();
        // Names of map properties (`#{action: || ...}`, `obj.action = ...`): a closure stored in
        // one is called as a method (`obj.action()`), which is valid Rhai.
        let mut properties: HashSet<String> = HashSet::new();
        ast.walk(&mut |path: &[ASTNode]| {
            if let Some(node) = path.last() {
                match node {
                    ASTNode::Expr(Expr::Map(map, _)) => {
                        properties.extend(map.0.iter().map(|(key, _)| key.name.to_string()));
                    }
                    ASTNode::Expr(Expr::Property(property, _)) => {
                        properties.insert(property.2.to_string());
                    }
                    // A map of constants (closures that capture nothing included), folded.
                    ASTNode::Expr(Expr::DynamicConstant(value, _)) if value.is_map() => {
                        if let Some(map) = value.read_lock::<rhai::Map>() {
                            properties.extend(map.keys().map(|key| key.to_string()));
                        }
                    }
                    _ => {}
                }
                collect(
                    node,
                    object_of(path),
                    &mut calls,
                    &mut imports,
                    &mut variables,
                );
            }
            true
        });
        let local: HashSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
        for f in ast.iter_functions() {
            variables.extend(f.params.iter().map(|p| p.to_string()));
        }
        let mut modules: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (import_path, alias, line, col) in imports {
            // Rhai calls a module's functions only through its alias (`deploy::f`).
            let functions = self.check_module(file, &import_path, line, col);
            if let Some(alias) = alias {
                modules.insert(alias, functions);
            }
        }
        for call in &calls {
            if call.namespace.is_empty()
                && !local.contains(&call.name)
                && !variables.contains(&call.name)
            {
                if let Some(problem) = self.signature_problem(call) {
                    self.problems.push(format!(
                        "{}: {problem}",
                        crate::diagnostic::place(file, call.line, call.col)
                    ));
                }
            }
        }
        for call in calls {
            let closure_property = call.method
                && properties.contains(&call.name)
                && !call
                    .object
                    .as_ref()
                    .is_some_and(|o| self.objects.contains(o));
            let known = if call.namespace.is_empty() {
                self.known.contains(&call.name)
                    || local.contains(&call.name)
                    || variables.contains(&call.name)
                    || closure_property
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
                let hint = crate::diagnostic::closest(&call.name, &candidates)
                    .map(|c| format!(" (did you mean {c}?)"))
                    .unwrap_or_default();
                let name = if call.namespace.is_empty() {
                    call.name
                } else {
                    format!("{}::{}", call.namespace, call.name)
                };
                self.problems.push(format!(
                    "{}: unknown function {name}{hint}",
                    crate::diagnostic::place(file, call.line, call.col)
                ));
            }
        }
    }

    /// A host function called with a number of arguments, or a literal of a type, that none of
    /// its signatures takes: what is wrong and how it can be called.
    fn signature_problem(&self, call: &Call) -> Option<String> {
        let on_host_object = call
            .object
            .as_ref()
            .is_some_and(|o| self.objects.contains(o) && o != "args");
        if self.host.shared_names.contains(&call.name) && !on_host_object {
            return None;
        }
        let signatures = self.host.signatures.get(&call.name)?;
        let shown =
            |s: &Signature| crate::diagnostic::script_types(&crate::diagnostic::as_method(&s.text));
        let written = if call.method {
            format!(
                "{}.{}(...)",
                call.object.as_deref().unwrap_or(""),
                call.name
            )
        } else {
            format!("{}(...)", call.name)
        };
        let fitting: Vec<&Signature> = signatures
            .iter()
            .filter(|s| s.params.len() == call.arity)
            .collect();
        if fitting.is_empty() {
            let given = if call.method {
                call.arity - 1
            } else {
                call.arity
            };
            let ways: Vec<String> = signatures.iter().map(shown).collect();
            return Some(format!(
                "{written} with {given} argument(s) matches no signature; it can be called as {}",
                ways.join(" or ")
            ));
        }
        for (i, kind) in call.literals.iter().enumerate() {
            let Some(kind) = kind else { continue };
            if !fitting.iter().any(|s| s.takes(i, kind)) {
                let position = if call.method { i } else { i + 1 };
                let ways: Vec<String> = fitting.iter().map(|s| shown(s)).collect();
                let article = if kind.starts_with(['a', 'i']) {
                    "an"
                } else {
                    "a"
                };
                return Some(format!(
                    "{written}: argument {position} is {article} {kind}, which it does not take; it can be called as {}",
                    ways.join(" or ")
                ));
            }
        }
        None
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

type Import = (String, Option<String>, usize, usize);

/// For a method call, the variable it is called on: `tf` in `tf.set(...)`.
fn object_of(path: &[ASTNode]) -> Option<String> {
    let [.., ASTNode::Expr(Expr::Dot(dot, ..)), ASTNode::Expr(Expr::MethodCall(..))] = path else {
        return None;
    };
    match &dot.lhs {
        Expr::Variable(variable, ..) if variable.2.is_empty() => Some(variable.1.to_string()),
        _ => None,
    }
}

fn collect(
    node: &ASTNode,
    object: Option<String>,
    calls: &mut Vec<Call>,
    imports: &mut Vec<Import>,
    variables: &mut HashSet<String>,
) {
    let (call, pos, method) = match node {
        ASTNode::Expr(Expr::FnCall(call, pos)) | ASTNode::Stmt(Stmt::FnCall(call, pos)) => {
            (call, pos, false)
        }
        ASTNode::Expr(Expr::MethodCall(call, pos)) => (call, pos, true),
        ASTNode::Stmt(Stmt::Var(var, _, _)) => {
            variables.insert(var.0.name.to_string());
            return;
        }
        ASTNode::Stmt(Stmt::Import(import, pos)) => {
            if let Some(import) = import_of(&import.0, &import.1, *pos) {
                imports.push((
                    import.path,
                    import.alias,
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
    let mut literals: Vec<Option<&'static str>> = Vec::new();
    if method {
        literals.push(None); // the object
    }
    literals.extend(call.args.iter().map(literal_kind));
    calls.push(Call {
        arity: literals.len(),
        literals,
        method,
        object,
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

/// The kind of a literal argument, as the check compares it with a parameter's type.
fn literal_kind(expr: &Expr) -> Option<&'static str> {
    match expr {
        Expr::StringConstant(..) | Expr::InterpolatedString(..) => Some("string"),
        Expr::IntegerConstant(..) => Some("int"),
        Expr::FloatConstant(..) => Some("float"),
        Expr::BoolConstant(..) => Some("bool"),
        Expr::Array(..) => Some("array"),
        Expr::Map(..) => Some("map"),
        Expr::Unit(..) => Some("unit `()`"),
        // Rhai folds some literals (an empty `#{}` or `[]`) into constants.
        Expr::DynamicConstant(value, _) if value.is_map() => Some("map"),
        Expr::DynamicConstant(value, _) if value.is_array() => Some("array"),
        Expr::DynamicConstant(value, _) if value.is_unit() => Some("unit `()`"),
        _ => None,
    }
}

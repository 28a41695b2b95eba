//! The code a runbook page is read from: the script and every stdlib module it imports (and
//! they import), each with its functions' bodies and doc comments, compiled and not run.

use rhai::{ASTNode, Stmt, AST};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::engine::Runtime;
use crate::error::Error;
use crate::modules::{imports_of, search_dirs, Import, StdlibResolver};

/// The script (unit 0) or a module.
pub struct Unit {
    /// How its functions are called from outside: `deploy`; empty for the script.
    pub name: String,
    pub statements: Vec<Stmt>,
    functions: HashMap<(String, usize), Rc<Function>>,
    /// The modules it imports, by alias, as indexes of the units.
    pub modules: HashMap<String, usize>,
    imports: Vec<Import>,
}

/// A script function (closures included: Rhai makes each an `anon$...` function).
pub struct Function {
    pub params: Vec<String>,
    /// Its `///` comment, without the slashes.
    pub doc: String,
    pub body: Vec<Stmt>,
}

impl Unit {
    fn new(name: &str, ast: &AST) -> Unit {
        let mut functions = HashMap::new();
        for def in ast.iter_fn_def() {
            let (name, arity) = (def.name.to_string(), def.params.len());
            let doc = def
                .comments
                .iter()
                .flat_map(|c| c.lines())
                .map(|l| l.trim_start_matches("///").trim())
                .collect::<Vec<_>>()
                .join("\n");
            let function = Function {
                params: def.params.iter().map(|p| p.to_string()).collect(),
                doc,
                body: body_of(ast, &name, arity),
            };
            functions.insert((name, arity), Rc::new(function));
        }
        Unit {
            name: name.to_string(),
            statements: ast.statements().to_vec(),
            functions,
            modules: HashMap::new(),
            imports: imports_of(ast),
        }
    }

    /// The function `name` taking `arity` arguments.
    pub fn function(&self, name: &str, arity: usize) -> Option<Rc<Function>> {
        self.functions.get(&(name.to_string(), arity)).cloned()
    }

    /// A closure's function: its name is unique, its arity that of its captures and parameters.
    pub fn closure(&self, name: &str) -> Option<Rc<Function>> {
        self.functions
            .iter()
            .find(|((n, _), _)| n == name)
            .map(|(_, f)| f.clone())
    }
}

/// The statements of one function's body. Rhai does not name the type that holds them; an AST
/// of that function alone, walked, gives them one by one. (`retain_functions`, as
/// `clone_functions_only_filtered` keeps every function when it copies into an empty module.)
fn body_of(ast: &AST, name: &str, arity: usize) -> Vec<Stmt> {
    let mut alone = ast.clone_functions_only();
    alone.retain_functions(|_, _, n, a| n == name && a == arity);
    let mut body = Vec::new();
    alone.walk(&mut |path: &[ASTNode]| {
        if let [ASTNode::Stmt(stmt)] = path {
            body.push((*stmt).clone());
        }
        true
    });
    body
}

/// The script's unit and those of the modules it imports, found and compiled as a run would.
pub fn load(runtime: &Runtime, script: &Path, ast: &AST) -> Result<Vec<Unit>, Error> {
    let resolver = StdlibResolver::new(
        search_dirs(script.parent(), &runtime.ctx.base_dir),
        runtime.objects.clone(),
    );
    let mut units = vec![Unit::new("", ast)];
    let mut files: Vec<PathBuf> = vec![script.to_path_buf()];
    let mut next = 0;
    while next < units.len() {
        let importer = files[next].display().to_string();
        for import in units[next].imports.clone() {
            let (path, alias) = (import.path, import.alias.unwrap_or_default());
            let file = resolver.find(Some(&importer), &path).map_err(|looked| {
                let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
                Error::Compile(format!(
                    "error: {importer}: module \"{path}\" not found (looked for {})",
                    looked.join(", ")
                ))
            })?;
            let index = match files.iter().position(|f| *f == file) {
                Some(index) => index,
                None => {
                    let shown = file.display().to_string();
                    let module = resolver
                        .compile(&runtime.engine, &file)
                        .map_err(|e| Error::Compile(crate::diagnostic::parse_report(&e, &shown)))?;
                    units.push(Unit::new(&alias, &module));
                    files.push(file);
                    units.len() - 1
                }
            };
            units[next].modules.insert(alias, index);
        }
        next += 1;
    }
    Ok(units)
}

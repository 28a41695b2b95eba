//! `import` for scripts: where modules are found (next to the script, its `stdlib/`, the
//! project's, the working directory's), compiled with the host objects in scope, cached, and the
//! one walker that finds a script's imports. The engine, `check` and the REPL share one resolver.

use rhai::module_resolvers::ModuleResolver;
use rhai::{ASTNode, Engine, EvalAltResult, Expr, Module, Position, Stmt, AST};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::objects::Objects;

type SharedModule = Arc<Module>;

/// One `import "path" as alias;` of a script.
#[derive(Debug, Clone)]
pub struct Import {
    pub path: String,
    pub alias: Option<String>,
    pub pos: Position,
}

/// Every import of `ast` whose path is a constant, in the order written.
pub fn imports_of(ast: &AST) -> Vec<Import> {
    let mut imports = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(import, pos))) = path.last() {
            if let Some(found) = import_of(&import.0, &import.1, *pos) {
                imports.push(found);
            }
        }
        true
    });
    imports
}

/// The import of one `import` statement (its path expression and alias), if the path is a
/// constant.
pub fn import_of(path: &Expr, alias: &rhai::Ident, pos: Position) -> Option<Import> {
    let Expr::StringConstant(path, _) = path else {
        return None;
    };
    Some(Import {
        path: path.to_string(),
        alias: (!alias.name.is_empty()).then(|| alias.name.to_string()),
        pos,
    })
}

/// `import "deploy"` looks next to the script, in its `stdlib/`, in the project's `stdlib/`
/// (a sibling of `scripts/`), then in `stdlib/` of the working directory.
pub fn search_dirs(script_dir: Option<&Path>, base_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = script_dir {
        dirs.push(dir.to_path_buf());
        dirs.push(dir.join("stdlib"));
        if let Some(parent) = dir.parent() {
            dirs.push(parent.join("stdlib"));
        }
    }
    dirs.push(base_dir.join("stdlib"));
    dirs.dedup();
    dirs
}

/// Resolves `import` paths to `.rhai` files and compiles them with the host objects in scope:
/// the stock `FileModuleResolver` compiles without that scope, and strict variables would then
/// reject `airflow` inside a module.
pub struct StdlibResolver {
    dirs: Vec<PathBuf>,
    objects: Arc<Objects>,
    cache: Mutex<HashMap<PathBuf, SharedModule>>,
    /// The modules being evaluated now, outermost first: importing one of them again is a cycle.
    resolving: Mutex<Vec<PathBuf>>,
}

/// Modules that import each other: the error names the chain, e.g. `a.rhai -> b.rhai -> a.rhai`.
fn cycle(chain: &[PathBuf], again: &Path, pos: Position) -> Box<EvalAltResult> {
    let start = chain.iter().position(|f| f == again).unwrap_or(0);
    let names: Vec<String> = chain[start..]
        .iter()
        .chain(std::iter::once(&again.to_path_buf()))
        .map(|f| f.display().to_string())
        .collect();
    Box::new(EvalAltResult::ErrorRuntime(
        format!(
            "modules import each other: {}: a module cannot import one that imports it; move what both need into a third module",
            names.join(" -> ")
        )
        .into(),
        pos,
    ))
}

impl StdlibResolver {
    /// Compiles every module `ast` imports (by a constant path), and theirs, so that a broken
    /// stdlib module is a compile error before any step runs, not a failure half-way.
    pub fn compile_imports(
        &self,
        engine: &Engine,
        ast: &AST,
        importer: &str,
        seen: &mut Vec<PathBuf>,
    ) -> Result<(), Box<EvalAltResult>> {
        self.compile_chain(
            engine,
            ast,
            importer,
            seen,
            &mut vec![PathBuf::from(importer)],
        )
    }

    /// `compile_imports` along the chain of importers that led to `ast`: an import of a module
    /// already on it is a cycle, an error naming the chain (evaluated, it would recurse until
    /// the stack overflows).
    fn compile_chain(
        &self,
        engine: &Engine,
        ast: &AST,
        importer: &str,
        seen: &mut Vec<PathBuf>,
        chain: &mut Vec<PathBuf>,
    ) -> Result<(), Box<EvalAltResult>> {
        for import in imports_of(ast) {
            // A module not found is reported when it is imported, with where it was looked for.
            let Ok(file) = self.find(Some(importer), &import.path) else {
                continue;
            };
            if chain.contains(&file) {
                return Err(cycle(chain, &file, import.pos));
            }
            if seen.contains(&file) {
                continue;
            }
            seen.push(file.clone());
            let shown = file.display().to_string();
            let module = self.compile(engine, &file).map_err(|e| {
                Box::new(EvalAltResult::ErrorInModule(shown.clone(), e, import.pos))
            })?;
            chain.push(file);
            let result = self.compile_chain(engine, &module, &shown, seen, chain);
            chain.pop();
            result?;
        }
        Ok(())
    }

    /// The modules of the `stdlib/` folders `import` searches, by name; the first found wins, as
    /// for `import`. Only names usable as `name::` count.
    pub fn stdlib_modules(&self) -> BTreeMap<String, PathBuf> {
        let mut modules = BTreeMap::new();
        for dir in self.dirs.iter().filter(|d| d.ends_with("stdlib")) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let files = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "rhai"));
            for file in files {
                let Some(name) = file.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if rhai::is_valid_identifier(name) {
                    modules.entry(name.to_string()).or_insert(file);
                }
            }
        }
        modules
    }

    pub fn new(dirs: Vec<PathBuf>, objects: Arc<Objects>) -> Self {
        StdlibResolver {
            dirs,
            objects,
            cache: Mutex::new(HashMap::new()),
            resolving: Mutex::new(Vec::new()),
        }
    }

    /// The file an import path names, and the places looked at.
    pub fn find(&self, source: Option<&str>, path: &str) -> Result<PathBuf, Vec<PathBuf>> {
        find_module(&self.dirs, source, path)
    }

    pub fn compile(&self, engine: &Engine, file: &Path) -> Result<AST, Box<EvalAltResult>> {
        let text = crate::script_file::read(file)
            .map_err(|e| crate::error::host_error(format!("module: {e}")))?;
        let mut ast = engine.compile_with_scope(&self.objects.scope(), text)?;
        ast.set_source(file.to_string_lossy().as_ref());
        crate::diagnostic::remember_closures(&ast);
        Ok(ast)
    }
}

/// The file an import path names from `source` (the importing file), looked for next to it and
/// then in `dirs`; or the places looked at.
pub fn find_module(
    dirs: &[PathBuf],
    source: Option<&str>,
    path: &str,
) -> Result<PathBuf, Vec<PathBuf>> {
    let file = if path.ends_with(".rhai") {
        path.to_string()
    } else {
        format!("{path}.rhai")
    };
    let importer_dir = source
        .map(Path::new)
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let candidates: Vec<PathBuf> = if Path::new(&file).is_absolute() {
        vec![PathBuf::from(&file)]
    } else {
        importer_dir
            .into_iter()
            .chain(dirs.iter().cloned())
            .map(|d| d.join(&file))
            .collect()
    };
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or(candidates)
}

/// What a script is, for `--resume`: its text and, in the order they are imported, the path
/// and text of every module it imports, theirs too (an edit of `stdlib/deploy.rhai`, where most
/// steps live, changes the script as much as an edit of the runbook). Read without running
/// anything; an import that cannot be found or read counts as its path alone.
pub fn identity_text(text: &str, script: &str, dirs: &[PathBuf]) -> String {
    let engine = Engine::new_raw();
    let mut identity = text.to_string();
    let mut queue = vec![(script.to_string(), text.to_string())];
    let mut seen: Vec<PathBuf> = Vec::new();
    while let Some((source, text)) = queue.pop() {
        let Ok(ast) = engine.compile(&text) else {
            continue;
        };
        for import in imports_of(&ast) {
            identity.push_str(&format!("\0import {}\0", import.path));
            let Ok(file) = find_module(dirs, Some(&source), &import.path) else {
                continue;
            };
            if seen.contains(&file) {
                continue;
            }
            seen.push(file.clone());
            let Ok(module) = crate::script_file::read(&file) else {
                continue;
            };
            identity.push_str(&module);
            queue.insert(0, (file.display().to_string(), module));
        }
    }
    identity
}

/// The engine's handle on the shared resolver (an engine owns its resolver).
pub struct SharedResolver(pub Arc<StdlibResolver>);

impl ModuleResolver for SharedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.0.resolve(engine, source, path, pos)
    }
}

impl ModuleResolver for StdlibResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let file = self.find(source, path).map_err(|looked| {
            let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
            Box::new(EvalAltResult::ErrorModuleNotFound(
                format!("{path} (looked for {})", looked.join(", ")),
                pos,
            ))
        })?;
        if let Some(module) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&file)
        {
            return Ok(module.clone());
        }
        {
            let mut resolving = self.resolving.lock().unwrap_or_else(|e| e.into_inner());
            if resolving.contains(&file) {
                return Err(cycle(&resolving, &file, pos));
            }
            resolving.push(file.clone());
        }
        let evaluated = self.evaluate(engine, &file, path, pos);
        self.resolving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|f| f != &file);
        let module = evaluated?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file, module.clone());
        Ok(module)
    }
}

impl StdlibResolver {
    /// Compiles and runs the module `file` (imported as `path`).
    fn evaluate(
        &self,
        engine: &Engine,
        file: &Path,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let ast = self
            .compile(engine, file)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos)))?;
        let mut scope = self.objects.scope();
        let mut module = Module::eval_ast_as_new(scope.clone(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos)))?;
        scope.clear();
        module.build_index();
        Ok(module.into())
    }
}

//! The one place that builds the Rhai engine: limits, Ctrl-C, printing, host objects reachable by
//! bare name everywhere, and `import` that finds `stdlib/`. The systems are wired in here and only
//! here; they do not know about each other.

use rhai::module_resolvers::ModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, AST};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type SharedModule = Arc<Module>;

use crate::context::Ctx;
use crate::objects::Objects;
use crate::operator::{self, Resume};

pub struct Runtime {
    pub engine: Engine,
    pub ctx: Ctx,
    pub objects: Arc<Objects>,
    /// Where `import` looks (see `search_dirs`).
    module_dirs: Vec<PathBuf>,
}

impl Runtime {
    /// Builds the engine for a run whose script lives in `script_dir`.
    pub fn new(ctx: Ctx, resume: Resume, script_dir: Option<&Path>, args: Vec<String>) -> Runtime {
        let mut engine = Engine::new();
        apply_limits(&mut engine, &ctx);
        engine.set_strict_variables(true);

        let cancel = ctx.cancel.clone();
        engine.on_progress(move |_| cancel.is_cancelled().then(|| Dynamic::from("interrupted")));
        let c = ctx.clone();
        engine.on_print(move |text| c.ui.line(text));
        let c = ctx.clone();
        engine.on_debug(move |text, source, pos| {
            let place = match (source, pos.line()) {
                (Some(s), Some(line)) => format!("{s}:{line}: "),
                _ => String::new(),
            };
            c.ui.line(&format!("{place}{text}"));
        });

        let mut objects = Objects::default();
        objects.insert(
            "args",
            Dynamic::from_array(args.into_iter().map(Dynamic::from).collect()),
        );
        operator::register(&mut engine, &ctx, resume);
        register_systems(&mut engine, &ctx, &mut objects);

        let objects = Arc::new(objects);
        let served = objects.clone();
        #[allow(deprecated)]
        // on_var is marked volatile, not deprecated; it is how Rhai resolves host names.
        engine.on_var(move |name, _, _| Ok(served.get(name).cloned()));
        let module_dirs = search_dirs(script_dir, &ctx.base_dir);
        engine.set_module_resolver(StdlibResolver::new(module_dirs.clone(), objects.clone()));
        Runtime {
            engine,
            ctx,
            objects,
            module_dirs,
        }
    }

    /// Compiles with strict variables, the host objects known by name.
    pub fn compile(&self, source_name: &str, text: &str) -> Result<AST, Box<EvalAltResult>> {
        // A `#!` line (a shebang, just's) is blanked: the line numbers stay the file's.
        let text = crate::embedded::strip_shebang(text);
        let mut ast = self
            .engine
            .compile_with_scope(&self.objects.scope(), text.as_ref())?;
        ast.set_source(source_name);
        crate::diagnostic::remember_closures(&ast);
        let resolver = StdlibResolver::new(self.module_dirs.clone(), self.objects.clone());
        compile_imports(&self.engine, &resolver, &ast, source_name, &mut Vec::new())?;
        Ok(ast)
    }

    pub fn run(&self, ast: &AST) -> Result<Dynamic, Box<EvalAltResult>> {
        let mut scope = self.objects.scope();
        self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, ast)
    }
}

fn apply_limits(engine: &mut Engine, ctx: &Ctx) {
    let limits = &ctx.config.limits;
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_expr_depths(128, 64);
}

/// Every external system registers its functions and its object here.
fn register_systems(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    crate::airflow::register(engine, ctx, objects);
    // What the host paused, the host unpauses (a guard on `airflow`).
    crate::airflow_guard::register(engine);
    crate::tf::register(engine, ctx, objects);
    crate::just::register(engine, ctx, objects);
    crate::git::register(engine, ctx, objects);
    // The deploy lock, a branch pushed with `git`.
    crate::deploy_lock::register(engine, ctx);
    crate::sentry::register(engine, ctx, objects);
    crate::github::register(engine, ctx, objects);
    crate::http::register(engine, ctx, objects);
    crate::registry::register(engine, ctx, objects);
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

/// Compiles every module `ast` imports (by a constant path), and theirs, so that a broken
/// stdlib module is a compile error before any step runs, not a failure half-way.
fn compile_imports(
    engine: &Engine,
    resolver: &StdlibResolver,
    ast: &AST,
    importer: &str,
    seen: &mut Vec<PathBuf>,
) -> Result<(), Box<EvalAltResult>> {
    let mut imports = Vec::new();
    ast.walk(&mut |path: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Stmt(rhai::Stmt::Import(import, pos))) = path.last() {
            if let rhai::Expr::StringConstant(name, _) = &import.0 {
                imports.push((name.to_string(), *pos));
            }
        }
        true
    });
    for (name, pos) in imports {
        // A module that is not found is reported when it is imported, with where it was looked for.
        let Ok(file) = resolver.find(Some(importer), &name) else {
            continue;
        };
        if seen.contains(&file) {
            continue;
        }
        seen.push(file.clone());
        let shown = file.display().to_string();
        let module = resolver
            .compile(engine, &file)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(shown.clone(), e, pos)))?;
        compile_imports(engine, resolver, &module, &shown, seen)?;
    }
    Ok(())
}

/// Resolves `import` paths to `.rhai` files and compiles them with the host objects in scope:
/// the stock `FileModuleResolver` compiles without that scope, and strict variables would then
/// reject `airflow` inside a module.
pub struct StdlibResolver {
    dirs: Vec<PathBuf>,
    objects: Arc<Objects>,
    cache: Mutex<HashMap<PathBuf, SharedModule>>,
}

impl StdlibResolver {
    pub fn new(dirs: Vec<PathBuf>, objects: Arc<Objects>) -> Self {
        StdlibResolver {
            dirs,
            objects,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The file an import path names, and the places looked at.
    pub fn find(&self, source: Option<&str>, path: &str) -> Result<PathBuf, Vec<PathBuf>> {
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
                .chain(self.dirs.iter().cloned())
                .map(|d| d.join(&file))
                .collect()
        };
        candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or(candidates)
    }

    pub fn compile(&self, engine: &Engine, file: &Path) -> Result<AST, Box<EvalAltResult>> {
        let text = std::fs::read_to_string(file).map_err(|e| {
            crate::error::host_error(format!("cannot read module {}: {e}", file.display()))
        })?;
        let mut ast = engine.compile_with_scope(&self.objects.scope(), text)?;
        ast.set_source(file.to_string_lossy().as_ref());
        crate::diagnostic::remember_closures(&ast);
        Ok(ast)
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
        let ast = self
            .compile(engine, &file)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos)))?;
        let mut scope = self.objects.scope();
        let mut module = Module::eval_ast_as_new(scope.clone(), &ast, engine)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos)))?;
        scope.clear();
        module.build_index();
        let module: SharedModule = module.into();
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(file, module.clone());
        Ok(module)
    }
}

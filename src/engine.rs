//! The one place that builds the Rhai engine: limits, Ctrl-C, printing, host objects reachable by
//! bare name everywhere, and `import` that finds `stdlib/`. The systems are wired in here and only
//! here; they do not know about each other.

use rhai::{Dynamic, Engine, EvalAltResult, AST};
use std::path::Path;
use std::sync::Arc;

use crate::context::Ctx;
use crate::modules::{search_dirs, SharedResolver, StdlibResolver};
use crate::objects::Objects;
use crate::operator::{self, Resume};

pub struct Runtime {
    pub engine: Engine,
    pub ctx: Ctx,
    pub objects: Arc<Objects>,
    /// The one resolver of `import`: the engine's, `check`'s and the REPL's.
    pub resolver: Arc<StdlibResolver>,
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
        let resolver = Arc::new(StdlibResolver::new(
            search_dirs(script_dir, &ctx.base_dir),
            objects.clone(),
        ));
        engine.set_module_resolver(SharedResolver(resolver.clone()));
        Runtime {
            engine,
            ctx,
            objects,
            resolver,
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
        self.resolver
            .compile_imports(&self.engine, &ast, source_name, &mut Vec::new())?;
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
    crate::deploy_lock::register(engine);
    crate::sentry::register(engine, ctx, objects);
    crate::github::register(engine, ctx, objects);
    crate::http::register(engine, ctx, objects);
    crate::registry::register(engine, ctx, objects);
    crate::slack::register(engine, ctx, objects);
    // Above the systems: it uses them.
    crate::deploy::register(engine, ctx, objects);
}

//! One REPL session: its scope, the lines typed so far, evaluating a line, and showing what it gave.

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnAccess, Map, Module, ParseErrorType, Position, Scope,
    Shared, Stmt, AST,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::doc::HostFn;
use crate::engine::Runtime;

use super::*;
use crate::journal::Event;

pub(super) struct Session {
    pub(super) runtime: Runtime,
    pub(super) scope: Scope<'static>,
    /// Every typed input by number: an error report shows its line from here (`<input 3>:1:5`).
    pub(super) inputs: Vec<String>,
    /// The modules of the `stdlib/` folders by name, imported on first use (`deploy::check()`).
    pub(super) stdlib: BTreeMap<String, PathBuf>,
    pub(super) host_functions: Vec<HostFn>,
    pub(super) vocabulary: Arc<Mutex<Vocabulary>>,
    pub(super) syntax: Syntax,
}

impl Session {
    pub(super) fn new(runtime: Runtime) -> Session {
        let host_functions = crate::doc::host_functions(&runtime);
        let stdlib = runtime.resolver.stdlib_modules();
        let vocabulary = Vocabulary::new(&runtime, &host_functions, &stdlib);
        let session = Session {
            scope: runtime.objects.scope(),
            runtime,
            inputs: Vec::new(),
            stdlib,
            host_functions,
            vocabulary: Arc::new(Mutex::new(vocabulary)),
            syntax: Syntax::new(),
        };
        session.refresh_variables();
        session
    }

    pub(super) fn greet(&self) {
        let ctx = &self.runtime.ctx;
        let objects: Vec<&str> = self
            .runtime
            .objects
            .names()
            .filter(|n| *n != "args")
            .collect();
        ctx.ui.line(&format!(
            "ovscript repl: {} by name; :help for commands, Tab completes, Ctrl-D leaves",
            objects.join(", ")
        ));
        if ctx.dry_run {
            ctx.ui
                .line("dry run: side effects are only shown (would: ...), nothing is changed");
        }
        if let Some(path) = ctx.journal.path() {
            ctx.ui.line(&format!("journal: {}", path.display()));
        }
        ctx.record(Event::ReplStart {
            dry_run: ctx.dry_run,
            run_id: ctx.journal.run_id().to_string(),
        });
    }

    pub(super) fn prompt(&self) -> String {
        if self.runtime.ctx.dry_run {
            "ovscript (dry run)> ".into()
        } else {
            "ovscript> ".into()
        }
    }

    pub(super) fn finish(&self) {
        self.runtime.ctx.record(Event::ReplEnd);
    }

    pub(super) fn handle(&mut self, input: &str) -> Flow {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Flow::Continue;
        }
        if let Some(command) = trimmed.strip_prefix(':') {
            return self.command(command);
        }
        let text = self.syntax.join_continued_lines(input);
        self.inputs.push(text.clone());
        let source = input_name(self.inputs.len());
        let (outcome, took) = self.evaluate(&text, &source);
        self.journal(Journaled::Line(text.to_string()), &outcome, took);
        self.show(outcome);
        Flow::Continue
    }

    /// Compiles and runs `text` in the session; its functions and imports stay for later lines.
    pub(super) fn evaluate(&mut self, text: &str, source: &str) -> (Outcome, Duration) {
        let started = Instant::now();
        let ast = match self.compile(text, source) {
            Ok(ast) => ast,
            Err(e) => return (self.failure(&e, source), started.elapsed()),
        };
        self.keep_functions(&ast);
        let cancel = self.runtime.ctx.cancel.clone();
        // A Ctrl-C pressed between lines must not stop this one, and the one that stops this line
        // must not stop the next: the handler exits the process when it finds the flag still set.
        cancel.reset();
        let result = self
            .runtime
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &ast);
        cancel.reset();
        if result.is_ok() {
            self.keep_imports(&ast, source);
        }
        self.compact_scope();
        self.refresh_variables();
        let outcome = match result {
            Ok(value) => Outcome::Value(value),
            Err(e) if crate::diagnostic::is_interrupt(&e) => Outcome::Interrupted,
            Err(e) => self.failure(&e, source),
        };
        (outcome, started.elapsed())
    }

    /// Compiles with strict variables against the session's scope, importing a `stdlib/` module
    /// the input names but did not import (`deploy::check()`).
    pub(super) fn compile(&mut self, text: &str, source: &str) -> Result<AST, Box<EvalAltResult>> {
        let mut tried = BTreeSet::new();
        loop {
            match self.runtime.engine.compile_with_scope(&self.scope, text) {
                Ok(mut ast) => {
                    ast.set_source(source);
                    return Ok(ast);
                }
                Err(e) => match e.err_type() {
                    ParseErrorType::ModuleUndefined(name)
                        if tried.insert(name.clone()) && self.import_stdlib(name)? => {}
                    _ => return Err(e.into()),
                },
            }
        }
    }

    pub(super) fn import_stdlib(&mut self, name: &str) -> Result<bool, Box<EvalAltResult>> {
        let Some(file) = self.stdlib.get(name).cloned() else {
            return Ok(false);
        };
        let engine = &self.runtime.engine;
        let module = engine.module_resolver().resolve(
            engine,
            None,
            &file.to_string_lossy(),
            Position::NONE,
        )?;
        self.use_module(name, module);
        let shown = file
            .strip_prefix(&self.runtime.ctx.base_dir)
            .unwrap_or(&file);
        self.runtime
            .ctx
            .ui
            .line(&format!("(imported {} as {name})", shown.display()));
        Ok(true)
    }

    /// Makes a module reachable as `alias::` in every later line (strict variables would refuse
    /// an alias imported by an earlier line).
    pub(super) fn use_module(&mut self, alias: &str, module: Shared<Module>) {
        let functions = module_functions(&module);
        self.runtime.engine.register_static_module(alias, module);
        lock(&self.vocabulary)
            .modules
            .insert(alias.to_string(), functions);
    }

    /// The functions a line defines become a module of their own, so that later lines can call
    /// them and an error inside one names the input that defined it.
    pub(super) fn keep_functions(&mut self, ast: &AST) {
        let functions = ast.clone_functions_only();
        if functions.iter_functions().next().is_none() {
            return;
        }
        let names: Vec<Word> = functions
            .iter_functions()
            .filter(|f| f.access == FnAccess::Public && !f.name.starts_with("anon$"))
            .map(|f| Word::call(f.name))
            .collect();
        // A functions-only AST has no statement to fail.
        if let Ok(module) = Module::eval_ast_as_new(Scope::new(), &functions, &self.runtime.engine)
        {
            self.runtime.engine.register_global_module(module.into());
            lock(&self.vocabulary).functions.extend(names);
        }
    }

    /// `import "deploy" as deploy;` on one line serves the lines after it.
    pub(super) fn keep_imports(&mut self, ast: &AST, source: &str) {
        for statement in ast.statements() {
            let Stmt::Import(import, pos) = statement else {
                continue;
            };
            let Some(crate::modules::Import {
                path,
                alias: Some(alias),
                ..
            }) = crate::modules::import_of(&import.0, &import.1, *pos)
            else {
                continue;
            };
            let engine = &self.runtime.engine;
            // The line ran, so the module is in the resolver's cache: this evaluates nothing.
            if let Ok(module) =
                engine
                    .module_resolver()
                    .resolve(engine, Some(source), &path, Position::NONE)
            {
                self.use_module(&alias, module);
            }
        }
    }

    /// Drops variables shadowed by a later `let` of the same name, so that a long session does not
    /// keep every old value alive.
    pub(super) fn compact_scope(&mut self) {
        let names: HashSet<&str> = self.scope.iter_raw().map(|(name, ..)| name).collect();
        if names.len() < self.scope.len() {
            self.scope = self.scope.clone_visible();
        }
    }

    pub(super) fn refresh_variables(&self) {
        let mut vocabulary = lock(&self.vocabulary);
        let variables = self
            .scope
            .iter_raw()
            .map(|(name, _, value)| (name.to_string(), vocabulary.members_of(value)))
            .collect();
        vocabulary.variables = variables;
    }

    pub(super) fn failure(&self, error: &EvalAltResult, source: &str) -> Outcome {
        let report = crate::diagnostic::report(error, source, Some(&self.runtime.engine));
        Outcome::Failed {
            report: self
                .runtime
                .ctx
                .redact(&with_input_line(&report, &self.inputs)),
            message: crate::diagnostic::message_of(error),
        }
    }

    /// Journals a typed line or a loaded file with its outcome.
    pub(super) fn journal(&self, what: Journaled, outcome: &Outcome, took: Duration) {
        let (result, error) = outcome.journaled();
        let duration_ms = took.as_millis() as u64;
        self.runtime.ctx.record(match what {
            Journaled::Line(input) => Event::ReplLine {
                input,
                outcome: result,
                error,
                duration_ms,
            },
            Journaled::Load(file) => Event::ReplLoad {
                file,
                outcome: result,
                error,
                duration_ms,
            },
        });
    }

    pub(super) fn show(&self, outcome: Outcome) {
        match outcome {
            Outcome::Value(value) => {
                if let Some(text) = render_value(&self.runtime.engine, &value) {
                    self.runtime.ctx.ui.line(&text);
                }
            }
            Outcome::Failed { report, .. } => {
                crate::ui::err(&format!("{}\n", report.trim_end()));
            }
            Outcome::Interrupted => {
                crate::ui::err("interrupted\n");
            }
        }
    }

    pub(super) fn command(&mut self, command: &str) -> Flow {
        let (name, argument) = command
            .split_once(char::is_whitespace)
            .map(|(name, argument)| (name, argument.trim()))
            .unwrap_or((command, ""));
        match name {
            "quit" | "q" | "exit" => return Flow::Quit,
            "help" => {
                crate::ui::out(&format!("{HELP}\n"));
            }
            "doc" => self.doc(argument),
            "vars" => self.vars(),
            "load" => self.load(argument),
            _ => {
                crate::ui::err(&format!("unknown command :{name}: try :help\n"));
            }
        }
        Flow::Continue
    }

    pub(super) fn doc(&self, name: &str) {
        let filter = (!name.is_empty()).then_some(name);
        match crate::doc::render(&self.host_functions, filter) {
            Ok(text) => {
                crate::ui::out(&text);
            }
            Err(e) => {
                crate::ui::err(&format!("{e}\n"));
            }
        }
    }

    pub(super) fn vars(&self) {
        let objects = &self.runtime.objects;
        let variables: BTreeMap<&str, &Dynamic> = self
            .scope
            .iter_raw()
            .filter(|(name, constant, _)| !(*constant && objects.get(name).is_some()))
            .map(|(name, _, value)| (name, value))
            .collect();
        if variables.is_empty() {
            crate::ui::out(&format!(
                "no variables yet (the host objects are {})\n",
                objects.names().collect::<Vec<_>>().join(", ")
            ));
            return;
        }
        let lines: Vec<(String, String)> = variables
            .into_iter()
            .map(|(name, value)| (name.to_string(), preview(&format!("{value:?}"))))
            .collect();
        self.runtime.ctx.ui.line(&aligned(&lines));
    }

    pub(super) fn load(&mut self, path: &str) {
        if path.is_empty() {
            crate::ui::err("usage: :load FILE\n");
            return;
        }
        let text = match crate::script_file::read(std::path::Path::new(path)) {
            Ok(text) => text,
            Err(e) => {
                crate::ui::err(&format!("{e}\n"));
                return;
            }
        };
        let (outcome, took) = self.evaluate(&text, path);
        self.journal(Journaled::Load(path.to_string()), &outcome, took);
        self.show(outcome);
    }
}

/// What the REPL journals: a typed line, or a loaded file.
pub(super) enum Journaled {
    Line(String),
    Load(String),
}

pub(super) fn input_name(number: usize) -> String {
    format!("<input {number}>")
}

pub(super) fn lock(vocabulary: &Mutex<Vocabulary>) -> MutexGuard<'_, Vocabulary> {
    vocabulary.lock().unwrap_or_else(|e| e.into_inner())
}

/// The report's source line for typed input: `crate::diagnostic` reads it from the file its header
/// names, and `<input 3>` is no file.
pub(super) fn with_input_line(report: &str, inputs: &[String]) -> String {
    let (header, rest) = report.split_once('\n').unwrap_or((report, ""));
    let Some((number, line, column)) = input_place(header) else {
        return report.to_string();
    };
    let Some(text) = number
        .checked_sub(1)
        .and_then(|i| inputs.get(i))
        .and_then(|input| input.split('\n').nth(line.saturating_sub(1)))
    else {
        return report.to_string();
    };
    let number = line.to_string();
    let pad = " ".repeat(number.len());
    let caret = " ".repeat(column.saturating_sub(1));
    format!(
        "{header}\n{pad} |\n{number} | {}\n{pad} | {caret}^\n{rest}",
        text.replace('\t', " ")
    )
}

/// `error: <input 3>:1:5: ...` → (3, 1, 5).
pub(super) fn input_place(header: &str) -> Option<(usize, usize, usize)> {
    let rest = header.strip_prefix("error: <input ")?;
    let (number, rest) = rest.split_once(">:")?;
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    Some((number.parse().ok()?, line, column))
}

/// A value for people: nothing for `()`, a list of maps as a table, a map as aligned
/// `key: value` lines, a host object by its type, anything else as Rhai's `debug` shows it.
pub(super) fn render_value(engine: &Engine, value: &Dynamic) -> Option<String> {
    let value = value.flatten_clone();
    if value.is_unit() {
        return None;
    }
    if let Some(rows) = value.read_lock::<Array>() {
        if !rows.is_empty() && rows.iter().all(Dynamic::is_map) {
            return Some(crate::ui::table(&rows, None).trim_end().to_string());
        }
    }
    if let Some(map) = value.read_lock::<Map>() {
        if !map.is_empty() {
            let lines: Vec<(String, String)> = map
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            return Some(aligned(&lines));
        }
    }
    let type_name = value.type_name();
    if type_name.contains("::") {
        return Some(format!("<{}>", engine.map_type_name(type_name)));
    }
    Some(format!("{value:?}"))
}

/// `key: value` lines with the values in one column.
pub(super) fn aligned(lines: &[(String, String)]) -> String {
    let width = lines
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|(key, value)| {
            format!("{:<width$} {value}", format!("{key}:"))
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line of at most 100 characters.
pub(super) fn preview(text: &str) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.chars().count() <= 100 {
        return line;
    }
    format!("{}…", line.chars().take(99).collect::<String>())
}

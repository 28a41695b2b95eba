//! `ovscript repl`: the checks operators make by hand ("is anything running?", "what broke since
//! the deploy?") with the runbooks' own runtime — configuration, host objects, `--dry-run`, the
//! journal, the limits. Variables, functions and imports stay from line to line; unfinished input
//! goes on to the next line; Tab completes; the history outlives the session.

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, Expr, FnAccess, LexError, Map, Module, ParseErrorType,
    Position, Scope, Shared, Stmt, AST,
};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Editor};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::doc::HostFn;
use crate::engine::Runtime;
use crate::error::Error;

/// How many entries the history file keeps.
const HISTORY_SIZE: usize = 1000;

const COMMANDS: &[&str] = &[":doc", ":help", ":load", ":quit", ":vars"];

const HELP: &str = "\
Type Rhai as in a runbook; each line's value is shown (a list of maps as a table).
Variables, functions and imports stay for the whole session. Unfinished input (an open
bracket or string, a trailing operator, a trailing \\) goes on to the next line.

  :doc [NAME]   host functions: all, one object (airflow) or one function (airflow.pause)
  :vars         the variables of this session
  :load FILE    run a script into this session: its variables and functions stay
  :help         this text
  :quit         leave (Ctrl-D too)

Tab completes objects, methods, functions, variables, stdlib modules (deploy::) and commands.
Up and Ctrl-R search the history. Ctrl-C clears the line being typed, or stops the running one.";

pub fn start(runtime: Runtime) -> Result<(), Error> {
    let mut session = Session::new(runtime);
    let config = editor_config().map_err(terminal_error)?;
    let mut editor =
        Editor::<LineHelper, FileHistory>::with_config(config).map_err(terminal_error)?;
    editor.set_helper(Some(LineHelper::new(session.vocabulary.clone())));
    let mut history = History::open(&mut editor, &session.runtime.ctx);
    session.greet();
    loop {
        let input = match read_input(&mut editor, &session) {
            Ok(input) => input,
            // Ctrl-C at the prompt drops what was typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(terminal_error(e)),
        };
        history.remember(&mut editor, &input, &session.runtime.ctx);
        if session.handle(&input) == Flow::Quit {
            break;
        }
    }
    session.finish();
    Ok(())
}

fn editor_config() -> Result<Config, ReadlineError> {
    Ok(Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .history_ignore_dups(true)?
        // A line typed with a leading space stays out of the history, as in bash.
        .history_ignore_space(true)
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build())
}

fn terminal_error(e: ReadlineError) -> Error {
    Error::usage(format!("the REPL cannot use the terminal: {e}"))
}

/// One whole input. On a terminal the validator already keeps unfinished input open; without one
/// (piped input, a dumb terminal) the lines are gathered here the same way.
fn read_input(
    editor: &mut Editor<LineHelper, FileHistory>,
    session: &Session,
) -> Result<String, ReadlineError> {
    let mut input = editor.readline(&session.prompt())?;
    while session.syntax.is_unfinished(&input) {
        match editor.readline("... ") {
            Ok(more) => {
                input.push('\n');
                input.push_str(&more);
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(input)
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// What a line came to.
enum Outcome {
    Value(Dynamic),
    Failed { report: String, message: String },
    Interrupted,
}

impl Outcome {
    fn journal_fields(&self) -> Value {
        match self {
            Outcome::Value(_) => json!({ "outcome": "ok" }),
            Outcome::Failed { message, .. } => json!({ "outcome": "error", "error": message }),
            Outcome::Interrupted => json!({ "outcome": "interrupted" }),
        }
    }
}

struct Session {
    runtime: Runtime,
    scope: Scope<'static>,
    /// Every typed input by number: an error report shows its line from here (`<input 3>:1:5`).
    inputs: Vec<String>,
    /// The modules of the `stdlib/` folders by name, imported on first use (`deploy::check()`).
    stdlib: BTreeMap<String, PathBuf>,
    host_functions: Vec<HostFn>,
    vocabulary: Arc<Mutex<Vocabulary>>,
    syntax: Syntax,
}

impl Session {
    fn new(runtime: Runtime) -> Session {
        let host_functions = crate::doc::host_functions(&runtime);
        let stdlib = stdlib_modules(&runtime.ctx.base_dir);
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

    fn greet(&self) {
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
        ctx.record(
            "repl_start",
            json!({ "dry_run": ctx.dry_run, "run_id": ctx.journal.run_id() }),
        );
    }

    fn prompt(&self) -> String {
        if self.runtime.ctx.dry_run {
            "ovscript (dry run)> ".into()
        } else {
            "ovscript> ".into()
        }
    }

    fn finish(&self) {
        self.runtime.ctx.record("repl_end", json!({}));
    }

    fn handle(&mut self, input: &str) -> Flow {
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
        self.journal("repl_line", json!({ "input": text }), &outcome, took);
        self.show(outcome);
        Flow::Continue
    }

    /// Compiles and runs `text` in the session; its functions and imports stay for later lines.
    fn evaluate(&mut self, text: &str, source: &str) -> (Outcome, Duration) {
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
    fn compile(&mut self, text: &str, source: &str) -> Result<AST, Box<EvalAltResult>> {
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

    fn import_stdlib(&mut self, name: &str) -> Result<bool, Box<EvalAltResult>> {
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
    fn use_module(&mut self, alias: &str, module: Shared<Module>) {
        let functions = module_functions(&module);
        self.runtime.engine.register_static_module(alias, module);
        lock(&self.vocabulary)
            .modules
            .insert(alias.to_string(), functions);
    }

    /// The functions a line defines become a module of their own, so that later lines can call
    /// them and an error inside one names the input that defined it.
    fn keep_functions(&mut self, ast: &AST) {
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
    fn keep_imports(&mut self, ast: &AST, source: &str) {
        for statement in ast.statements() {
            let Stmt::Import(import, _) = statement else {
                continue;
            };
            let (Expr::StringConstant(path, _), alias) = &**import else {
                continue;
            };
            if alias.name.is_empty() {
                continue;
            }
            let engine = &self.runtime.engine;
            // The line ran, so the module is in the resolver's cache: this evaluates nothing.
            if let Ok(module) =
                engine
                    .module_resolver()
                    .resolve(engine, Some(source), path, Position::NONE)
            {
                self.use_module(alias.name.as_str(), module);
            }
        }
    }

    /// Drops variables shadowed by a later `let` of the same name, so that a long session does not
    /// keep every old value alive.
    fn compact_scope(&mut self) {
        let names: HashSet<&str> = self.scope.iter_raw().map(|(name, ..)| name).collect();
        if names.len() < self.scope.len() {
            self.scope = self.scope.clone_visible();
        }
    }

    fn refresh_variables(&self) {
        let mut vocabulary = lock(&self.vocabulary);
        let variables = self
            .scope
            .iter_raw()
            .map(|(name, _, value)| (name.to_string(), vocabulary.members_of(value)))
            .collect();
        vocabulary.variables = variables;
    }

    fn failure(&self, error: &EvalAltResult, source: &str) -> Outcome {
        let report = crate::diagnostic::report(error, source, Some(&self.runtime.engine));
        Outcome::Failed {
            report: self
                .runtime
                .ctx
                .redact(&with_input_line(&report, &self.inputs)),
            message: crate::diagnostic::message_of(error),
        }
    }

    fn journal(&self, event: &str, mut fields: Value, outcome: &Outcome, took: Duration) {
        if let (Some(fields), Value::Object(more)) =
            (fields.as_object_mut(), outcome.journal_fields())
        {
            fields.extend(more);
            fields.insert("duration_ms".into(), json!(took.as_millis() as u64));
        }
        self.runtime.ctx.record(event, fields);
    }

    fn show(&self, outcome: Outcome) {
        match outcome {
            Outcome::Value(value) => {
                if let Some(text) = render_value(&self.runtime.engine, &value) {
                    self.runtime.ctx.ui.line(&text);
                }
            }
            Outcome::Failed { report, .. } => eprintln!("{}", report.trim_end()),
            Outcome::Interrupted => eprintln!("interrupted"),
        }
    }

    fn command(&mut self, command: &str) -> Flow {
        let (name, argument) = command
            .split_once(char::is_whitespace)
            .map(|(name, argument)| (name, argument.trim()))
            .unwrap_or((command, ""));
        match name {
            "quit" | "q" | "exit" => return Flow::Quit,
            "help" => println!("{HELP}"),
            "doc" => self.doc(argument),
            "vars" => self.vars(),
            "load" => self.load(argument),
            _ => eprintln!("unknown command :{name}: try :help"),
        }
        Flow::Continue
    }

    fn doc(&self, name: &str) {
        let filter = (!name.is_empty()).then_some(name);
        match crate::doc::render(&self.host_functions, filter) {
            Ok(text) => print!("{text}"),
            Err(e) => eprintln!("{e}"),
        }
    }

    fn vars(&self) {
        let objects = &self.runtime.objects;
        let variables: BTreeMap<&str, &Dynamic> = self
            .scope
            .iter_raw()
            .filter(|(name, constant, _)| !(*constant && objects.get(name).is_some()))
            .map(|(name, _, value)| (name, value))
            .collect();
        if variables.is_empty() {
            println!(
                "no variables yet (the host objects are {})",
                objects.names().collect::<Vec<_>>().join(", ")
            );
            return;
        }
        let lines: Vec<(String, String)> = variables
            .into_iter()
            .map(|(name, value)| (name.to_string(), preview(&format!("{value:?}"))))
            .collect();
        self.runtime.ctx.ui.line(&aligned(&lines));
    }

    fn load(&mut self, path: &str) {
        if path.is_empty() {
            eprintln!("usage: :load FILE");
            return;
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                return;
            }
        };
        let (outcome, took) = self.evaluate(&text, path);
        self.journal("repl_load", json!({ "file": path }), &outcome, took);
        self.show(outcome);
    }
}

fn input_name(number: usize) -> String {
    format!("<input {number}>")
}

fn lock(vocabulary: &Mutex<Vocabulary>) -> MutexGuard<'_, Vocabulary> {
    vocabulary.lock().unwrap_or_else(|e| e.into_inner())
}

/// The report's source line for typed input: `crate::diagnostic` reads it from the file its header
/// names, and `<input 3>` is no file.
fn with_input_line(report: &str, inputs: &[String]) -> String {
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
fn input_place(header: &str) -> Option<(usize, usize, usize)> {
    let rest = header.strip_prefix("error: <input ")?;
    let (number, rest) = rest.split_once(">:")?;
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    Some((number.parse().ok()?, line, column))
}

/// A value for people: nothing for `()`, a list of maps as a table, a map as aligned
/// `key: value` lines, a host object by its type, anything else as Rhai's `debug` shows it.
fn render_value(engine: &Engine, value: &Dynamic) -> Option<String> {
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
fn aligned(lines: &[(String, String)]) -> String {
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
fn preview(text: &str) -> String {
    let line = text.replace(['\n', '\r'], " ");
    if line.chars().count() <= 100 {
        return line;
    }
    format!("{}…", line.chars().take(99).collect::<String>())
}

/// Tells whether typed input is finished, with Rhai's own parser (no strict variables: only the
/// shape of the text matters here).
struct Syntax {
    engine: Engine,
}

impl Syntax {
    fn new() -> Syntax {
        Syntax {
            engine: Engine::new_raw(),
        }
    }

    /// Open brackets or braces, a backtick string, a trailing operator or `\`: more is coming.
    fn is_unfinished(&self, text: &str) -> bool {
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(':') {
            return false;
        }
        if text.ends_with('\\') {
            return true;
        }
        let text = self.join_continued_lines(text);
        let Err(error) = self.engine.compile(&text) else {
            return false;
        };
        match error.err_type() {
            ParseErrorType::UnexpectedEOF => true,
            // A backtick string may span lines; a quoted one may not, so it is an error now.
            ParseErrorType::BadInput(LexError::UnterminatedString) => {
                char_at(&text, error.position()) == Some('`')
            }
            _ => is_past_end(&text, error.position()),
        }
    }

    /// Removes each `\` that ends a line outside a string (inside one, Rhai itself continues the
    /// string): exactly the backslashes Rhai's lexer rejects.
    fn join_continued_lines(&self, text: &str) -> String {
        let mut text = text.to_string();
        while let Err(error) = self.engine.compile(&text) {
            let stray_backslash = matches!(
                error.err_type(),
                ParseErrorType::BadInput(LexError::UnexpectedInput(s)) if s == "\\"
            );
            match byte_offset(&text, error.position()) {
                Some(offset) if stray_backslash && text[offset..].starts_with("\\\n") => {
                    text.remove(offset);
                }
                _ => break,
            }
        }
        text
    }
}

/// Where a 1-based line and column (in characters) fall in `text`, in bytes.
fn byte_offset(text: &str, position: Position) -> Option<usize> {
    let (line, column) = (position.line()?, position.position()?);
    let line_start: usize = text
        .split('\n')
        .take(line.checked_sub(1)?)
        .map(|l| l.len() + 1)
        .sum();
    let line_text = text.get(line_start..)?.split('\n').next()?;
    line_text
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| line_start + i)
}

fn char_at(text: &str, position: Position) -> Option<char> {
    text[byte_offset(text, position)?..].chars().next()
}

/// The parser stopped after the last character: it wanted more.
fn is_past_end(text: &str, position: Position) -> bool {
    let lines: Vec<&str> = text.split('\n').collect();
    match (position.line(), position.position()) {
        (Some(line), _) if line > lines.len() => true,
        (Some(line), Some(column)) if line == lines.len() => {
            column > lines[line - 1].chars().count()
        }
        _ => false,
    }
}

/// The modules of the `stdlib/` folders that `import` searches, by name; the first found wins, as
/// for `import`. Only names usable as `name::` count.
fn stdlib_modules(base_dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut modules = BTreeMap::new();
    let dirs = crate::engine::search_dirs(Some(base_dir), base_dir);
    for dir in dirs.iter().filter(|d| d.ends_with("stdlib")) {
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

fn module_functions(module: &Module) -> BTreeSet<Word> {
    module
        .iter_script_fn_info()
        .filter(|(_, access, ..)| *access == FnAccess::Public)
        .map(|(_, _, name, ..)| Word::call(name))
        .collect()
}

/// A word Tab can insert: a function gets its opening parenthesis, a module its `::`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Word {
    text: String,
    kind: WordKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum WordKind {
    Value,
    Call,
    Module,
}

impl Word {
    fn value(text: &str) -> Word {
        Word {
            text: text.to_string(),
            kind: WordKind::Value,
        }
    }

    fn call(text: &str) -> Word {
        Word {
            text: text.to_string(),
            kind: WordKind::Call,
        }
    }

    fn module(text: &str) -> Word {
        Word {
            text: text.to_string(),
            kind: WordKind::Module,
        }
    }

    fn pair(&self) -> Pair {
        let (display, replacement) = match self.kind {
            WordKind::Value => (self.text.clone(), self.text.clone()),
            WordKind::Call => (self.text.clone(), format!("{}(", self.text)),
            WordKind::Module => (format!("{}::", self.text), format!("{}::", self.text)),
        };
        Pair {
            display,
            replacement,
        }
    }
}

/// Everything Tab can offer, kept up to date after each line.
#[derive(Default)]
struct Vocabulary {
    /// Methods of each host type, by the Rust type name of its values: what follows `airflow.`.
    methods: HashMap<String, BTreeSet<Word>>,
    /// Plain host functions and the functions defined in this session.
    functions: BTreeSet<Word>,
    /// The functions of each module: imported ones by alias, `stdlib/` ones by file name.
    modules: BTreeMap<String, BTreeSet<Word>>,
    /// Variables, host objects included, with what may follow their dot (methods or map keys).
    variables: BTreeMap<String, BTreeSet<Word>>,
    /// What `:doc` takes: objects, plain functions and `object.method`.
    doc_names: BTreeSet<String>,
}

impl Vocabulary {
    fn new(
        runtime: &Runtime,
        host_functions: &[HostFn],
        stdlib: &BTreeMap<String, PathBuf>,
    ) -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        let mut methods_of_object: BTreeMap<&str, BTreeSet<Word>> = BTreeMap::new();
        for f in host_functions {
            if f.object.is_empty() {
                vocabulary.functions.insert(Word::call(&f.name));
                vocabulary.doc_names.insert(f.name.clone());
            } else {
                methods_of_object
                    .entry(&f.object)
                    .or_default()
                    .insert(Word::call(&f.name));
                vocabulary.doc_names.insert(f.object.clone());
                vocabulary
                    .doc_names
                    .insert(format!("{}.{}", f.object, f.name));
            }
        }
        for (object, methods) in methods_of_object {
            if let Some(value) = runtime.objects.get(object) {
                vocabulary
                    .methods
                    .insert(value.type_name().to_string(), methods);
            }
        }
        let scope = runtime.objects.scope();
        for (name, file) in stdlib {
            let functions = std::fs::read_to_string(file)
                .ok()
                .and_then(|text| runtime.engine.compile_with_scope(&scope, text).ok())
                .map(|ast| {
                    ast.iter_functions()
                        .filter(|f| f.access == FnAccess::Public)
                        .map(|f| Word::call(f.name))
                        .collect()
                })
                .unwrap_or_default();
            vocabulary.modules.insert(name.clone(), functions);
        }
        vocabulary
    }

    fn members_of(&self, value: &Dynamic) -> BTreeSet<Word> {
        if let Some(methods) = self.methods.get(value.type_name()) {
            return methods.clone();
        }
        value
            .read_lock::<Map>()
            .map(|map| map.keys().map(|key| Word::value(key)).collect())
            .unwrap_or_default()
    }

    /// For the text before the cursor: where the completed word starts, and the candidates.
    fn complete(&self, before: &str) -> (usize, Vec<Pair>) {
        let trimmed = before.trim_start();
        if trimmed.starts_with(':') && !trimmed.contains('\n') {
            return self.complete_command(before);
        }
        let start = word_start(before);
        let (head, word) = before.split_at(start);
        let candidates: Vec<Word> = if let Some(receiver) = head.strip_suffix('.') {
            self.variables
                .get(last_word(receiver))
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else if let Some(module) = head.strip_suffix("::") {
            self.modules
                .get(last_word(module))
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        } else {
            let variables = self.variables.keys().map(|name| Word::value(name));
            let modules = self.modules.keys().map(|name| Word::module(name));
            let all: BTreeSet<Word> = variables
                .chain(modules)
                .chain(self.functions.iter().cloned())
                .collect();
            all.into_iter().collect()
        };
        let pairs = candidates
            .iter()
            .filter(|w| w.text.starts_with(word))
            .map(Word::pair)
            .collect();
        (start, pairs)
    }

    fn complete_command(&self, before: &str) -> (usize, Vec<Pair>) {
        let trimmed = before.trim_start();
        let offset = before.len() - trimmed.len();
        let Some((command, argument)) = trimmed.split_once(char::is_whitespace) else {
            let commands = COMMANDS.iter().filter(|c| c.starts_with(trimmed));
            return (offset, commands.map(|c| command_pair(c)).collect());
        };
        if command != ":doc" {
            return (before.len(), Vec::new());
        }
        let argument = argument.trim_start();
        let names = self.doc_names.iter().filter(|n| n.starts_with(argument));
        (
            before.len() - argument.len(),
            names.map(|n| Word::value(n).pair()).collect(),
        )
    }
}

/// A command that takes an argument gets its space.
fn command_pair(command: &str) -> Pair {
    let replacement = match command {
        ":doc" | ":load" => format!("{command} "),
        _ => command.to_string(),
    };
    Pair {
        display: command.to_string(),
        replacement,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where the identifier that ends `text` starts.
fn word_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .take_while(|(_, c)| is_word_char(*c))
        .last()
        .map_or(text.len(), |(i, _)| i)
}

fn last_word(text: &str) -> &str {
    &text[word_start(text)..]
}

/// The editor's helper: completion from the vocabulary (file names after `:load`), and the
/// validator that keeps unfinished input open.
#[derive(rustyline::Helper, rustyline::Hinter, rustyline::Highlighter)]
struct LineHelper {
    syntax: Syntax,
    vocabulary: Arc<Mutex<Vocabulary>>,
    files: FilenameCompleter,
}

impl LineHelper {
    fn new(vocabulary: Arc<Mutex<Vocabulary>>) -> LineHelper {
        LineHelper {
            syntax: Syntax::new(),
            vocabulary,
            files: FilenameCompleter::new(),
        }
    }
}

impl Completer for LineHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let loading = before
            .trim_start()
            .strip_prefix(":load")
            .is_some_and(|rest| rest.starts_with(char::is_whitespace));
        if loading {
            return self.files.complete(line, pos, ctx);
        }
        Ok(lock(&self.vocabulary).complete(before))
    }
}

impl Validator for LineHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if self.syntax.is_unfinished(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

/// The history file, `$XDG_STATE_HOME/ovscript/history` (`~/.local/state/ovscript/history`).
struct History {
    file: Option<PathBuf>,
}

impl History {
    fn open(editor: &mut Editor<LineHelper, FileHistory>, ctx: &crate::context::Ctx) -> History {
        let file = history_file(
            std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
            std::env::var_os("HOME").map(PathBuf::from),
        );
        let Some(file) = file else {
            return History { file: None };
        };
        if let Some(dir) = file.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                ctx.ui
                    .warn(&format!("no history: cannot create {}: {e}", dir.display()));
                return History { file: None };
            }
        }
        match editor.load_history(&file) {
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => ctx
                .ui
                .warn(&format!("cannot read the history {}: {e}", file.display())),
            Ok(()) => {}
        }
        History { file: Some(file) }
    }

    /// Adds the input and writes it at once, so that a session that is killed keeps it too. A line
    /// holding a configured secret is never written down.
    fn remember(
        &mut self,
        editor: &mut Editor<LineHelper, FileHistory>,
        input: &str,
        ctx: &crate::context::Ctx,
    ) {
        if input.trim().is_empty() || ctx.redact(input) != input {
            return;
        }
        if !editor.add_history_entry(input).unwrap_or(false) {
            return;
        }
        if let Some(file) = &self.file {
            if let Err(e) = editor.append_history(file) {
                ctx.ui.warn(&format!(
                    "history off: cannot write {}: {e}",
                    file.display()
                ));
                self.file = None;
            }
        }
    }
}

/// XDG: a relative `XDG_STATE_HOME` is to be ignored.
fn history_file(state_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let state = state_home.filter(|dir| dir.is_absolute()).or_else(|| {
        home.filter(|dir| !dir.as_os_str().is_empty())
            .map(|home| home.join(".local").join("state"))
    })?;
    Some(state.join("ovscript").join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_strings_and_trailing_operators_are_unfinished() {
        let syntax = Syntax::new();
        for text in [
            "fn f() {",
            "fn f() {\n  1",
            "let a = [1, 2",
            "f(1,",
            "(1 + 2",
            "1 +",
            "let x =",
            "let s = `two",
            "let s = \"abc\\",
            "let x = 1 \\",
            "let x = 1 \\\n+",
            "airflow.",
        ] {
            assert!(syntax.is_unfinished(text), "{text:?} should go on");
        }
        for text in [
            "1 + 2",
            "fn f() {\n  1\n}",
            "let a = 1 2",
            "let s = \"abc",
            "1 + ;",
            "}",
            ":doc airflow",
            "",
            "let x = 1 \\\n+ 2",
        ] {
            assert!(!syntax.is_unfinished(text), "{text:?} should be finished");
        }
    }

    #[test]
    fn a_backslash_joins_lines_outside_strings_only() {
        let syntax = Syntax::new();
        assert_eq!(
            syntax.join_continued_lines("let x = 1 \\\n + 2;"),
            "let x = 1 \n + 2;"
        );
        assert_eq!(
            syntax.join_continued_lines("\"abc\\\ndef\""),
            "\"abc\\\ndef\""
        );
        assert_eq!(syntax.join_continued_lines("1 + 2"), "1 + 2");
    }

    #[test]
    fn an_input_error_shows_the_typed_line_with_a_caret() {
        let inputs = vec![
            "let a = 1;".to_string(),
            "let b = 2;\nb + nosuch".to_string(),
        ];
        let report =
            "error: <input 2>:2:5: Undefined variable: nosuch\n  in function f, called at x:1:1\n";
        let shown = with_input_line(report, &inputs);
        assert_eq!(
            shown,
            "error: <input 2>:2:5: Undefined variable: nosuch\n  |\n2 | b + nosuch\n  |     ^\n  in function f, called at x:1:1\n"
        );
        let from_a_file = "error: lib.rhai:1:1: boom\n";
        assert_eq!(with_input_line(from_a_file, &inputs), from_a_file);
    }

    #[test]
    fn values_are_shown_for_people() {
        let engine = Engine::new();
        let value = |script: &str| render_value(&engine, &engine.eval::<Dynamic>(script).unwrap());
        assert_eq!(value("()"), None);
        assert_eq!(value("40 + 2").as_deref(), Some("42"));
        assert_eq!(value(r#""text""#).as_deref(), Some(r#""text""#));
        assert_eq!(value("[1, 2]").as_deref(), Some("[1, 2]"));
        assert_eq!(
            value(r#"#{ dag_id: "flickr_workflow", state: "running" }"#).as_deref(),
            Some("dag_id: flickr_workflow\nstate:  running")
        );
        let table = value(r#"[#{ dag_id: "a", state: "running" }, #{ dag_id: "bbb" }]"#).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "dag_id  state");
        assert_eq!(lines[2], "a       running");
        assert_eq!(lines[3], "bbb");
    }

    fn vocabulary() -> Vocabulary {
        let mut vocabulary = Vocabulary::default();
        let methods: BTreeSet<Word> = ["running_dags", "pause", "unpause"]
            .into_iter()
            .map(Word::call)
            .collect();
        vocabulary.variables.insert("airflow".into(), methods);
        vocabulary
            .variables
            .insert("dag".into(), [Word::value("dag_id")].into());
        vocabulary.functions.insert(Word::call("wait_until"));
        vocabulary
            .modules
            .insert("deploy".into(), [Word::call("preflight")].into());
        vocabulary
            .doc_names
            .extend(["airflow".into(), "airflow.pause".into()]);
        vocabulary
    }

    fn replacements(completion: (usize, Vec<Pair>)) -> (usize, Vec<String>) {
        let (start, pairs) = completion;
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn tab_completes_methods_keys_functions_modules_and_commands() {
        let v = vocabulary();
        assert_eq!(
            replacements(v.complete("let x = airflow.ru")),
            (16, vec!["running_dags(".to_string()])
        );
        assert_eq!(
            replacements(v.complete("airflow.")).1,
            ["pause(", "running_dags(", "unpause("]
        );
        assert_eq!(replacements(v.complete("dag.d")).1, ["dag_id"]);
        assert_eq!(
            replacements(v.complete("wai")),
            (0, vec!["wait_until(".into()])
        );
        assert_eq!(replacements(v.complete("de")).1, ["deploy::"]);
        assert_eq!(replacements(v.complete("deploy::p")).1, ["preflight("]);
        assert_eq!(
            replacements(v.complete("x = ai")),
            (4, vec!["airflow".into()])
        );
        assert_eq!(replacements(v.complete(":d")), (0, vec![":doc ".into()]));
        assert_eq!(replacements(v.complete(":q")), (0, vec![":quit".into()]));
        assert_eq!(
            replacements(v.complete(":doc airflow.p")),
            (5, vec!["airflow.pause".into()])
        );
        assert!(v.complete("nosuch.").1.is_empty());
    }

    #[test]
    fn the_history_lives_in_the_xdg_state_folder() {
        assert_eq!(
            history_file(Some("/state".into()), Some("/home/op".into())),
            Some(PathBuf::from("/state/ovscript/history"))
        );
        assert_eq!(
            history_file(Some("relative".into()), Some("/home/op".into())),
            Some(PathBuf::from("/home/op/.local/state/ovscript/history"))
        );
        assert_eq!(history_file(None, None), None);
    }

    fn session() -> Session {
        let runtime = crate::run::offline_runtime(crate::config::Config::default(), None).unwrap();
        Session::new(runtime)
    }

    fn value_of(session: &mut Session, text: &str) -> String {
        session.inputs.push(text.to_string());
        let source = input_name(session.inputs.len());
        match session.evaluate(text, &source).0 {
            Outcome::Value(value) => format!("{value:?}"),
            Outcome::Failed { report, .. } => format!("failed: {report}"),
            Outcome::Interrupted => "interrupted".into(),
        }
    }

    #[test]
    fn variables_and_functions_stay_from_line_to_line() {
        let mut s = session();
        assert_eq!(value_of(&mut s, "let n = 5;"), "()");
        assert_eq!(value_of(&mut s, "fn twice(x) {\n  x * 2\n}"), "()");
        assert_eq!(value_of(&mut s, "twice(n)"), "10");
        assert_eq!(value_of(&mut s, "let add = |x| x + n;"), "()");
        assert_eq!(value_of(&mut s, "add.call(1)"), "6");
        assert_eq!(value_of(&mut s, "let n = 7;"), "()");
        assert_eq!(
            s.scope.iter_raw().filter(|(name, ..)| *name == "n").count(),
            1
        );
        assert_eq!(value_of(&mut s, "n"), "7");
        let vocabulary = lock(&s.vocabulary);
        assert!(vocabulary.functions.contains(&Word::call("twice")));
        assert!(vocabulary.variables.contains_key("add"));
    }

    #[test]
    fn an_error_inside_an_earlier_function_shows_that_functions_line() {
        let mut s = session();
        value_of(&mut s, "fn boom() {\n  throw \"the apply failed\";\n}");
        let report = value_of(&mut s, "boom()");
        assert!(
            report.contains("error: <input 1>:2:3: the apply failed"),
            "{report}"
        );
        assert!(
            report.contains("2 |   throw \"the apply failed\";"),
            "{report}"
        );
        assert!(
            report.contains("in function boom, called at <input 2>:1:1"),
            "{report}"
        );
    }

    #[test]
    fn imports_and_stdlib_modules_serve_later_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stdlib")).unwrap();
        std::fs::write(dir.path().join("stdlib/deploy.rhai"), "fn ready() { 42 }\n").unwrap();
        std::fs::write(
            dir.path().join("stdlib/checks.rhai"),
            "fn healthy() { true }\n",
        )
        .unwrap();
        let ctx = crate::run::context(
            crate::run::Settings::offline(crate::config::Config::default()),
            dir.path().to_path_buf(),
        )
        .unwrap();
        let runtime = Runtime::new(ctx, Default::default(), Some(dir.path()), Vec::new());
        let mut s = Session::new(runtime);
        assert!(lock(&s.vocabulary).modules["deploy"].contains(&Word::call("ready")));
        assert_eq!(value_of(&mut s, "import \"checks\" as c;"), "()");
        assert_eq!(value_of(&mut s, "c::healthy()"), "true");
        assert_eq!(value_of(&mut s, "deploy::ready()"), "42");
        assert!(value_of(&mut s, "nosuch::x()").contains("Undefined module"));
    }
}

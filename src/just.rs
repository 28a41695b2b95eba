//! `just(recipe, args...)` and `just_output(recipe, args...)`: run a recipe of the infrastructure
//! checkout's justfile, always with an argv (never a shell string).
//!
//! Before anything runs, the recipe and its number of arguments are checked against
//! `just --dump --dump-format json`: just itself takes a surplus argument for the name of a further
//! recipe and runs that one too, so a miscounted call could do more than the script says.
//!
//! `just` runs with the terminal passed through (terraform inside `just apply` asks its question
//! there) and throws on a non-zero exit. `just_output` captures stdout and stderr and gives no
//! input (a question nobody can see must not hang the run): it is for recipes that report.
//! In a dry run neither runs the recipe: `just_output` then returns `#{code: 0, stdout: "",
//! stderr: ""}`, because a recipe is a side effect and the plan should read as if it succeeded.

use rhai::{Array, Dynamic, Engine, Map};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};
use std::sync::Arc;
use std::time::Instant;

use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::journal::Event;
use crate::objects::{describe, Objects};
use crate::shell::shell_words;

const INSTALL_HINT: &str = "`just` is not installed or not on PATH: install it with `pip install rust-just` (or run tools/install-tools.sh of the ovscript repository and put the directory it prints on PATH)";

/// The environment names that make a recipe a production one (`just apply prod ...`,
/// `just bump production airflow`).
const PRODUCTION: &[&str] = &["prod", "production"];

/// The names just looks for, in its order.
const JUSTFILE_NAMES: &[&str] = &["justfile", "Justfile", ".justfile"];

pub fn register(engine: &mut Engine, ctx: &Ctx, _objects: &mut Objects) {
    // A resumed run counts what the runs before it started: a recipe begun by a run that died
    // may have touched production as much as one begun here.
    let inherited = ctx
        .resumed
        .as_ref()
        .map(|run| run.started_recipes.clone())
        .unwrap_or_default();
    let started = Started::new(std::sync::Mutex::new(inherited));
    let succeeded = Started::default();
    let just = Just {
        ctx: ctx.clone(),
        started: started.clone(),
        succeeded: succeeded.clone(),
    };
    let run: Runner<()> = Arc::new(move |recipe, args| just.run(recipe, args));
    let doc = Doc {
        name: "just",
        returns: "()",
        help: "Runs a recipe of the infrastructure repo's justfile with these arguments (argv, no shell), terminal passed through; throws on a non-zero exit.",
        example: r#"just("apply", "prod", "catalog-airflow")"#,
    };
    register_overloads(engine, &doc, &run);

    let just = Just {
        ctx: ctx.clone(),
        started: started.clone(),
        succeeded: succeeded.clone(),
    };
    let output: Runner<Map> = Arc::new(move |recipe, args| just.output(recipe, args));
    let doc = Doc {
        name: "just_output",
        returns: "Map",
        help: "Runs a recipe like `just`, capturing `#{code, stdout, stderr}` (no input, no throw on a non-zero exit; a dry run returns code 0).",
        example: r#"let plan = just_output("plan", "prod", "catalog-airflow"); print(plan.stdout);"#,
    };
    register_overloads(engine, &doc, &output);

    describe(
        "just_started",
        &["command: &str", "bool"],
        "Whether this run, or a run it resumed, started `just COMMAND` (e.g. \"apply prod catalog-airflow\"): its process began, whatever came of it. False when the call failed before (a missing recipe, no `just`) or in a dry run.",
        r#"if just_started("apply prod catalog-airflow") { offer_rollback() }"#,
    )
    .register_into_engine(engine, move |command: &str| called(&started, command));

    describe(
        "just_succeeded",
        &["command: &str", "bool"],
        "Whether this run ran `just COMMAND` (e.g. \"apply prod catalog-airflow\") and it exited 0: what failed after it (the clearance flag's restore) is no reason to roll it back.",
        r#"if just_succeeded("apply prod catalog-airflow") { by_hand("set the flag back") }"#,
    )
    .register_into_engine(engine, move |command: &str| called(&succeeded, command));
}

/// Whether `calls` holds `command`, compared as text with single spaces, as a person writes it.
fn called(calls: &Started, command: &str) -> bool {
    let wanted = command.split_whitespace().collect::<Vec<_>>().join(" ");
    calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|words| words.join(" ") == wanted)
}

/// The recipe calls (recipe and arguments) whose process this run started.
type Started = Arc<std::sync::Mutex<Vec<Vec<String>>>>;

/// What one overload does once its arguments are gathered.
type Runner<T> = Arc<dyn Fn(&str, Vec<String>) -> HostResult<T> + Send + Sync>;

struct Doc {
    name: &'static str,
    returns: &'static str,
    help: &'static str,
    example: &'static str,
}

impl Doc {
    fn registration(&self, extra_params: &[&str]) -> rhai::FuncRegistration {
        let mut params = vec!["recipe: &str"];
        params.extend_from_slice(extra_params);
        params.push(self.returns);
        describe(self.name, &params, self.help, self.example)
    }
}

/// Rhai has no variadic functions: one overload per count of extra string arguments (0 to 6),
/// and one taking them as an array for longer or computed lists.
macro_rules! overloads {
    ($engine:expr, $doc:expr, $run:expr, $( [$($arg:ident),*] ),+ $(,)?) => {$(
        let run = $run.clone();
        $doc.registration(&[$(concat!(stringify!($arg), ": &str")),*]).register_into_engine(
            $engine,
            move |recipe: &str $(, $arg: &str)*| run(recipe, vec![$($arg.to_string()),*]),
        );
    )+};
}

fn register_overloads<T: rhai::Variant + Clone>(engine: &mut Engine, doc: &Doc, run: &Runner<T>) {
    overloads!(
        engine,
        doc,
        run,
        [],
        [arg1],
        [arg1, arg2],
        [arg1, arg2, arg3],
        [arg1, arg2, arg3, arg4],
        [arg1, arg2, arg3, arg4, arg5],
        [arg1, arg2, arg3, arg4, arg5, arg6],
    );
    let run = run.clone();
    let name = doc.name;
    doc.registration(&["args: Array"])
        .register_into_engine(engine, move |recipe: &str, args: Array| {
            run(recipe, string_args(name, recipe, args)?)
        });
}

fn string_args(function: &str, recipe: &str, args: Array) -> HostResult<Vec<String>> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            let type_name = crate::diagnostic::script_types(arg.type_name());
            arg.into_immutable_string().map(|s| s.to_string()).map_err(|_| {
                host_error(format!(
                    "{function}(\"{recipe}\", [...]): argument {} ({type_name}) is not a string: pass it as text (e.g. `x.to_string()`)",
                    i + 1
                ))
            })
        })
        .collect()
}

struct Just {
    ctx: Ctx,
    started: Started,
    /// The calls of this run that exited 0.
    succeeded: Started,
}

impl Just {
    fn run(&self, recipe: &str, args: Vec<String>) -> HostResult<()> {
        let call = self.prepare(recipe, args)?;
        if self.ctx.would(&call.to_string()) {
            return Ok(());
        }
        let outcome = self.execute(&call, call.command(), crate::child::Streams::Show)?;
        let code = exit_code(outcome.status);
        if code != 0 {
            return Err(host_error(format!(
                "{call} failed with exit code {code} (its output is above)"
            )));
        }
        self.succeeded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(
                [call.recipe.clone()]
                    .into_iter()
                    .chain(call.args.clone())
                    .collect(),
            );
        Ok(())
    }

    fn output(&self, recipe: &str, args: Vec<String>) -> HostResult<Map> {
        let call = self.prepare(recipe, args)?;
        if self.ctx.would(&call.to_string()) {
            return Ok(captured(0, "", ""));
        }
        let command = call
            .command()
            .stdin_null()
            .stdout_capture()
            .stderr_capture();
        let outcome = self.execute(&call, command, crate::child::Streams::Capture)?;
        // What a recipe printed may hold a secret (a token in a plan): redacted like any output.
        Ok(captured(
            exit_code(outcome.status),
            &self.ctx.redact(&String::from_utf8_lossy(&outcome.stdout)),
            &self.ctx.redact(&String::from_utf8_lossy(&outcome.stderr)),
        ))
    }

    /// Runs the recipe's command, journaled before and after; a Ctrl-C that reached the recipe
    /// through the terminal then unwinds the script.
    fn execute(
        &self,
        call: &Call,
        command: duct::Expression,
        streams: crate::child::Streams,
    ) -> HostResult<std::process::Output> {
        let captured = streams == crate::child::Streams::Capture;
        self.ctx.deferred.work_starts()?;
        // No recipe starts once the process is exiting (a second Ctrl-C); one starting is
        // waited for until its own stop is registered.
        let starting = self.ctx.cancel.change();
        let started = self.journal_start(call);
        let child = crate::child::start(&self.ctx, &call.to_string(), command.unchecked(), streams)
            .map_err(|e| spawn_error(&call.program, &e))?;
        drop(starting);
        self.started.lock().unwrap_or_else(|e| e.into_inner()).push(
            [call.recipe.clone()]
                .into_iter()
                .chain(call.args.clone())
                .collect(),
        );
        let Some(outcome) = crate::child::wait(&self.ctx, &call.to_string(), child) else {
            self.journal_interrupted(call, started, captured);
            return Err(interrupted(call));
        };
        let outcome = outcome.map_err(|e| spawn_error(&call.program, &e))?;
        self.journal(call, exit_code(outcome.status), started, captured);
        // A recipe that ended on the terminal's Ctrl-C is an interruption, never a failure: a
        // failed apply would offer a rollback.
        self.ctx
            .interrupted_child(&outcome.status)
            .map_err(|_| interrupted(call))?;
        Ok(outcome)
    }

    /// Finds the justfile and checks the call against its recipes; runs nothing.
    fn prepare(&self, recipe: &str, args: Vec<String>) -> HostResult<Call> {
        let dir = self.ctx.infra_dir()?;
        let justfile = find_justfile(&dir)?;
        let call = Call {
            program: self.program()?,
            dir,
            justfile,
            recipe: recipe.to_string(),
            args,
        };
        let recipes = call.read_recipes(&self.ctx)?;
        check_call(&recipes, &call.recipe, &call.args).map_err(|problem| {
            host_error(format!(
                "{call}: {problem}\ncheck the call against {}",
                call.justfile.display()
            ))
        })?;
        self.guard_production(&call)?;
        Ok(call)
    }

    /// The host's guards on production, whatever the script says: a production recipe (one
    /// whose arguments name `prod` or `production`) runs only while this run holds the deploy
    /// lock, and the production `apply` only while a clearance flag is raised by `tf.with`
    /// (true during the apply, restored after). A dry run changes nothing and is not held.
    fn guard_production(&self, call: &Call) -> HostResult<()> {
        if self.ctx.dry_run || !call.args.iter().any(|a| PRODUCTION.contains(&a.as_str())) {
            return Ok(());
        }
        let guards = &self.ctx.guards;
        self.ctx.production_change(&format!("`{call}`"))?;
        let environment = call.args.first().map(String::as_str).unwrap_or_default();
        let service = call.args.last().map(String::as_str).unwrap_or_default();
        if call.recipe == "apply" && !guards.clearance_raised_for(environment, service) {
            return Err(host_error(format!(
                "`{call}` applies production with no clearance flag of environments/{environment}/{service}.tf raised: nothing was run. Apply inside tf.with(\"environments/{environment}/{service}.tf\", \"module.{service}.FLAG_cleared\", true, || just(\"apply\", ...)), so that the flag is true during the apply and restored after"
            )));
        }
        Ok(())
    }

    /// `[infra] just` split like a shell would (no shell runs it): `just`, or the infrastructure
    /// repository's wrapper such as `./ov just`.
    fn program(&self) -> HostResult<Vec<String>> {
        let configured =
            crate::config::given(&self.ctx.config.infra.just).unwrap_or_else(|| "just".to_string());
        match shlex::split(&configured) {
            Some(words) if !words.is_empty() => Ok(words),
            _ => Err(host_error(format!(
                "[infra] just = {configured:?} is not a command line: give the command that runs recipes in the infrastructure checkout, e.g. \"just\" or \"./ov just\" (OVSCRIPT_INFRA_JUST)"
            ))),
        }
    }

    /// Journaled before the recipe starts too: a second Ctrl-C ends ovscript at once, and the
    /// journal must still show that an apply began.
    fn journal_start(&self, call: &Call) -> Instant {
        self.ctx.record(Event::JustStart {
            recipe: call.recipe.clone(),
            args: call.args.clone(),
        });
        Instant::now()
    }

    fn journal_interrupted(&self, call: &Call, started: Instant, captured: bool) {
        self.ctx.record(Event::Just {
            recipe: call.recipe.clone(),
            args: call.args.clone(),
            code: None,
            interrupted: true,
            duration_ms: started.elapsed().as_millis() as u64,
            captured,
        });
    }

    fn journal(&self, call: &Call, code: i64, started: Instant, captured: bool) {
        self.ctx.record(Event::Just {
            recipe: call.recipe.clone(),
            args: call.args.clone(),
            code: Some(code),
            interrupted: false,
            duration_ms: started.elapsed().as_millis() as u64,
            captured,
        });
    }
}

/// Ctrl-C stopped the recipe: exit 130 and "interrupted", whatever the recipe's own code was.
fn interrupted(call: &Call) -> Box<rhai::EvalAltResult> {
    rhai::EvalAltResult::ErrorTerminated(
        format!("while `{call}` ran (it has ended)").into(),
        rhai::Position::NONE,
    )
    .into()
}

fn captured(code: i64, stdout: &str, stderr: &str) -> Map {
    let mut map = Map::new();
    map.insert("code".into(), Dynamic::from_int(code));
    map.insert("stdout".into(), Dynamic::from(stdout.to_string()));
    map.insert("stderr".into(), Dynamic::from(stderr.to_string()));
    map
}

fn find_justfile(dir: &Path) -> HostResult<PathBuf> {
    JUSTFILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            host_error(format!(
                "there is no justfile in the infrastructure checkout {}: check OVSCRIPT_INFRA_DIR or [infra] dir",
                dir.display()
            ))
        })
}

/// One recipe call, ready to run.
struct Call {
    /// The command that runs `just` (`[infra] just`), as words.
    program: Vec<String>,
    dir: PathBuf,
    justfile: PathBuf,
    recipe: String,
    args: Vec<String>,
}

impl Call {
    fn command(&self) -> duct::Expression {
        let mut argv: Vec<OsString> = vec![
            "--justfile".into(),
            self.justfile.clone().into(),
            "--working-directory".into(),
            self.dir.clone().into(),
            // Everything after `--` is the recipe and its arguments, even `--yes` or `x=y`.
            "--".into(),
            self.recipe.clone().into(),
        ];
        argv.extend(self.args.iter().map(OsString::from));
        self.just(argv)
    }

    /// `[infra] just` with `argv` after its own words, run in the checkout.
    fn just(&self, argv: Vec<OsString>) -> duct::Expression {
        let words = self.program[1..].iter().map(OsString::from).chain(argv);
        // `./ov` is the checkout's own wrapper: a relative path is taken from the checkout.
        // (An OsString, not a Path: duct takes a relative Path as `./name`, not a PATH lookup.)
        let program = Path::new(&self.program[0]);
        let program = if program.is_relative() && program.components().count() > 1 {
            self.dir.join(program).into_os_string()
        } else {
            OsString::from(&self.program[0])
        };
        duct::cmd(program, words).dir(&self.dir)
    }

    /// The justfile as data (`just --dump --dump-format json`).
    fn read_recipes(&self, ctx: &Ctx) -> HostResult<Value> {
        let argv = ["--justfile".into(), self.justfile.clone().into()]
            .into_iter()
            .chain(["--dump", "--dump-format", "json"].map(OsString::from))
            .collect();
        let dump = self
            .just(argv)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| spawn_error(&self.program, &e))?;
        ctx.interrupted_child(&dump.status)?;
        if !dump.status.success() {
            return Err(host_error(format!(
                "cannot read the recipes of {}: {}",
                self.justfile.display(),
                stderr_text(&dump)
            )));
        }
        serde_json::from_slice(&dump.stdout).map_err(|e| {
            host_error(format!(
                "cannot read `just --dump --dump-format json` of {} ({e}): ovscript needs just 1.x",
                self.justfile.display()
            ))
        })
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words = [&self.recipe].into_iter().chain(&self.args);
        write!(f, "just {}", shell_words(words))
    }
}

fn stderr_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_string()
}

fn spawn_error(program: &[String], error: &std::io::Error) -> Box<rhai::EvalAltResult> {
    let command = shell_words(program);
    if error.kind() == std::io::ErrorKind::NotFound && command == "just" {
        host_error(INSTALL_HINT)
    } else if error.kind() == std::io::ErrorKind::NotFound {
        host_error(format!(
            "cannot start `{command}` ([infra] just, OVSCRIPT_INFRA_JUST): not found in the infrastructure checkout or on PATH"
        ))
    } else {
        host_error(format!("cannot start `{command}`: {error}"))
    }
}

/// The exit code, or 128 + the signal that ended the process (the shell's convention).
fn exit_code(status: ExitStatus) -> i64 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + i64::from(signal);
        }
    }
    status.code().map_or(-1, i64::from)
}

/// Whether `recipe args...` is a call the justfile accepts: `Err` says why not. Lenient about the
/// dump's shape, which varies between just versions: what cannot be read is left to just to judge.
fn check_call(justfile: &Value, recipe: &str, args: &[String]) -> Result<(), String> {
    let Some(recipes) = justfile.get("recipes").and_then(Value::as_object) else {
        return Ok(());
    };
    let modules = justfile.get("modules").and_then(Value::as_object);
    if let Some((module, rest)) = recipe.split_once("::") {
        return match modules.and_then(|m| m.get(module)) {
            Some(module) => check_call(module, rest, args),
            None => Err(unknown_recipe(justfile, recipe)),
        };
    }
    let target = justfile["aliases"][recipe]["target"]
        .as_str()
        .unwrap_or(recipe);
    if let Some(found) = recipes.get(target) {
        return check_arguments(target, found, args);
    }
    // `just MODULE RECIPE ARGS...`, or `just MODULE` for the module's default recipe.
    if let Some(module) = modules.and_then(|m| m.get(recipe)) {
        return match args.split_first() {
            Some((inner, rest)) => check_call(module, inner, rest),
            None => Ok(()),
        };
    }
    Err(unknown_recipe(justfile, recipe))
}

fn unknown_recipe(justfile: &Value, recipe: &str) -> String {
    let public: Vec<String> = justfile["recipes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, r)| !name.starts_with('_') && r["private"] != true)
        .map(|(name, _)| name.clone())
        .chain(
            justfile["modules"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys().map(|name| format!("{name}::…"))),
        )
        .collect();
    if public.is_empty() {
        format!("the justfile has no recipe `{recipe}` (it has no public recipes)")
    } else {
        format!(
            "the justfile has no recipe `{recipe}`; its recipes are: {}",
            public.join(", ")
        )
    }
}

struct Parameter {
    name: String,
    kind: String,
    default: Option<Value>,
    /// `[arg(..., long|short)]` parameters are given as `--name value`, not by position.
    is_option: bool,
}

impl Parameter {
    fn from_dump(p: &Value) -> Parameter {
        let set = |key: &str| p.get(key).is_some_and(|v| !v.is_null() && *v != false);
        Parameter {
            name: p["name"].as_str().unwrap_or("?").to_string(),
            kind: p["kind"].as_str().unwrap_or("singular").to_string(),
            default: p.get("default").filter(|d| !d.is_null()).cloned(),
            is_option: set("long") || set("short") || set("flag"),
        }
    }

    fn required(&self) -> bool {
        self.default.is_none() && self.kind != "star"
    }

    fn variadic(&self) -> bool {
        self.kind == "plus" || self.kind == "star"
    }

    /// As just's usage line writes it: `env`, `tag="x"`, `+rest`, `*args`.
    fn usage(&self) -> String {
        let sigil = match self.kind.as_str() {
            "plus" => "+",
            "star" => "*",
            _ => "",
        };
        match &self.default {
            Some(Value::String(text)) => format!("{sigil}{}={text:?}", self.name),
            Some(other) => format!("{sigil}{}={other}", self.name),
            None => format!("{sigil}{}", self.name),
        }
    }
}

fn check_arguments(name: &str, recipe: &Value, args: &[String]) -> Result<(), String> {
    let parameters: Vec<Parameter> = recipe["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Parameter::from_dump)
        .collect();
    if parameters.iter().any(|p| p.is_option) {
        // Options and positions mix on just's command line: just counts those itself.
        return Ok(());
    }
    let least = parameters.iter().filter(|p| p.required()).count();
    let most = (!parameters.iter().any(Parameter::variadic)).then_some(parameters.len());
    if args.len() >= least && most.is_none_or(|most| args.len() <= most) {
        return Ok(());
    }
    let takes = match most {
        Some(most) if most == least => count(least, "argument"),
        Some(most) => format!("{least} to {}", count(most, "argument")),
        None => format!("at least {}", count(least, "argument")),
    };
    let usage: Vec<String> = parameters.iter().map(Parameter::usage).collect();
    let given = if args.is_empty() {
        "none".to_string()
    } else {
        format!("{} ({})", args.len(), shell_words(args))
    };
    Err(format!(
        "recipe `{name}` takes {takes} ({}), given {given}",
        if usage.is_empty() {
            "none".to_string()
        } else {
            usage.join(" ")
        }
    ))
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn parameter(name: &str, kind: &str, default: Value) -> Value {
        json!({ "name": name, "kind": kind, "default": default, "long": null, "short": null, "flag": false })
    }

    /// The shape just 1.59 dumps, cut down to what is read.
    fn justfile() -> Value {
        json!({
            "aliases": { "a": { "name": "a", "target": "apply" } },
            "recipes": {
                "apply": { "parameters": [parameter("env", "singular", Value::Null), parameter("service", "singular", Value::Null)] },
                "bump": { "parameters": [parameter("env", "singular", Value::Null), parameter("tag", "singular", json!("latest"))] },
                "record": { "parameters": [parameter("args", "star", Value::Null)] },
                "each": { "parameters": [parameter("first", "plus", Value::Null)] },
                "_helper": { "parameters": [] },
                "hidden": { "private": true, "parameters": [] },
                "deploy": { "parameters": [{ "name": "env", "kind": "singular", "long": "env" }] }
            },
            "modules": {
                "db": { "recipes": { "migrate": { "parameters": [parameter("env", "singular", Value::Null)] } } }
            }
        })
    }

    #[test]
    fn exact_counts_are_accepted_and_others_refused() {
        let j = justfile();
        assert!(check_call(&j, "apply", &strings(&["prod", "catalog-airflow"])).is_ok());
        assert!(check_call(&j, "a", &strings(&["prod", "catalog-airflow"])).is_ok());
        let too_few = check_call(&j, "apply", &strings(&["prod"])).unwrap_err();
        assert_eq!(
            too_few,
            "recipe `apply` takes 2 arguments (env service), given 1 (prod)"
        );
        let too_many = check_call(&j, "apply", &strings(&["prod", "x", "bump"])).unwrap_err();
        assert!(too_many.contains("given 3 (prod x bump)"), "{too_many}");
    }

    #[test]
    fn defaults_and_variadics_widen_the_range() {
        let j = justfile();
        assert!(check_call(&j, "bump", &strings(&["prod"])).is_ok());
        let error = check_call(&j, "bump", &[]).unwrap_err();
        assert_eq!(
            error,
            r#"recipe `bump` takes 1 to 2 arguments (env tag="latest"), given none"#
        );
        assert!(check_call(&j, "record", &[]).is_ok());
        assert!(check_call(&j, "record", &strings(&["1", "2", "3", "4", "5", "6", "7"])).is_ok());
        let error = check_call(&j, "each", &[]).unwrap_err();
        assert!(error.contains("at least 1 argument (+first)"), "{error}");
    }

    #[test]
    fn an_unknown_recipe_lists_the_public_ones() {
        let error = check_call(&justfile(), "aply", &[]).unwrap_err();
        assert_eq!(
            error,
            "the justfile has no recipe `aply`; its recipes are: apply, bump, deploy, each, record, db::…"
        );
    }

    #[test]
    fn module_recipes_are_checked_in_their_module() {
        let j = justfile();
        assert!(check_call(&j, "db::migrate", &strings(&["prod"])).is_ok());
        assert!(check_call(&j, "db", &strings(&["migrate", "prod"])).is_ok());
        assert!(check_call(&j, "db::migrate", &[])
            .unwrap_err()
            .contains("takes 1 argument"));
        assert!(check_call(&j, "db", &strings(&["nope"]))
            .unwrap_err()
            .contains("no recipe `nope`"));
    }

    #[test]
    fn what_cannot_be_read_is_left_to_just() {
        let j = justfile();
        assert!(check_call(&j, "deploy", &strings(&["--env", "prod", "more"])).is_ok());
        assert!(check_call(&json!({ "something": "else" }), "apply", &[]).is_ok());
        let bare = json!({ "recipes": { "apply": {} } });
        assert!(check_call(&bare, "apply", &[]).is_ok());
    }

    #[test]
    fn shell_words_quote_what_a_shell_would_split_or_expand() {
        assert_eq!(
            shell_words(["apply", "prod", "catalog-airflow"]),
            "apply prod catalog-airflow"
        );
        assert_eq!(
            shell_words(["record", "two words", "$(touch x)", "it's", ""]),
            r#"record 'two words' '$(touch x)' 'it'\''s' ''"#
        );
    }
}

//! What a call does, as the page tells it: a stdlib function (read where it is called), a host
//! function that structures the runbook (`step`, `confirm`, `just`, `wait_until`, `on_error`,
//! `always`), a host object's method that changes something (`tf.with`, `airflow.while_paused`,
//! `github.publish_release`, `slack.post`, ...), or anything else, as written.

use rhai::{FnCallExpr, Position};
use std::collections::BTreeMap;

use super::{Env, OptionSpec, Walker};
use crate::runbook_page::outline::{with_handler, Item, Kind};
use crate::runbook_page::value::Value;

impl Walker<'_> {
    /// A function call: an operator, a stdlib or script function, a host function.
    pub(super) fn call(
        &mut self,
        unit: usize,
        call: &FnCallExpr,
        pos: Position,
        env: &mut Env,
        items: &mut Vec<Item>,
    ) -> Value {
        self.at(unit, pos);
        let line = self.line;
        let args = self.args(unit, call, env, items);
        let name = call.name.as_str();
        if call.op_token.is_some() {
            return match args.as_slice() {
                [one] => Value::unknown(format!("{name}{}", one.code())),
                [left, right] => Value::operator(name, left, right),
                _ => Value::unknown(name),
            };
        }
        let shown = || {
            let args: Vec<String> = args.iter().map(Value::code).collect();
            format!("{name}({})", args.join(", "))
        };
        if !call.namespace.is_empty() {
            let alias = call
                .namespace
                .path
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join("::");
            let Some(&target) = self.units[unit].modules.get(&alias) else {
                return Value::unknown(format!("{alias}::{}", shown()));
            };
            // The runbook's options are declared, not computed: their defaults are the page's.
            if name == "options" {
                if let Some(options) = self.options_call(&args) {
                    return options;
                }
            }
            return self.function(unit, target, name, args, items);
        }
        if self.units[unit].function(name, args.len()).is_some() {
            return self.function(unit, unit, name, args, items);
        }
        // The host's `options(args, #{...}, [...])`, as a stdlib's used to be read.
        if name == "options" {
            if let Some(options) = self.options_call(&args) {
                return options;
            }
        }
        let text = |i: usize| args.get(i).map(Value::text).unwrap_or_default();
        match (name, args.len()) {
            ("step" | "check_step", 2) => {
                self.in_step += 1;
                let (inner, value) = self.run(&args[1], Vec::new());
                self.in_step -= 1;
                let kind = if name == "step" {
                    Kind::Step
                } else {
                    Kind::Check
                };
                items.push(Item::new(kind, text(0), line, inner));
                value
            }
            ("confirm", 1) => {
                items.push(Item::action(format!("asks \"{}\"", text(0)), line));
                Value::unknown(shown())
            }
            ("just" | "just_output", _) => {
                let command: Vec<String> = args.iter().map(Value::text).collect();
                let read = if name == "just_output" {
                    " (and reads its output)"
                } else {
                    ""
                };
                items.push(Item::action(
                    format!("runs `just {}`{read}", command.join(" ")),
                    line,
                ));
                Value::unknown(shown())
            }
            ("wait_until", 4) => {
                let (inner, _) = self.run(&args[3], Vec::new());
                let text = format!(
                    "waits for {} (up to {}, every {})",
                    text(0),
                    args[1].duration(),
                    args[2].duration()
                );
                items.push(Item::new(Kind::Action, text, line, inner));
                Value::unknown(shown())
            }
            ("on_error", 2) => {
                let (body, value) = self.run(&args[0], Vec::new());
                let (handler, _) = self.run(&args[1], vec![Value::unknown("message")]);
                items.extend(with_handler(body, handler, line));
                value
            }
            ("always", 2) => {
                let (body, value) = self.run(&args[0], Vec::new());
                let (cleanup, _) = self.run(&args[1], Vec::new());
                items.extend(body);
                if !cleanup.is_empty() {
                    items.push(Item::new(Kind::Finally, "", self.line, cleanup));
                }
                value
            }
            ("deployment", 1) => deployment(&args[0]).unwrap_or_else(|| Value::unknown(shown())),
            ("announced", 3) if matches!(args[0], Value::Map(_)) => self
                .deployment_call(name, &args, line, items)
                .unwrap_or_else(|| Value::unknown(shown())),
            ("call", n) if n >= 1 => {
                let (inner, value) = self.run(&args[0], args[1..].to_vec());
                items.extend(inner);
                value
            }
            _ => Value::unknown(shown()),
        }
    }

    /// `options(args, #{name: default, ...}, [durations])`: the runbook's options.
    fn options_call(&mut self, args: &[Value]) -> Option<Value> {
        let [_, Value::Map(known), durations] = args else {
            return None;
        };
        let durations: Vec<String> = match durations {
            Value::Array(names) => names.iter().map(Value::text).collect(),
            _ => Vec::new(),
        };
        let mut chosen = BTreeMap::new();
        for (name, default) in known {
            self.options.push(OptionSpec {
                name: name.clone(),
                default: default.clone(),
                duration: durations.contains(name),
            });
            let option = Value::Option {
                name: name.clone(),
                default: Box::new(default.clone()),
            };
            chosen.insert(name.clone(), option);
        }
        Some(Value::Map(chosen))
    }

    /// What the host does for a deployment's functions (`deployment(#{...})`'s), told as a
    /// person does them: `args` start with the deployment. `None` for one it does not know.
    fn deployment_call(
        &mut self,
        name: &str,
        args: &[Value],
        line: usize,
        items: &mut Vec<Item>,
    ) -> Option<Value> {
        let text = |i: usize| args.get(i).map(Value::text).unwrap_or_default();
        let action = match (name, args.len()) {
            ("take_over", 1) => "looks for what an earlier run left (the clearance flag true, an uncommitted bump, DAGs it paused, the deploy lock): a fresh run stops on it, `--resume` takes it over; then takes the deploy lock".to_string(),
            ("announced", 3) => {
                let (inner, value) = self.run(&args[2], Vec::new());
                let mut framed = vec![Item::action(
                    "posts to the team's channel who deploys which release to production",
                    line,
                )];
                framed.extend(inner);
                framed.push(Item::new(
                    Kind::Finally,
                    "",
                    self.line,
                    vec![Item::action(
                        "posts to the team's channel how it ended (done, failed and why, or interrupted), after how long, and what is left to do by hand",
                        self.line,
                    )],
                ));
                items.push(Item::new(Kind::Call, "", line, framed));
                return Some(value);
            }
            ("check_checkout", 1) => "checks that the infrastructure checkout is on main, clean and at origin's main (on `--resume`, as the run it goes on with left it)".to_string(),
            ("check_bump", 2) => "checks that the bump set the image of the release waited for in the registry".to_string(),
            ("image_tag", 2) => return Some(Value::unknown("rel-TAG")),
            ("publish_draft", 1) => format!(
                "shows the newest draft release of {}- and its notes, asks, and publishes it on GitHub, the tag confirmed pinned (going on with a run that died while publishing: adopts what it published)",
                field_of(&args[0], "app")
            ),
            ("wait_for_image", 2) => format!(
                "waits for {}:rel-... of {} in the registry (up to {}, every 15s)",
                field_of(&args[0], "image"),
                text(1),
                match &args[0] {
                    Value::Map(map) => map
                        .get("image_timeout")
                        .map(Value::duration)
                        .unwrap_or_else(|| "30m".into()),
                    _ => "30m".into(),
                }
            ),
            ("last_stable", 1) => "notes the newest published release, or the image production runs if it is another: what a rollback goes back to".to_string(),
            ("approve_changelog", 2) => format!(
                "finds the changelog PR of {}, asks, and approves it on GitHub (not there yet, declined or refused: left to do by hand)",
                text(1)
            ),
            ("open_infra_pr", 3) => {
                let service = field_of(&args[0], "service");
                format!(
                    "commits `{}` on the branch `deploy/{service}-{}`, pushes it, and opens its PR \"Deploy {service} {}\" into main on GitHub (left to review by hand)",
                    args[2].code(),
                    text(1),
                    text(1)
                )
            }
            ("apply_production", 3) => {
                let (service, flag) = (field_of(&args[0], "service"), field_of(&args[0], "flag_name"));
                let tf_file = field_of(&args[0], "tf_file");
                let inner = vec![
                    Item::action(format!("checks Airflow again with the deployment's check: a DAG waiting on its sensor that is not among {} stops it, nothing applied", args[2].code()), line),
                    Item::action(format!("with `{flag} = true` in `{tf_file}` (set before, restored after, whatever happens), runs `just apply prod {service}`"), line),
                    Item::new(Kind::IfFails, "", line, vec![Item::action(format!(
                        "if `just apply` started and failed: offers the rollback to {} ({}); if it succeeded and only the flag's restore failed: says so, leaves `{flag} = false` to set by hand, no rollback",
                        args[1].code(),
                        rollback_how(&args[0])
                    ), line)]),
                ];
                items.push(Item::new(
                    Kind::Step,
                    format!("Set {flag} = true, just apply prod {service}, restore false"),
                    line,
                    inner,
                ));
                return Some(Value::unknown("()"));
            }
            ("offer_rollback", 3) => format!(
                "offers the rollback to {} ({}): posts to the team's channel \"treat this as a production incident\", asks, then {}",
                args[1].code(),
                text(2),
                rollback_how(&args[0])
            ),
            ("check_sentry", 5) => format!(
                "asks Sentry for new unresolved errors{} since {}{}; any: shows them, offers the rollback to {} ({}); Sentry unreadable: says \"NOT checked\" and leaves it by hand",
                match text(3).as_str() { "" => String::new(), project => format!(" of {project}") },
                text(1),
                match &args[2] { Value::Str(s) if s.is_empty() => String::new(), watch => format!(", watching for {}", watch.duration()) },
                args[4].code(),
                rollback_how(&args[0])
            ),
            ("notify_incident", 3) => format!(
                "posts to the team's channel that production may be disrupted ({}) and which rollback is offered: \"treat this as a production incident\"",
                text(2)
            ),
            ("notify_rollback", 3) => format!(
                "posts to the team's channel that production is rolled back to the stable release: {}",
                text(2)
            ),
            _ => return None,
        };
        items.push(Item::action(action, line));
        Some(Value::unknown(format!("{name}(...)")))
    }

    /// A method call: a closure's `call`, a host object's method that does something.
    pub(super) fn method(
        &mut self,
        unit: usize,
        base: Value,
        call: &FnCallExpr,
        pos: Position,
        env: &mut Env,
        items: &mut Vec<Item>,
    ) -> Value {
        self.at(unit, pos);
        let line = self.line;
        let args = self.args(unit, call, env, items);
        let name = call.name.as_str();
        let shown = || {
            let args: Vec<String> = args.iter().map(Value::code).collect();
            Value::unknown(format!("{}.{name}({})", base.code(), args.join(", ")))
        };
        if let ("call", Value::Closure(_)) = (name, &base) {
            let (inner, value) = self.run(&base, args.clone());
            items.extend(inner);
            return value;
        }
        if let Value::Map(_) = &base {
            let mut all = vec![base.clone()];
            all.extend(args.iter().cloned());
            return self
                .deployment_call(name, &all, line, items)
                .unwrap_or_else(shown);
        }
        let Value::Host(object) = &base else {
            return shown();
        };
        // In a code span (`span`), as code (`code`), in a sentence (`text`).
        let span = |i: usize| args.get(i).map(Value::shown).unwrap_or_default();
        let code = |i: usize| args.get(i).map(Value::code).unwrap_or_default();
        let text = |i: usize| args.get(i).map(Value::text).unwrap_or_default();
        let action = match (object.as_str(), name, args.len()) {
            ("tf", "with", 4) => {
                let (inner, value) = self.run(&args[3], Vec::new());
                let text = format!(
                    "with `{} = {}` in `{}` (set before, restored after, whatever happens)",
                    span(1),
                    code(2),
                    span(0)
                );
                items.push(Item::new(Kind::Action, text, line, inner));
                return value;
            }
            ("airflow", "while_paused", 2) => {
                let (inner, value) = self.run(&args[1], Vec::new());
                let text = format!(
                    "with the DAGs of `{}` paused (unpaused after, whatever happens)",
                    code(0)
                );
                items.push(Item::new(Kind::Action, text, line, inner));
                return value;
            }
            ("tf", "set", 3) => format!("sets `{} = {}` in `{}`", span(1), code(2), span(0)),
            ("airflow", "pause", 1) => format!("pauses the DAG `{}`", span(0)),
            ("airflow", "unpause", 1) => format!("unpauses the DAG `{}`", span(0)),
            ("github", "publish_release", 1) => "publishes the release on GitHub".into(),
            ("github", "approve_pr", 1) => format!("approves the PR #{} on GitHub", text(0)),
            ("github", "dispatch_workflow", 4) => format!(
                "dispatches the workflow `{}` of `{}` on `{}` with `{}`",
                span(1),
                span(0),
                span(2),
                code(3)
            ),
            ("github", "open_pr", 5) => format!(
                "opens the PR \"{}\" from `{}` to `{}` on `{}`",
                text(3),
                span(1),
                span(2),
                span(0)
            ),
            ("git", "create_branch", 1) => format!("creates the branch `{}`", span(0)),
            ("git", "commit", 2) => format!("commits `{}`: \"{}\"", code(1), text(0)),
            ("git", "push", 1) => format!("pushes `{}` to origin", span(0)),
            ("git", "lock", 0) => "takes the deploy lock".into(),
            ("slack", "post", 1) => match &args[0] {
                Value::Unknown(name) => format!("posts `{name}` to the team's channel"),
                posted => format!("posts to the team's channel: \"{}\"", posted.text()),
            },
            _ => return shown(),
        };
        items.push(Item::action(action, line));
        shown()
    }
}

/// `deployment(#{...})` as the page knows it: what was declared, and what the host derives from
/// it (`tf_file`, `flag`, `flag_name`, `image_key`), so that the steps read with their names.
fn deployment(declared: &Value) -> Option<Value> {
    let Value::Map(declared) = declared else {
        return None;
    };
    let mut map = declared.clone();
    let text = |key: &str| match declared.get(key) {
        Some(Value::Str(text)) => Some(text.clone()),
        _ => None,
    };
    if let Some(service) = text("service") {
        map.insert(
            "tf_file".into(),
            Value::Str(crate::deploy::tf_file(&service)),
        );
        map.insert(
            "image_key".into(),
            Value::Str(crate::deploy::image_key(&service)),
        );
        if let Some(flag) = text("flag") {
            map.insert(
                "flag".into(),
                Value::Str(crate::deploy::flag_path(&service, &flag)),
            );
            map.insert("flag_name".into(), Value::Str(flag));
        }
    }
    Some(Value::Map(map))
}

/// How the deployment rolls back, as the page says it.
fn rollback_how(deployment: &Value) -> String {
    let workflow = field_of(deployment, "rollback_workflow");
    let dispatch =
        format!("dispatches the infrastructure repository's workflow {workflow} with its rel- tag");
    let local = "sets its rel- tag in the .tf file and applies it through the same guarded apply";
    match field_of(deployment, "rollback").as_str() {
        "local" => local.to_string(),
        "workflow" | "" => dispatch,
        chosen => format!("as {chosen} says: `workflow` {dispatch}; `local` {local}"),
    }
}

/// A field of a deployment as the page knows it (`catalog.image` is `--image`, its default).
fn field_of(deployment: &Value, key: &str) -> String {
    match deployment {
        Value::Map(map) => map.get(key).map(Value::text).unwrap_or_default(),
        _ => String::new(),
    }
}

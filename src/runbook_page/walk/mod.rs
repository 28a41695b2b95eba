//! Reads a runbook's statements in order without running them, as a person reading the script
//! would: values are followed as far as the script states them (what `deploy::deployment(...)`
//! returns, an option's default), closures are read where they are called, stdlib functions
//! are read where they are called with their arguments, and what a reader must know is kept
//! (`outline::Item`). What only the run knows stays an expression (`{release.tag_name}`).

use rhai::{Expr, FnCallExpr, Position, Stmt};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::outline::{branch, with_handler, Item, Kind};
use super::units::{Function, Unit};
use super::value::{Closure, Value};

mod calls;

/// Deeper than this, a call is shown by name only (and a recursion stops).
const MAX_DEPTH: usize = 32;

/// Methods of Rhai's arrays, maps and strings that change the value they are called on.
const MUTATORS: &[&str] = &[
    "push",
    "append",
    "insert",
    "remove",
    "pop",
    "shift",
    "clear",
    "truncate",
    "extend",
    "retain",
    "drain",
    "splice",
    "sort",
    "reverse",
    "dedup",
    "mixin",
    "fill_with",
    "pad",
    "make_upper",
    "make_lower",
    "trim",
    "crop",
    "replace",
];

/// A runbook option as `deploy::options(args, #{...}, [...])` declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionSpec {
    pub name: String,
    pub default: Value,
    /// Named in the durations list: takes a duration like `15m`.
    pub duration: bool,
}

/// The variables in scope, innermost last, as Rhai scopes them.
#[derive(Clone, Default)]
struct Env(Vec<(String, Value)>);

impl Env {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn push(&mut self, name: &str, value: Value) {
        self.0.push((name.to_string(), value));
    }

    fn set(&mut self, name: &str, value: Value) {
        if let Some(slot) = self.0.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = value;
        }
    }

    /// After a block that may or may not run: a variable it changed is no longer known.
    fn forget_changed(&mut self, branches: &[&Env]) {
        for (i, (name, value)) in self.0.iter_mut().enumerate() {
            let changed = branches
                .iter()
                .any(|b| b.0.get(i).map(|(_, v)| v) != Some(value));
            if changed {
                *value = Value::unknown(name.clone());
            }
        }
    }
}

pub struct Walker<'a> {
    units: &'a [Unit],
    /// The host objects by name, and by the name of their type: compiled with the objects in
    /// scope as constants, Rhai folds them into the code as values.
    hosts: HashSet<String>,
    host_types: HashMap<String, String>,
    /// Functions being read (a recursion stops).
    stack: Vec<(usize, String)>,
    /// Functions shown in full already: later calls say "as above".
    shown: HashSet<(usize, String)>,
    pub options: Vec<OptionSpec>,
    /// The script's line being read; stdlib code takes the line of the script's call.
    line: usize,
    /// Inside how many steps: a stdlib call a step makes is named even when it does nothing
    /// a reader must see.
    in_step: usize,
}

impl<'a> Walker<'a> {
    /// `hosts`: each host object's name and the name of its type.
    pub fn new(units: &'a [Unit], hosts: &[(String, String)]) -> Walker<'a> {
        Walker {
            units,
            hosts: hosts.iter().map(|(name, _)| name.clone()).collect(),
            host_types: hosts
                .iter()
                .map(|(name, ty)| (ty.clone(), name.clone()))
                .collect(),
            stack: Vec::new(),
            shown: HashSet::new(),
            options: Vec::new(),
            line: 0,
            in_step: 0,
        }
    }

    /// The script, top to bottom.
    pub fn script(&mut self) -> Vec<Item> {
        let statements = self.units[0].statements.clone();
        let mut env = Env::default();
        self.block(0, &statements, &mut env).0
    }

    /// Notes the script's line being read (stdlib code keeps the line of the call into it).
    fn at(&mut self, unit: usize, pos: Position) {
        if unit == 0 {
            if let Some(line) = pos.line() {
                self.line = line;
            }
        }
    }

    /// A block's items and its value (its last statement's), its own variables gone after it.
    fn block(&mut self, unit: usize, statements: &[Stmt], env: &mut Env) -> (Vec<Item>, Value) {
        let mark = env.0.len();
        let mut items = Vec::new();
        let mut value = Value::Unit;
        for (i, stmt) in statements.iter().enumerate() {
            if let Some(guard) = guard(stmt) {
                value = self.guarded(unit, guard, &statements[i + 1..], env, &mut items);
                break;
            }
            value = self.stmt(unit, stmt, env, &mut items);
        }
        env.0.truncate(mark);
        (items, value)
    }

    /// `if condition { ...; return }` and the statements after it, which run only otherwise: the
    /// two sides as a branch when the guard does something; after `if !confirm(...)`, the rest
    /// under "the answer is yes"; after a guard that only stops (`throw`), the rest as it is.
    fn guarded(
        &mut self,
        unit: usize,
        guard: &rhai::FlowControl,
        rest: &[Stmt],
        env: &mut Env,
        items: &mut Vec<Item>,
    ) -> Value {
        let line = self.line;
        let condition = self.expr(unit, &guard.expr, env, items);
        let mut then_env = env.clone();
        let then = self.block(unit, guard.body.statements(), &mut then_env).0;
        let mut else_env = env.clone();
        let (otherwise, value) = self.block(unit, rest, &mut else_env);
        env.forget_changed(&[&then_env, &else_env]);
        let code = condition.code();
        if !then.is_empty() {
            items.extend(branch(&format!("`{code}`"), then, otherwise, line));
        } else if is_call_of(&code, "!confirm") && !otherwise.is_empty() {
            items.push(Item::new(Kind::If, "the answer is yes", line, otherwise));
        } else {
            items.extend(otherwise);
        }
        value
    }

    /// A block that may not run: its own items, the variables it changes forgotten.
    fn maybe(&mut self, unit: usize, statements: &[Stmt], env: &mut Env) -> Vec<Item> {
        let mut inner = env.clone();
        let (items, _) = self.block(unit, statements, &mut inner);
        env.forget_changed(&[&inner]);
        items
    }

    /// One statement: what it does goes to `items`; its value (an expression statement's) is
    /// returned.
    fn stmt(&mut self, unit: usize, stmt: &Stmt, env: &mut Env, items: &mut Vec<Item>) -> Value {
        self.at(unit, stmt.position());
        let line = self.line;
        match stmt {
            Stmt::Var(var, ..) => {
                let name = var.0.name.as_str();
                let value = self.expr(unit, &var.1, env, items);
                // What only the run knows is called by the name it is given.
                let value = if value.is_unknown() {
                    Value::unknown(name)
                } else {
                    value
                };
                env.push(name, value);
                Value::Unit
            }
            Stmt::Assignment(assignment) => {
                let (op, target) = &**assignment;
                let value = self.expr(unit, &target.rhs, env, items);
                if let Expr::Variable(var, ..) = &target.lhs {
                    let name = var.1.as_str();
                    let known = !op.is_op_assignment() && !value.is_unknown();
                    env.set(name, if known { value } else { Value::unknown(name) });
                }
                Value::Unit
            }
            Stmt::FnCall(call, pos) => self.call(unit, call, *pos, env, items),
            Stmt::Expr(expr) => self.expr(unit, expr, env, items),
            Stmt::Block(block) => {
                let (inner, value) = self.block(unit, block.statements(), env);
                items.extend(inner);
                value
            }
            Stmt::If(flow, _) => {
                let condition = self.expr(unit, &flow.expr, env, items);
                match condition {
                    Value::Bool(true) => {
                        items.extend(self.maybe(unit, flow.body.statements(), env))
                    }
                    Value::Bool(false) => {
                        items.extend(self.maybe(unit, flow.branch.statements(), env))
                    }
                    condition => {
                        let (mut then_env, mut else_env) = (env.clone(), env.clone());
                        let then = self.block(unit, flow.body.statements(), &mut then_env).0;
                        let otherwise = self.block(unit, flow.branch.statements(), &mut else_env).0;
                        env.forget_changed(&[&then_env, &else_env]);
                        let (condition, then, otherwise) =
                            as_read(&condition.code(), then, otherwise);
                        items.extend(branch(&condition, then, otherwise, line));
                    }
                }
                Value::unknown("if")
            }
            Stmt::While(flow, _) | Stmt::Do(flow, ..) => {
                let condition = self.expr(unit, &flow.expr, env, items);
                let body = self.maybe(unit, flow.body.statements(), env);
                if !body.is_empty() {
                    let text = match condition {
                        Value::Unit | Value::Bool(true) => "repeatedly".to_string(),
                        condition => format!("while `{}`", condition.code()),
                    };
                    items.push(Item::new(Kind::Loop, text, line, body));
                }
                Value::Unit
            }
            Stmt::For(each, _) => {
                let (var, _, flow) = &**each;
                let over = self.expr(unit, &flow.expr, env, items);
                let mut inner = env.clone();
                inner.push(&var.name, Value::unknown(var.name.as_str()));
                let (body, _) = self.block(unit, flow.body.statements(), &mut inner);
                inner.0.pop();
                env.forget_changed(&[&inner]);
                if !body.is_empty() {
                    let text = format!("for each `{}` in `{}`", var.name, over.code());
                    items.push(Item::new(Kind::Loop, text, line, body));
                }
                Value::Unit
            }
            Stmt::Switch(switch, _) => {
                let (on, cases) = &**switch;
                let on = self.expr(unit, on, env, items);
                let mut body = Vec::new();
                for case in &cases.expressions {
                    let mut inner = env.clone();
                    self.expr(unit, &case.lhs, &mut inner, &mut body);
                    self.expr(unit, &case.rhs, &mut inner, &mut body);
                    env.forget_changed(&[&inner]);
                }
                if !body.is_empty() {
                    let text = format!("depending on `{}`", on.code());
                    items.push(Item::new(Kind::Loop, text, line, body));
                }
                Value::unknown("switch")
            }
            Stmt::TryCatch(flow, _) => {
                let body = self.maybe(unit, flow.body.statements(), env);
                let mut catch_env = env.clone();
                if let Expr::Variable(var, ..) = &flow.expr {
                    catch_env.push(&var.1, Value::unknown(var.1.as_str()));
                }
                let (handler, _) = self.block(unit, flow.branch.statements(), &mut catch_env);
                items.extend(with_handler(body, handler, line));
                Value::unknown("try")
            }
            Stmt::Return(Some(expr), ..) => self.expr(unit, expr, env, items),
            _ => Value::Unit,
        }
    }

    /// The value of an expression, as far as it is known; the calls in it that do something
    /// go to `items`.
    fn expr(&mut self, unit: usize, expr: &Expr, env: &mut Env, items: &mut Vec<Item>) -> Value {
        match expr {
            Expr::DynamicConstant(value, _) => self.constant(value, unit),
            Expr::BoolConstant(b, _) => Value::Bool(*b),
            Expr::IntegerConstant(i, _) => Value::Int(*i),
            Expr::FloatConstant(f, _) => Value::unknown(f.to_string()),
            Expr::CharConstant(c, _) => Value::Str(c.to_string()),
            Expr::StringConstant(s, _) => Value::Str(s.to_string()),
            Expr::Unit(_) => Value::Unit,
            Expr::InterpolatedString(parts, _) => {
                let mut text = String::new();
                let mut known = true;
                for part in parts {
                    let value = self.expr(unit, part, env, items);
                    known &= matches!(value, Value::Str(_) | Value::Int(_) | Value::Bool(_));
                    text.push_str(&value.text());
                }
                if known {
                    Value::Str(text)
                } else {
                    Value::Template(text)
                }
            }
            Expr::Array(elements, _) => Value::Array(
                elements
                    .iter()
                    .map(|e| self.expr(unit, e, env, items))
                    .collect(),
            ),
            Expr::Map(map, _) => Value::Map(
                map.0
                    .iter()
                    .map(|(key, e)| (key.name.to_string(), self.expr(unit, e, env, items)))
                    .collect(),
            ),
            Expr::Variable(var, ..) => {
                let name = var.1.as_str();
                if !var.2.is_empty() {
                    return Value::unknown(format!("{}::{name}", var.2));
                }
                match env.get(name) {
                    Some(value) => value.clone(),
                    None if self.hosts.contains(name) => Value::Host(name.to_string()),
                    None => Value::unknown(name),
                }
            }
            Expr::Stmt(block) => {
                if let Some(closure) = self.curried(unit, block.statements(), env, items) {
                    return closure;
                }
                let (inner, value) = self.block(unit, block.statements(), env);
                items.extend(inner);
                value
            }
            Expr::FnCall(call, pos) => self.call(unit, call, *pos, env, items),
            Expr::Dot(dot, ..) => {
                let base = self.expr(unit, &dot.lhs, env, items);
                let value = self.chain(unit, base, &dot.rhs, env, items);
                // `files.push(x)`: the variable is no longer what it was.
                if let (Expr::Variable(var, ..), Expr::MethodCall(call, _)) = (&dot.lhs, &dot.rhs) {
                    if MUTATORS.contains(&call.name.as_str()) {
                        env.set(&var.1, Value::unknown(var.1.as_str()));
                    }
                }
                value
            }
            Expr::Index(index, ..) => {
                let base = self.expr(unit, &index.lhs, env, items);
                let at = self.expr(unit, &index.rhs, env, items);
                base.index(&at)
            }
            Expr::And(terms, _) | Expr::Or(terms, _) | Expr::Coalesce(terms, _) => {
                let op = match expr {
                    Expr::And(..) => " && ",
                    Expr::Or(..) => " || ",
                    _ => " ?? ",
                };
                let values: Vec<Value> = terms
                    .iter()
                    .map(|t| self.expr(unit, t, env, items))
                    .collect();
                let shown: Vec<String> = values.iter().map(Value::code).collect();
                Value::unknown(shown.join(op))
            }
            Expr::Property(property, _) => Value::unknown(property.2.as_str()),
            _ => Value::unknown("..."),
        }
    }

    /// A constant of the code: a host object (Rhai folds them in), a closure with the values it
    /// captured when they are constants, or a literal.
    fn constant(&self, value: &rhai::Dynamic, unit: usize) -> Value {
        if let Some(name) = self.host_types.get(value.type_name()) {
            return Value::Host(name.clone());
        }
        if value.is::<rhai::FnPtr>() {
            let pointer = value.clone().cast::<rhai::FnPtr>();
            return Value::Closure(Closure {
                unit,
                name: pointer.fn_name().to_string(),
                captured: pointer
                    .curry()
                    .iter()
                    .map(|v| self.constant(v, unit))
                    .collect(),
            });
        }
        Value::from_dynamic(value, unit)
    }

    /// A closure that captures variables: Rhai writes `curry(Fn("anon$..."), captured...)`.
    fn curried(
        &mut self,
        unit: usize,
        statements: &[Stmt],
        env: &mut Env,
        items: &mut Vec<Item>,
    ) -> Option<Value> {
        let call = match statements.last()? {
            Stmt::FnCall(call, _) => call,
            Stmt::Expr(expr) => match &**expr {
                Expr::FnCall(call, _) => call,
                _ => return None,
            },
            _ => return None,
        };
        if call.name != "curry" {
            return None;
        }
        let (first, captured) = call.args.split_first()?;
        let Value::Closure(mut closure) = self.expr(unit, first, env, items) else {
            return None;
        };
        closure.captured = captured
            .iter()
            .map(|e| self.expr(unit, e, env, items))
            .collect();
        Some(Value::Closure(closure))
    }

    /// The rest of `base.a.b()[c]`.
    fn chain(
        &mut self,
        unit: usize,
        base: Value,
        rest: &Expr,
        env: &mut Env,
        items: &mut Vec<Item>,
    ) -> Value {
        match rest {
            Expr::Property(property, _) => base.property(&property.2),
            Expr::MethodCall(call, pos) => self.method(unit, base, call, *pos, env, items),
            Expr::Dot(dot, ..) => {
                let next = self.chain(unit, base, &dot.lhs, env, items);
                self.chain(unit, next, &dot.rhs, env, items)
            }
            Expr::Index(index, ..) => {
                let next = self.chain(unit, base, &index.lhs, env, items);
                let at = self.expr(unit, &index.rhs, env, items);
                next.index(&at)
            }
            other => {
                self.expr(unit, other, env, items);
                Value::unknown(format!("{}...", base.code()))
            }
        }
    }

    fn args(
        &mut self,
        unit: usize,
        call: &FnCallExpr,
        env: &mut Env,
        items: &mut Vec<Item>,
    ) -> Vec<Value> {
        call.args
            .iter()
            .map(|a| self.expr(unit, a, env, items))
            .collect()
    }

    /// A script function called from `caller`: read with its arguments, shown where it does
    /// something a reader must see (or, called by a step of the script, by name in any case).
    fn function(
        &mut self,
        caller: usize,
        unit: usize,
        name: &str,
        args: Vec<Value>,
        items: &mut Vec<Item>,
    ) -> Value {
        let line = self.line;
        let qualified = match self.units[unit].name.as_str() {
            "" => name.to_string(),
            module => format!("{module}::{name}"),
        };
        let unknown = || {
            let shown: Vec<String> = args.iter().map(Value::code).collect();
            Value::unknown(format!("{qualified}({})", shown.join(", ")))
        };
        let key = (unit, name.to_string());
        let Some(function) = self.units[unit].function(name, args.len()) else {
            return unknown();
        };
        if self.stack.contains(&key) || self.stack.len() >= MAX_DEPTH {
            return unknown();
        }
        self.stack.push(key.clone());
        let (inner, value) = self.body(unit, &function, args.clone());
        self.stack.pop();
        let value = value.unwrap_or_else(unknown);
        let summary = first_sentence(&function.doc);
        if !inner.is_empty() {
            if self.shown.insert(key) {
                let text = join_summary(&qualified, &summary);
                items.push(Item::new(Kind::Call, text, line, inner));
            } else {
                let text = format!("`{qualified}`, as above");
                items.push(Item::new(Kind::Call, text, line, Vec::new()));
            }
        } else if caller == 0 && self.in_step > 0 {
            let text = if self.shown.insert(key) {
                join_summary(&qualified, &summary)
            } else {
                format!("`{qualified}`, as above")
            };
            items.push(Item::new(Kind::Call, text, line, Vec::new()));
        }
        value
    }

    /// A closure called with `args`: what it does, where it is called.
    fn run(&mut self, closure: &Value, args: Vec<Value>) -> (Vec<Item>, Value) {
        let Value::Closure(Closure {
            unit,
            name,
            captured,
        }) = closure
        else {
            return (Vec::new(), Value::unknown("..."));
        };
        let Some(function) = self.units[*unit].closure(name) else {
            return (Vec::new(), Value::unknown("..."));
        };
        let key = (*unit, name.clone());
        if self.stack.contains(&key) || self.stack.len() >= MAX_DEPTH {
            return (Vec::new(), Value::unknown("..."));
        }
        self.stack.push(key);
        let values = captured.iter().cloned().chain(args).collect();
        let (items, value) = self.body(*unit, &function, values);
        self.stack.pop();
        (items, value.unwrap_or_else(|| Value::unknown("...")))
    }

    /// A function's body read with its parameters bound to `values` (missing ones unknown, by
    /// their names). Its value is known when it ends in it, not when a `return` may cut it short.
    fn body(
        &mut self,
        unit: usize,
        function: &Rc<Function>,
        values: Vec<Value>,
    ) -> (Vec<Item>, Option<Value>) {
        let mut env = Env::default();
        let mut values = values.into_iter();
        for param in &function.params {
            let value = values
                .next()
                .unwrap_or_else(|| Value::unknown(param.clone()));
            env.push(param, value);
        }
        let (items, value) = self.block(unit, &function.body, &mut env);
        let early = function
            .body
            .iter()
            .any(|s| !matches!(s, Stmt::Return(..)) && returns_within(s));
        (items, (!early && !value.is_unknown()).then_some(value))
    }
}

/// How a branch on `code` reads, with its two sides: a confirmation as its answer, `!x` as
/// `unless x`, anything else as written.
fn as_read(code: &str, then: Vec<Item>, otherwise: Vec<Item>) -> (String, Vec<Item>, Vec<Item>) {
    match code.strip_prefix('!') {
        Some(_) if is_call_of(code, "!confirm") => ("the answer is no".into(), then, otherwise),
        Some(negated) if !negated.contains(char::is_whitespace) => {
            (format!("`{negated}`"), otherwise, then)
        }
        _ if is_call_of(code, "confirm") => ("the answer is yes".into(), then, otherwise),
        _ => (format!("`{code}`"), then, otherwise),
    }
}

/// An `if` without `else` whose block ends by leaving (`return`, `throw`).
fn guard(stmt: &Stmt) -> Option<&rhai::FlowControl> {
    let Stmt::If(flow, _) = stmt else {
        return None;
    };
    let leaves = matches!(flow.body.statements().last(), Some(Stmt::Return(..)));
    (leaves && flow.branch.statements().is_empty()).then_some(&**flow)
}

/// Whether `code` is one call of `name`: `confirm("Publish x?")`, not `confirm("a") && b`.
fn is_call_of(code: &str, name: &str) -> bool {
    let Some(rest) = code.strip_prefix(name).and_then(|r| r.strip_prefix('(')) else {
        return false;
    };
    let mut depth = 1;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return i + 1 == rest.len();
                }
            }
            _ => {}
        }
    }
    false
}

/// Whether a `return` is nested in this statement (not in a closure: that is a function of its
/// own).
fn returns_within(stmt: &Stmt) -> bool {
    let mut found = false;
    stmt.walk(&mut Vec::new(), &mut |path: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Stmt(Stmt::Return(..))) = path.last() {
            found = true;
        }
        !found
    });
    found
}

/// `` `deploy::publish_draft`: Shows the newest draft release... ``
fn join_summary(name: &str, summary: &str) -> String {
    if summary.is_empty() {
        format!("`{name}`")
    } else {
        format!("`{name}`: {summary}")
    }
}

/// The first sentence of a doc comment, on one line.
pub fn first_sentence(doc: &str) -> String {
    let text = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = text.len();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices(". ") {
        // `e.g. x` is no end: the word before the stop has a stop of its own.
        let word = text[..i].rsplit(' ').next().unwrap_or_default();
        if !word.contains('.')
            && bytes
                .get(i + 2)
                .is_some_and(|b| b.is_ascii_uppercase() || *b == b'`')
        {
            end = i + 1;
            break;
        }
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_is_told_from_its_call() {
        assert!(is_call_of(r#"confirm("Publish x?")"#, "confirm"));
        assert!(is_call_of(r#"!confirm("a (b) \"c)\"")"#, "!confirm"));
        assert!(!is_call_of(r#"confirm("a") && b"#, "confirm"));
        assert!(!is_call_of("confirmed", "confirm"));
    }

    #[test]
    fn a_summary_is_the_first_sentence() {
        assert_eq!(
            first_sentence("Shows the draft, e.g. `x`. Asks.\nThen more."),
            "Shows the draft, e.g. `x`."
        );
        assert_eq!(first_sentence("One line only"), "One line only");
        assert_eq!(first_sentence("Runs it. `x` is y."), "Runs it.");
        assert_eq!(first_sentence(""), "");
    }
}

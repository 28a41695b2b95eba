//! What the walk knows of a value before the run: a literal, a map of them (what a runbook
//! deploys), a runbook option, a closure to expand where it is called, or an expression as
//! written, for what only the run will know (`release.tag_name`).

use rhai::{Dynamic, FnPtr};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Unit,
    Array(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// A runbook option (`--watch`) and its default: what `deploy::options` returns.
    Option {
        name: String,
        default: Box<Value>,
    },
    Closure(Closure),
    /// Text with what is not known yet in braces: `Publish {draft.tag_name}?`.
    Template(String),
    /// An expression whose value only the run knows, as written: `release.tag_name`.
    Unknown(String),
    /// A host object (`tf`, `airflow`, ...), by its name.
    Host(String),
}

/// A closure: the script function Rhai made of it, in the unit (script or module) that defines
/// it, and the values of the variables it captured (its first parameters).
#[derive(Debug, Clone, PartialEq)]
pub struct Closure {
    pub unit: usize,
    pub name: String,
    pub captured: Vec<Value>,
}

impl Value {
    pub fn unknown(text: impl Into<String>) -> Value {
        Value::Unknown(text.into())
    }

    /// The value of a constant of the AST (a folded map or array, a closure without captures).
    pub fn from_dynamic(value: &Dynamic, unit: usize) -> Value {
        if value.is::<FnPtr>() {
            let pointer = value.clone().cast::<FnPtr>();
            return Value::Closure(Closure {
                unit,
                name: pointer.fn_name().to_string(),
                captured: Vec::new(),
            });
        }
        if value.is_unit() {
            return Value::Unit;
        }
        if let Ok(b) = value.as_bool() {
            return Value::Bool(b);
        }
        if let Ok(i) = value.as_int() {
            return Value::Int(i);
        }
        if value.is_string() {
            return Value::Str(value.clone().cast::<rhai::ImmutableString>().to_string());
        }
        if value.is_array() {
            let items = value.clone().cast::<rhai::Array>();
            return Value::Array(items.iter().map(|v| Value::from_dynamic(v, unit)).collect());
        }
        if value.is_map() {
            let map = value.clone().cast::<rhai::Map>();
            return Value::Map(
                map.iter()
                    .map(|(k, v)| (k.to_string(), Value::from_dynamic(v, unit)))
                    .collect(),
            );
        }
        Value::Unknown(format!("<{}>", value.type_name()))
    }

    /// Whether the run alone knows it.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown(_))
    }

    /// As it reads in a sentence: a string as it is, what is not known yet in braces
    /// (`{release.tag_name}`, `{--watch}`).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) | Value::Template(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Unit => "()".into(),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(Value::text).collect();
                items.join(" ")
            }
            Value::Option { name, .. } => format!("{{--{name}}}"),
            other => format!("{{{}}}", other.code()),
        }
    }

    /// As it reads in a code span: a string as it is, anything else as written (`--watch`,
    /// `github.infra_repo()`).
    pub fn shown(&self) -> String {
        match self {
            Value::Str(s) | Value::Template(s) => s.clone(),
            other => other.code(),
        }
    }

    /// As it reads in code: strings quoted, an option as `--name`, the rest as written.
    pub fn code(&self) -> String {
        match self {
            Value::Str(s) | Value::Template(s) => format!("{s:?}"),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Unit => "()".into(),
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(Value::code).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Map(map) => {
                let fields: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.code()))
                    .collect();
                format!("#{{{}}}", fields.join(", "))
            }
            Value::Option { name, .. } => format!("--{name}"),
            Value::Closure(_) => "|| ...".into(),
            Value::Unknown(text) | Value::Host(text) => text.clone(),
        }
    }

    /// A duration as a wait shows it: `30m`, `90s`, `--image-timeout (30m by default)`.
    pub fn duration(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(seconds) => format!("{seconds}s"),
            Value::Option { name, default } => match default.as_ref() {
                Value::Str(d) if !d.is_empty() => format!("--{name} ({d} by default)"),
                _ => format!("--{name}"),
            },
            other => other.code(),
        }
    }

    /// `self.name`, or the expression that reads it.
    pub fn property(&self, name: &str) -> Value {
        match self {
            Value::Map(map) => map
                .get(name)
                .cloned()
                .unwrap_or_else(|| Value::unknown(format!("{}.{name}", self.code()))),
            other => Value::unknown(format!("{}.{name}", other.code())),
        }
    }

    /// `self[index]`, or the expression that reads it.
    pub fn index(&self, index: &Value) -> Value {
        match (self, index) {
            (Value::Map(map), Value::Str(key)) if map.contains_key(key) => map[key].clone(),
            (Value::Array(items), Value::Int(i)) if *i >= 0 && (*i as usize) < items.len() => {
                items[*i as usize].clone()
            }
            _ => Value::unknown(format!("{}[{}]", self.code(), index.code())),
        }
    }

    /// A binary operator applied: strings joined by `+`, literals compared, anything else as
    /// written.
    pub fn operator(op: &str, left: &Value, right: &Value) -> Value {
        let stringish = |v: &Value| matches!(v, Value::Str(_) | Value::Template(_));
        match (op, left, right) {
            ("+", Value::Str(a), Value::Str(b)) => Value::Str(format!("{a}{b}")),
            // Text and a name (`"rel-" + tag`) read as a template; text and a computation
            // (`"rel-" + tag.sub_string(8)`) as the expression, which a `let` names.
            ("+", a, b) if (stringish(a) || stringish(b)) && a.is_plain() && b.is_plain() => {
                Value::Template(format!("{}{}", a.text(), b.text()))
            }
            ("==", a, b) if a.is_literal() && b.is_literal() => Value::Bool(a == b),
            ("!=", a, b) if a.is_literal() && b.is_literal() => Value::Bool(a != b),
            _ => Value::unknown(format!("{} {op} {}", left.code(), right.code())),
        }
    }

    /// Not a computation: a literal, a template, an option, a variable or its fields.
    fn is_plain(&self) -> bool {
        match self {
            Value::Unknown(text) => text
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | ':')),
            _ => true,
        }
    }

    /// A string, number, bool or (): what the walk may compare.
    fn is_literal(&self) -> bool {
        matches!(
            self,
            Value::Str(_) | Value::Int(_) | Value::Bool(_) | Value::Unit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_known_reads_as_its_expression() {
        let release = Value::unknown("release");
        let tag = release.property("tag_name");
        assert_eq!(tag.text(), "{release.tag_name}");
        assert_eq!(tag.code(), "release.tag_name");
        let joined = Value::operator("+", &Value::Str("rel-".into()), &tag);
        assert_eq!(joined, Value::Template("rel-{release.tag_name}".into()));
        let computed = Value::operator("+", &Value::Str("rel-".into()), &Value::unknown("t.f(1)"));
        assert!(computed.is_unknown());
        assert_eq!(
            Value::operator("==", &tag, &Value::Str("x".into())).code(),
            r#"release.tag_name == "x""#
        );
    }

    #[test]
    fn known_values_are_used() {
        let target = Value::Map(BTreeMap::from([
            ("service".to_string(), Value::Str("catalog-airflow".into())),
            (
                "image_timeout".to_string(),
                Value::Option {
                    name: "image-timeout".into(),
                    default: Box::new(Value::Str("30m".into())),
                },
            ),
        ]));
        assert_eq!(target.property("service").text(), "catalog-airflow");
        assert_eq!(
            target.property("image_timeout").duration(),
            "--image-timeout (30m by default)"
        );
        assert_eq!(
            target.index(&Value::Str("image_timeout".into())).text(),
            "{--image-timeout}"
        );
        assert_eq!(
            Value::operator("==", &Value::Str("a".into()), &Value::Str("a".into())),
            Value::Bool(true)
        );
        assert_eq!(Value::Int(90).duration(), "90s");
    }
}

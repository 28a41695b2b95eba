//! Values between Rhai and HCL: what `tf.get` returns, the literal `tf.set` writes, and how a
//! value's source is journaled.

use hcl_edit::expr::Expression;
use rhai::Dynamic;
use serde_json::Value;

/// `false` for `true` and back: the safe value of a flag a block sets.
pub(super) fn opposite_bool(literal: &str) -> Option<&'static str> {
    match literal {
        "true" => Some("false"),
        "false" => Some("true"),
        _ => None,
    }
}

/// The literal values `tf.get` returns.
pub(super) enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Literal {
    pub(super) fn into_dynamic(self) -> Dynamic {
        match self {
            Literal::Null => Dynamic::UNIT,
            Literal::Bool(b) => b.into(),
            Literal::Int(i) => i.into(),
            Literal::Float(f) => f.into(),
            Literal::Str(s) => s.into(),
        }
    }

    pub(super) fn into_json(self) -> Value {
        match self {
            Literal::Null => Value::Null,
            Literal::Bool(b) => b.into(),
            Literal::Int(i) => i.into(),
            Literal::Float(f) => f.into(),
            Literal::Str(s) => s.into(),
        }
    }
}

pub(super) fn literal(expr: &Expression) -> Option<Literal> {
    match expr {
        Expression::Null(_) => Some(Literal::Null),
        Expression::Bool(b) => Some(Literal::Bool(*b.value())),
        Expression::Number(n) => {
            let n = n.value();
            n.as_i64()
                .map(Literal::Int)
                .or_else(|| n.as_f64().map(Literal::Float))
        }
        Expression::String(s) => Some(Literal::Str(s.value().clone())),
        _ => None,
    }
}

/// A value's HCL source as journal JSON: the value itself, or the source text of an expression.
pub(super) fn json_of(source: &str) -> Value {
    hcl_edit::parser::parse_expr(source)
        .ok()
        .as_ref()
        .and_then(literal)
        .map_or_else(|| Value::String(source.to_string()), Literal::into_json)
}

/// A script value as an HCL literal.
pub(super) fn hcl_literal(value: &Dynamic) -> Result<String, String> {
    if let Ok(b) = value.as_bool() {
        return Ok(b.to_string());
    }
    if let Ok(i) = value.as_int() {
        return Ok(i.to_string());
    }
    if let Ok(f) = value.as_float() {
        return if f.is_finite() {
            // Debug keeps a fraction (`2.0`) so that a float stays a float when read back.
            Ok(format!("{f:?}"))
        } else {
            Err(format!("tf.set: {f} is not a number Terraform can hold"))
        };
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Ok(hcl_string(&s));
    }
    Err(format!(
        "tf.set takes a bool, a number or a string, not {}",
        crate::diagnostic::script_types(value.type_name())
    ))
}

/// A quoted HCL string whose value is exactly `s`: escapes, and `${`/`%{` doubled so that they
/// stay text instead of starting a template.
pub(super) fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

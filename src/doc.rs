//! `ovscript doc`: every host function with its signature, one line of help and an example, from
//! the engine's own metadata (so the docs cannot drift from what is registered).

use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

use crate::engine::Runtime;
use crate::error::Error;

#[derive(Debug, Clone, Serialize)]
pub struct HostFn {
    /// The object it is called on (`airflow`), or empty for a plain function.
    pub object: String,
    pub name: String,
    /// `airflow.pause(dag_id: String) -> ()`
    pub signature: String,
    pub help: String,
    pub example: String,
}

/// Every host function, objects' methods first grouped by object, then plain functions.
pub fn host_functions(runtime: &Runtime) -> Vec<HostFn> {
    let type_to_object: HashMap<String, String> = runtime
        .objects
        .names()
        .filter_map(|name| {
            let value = runtime.objects.get(name)?;
            let type_name = runtime.engine.map_type_name(value.type_name()).to_string();
            (!value.is_array()).then(|| (type_name, name.to_string()))
        })
        .collect();
    let metadata: Value = runtime
        .engine
        .gen_fn_metadata_to_json(false)
        .ok()
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or(Value::Null);
    let mut functions: Vec<HostFn> = metadata["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| describe(f, &type_to_object))
        .collect();
    functions.sort_by(|a, b| {
        (a.object.is_empty(), &a.object, &a.name).cmp(&(b.object.is_empty(), &b.object, &b.name))
    });
    functions
}

fn describe(f: &Value, type_to_object: &HashMap<String, String>) -> Option<HostFn> {
    let name = f["name"].as_str()?;
    let comments: Vec<String> = f["docComments"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .flat_map(|c| {
            c.lines()
                .map(|l| l.trim_start_matches("///").trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    if comments.is_empty() || name.starts_with("get$") || name.starts_with("set$") {
        return None; // not a documented host function
    }
    let params: Vec<(String, String)> = f["params"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                // `r#ref`: a Rust keyword as a parameter name is the word scripts read.
                p["name"]
                    .as_str()
                    .unwrap_or("_")
                    .trim_start_matches("r#")
                    .to_string(),
                clean_type(p["type"].as_str().unwrap_or("?")),
            )
        })
        .collect();
    let (object, rest) = match params.first() {
        Some((_, ty)) if type_to_object.contains_key(ty) => {
            (type_to_object[ty].clone(), &params[1..])
        }
        _ => (String::new(), &params[..]),
    };
    let args: Vec<String> = rest.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    let returns = clean_type(f["returnType"].as_str().unwrap_or("()"));
    let prefix = if object.is_empty() {
        String::new()
    } else {
        format!("{object}.")
    };
    let (help, example) = help_and_example(&comments);
    Some(HostFn {
        signature: format!("{prefix}{name}({}) -> {returns}", args.join(", ")),
        object,
        name: name.to_string(),
        help,
        example,
    })
}

/// A doc comment's first paragraph is the help; its ```` ```rhai ```` block is the example (the
/// form of Rhai's own plugin modules). `Example: `...`` lines are read too.
fn help_and_example(comments: &[String]) -> (String, String) {
    let help: Vec<&str> = comments
        .iter()
        .map(String::as_str)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("```") && !l.starts_with("Example:"))
        .collect();
    let mut example: Vec<&str> = comments
        .iter()
        .skip_while(|l| !l.starts_with("```rhai"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(String::as_str)
        .collect();
    if example.is_empty() {
        example.extend(
            comments
                .iter()
                .find_map(|l| l.strip_prefix("Example:"))
                .map(|e| e.trim().trim_matches('`')),
        );
    }
    (help.join(" "), example.join("\n"))
}

/// Rhai's metadata spells Rust types; scripts know `String`, `Array`, `Map`, `Dynamic`.
fn clean_type(ty: &str) -> String {
    let ty = ty
        .trim()
        .trim_start_matches("&mut ")
        .trim_start_matches('&');
    match ty {
        "str" | "ImmutableString" | "String" => "String".into(),
        "RhaiResult" => "Dynamic".into(),
        "?" => "Dynamic".into(),
        other => {
            // What a host function returns on success: `HostResult<T>`, `Result<T, E>`.
            if let Some(ok) = other
                .strip_prefix("HostResult<")
                .and_then(|t| t.strip_suffix('>'))
            {
                return clean_type(ok);
            }
            let other = other
                .strip_prefix("Result<")
                .and_then(|t| t.split(',').next())
                .unwrap_or(other);
            other.rsplit("::").next().unwrap_or(other).to_string()
        }
    }
}

/// Renders the functions, all of them or those of one object or name.
pub fn render(functions: &[HostFn], filter: Option<&str>) -> Result<String, Error> {
    let selected = select(functions, filter)?;
    let mut out = String::new();
    let mut last_object = None;
    let mut overloads_seen: Vec<(&str, &str, &str)> = Vec::new();
    for f in selected.iter().copied() {
        if last_object != Some(&f.object) {
            let heading = if f.object.is_empty() {
                "functions".to_string()
            } else {
                f.object.clone()
            };
            out.push_str(&format!(
                "{}{heading}\n",
                if last_object.is_some() { "\n" } else { "" }
            ));
            last_object = Some(&f.object);
        }
        // Overloads (just with 0 to 6 arguments) share their help: say it once.
        if overloads_seen.contains(&(f.object.as_str(), f.name.as_str(), f.help.as_str())) {
            continue;
        }
        overloads_seen.push((&f.object, &f.name, &f.help));
        let overloads: Vec<&str> = selected
            .iter()
            .filter(|o| o.object == f.object && o.name == f.name && o.help == f.help)
            .map(|o| o.signature.as_str())
            .collect();
        for signature in shortest_and_longest(&overloads) {
            out.push_str(&format!("  {signature}\n"));
        }
        out.push_str(&format!("      {}\n", f.help));
        if !f.example.is_empty() {
            out.push_str(&format!("      e.g. {}\n", f.example));
        }
    }
    Ok(out)
}

/// The host functions `filter` names (an object, a function, `object.function`; all for none),
/// or a usage error listing the names there are.
pub fn select<'a>(functions: &'a [HostFn], filter: Option<&str>) -> Result<Vec<&'a HostFn>, Error> {
    let selected: Vec<&HostFn> = functions
        .iter()
        .filter(|f| {
            filter.is_none_or(|n| {
                f.object == n || f.name == n || format!("{}.{}", f.object, f.name) == n
            })
        })
        .collect();
    if selected.is_empty() {
        let mut names: Vec<&str> = functions
            .iter()
            .map(|f| {
                if f.object.is_empty() {
                    f.name.as_str()
                } else {
                    f.object.as_str()
                }
            })
            .collect();
        names.dedup();
        let wanted = filter.unwrap_or_default();
        let guess = crate::diagnostic::closest(wanted, &names)
            .map(|name| format!("did you mean `{name}`? "))
            .unwrap_or_default();
        return Err(Error::usage(format!(
            "error: no host function or object named `{wanted}`: {guess}the names are {}",
            names.join(", ")
        )));
    }
    Ok(selected)
}

/// The README's table: one row per function, overloads that share their help in one row.
pub fn markdown_table(functions: &[HostFn]) -> String {
    let mut out = String::from("| function | does |\n| --- | --- |\n");
    let mut seen: Vec<(&str, &str, &str)> = Vec::new();
    for f in functions {
        let key = (f.object.as_str(), f.name.as_str(), f.help.as_str());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let overloads: Vec<&HostFn> = functions
            .iter()
            .filter(|o| (o.object.as_str(), o.name.as_str(), o.help.as_str()) == key)
            .collect();
        let signature = match overloads.as_slice() {
            [one] => format!("`{}`", one.signature),
            many => {
                let mut by_length: Vec<&str> = many.iter().map(|o| o.signature.as_str()).collect();
                by_length.sort_by_key(|s| s.len());
                format!(
                    "`{}` ... `{}` ({} overloads)",
                    by_length[0],
                    by_length[by_length.len() - 1],
                    many.len()
                )
            }
        };
        out.push_str(&format!(
            "| {} | {} |\n",
            signature.replace('|', "\\|"),
            f.help.replace('|', "\\|")
        ));
    }
    out
}

/// All signatures when there are few; else the shortest, a count, and the longest.
fn shortest_and_longest(signatures: &[&str]) -> Vec<String> {
    if signatures.len() <= 2 {
        return signatures.iter().map(|s| s.to_string()).collect();
    }
    let mut by_length = signatures.to_vec();
    by_length.sort_by_key(|s| s.len());
    vec![
        by_length[0].to_string(),
        format!("  ... {} more overloads ...", signatures.len() - 2),
        by_length[by_length.len() - 1].to_string(),
    ]
}

/// Writes Rhai definition files (`.d.rhai`) for editors, host objects declared as constants.
pub fn write_definitions(runtime: &Runtime, dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::usage(format!("cannot create {}: {e}", dir.display())))?;
    let scope = runtime.objects.scope();
    runtime
        .engine
        .definitions_with_scope(&scope)
        .write_to_dir(dir)
        .map_err(|e| {
            Error::usage(format!(
                "cannot write definitions to {}: {e}",
                dir.display()
            ))
        })
}

//! What the host gives scripts by name (`airflow`, `tf`, ..., `args`), and how a host function
//! is documented when it is registered. Host objects and the engine both use this; it uses
//! neither.

use rhai::{Dynamic, FuncRegistration, Scope};
use std::collections::BTreeMap;

/// Host objects by the names scripts use (`airflow`, `tf`, ...), plus `args`.
#[derive(Default, Clone)]
pub struct Objects(BTreeMap<String, Dynamic>);

impl Objects {
    pub fn insert(&mut self, name: &str, value: Dynamic) {
        self.0.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&Dynamic> {
        self.0.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// A scope with every object as a constant, so that strict-variables compilation knows them.
    pub fn scope(&self) -> Scope<'static> {
        let mut scope = Scope::new();
        for (name, value) in &self.0 {
            scope.push_constant_dynamic(name.clone(), value.clone());
        }
        scope
    }
}

/// A documented host function: `params` are `name: Type` strings ending with the return type,
/// as Rhai's metadata wants them; `help` is one line, `example` a line of Rhai.
pub fn describe(name: &str, params: &[&str], help: &str, example: &str) -> FuncRegistration {
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments([
            format!("/// {help}"),
            "///".into(),
            format!("/// Example: `{example}`"),
        ])
}

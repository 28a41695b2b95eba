//! What a runbook deploys, declared once with `deployment(#{...})` and checked by the host before
//! any step: a key it does not know, a key missing, a value of the wrong kind stop the run as a
//! usage error (exit 2), naming the key.

use rhai::{Dynamic, FnPtr, Map};

/// How production goes back to the last stable release when a deploy goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollback {
    /// Dispatch the infrastructure repository's deployment workflow with the stable `rel-` tag.
    Workflow,
    /// Set the stable tag in the `.tf` file and apply it from this checkout, guarded as a deploy.
    Local,
}

impl Rollback {
    pub fn word(self) -> &'static str {
        match self {
            Rollback::Workflow => "workflow",
            Rollback::Local => "local",
        }
    }
}

/// A deployment as declared, every value checked.
#[derive(Debug, Clone)]
pub struct Declaration {
    /// The release tag's prefix without its dash: `catalog`, `ingestion_server`.
    pub app: String,
    /// The name just and terraform use: `catalog-airflow`.
    pub service: String,
    /// The clearance flag of its production module: `running_dags_cleared`.
    pub flag_name: String,
    /// The image the release workflow tags: `ghcr.io/wordpress/openverse-catalog`.
    pub image: String,
    /// How long to wait for the release's image, as written (`30m`).
    pub image_timeout: String,
    pub rollback: Rollback,
    /// The infrastructure repository's workflow a rollback dispatches.
    pub rollback_workflow: String,
    /// Checks Airflow before an apply and returns the DAGs to pause for it.
    pub check: FnPtr,
}

/// Every key `deployment` takes: (name, what it is, required).
const KEYS: &[(&str, &str, bool)] = &[
    (
        "app",
        "the release tag's prefix without its dash, e.g. \"catalog\"",
        true,
    ),
    (
        "service",
        "the service's name for just and terraform, e.g. \"catalog-airflow\"",
        true,
    ),
    (
        "flag",
        "the clearance flag of its production module, e.g. \"running_dags_cleared\"",
        true,
    ),
    (
        "check",
        "a closure that checks Airflow before an apply and returns the DAGs to pause",
        true,
    ),
    (
        "image",
        "the image the release workflow tags (default ghcr.io/wordpress/openverse-APP)",
        false,
    ),
    (
        "image_timeout",
        "how long to wait for the release's image (default 30m)",
        false,
    ),
    ("rollback", "\"workflow\" (default) or \"local\"", false),
    (
        "rollback_workflow",
        "the workflow a rollback dispatches (default deploy-SERVICE.yml)",
        false,
    ),
];

impl Declaration {
    /// Checks `map` key by key; the error is the operator's message for a usage error.
    pub fn from_map(map: &Map) -> Result<Declaration, String> {
        let names: Vec<&str> = KEYS.iter().map(|(name, _, _)| *name).collect();
        for key in map.keys() {
            if !names.contains(&key.as_str()) {
                let guess = crate::diagnostic::closest(key, &names)
                    .map(|name| format!(" (did you mean `{name}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "deployment(#{{...}}) does not know the key `{key}`{guess}: it takes {}",
                    names.join(", ")
                ));
            }
        }
        for (name, what, required) in KEYS {
            if *required && !map.contains_key(*name) {
                return Err(format!("deployment(#{{...}}) lacks `{name}`: {what}"));
            }
        }
        let text = |name: &str, default: String| -> Result<String, String> {
            match map.get(name) {
                None => Ok(default),
                Some(value) => match value.clone().into_string() {
                    Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
                    Ok(_) => Err(format!("deployment(#{{...}}): `{name}` is empty")),
                    Err(kind) => Err(format!(
                        "deployment(#{{...}}): `{name}` must be a string, not {}",
                        with_article(&crate::diagnostic::script_types(kind))
                    )),
                },
            }
        };
        let app = text("app", String::new())?;
        let service = text("service", String::new())?;
        let flag_name = text("flag", String::new())?;
        if !flag_name.ends_with("_cleared") || flag_name.contains('.') {
            return Err(format!(
                "deployment(#{{...}}): `flag` is \"{flag_name}\": give the clearance flag's own name, ending in _cleared (running_dags_cleared, data_refresh_cleared)"
            ));
        }
        for (name, value) in [("app", &app), ("service", &service)] {
            if !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "deployment(#{{...}}): `{name}` is \"{value}\": letters, digits, - and _ only"
                ));
            }
        }
        let image = text("image", format!("ghcr.io/wordpress/openverse-{app}"))?;
        let image_timeout = text("image_timeout", "30m".into())?;
        crate::when::parse_duration(&image_timeout).map_err(|_| {
            format!("deployment(#{{...}}): `image_timeout` is \"{image_timeout}\", not a duration: write it like 90s, 15m or 2h")
        })?;
        let rollback = match text("rollback", "workflow".into())?.as_str() {
            "workflow" => Rollback::Workflow,
            "local" => Rollback::Local,
            other => {
                return Err(format!(
                    "--rollback={other}: give --rollback=workflow (dispatch the infrastructure repository's workflow) or --rollback=local (apply the stable tag from this checkout)"
                ))
            }
        };
        let rollback_workflow = text("rollback_workflow", format!("deploy-{service}.yml"))?;
        let check = map
            .get("check")
            .cloned()
            .and_then(Dynamic::try_cast::<FnPtr>)
            .ok_or_else(|| {
                "deployment(#{...}): `check` must be a closure, e.g. || deploy::dags_to_pause()"
                    .to_string()
            })?;
        Ok(Declaration {
            app,
            service,
            flag_name,
            image,
            image_timeout,
            rollback,
            rollback_workflow,
            check,
        })
    }

    /// The production `.tf` file, relative to the infrastructure checkout.
    pub fn tf_file(&self) -> String {
        tf_file(&self.service)
    }

    /// The clearance flag's dotted path in that file.
    pub fn flag(&self) -> String {
        flag_path(&self.service, &self.flag_name)
    }

    /// The image tag's dotted path in that file.
    pub fn image_key(&self) -> String {
        image_key(&self.service)
    }
}

/// Where a service's production module is, by Openverse's layout (also for runbook pages).
pub fn tf_file(service: &str) -> String {
    format!("environments/prod/{service}.tf")
}

/// A flag of a service's production module, as a dotted path.
pub fn flag_path(service: &str, flag: &str) -> String {
    format!("module.{service}.{flag}")
}

/// The image tag of a service's production module, as a dotted path.
pub fn image_key(service: &str) -> String {
    format!("module.{service}.docker_image_tag")
}

/// `an int`, `a map`.
fn with_article(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(pairs: &[(&str, Dynamic)]) -> Result<Declaration, String> {
        let mut map = Map::new();
        for (key, value) in pairs {
            map.insert((*key).into(), value.clone());
        }
        Declaration::from_map(&map)
    }

    fn catalog() -> Vec<(&'static str, Dynamic)> {
        vec![
            ("app", "catalog".into()),
            ("service", "catalog-airflow".into()),
            ("flag", "running_dags_cleared".into()),
            ("check", Dynamic::from(FnPtr::new("dags_to_pause").unwrap())),
        ]
    }

    #[test]
    fn the_defaults_follow_the_app_and_the_service() {
        let d = declared(&catalog()).unwrap();
        assert_eq!(d.tf_file(), "environments/prod/catalog-airflow.tf");
        assert_eq!(d.flag(), "module.catalog-airflow.running_dags_cleared");
        assert_eq!(d.image_key(), "module.catalog-airflow.docker_image_tag");
        assert_eq!(d.image, "ghcr.io/wordpress/openverse-catalog");
        assert_eq!(d.image_timeout, "30m");
        assert_eq!(d.rollback, Rollback::Workflow);
        assert_eq!(d.rollback_workflow, "deploy-catalog-airflow.yml");
    }

    #[test]
    fn each_bad_key_is_named() {
        let mut typo = catalog();
        typo.push(("servce", "x".into()));
        assert_eq!(
            declared(&typo).unwrap_err(),
            "deployment(#{...}) does not know the key `servce` (did you mean `service`?): it takes app, service, flag, check, image, image_timeout, rollback, rollback_workflow"
        );
        let missing: Vec<_> = catalog()
            .into_iter()
            .filter(|(k, _)| *k != "flag")
            .collect();
        assert_eq!(
            declared(&missing).unwrap_err(),
            "deployment(#{...}) lacks `flag`: the clearance flag of its production module, e.g. \"running_dags_cleared\""
        );
        let mut dotted = catalog();
        dotted[2].1 = "module.catalog-airflow.running_dags_cleared".into();
        assert!(declared(&dotted)
            .unwrap_err()
            .contains("give the clearance flag's own name"));
        let mut number = catalog();
        number[0].1 = Dynamic::from(3_i64);
        assert_eq!(
            declared(&number).unwrap_err(),
            "deployment(#{...}): `app` must be a string, not an int"
        );
        let mut not_a_closure = catalog();
        not_a_closure[3].1 = "dags_to_pause".into();
        assert!(declared(&not_a_closure)
            .unwrap_err()
            .contains("`check` must be a closure"));
        let mut slow = catalog();
        slow.push(("image_timeout", "soon".into()));
        assert!(declared(&slow).unwrap_err().contains("not a duration"));
        let mut rollback = catalog();
        rollback.push(("rollback", "manual".into()));
        assert!(declared(&rollback)
            .unwrap_err()
            .starts_with("--rollback=manual: give"));
        let mut path = catalog();
        path[1].1 = "../x".into();
        assert!(declared(&path)
            .unwrap_err()
            .contains("letters, digits, - and _ only"));
    }
}

//! `ovscript.toml` plus `OVSCRIPT_<SECTION>_<KEY>` environment overrides, validated once.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::error::Error;

pub const DEFAULT_FILE: &str = "ovscript.toml";
pub const ENV_PREFIX: &str = "OVSCRIPT_";

/// Variables with the prefix that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["OVSCRIPT_TEST_", "OVSCRIPT_REHEARSE_"];

/// The variables of `run`'s own options (`OVSCRIPT_DRY_RUN=1 just deploy-catalog`): not
/// configuration keys.
const RUN_OPTION_VARS: &[&str] = &[
    "OVSCRIPT_DRY_RUN",
    "OVSCRIPT_YES",
    "OVSCRIPT_REHEARSE",
    "OVSCRIPT_RESUME",
];

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub airflow: Airflow,
    #[serde(default)]
    pub sentry: Sentry,
    #[serde(default)]
    pub github: Github,
    #[serde(default)]
    pub infra: Infra,
    #[serde(default)]
    pub registry: Registry,
    #[serde(default)]
    pub slack: Slack,
    #[serde(default)]
    pub limits: Limits,
    /// Secrets this configuration no longer uses but that must stay redacted: the operator's
    /// real tokens while a rehearsal points the configuration at its own world.
    #[serde(skip)]
    pub kept_secrets: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Airflow {
    pub url: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Seconds for one request.
    pub timeout: Option<u64>,
    /// Which REST API to speak; by default (`auto`) the server is asked.
    pub api: Option<AirflowApi>,
}

/// `[airflow] api`: `auto` asks the server which API it has (and asks again when it changes
/// under a run, e.g. a deploy that upgrades Airflow); `v1` (Airflow 2) or `v2` (Airflow 3)
/// forces one, for a server that cannot be asked. Any other value is refused when the
/// configuration is read, naming the key and the values it takes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AirflowApi {
    #[default]
    Auto,
    V1,
    V2,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sentry {
    pub url: Option<String>,
    pub org: Option<String>,
    pub project: Option<String>,
    pub token: Option<String>,
    pub timeout: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Github {
    pub url: Option<String>,
    pub repo: Option<String>,
    pub token: Option<String>,
    pub infra_repo: Option<String>,
    pub timeout: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infra {
    pub dir: Option<PathBuf>,
    /// The command line that runs recipes in the checkout (default `just`; `./ov just` for the
    /// infrastructure repository's wrapper). Split like a shell would, never run by one.
    pub just: Option<String>,
    /// The branch of the infrastructure repository's `origin` that is the deploy lock
    /// (default `deploy-lock`).
    pub lock_branch: Option<String>,
}

/// The container registry that `registry.has_tag` asks. Pulls are anonymous: no credentials.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Replaces the registry of every image (`https://mirror.example.org`, the rehearsal's fake):
    /// by default each image's own host (`ghcr.io/...`) is asked.
    pub url: Option<String>,
    pub timeout: Option<u64>,
}

/// The team's channel, where `slack.post` tells of a deploy: a Slack incoming webhook.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    /// The incoming webhook's URL (`https://hooks.slack.com/services/...`). A secret: whoever
    /// has it can post to the channel. Not set: runs go on without notifying anyone.
    pub webhook: Option<String>,
    /// Seconds a post may take (default 10): a notification must not hold a deploy up.
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Limits {
    /// Each limit and the most it may be: past these a runaway script overflows the stack (call
    /// levels) or memory instead of stopping with a message.
    const MOST: [(&'static str, u64); 5] = [
        ("max_operations", 1_000_000_000_000),
        ("max_call_levels", 256),
        ("max_string_size", 1 << 30),
        ("max_array_size", 100_000_000),
        ("max_map_size", 100_000_000),
    ];

    /// The value of the limit named `key`, for messages.
    fn of(&self, key: &str) -> u64 {
        match key {
            "max_operations" => self.max_operations,
            "max_call_levels" => self.max_call_levels as u64,
            "max_string_size" => self.max_string_size as u64,
            "max_array_size" => self.max_array_size as u64,
            _ => self.max_map_size as u64,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 2_000_000,
            max_call_levels: 64,
            max_string_size: 4 << 20,
            // Rhai counts every element of nested values: 10,000 DAG runs of a few fields each,
            // or 5,000 Sentry issues, are a few tens of thousands of map entries. What host
            // functions return must read under the defaults; only a runaway script stops.
            max_array_size: 1_000_000,
            max_map_size: 1_000_000,
        }
    }
}

/// Seconds a request may take when the configuration does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

impl Config {
    /// Reads `file` (or `ovscript.toml` in `dir` when present), then applies `env`.
    /// An explicitly named file must exist; the default one is optional.
    pub fn load(
        explicit: Option<&Path>,
        dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Error> {
        let (path, text) = match explicit {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::usage(format!("cannot read config {}: {e}", path.display()))
                })?;
                (Some(path.to_path_buf()), text)
            }
            None => {
                let path = dir.join(DEFAULT_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => (Some(path), text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, String::new()),
                    Err(e) => {
                        return Err(Error::usage(format!("cannot read {}: {e}", path.display())))
                    }
                }
            }
        };
        let origin = path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "configuration".into());
        let env: Vec<(String, String)> = env.into_iter().collect();
        // An error about a broken file shows its line: the secrets in it must not show.
        let hide = crate::redact::Redactor::new(likely_secrets(&text, &env));
        let mut table: toml::Table = text
            .parse()
            .map_err(|e| Error::usage(hide.redact(&format!("{origin}: {e}"))))?;
        let overridden = apply_env(&mut table, env)?;
        // Through text, so that an error has a place: which key of which section.
        let merged = toml::to_string(&table).unwrap_or_default();
        let mut config: Config = toml::from_str(&merged).map_err(|e: toml::de::Error| {
            let place = e
                .span()
                .map(|span| format!("{}: ", key_at(&merged, span.start)))
                .unwrap_or_default();
            let hint = if overridden.is_empty() {
                String::new()
            } else {
                format!(
                    " (environment overrides applied: {})",
                    overridden.join(", ")
                )
            };
            let message = e.message().trim_end();
            Error::usage(hide.redact(&format!("{origin}: {place}{message}{hint}")))
        })?;
        if let (Some(dir_rel), Some(p)) = (config.infra.dir.clone(), path.as_deref()) {
            // A relative infra.dir in a file means relative to that file, as a reader expects.
            if dir_rel.is_relative() && !overridden.iter().any(|v| v == "OVSCRIPT_INFRA_DIR") {
                let base = p.parent().unwrap_or(Path::new("."));
                config.infra.dir = Some(base.join(dir_rel));
            }
        }
        config
            .refuse_unsafe()
            .and_then(|()| config.check_settings())
            .map_err(|problem| Error::usage(hide.redact(&format!("{origin}: {problem}"))))?;
        Ok(config)
    }

    /// Settings checked when loaded, not at first use (after earlier steps ran): URLs that are
    /// URLs, an infrastructure checkout that is named, a lock branch that can be one, a `just`
    /// command line that parses.
    fn check_settings(&self) -> Result<(), String> {
        if let Some(dir) = &self.infra.dir {
            if dir.as_os_str().to_string_lossy().trim().is_empty() {
                return Err("[infra] dir is empty (OVSCRIPT_INFRA_DIR=): give the path of the infrastructure checkout, or unset it; an empty one would run recipes in whatever folder you stand in".into());
            }
        }
        let urls = [
            ("airflow", "url", &self.airflow.url),
            ("sentry", "url", &self.sentry.url),
            ("github", "url", &self.github.url),
            ("registry", "url", &self.registry.url),
            ("slack", "webhook", &self.slack.webhook),
        ];
        for (section, key, value) in urls {
            let Some(value) = given(value) else {
                continue;
            };
            let variable = format!("OVSCRIPT_{}_{}", section.to_uppercase(), key.to_uppercase());
            let problem = if value.chars().any(char::is_whitespace) {
                Some("it holds a space".to_string())
            } else {
                match url::Url::parse(&value) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => None,
                    Ok(url) if url.has_host() => Some(format!(
                        "its scheme is `{}`, not http or https",
                        url.scheme()
                    )),
                    Ok(_) => Some("it names no host".into()),
                    Err(e) => Some(format!("{e}")),
                }
            };
            if let Some(problem) = problem {
                // The value is not shown: a webhook is a secret, a URL may hold a password.
                return Err(format!(
                    "[{section}] {key} is not a URL ({problem}): give it as https://host/... ({variable})"
                ));
            }
        }
        if let Some(branch) = given(&self.infra.lock_branch) {
            lock_branch_problem(&branch).map_or(Ok(()), |problem| {
                Err(format!(
                    "[infra] lock_branch = {branch:?} {problem} (OVSCRIPT_INFRA_LOCK_BRANCH)"
                ))
            })?;
        }
        if let Some(just) = &self.infra.just {
            if shlex::split(just).is_none_or(|words| words.is_empty()) {
                return Err(format!("[infra] just = {just:?} is not a command line: give the command that runs recipes in the checkout, e.g. \"just\" or \"./ov just\" (OVSCRIPT_INFRA_JUST)"));
            }
        }
        Ok(())
    }

    /// The configured secrets too short to be hidden in every output, by key: said at load.
    pub fn weak_secrets(&self) -> Vec<&'static str> {
        [
            (
                "[airflow] password (OVSCRIPT_AIRFLOW_PASSWORD)",
                &self.airflow.password,
            ),
            ("[sentry] token (OVSCRIPT_SENTRY_TOKEN)", &self.sentry.token),
            ("[github] token (OVSCRIPT_GITHUB_TOKEN)", &self.github.token),
        ]
        .into_iter()
        .filter(|(_, value)| given(value).is_some_and(|v| crate::redact::is_weak(&v)))
        .map(|(key, _)| key)
        .collect()
    }

    /// Values that would switch a safety off: a limit of 0 is no limit in Rhai, a timeout of 0
    /// never times out.
    fn refuse_unsafe(&self) -> Result<(), String> {
        for (key, most) in Limits::MOST {
            let value = self.limits.of(key);
            let default = Limits::default().of(key);
            if value == 0 {
                return Err(format!(
                    "[limits] {key} = 0 would switch the limit off: give a positive number (the default is {default})"
                ));
            }
            if value > most {
                return Err(format!(
                    "[limits] {key} = {value} is past what ovscript can keep safe (at most {most}; the default is {default}): a runaway script would crash instead of stopping"
                ));
            }
        }
        let timeouts = [
            ("airflow", self.airflow.timeout),
            ("sentry", self.sentry.timeout),
            ("github", self.github.timeout),
            ("registry", self.registry.timeout),
            ("slack", self.slack.timeout),
        ];
        if let Some((section, _)) = timeouts.iter().find(|(_, t)| *t == Some(0)) {
            return Err(format!(
                "[{section}] timeout = 0 would wait forever: give the seconds a request may take (default {DEFAULT_TIMEOUT_SECS})"
            ));
        }
        Ok(())
    }

    /// Every secret value, so that output paths can redact them: as configured, trimmed as it
    /// is used, and as it is sent (Airflow's basic-auth header).
    pub fn secrets(&self) -> Vec<String> {
        use base64::Engine as _;
        let mut secrets: Vec<String> = [
            &self.airflow.password,
            &self.sentry.token,
            &self.github.token,
        ]
        .into_iter()
        .flatten()
        .chain(&self.kept_secrets)
        // As used: trimmed (the whitespace around a pasted token is not the secret).
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
        if let (Some(user), Some(password)) =
            (given(&self.airflow.user), given(&self.airflow.password))
        {
            let header = format!("{user}:{password}");
            secrets.push(base64::engine::general_purpose::STANDARD.encode(header));
        }
        if let Some(webhook) = given(&self.slack.webhook) {
            secrets.extend(webhook_forms(&webhook));
        }
        secrets.dedup();
        secrets
    }
}

/// What makes `branch` unfit for the deploy lock: not a branch name git takes, or a branch the
/// repository lives on (the lock is pushed and deleted by force).
fn lock_branch_problem(branch: &str) -> Option<&'static str> {
    const TAKEN: &[&str] = &["main", "master", "HEAD", "develop", "production", "staging"];
    if TAKEN.contains(&branch) {
        return Some("is a branch the repository lives on: the lock is created and deleted by force; name a branch of its own, e.g. \"deploy-lock\"");
    }
    let bad_char = branch
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    let bad_shape = branch.starts_with(['-', '/', '.'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch == "@";
    (bad_char || bad_shape).then_some("is not a branch name git takes")
}

/// The forms a webhook URL takes in what ovscript prints: as configured, as a URL parser writes
/// it back (a lower-cased host, a `/` added), and its path, which is the secret part (an error
/// may name the path alone). A short path (`/`, `/hook`) is too common to hide everywhere.
fn webhook_forms(webhook: &str) -> Vec<String> {
    let mut forms = vec![webhook.to_string()];
    if let Ok(url) = url::Url::parse(webhook) {
        forms.push(url.to_string());
        if url.path().len() >= 12 {
            forms.push(url.path().to_string());
        }
    }
    forms
}

/// `[section] key` of the line of TOML `text` that holds byte `offset`.
fn key_at(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = text[before.rfind('\n').map_or(0, |i| i + 1)..]
        .lines()
        .next()
        .unwrap_or_default();
    let key = line.split('=').next().unwrap_or_default().trim();
    let section = before
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|l| l.strip_suffix(']')));
    match section {
        Some(section) => format!("[{section}] {key}"),
        None => key.to_string(),
    }
}

/// A setting given and not blank, trimmed (a pasted token often ends in a newline).
pub fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// What an operator reads when `system` lacks settings: where to set each of `keys`.
pub fn not_configured(system: &str, section: &str, keys: &[&str]) -> String {
    let places: Vec<String> = keys
        .iter()
        .map(|key| {
            format!(
                "{ENV_PREFIX}{}_{} or `{key}`",
                section.to_uppercase(),
                key.to_uppercase()
            )
        })
        .collect();
    format!(
        "{system} is not configured: set {} under [{section}] in ovscript.toml",
        places.join(", ")
    )
}

/// The values of `password` and `token` keys, read leniently (the file may not parse), and of
/// the variables that set them.
fn likely_secrets(text: &str, env: &[(String, String)]) -> Vec<String> {
    // `password = "..."`, also dotted (`airflow.password = ...`), quoted, or inside an inline
    // table (`airflow = { password = "..." }`): a broken file's error line may show any of them.
    let from_file = text.lines().flat_map(|line| {
        SECRET_KEYS
            .iter()
            .flat_map(move |key| values_after_key(line, key))
            .collect::<Vec<_>>()
    });
    let from_env = env
        .iter()
        .filter(|(name, _)| {
            SECRET_KEYS
                .iter()
                .any(|k| name.to_ascii_lowercase().ends_with(&format!("_{k}")))
        })
        .map(|(_, value)| value.clone());
    from_file.chain(from_env).filter(|s| s.len() >= 3).collect()
}

/// The values given to `key` on `line`, quoted or bare, each as written and unquoted.
fn values_after_key(line: &str, key: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(key) {
        let after = rest[at + key.len()..]
            .trim_start_matches(['"', '\''])
            .trim_start();
        rest = &rest[at + key.len()..];
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let end = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => value[1..].find(quote).map_or(value.len(), |i| i + 2),
            _ => value
                .find([',', '}', ' ', '\t', '#'])
                .unwrap_or(value.len()),
        };
        let written = value[..end].trim();
        values.push(written.to_string());
        values.push(written.trim_matches(['"', '\'']).to_string());
    }
    values
}

/// Keys whose values are secrets.
const SECRET_KEYS: &[&str] = &["password", "token", "webhook"];

/// Puts `OVSCRIPT_<SECTION>_<KEY>=value` into `[section] key = value`; returns the variables used.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, Error> {
    let mut used = Vec::new();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .filter(|(k, _)| !ENV_NOT_CONFIG.iter().any(|p| k.starts_with(p)))
        .filter(|(k, _)| !RUN_OPTION_VARS.contains(&k.as_str()))
        .collect();
    vars.sort();
    for (name, value) in vars {
        let rest = name[ENV_PREFIX.len()..].to_ascii_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            return Err(Error::usage(format!(
                "environment variable {name} names no configuration key: use OVSCRIPT_<SECTION>_<KEY>, e.g. OVSCRIPT_AIRFLOW_URL"
            )));
        };
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        let toml::Value::Table(section_table) = entry else {
            return Err(Error::usage(format!(
                "{name}: `{section}` is not a section"
            )));
        };
        section_table.insert(key.to_string(), env_value(section, key, value));
        used.push(name);
    }
    Ok(used)
}

/// Environment values are strings; numeric keys (timeouts, limits) are parsed as numbers.
fn env_value(section: &str, key: &str, value: String) -> toml::Value {
    let numeric = section == "limits" || key == "timeout";
    match value.parse::<i64>() {
        Ok(n) if numeric => toml::Value::Integer(n),
        _ => toml::Value::String(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_file_hides_secrets_written_any_way() {
        let text = "airflow.password = \"dotted-s3cret\"\nsentry = { token = 'inline-s3cret', url = \"x\" }\n\"token\" = bare-s3cret oops";
        let found = likely_secrets(text, &[]);
        for secret in ["dotted-s3cret", "inline-s3cret", "bare-s3cret"] {
            assert!(found.iter().any(|f| f == secret), "{secret}: {found:?}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ovscript.toml"),
            "[airflow]\nurl = \"http://file\"\nuser = \"u\"\n",
        )
        .unwrap();
        let config = Config::load(
            None,
            dir.path(),
            env(&[
                ("OVSCRIPT_AIRFLOW_URL", "http://env"),
                ("OVSCRIPT_GITHUB_INFRA_REPO", "o/infra"),
                ("OVSCRIPT_AIRFLOW_TIMEOUT", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(config.airflow.url.as_deref(), Some("http://env"));
        assert_eq!(config.airflow.user.as_deref(), Some("u"));
        assert_eq!(config.airflow.timeout, Some(5));
        assert_eq!(config.github.infra_repo.as_deref(), Some("o/infra"));
    }

    #[test]
    fn the_registry_section_takes_its_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ovscript.toml"),
            "[registry]\nurl = \"https://mirror.example.org\"\ntimeout = 9\n",
        )
        .unwrap();
        let config = Config::load(None, dir.path(), env(&[])).unwrap();
        assert_eq!(
            config.registry.url.as_deref(),
            Some("https://mirror.example.org")
        );
        assert_eq!(config.registry.timeout, Some(9));
        let config = Config::load(
            None,
            dir.path(),
            env(&[
                ("OVSCRIPT_REGISTRY_URL", "http://127.0.0.1:5000"),
                ("OVSCRIPT_REGISTRY_TIMEOUT", "4"),
                // The real-registry test's own variable is not configuration.
                ("OVSCRIPT_TEST_REGISTRY_URL", "http://127.0.0.1:5001"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.registry.url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(config.registry.timeout, Some(4));
        let err =
            Config::load(None, dir.path(), env(&[("OVSCRIPT_REGISTRY_TOKEN", "x")])).unwrap_err();
        assert!(err.to_string().contains("unknown field `token`"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ovscript.toml"),
            "[airflow]\nurll = \"x\"\n",
        )
        .unwrap();
        let err = Config::load(None, dir.path(), env(&[])).unwrap_err();
        assert!(err.to_string().contains("urll"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err =
            Config::load(None, empty.path(), env(&[("OVSCRIPT_SENTRY_TOKN", "x")])).unwrap_err();
        assert!(err.to_string().contains("unknown field `tokn`"), "{err}");
        assert!(err.to_string().contains("OVSCRIPT_SENTRY_TOKN"), "{err}");
    }

    #[test]
    fn the_airflow_api_is_auto_v1_or_v2_and_nothing_else() {
        let empty = tempfile::tempdir().unwrap();
        let api = |value: &str| {
            Config::load(None, empty.path(), env(&[("OVSCRIPT_AIRFLOW_API", value)]))
                .map(|config| config.airflow.api)
        };
        assert_eq!(api("auto").unwrap(), Some(AirflowApi::Auto));
        assert_eq!(api("v1").unwrap(), Some(AirflowApi::V1));
        assert_eq!(api("v2").unwrap(), Some(AirflowApi::V2));
        let err = api("v3").unwrap_err().to_string();
        assert!(err.contains("[airflow] api"), "{err}");
        assert!(
            err.contains("unknown variant `v3`, expected one of `auto`, `v1`, `v2`"),
            "{err}"
        );
        assert!(err.contains("OVSCRIPT_AIRFLOW_API"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ovscript.toml"), "[airflow]\napi = \"3\"\n").unwrap();
        let err = Config::load(None, dir.path(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[airflow] api: unknown variant `3`"), "{err}");
        let config = Config::load(None, empty.path(), env(&[])).unwrap();
        assert_eq!(config.airflow.api, None, "auto when not set");
    }

    #[test]
    fn a_broken_file_never_shows_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ovscript.toml");
        std::fs::write(&file, "[airflow]\npassword = \"hunter2-secret\n").unwrap();
        let err = Config::load(None, dir.path(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        std::fs::write(&file, "[airflow]\npassword = 98765432\n").unwrap();
        let err = Config::load(None, dir.path(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("98765432"), "{err}");
        assert!(err.contains("[airflow] password: invalid type"), "{err}");
    }

    #[test]
    fn secrets_are_collected() {
        let config = Config::load(
            None,
            Path::new("/nonexistent"),
            env(&[
                ("OVSCRIPT_AIRFLOW_PASSWORD", "hunter2"),
                ("OVSCRIPT_GITHUB_TOKEN", "ghp_x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.secrets(), vec!["hunter2", "ghp_x"]);
    }

    #[test]
    fn the_slack_webhook_is_a_secret_in_every_form() {
        let webhook = "https://Hooks.Slack.com/services/T0001/B0001/XXXXsecretXXXX";
        let padded = format!(" {webhook}\n");
        let config = Config::load(
            None,
            Path::new("/nonexistent"),
            env(&[
                ("OVSCRIPT_SLACK_WEBHOOK", padded.as_str()),
                ("OVSCRIPT_SLACK_TIMEOUT", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(config.slack.timeout, Some(3));
        assert_eq!(
            config.secrets(),
            vec![
                webhook,
                "https://hooks.slack.com/services/T0001/B0001/XXXXsecretXXXX",
                "/services/T0001/B0001/XXXXsecretXXXX",
            ]
        );
        let err = Config::load(
            None,
            Path::new("/nonexistent"),
            env(&[("OVSCRIPT_SLACK_TIMEOUT", "0")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("[slack] timeout = 0"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ovscript.toml"),
            "[slack]\nwebhook = \"https://hooks.slack.com/services/T/B/s3cr3t-webhook\n",
        )
        .unwrap();
        let err = Config::load(None, dir.path(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}

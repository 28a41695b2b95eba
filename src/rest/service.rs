//! What a system tells the REST core about itself, built from its settings by one rule: its
//! `[section]` holds `url`, `timeout` and its credentials, each also `OVSCRIPT_{SECTION}_{KEY}`,
//! and a message about a failed call names exactly those.

use std::time::Duration;

use crate::config::{DEFAULT_TIMEOUT_SECS, ENV_PREFIX};

pub enum Auth {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}

/// A system as the REST core sees it, for requests and for error messages.
pub struct Service {
    /// `airflow`, `sentry`, `github`, `http`: also its configuration section.
    pub name: &'static str,
    /// Base URL without a trailing slash; paths are appended to it. Empty for a system whose
    /// every call gives a full URL.
    pub base_url: String,
    pub auth: Auth,
    /// Where the operator fixes credentials, e.g. "OVSCRIPT_SENTRY_TOKEN (or `token` under [sentry])".
    pub credentials_hint: String,
    /// Where the operator fixes the address, e.g. "OVSCRIPT_SENTRY_URL (or `url` under [sentry])".
    pub url_hint: String,
    pub timeout: Duration,
    /// Extra headers on every request (GitHub's Accept and API version).
    pub headers: Vec<(&'static str, &'static str)>,
}

impl Service {
    /// The system `name`, configured under `[name]`: `url` (or `default_url` when unset, which
    /// may end in the API's root `api_root`, dropped), `timeout` in seconds, no credentials yet.
    pub fn configured(
        name: &'static str,
        url: Option<&str>,
        default_url: &str,
        api_root: &str,
        timeout: Option<u64>,
    ) -> Service {
        // A setting that is there but empty stays empty (every call then fails, naming the
        // setting): a variable meant to point at a mirror or a fake must never fall back to
        // the real service.
        Service {
            name,
            base_url: server_root(url.unwrap_or(default_url), api_root),
            auth: Auth::None,
            credentials_hint: String::new(),
            url_hint: setting_names(name, &["url"]),
            timeout: Duration::from_secs(timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)),
            headers: Vec::new(),
        }
    }

    /// A system whose calls each give a full URL (`http`, a webhook, a registry): `url_hint` and
    /// `credentials_hint` say where the URL comes from.
    pub fn by_url(name: &'static str, timeout: Option<u64>, hint: &str) -> Service {
        Service {
            credentials_hint: hint.to_string(),
            url_hint: hint.to_string(),
            ..Service::configured(name, None, "", "", timeout)
        }
    }

    /// Sends `auth`, set by the keys `keys` of the section; `note` says what they need
    /// ("the token needs the event:read scope"), or is empty.
    pub fn with_auth(mut self, auth: Auth, keys: &[&str], note: &str) -> Service {
        self.auth = auth;
        self.credentials_hint = setting_names(self.name, keys);
        if !note.is_empty() {
            self.credentials_hint = format!("{}: {note}", self.credentials_hint);
        }
        self
    }

    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Service {
        self.headers.push((name, value));
        self
    }
}

/// `OVSCRIPT_SENTRY_TOKEN (or `token` under [sentry])`, or for two keys
/// `OVSCRIPT_AIRFLOW_USER / OVSCRIPT_AIRFLOW_PASSWORD (or `user` / `password` under [airflow])`.
fn setting_names(section: &str, keys: &[&str]) -> String {
    let variables: Vec<String> = keys
        .iter()
        .map(|key| {
            format!(
                "{ENV_PREFIX}{}_{}",
                section.to_uppercase(),
                key.to_uppercase()
            )
        })
        .collect();
    let keys: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
    format!(
        "{} (or {} under [{section}])",
        variables.join(" / "),
        keys.join(" / ")
    )
}

/// A server's root from a URL setting that may or may not end in the API's path
/// (`http://host:8080` or `http://host:8080/api/v1/`).
pub fn server_root(url: &str, api_path: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if api_path.is_empty() {
        return url.to_string();
    }
    url.strip_suffix(api_path).unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_by_one_rule() {
        assert_eq!(
            setting_names("sentry", &["token"]),
            "OVSCRIPT_SENTRY_TOKEN (or `token` under [sentry])"
        );
        assert_eq!(
            setting_names("airflow", &["user", "password"]),
            "OVSCRIPT_AIRFLOW_USER / OVSCRIPT_AIRFLOW_PASSWORD (or `user` / `password` under [airflow])"
        );
        let github = Service::configured("github", None, "https://api.github.com", "", Some(5))
            .with_auth(Auth::Bearer("t".into()), &["token"], "it needs push access");
        assert_eq!(github.base_url, "https://api.github.com");
        assert_eq!(
            github.url_hint,
            "OVSCRIPT_GITHUB_URL (or `url` under [github])"
        );
        assert_eq!(
            github.credentials_hint,
            "OVSCRIPT_GITHUB_TOKEN (or `token` under [github]): it needs push access"
        );
        assert_eq!(github.timeout, Duration::from_secs(5));
        let sentry = Service::configured(
            "sentry",
            Some(" https://s.test/api/0/ "),
            "x",
            "/api/0",
            None,
        );
        assert_eq!(sentry.base_url, "https://s.test");
        let unexpanded =
            Service::configured("github", Some(""), "https://api.github.com", "", None);
        assert_eq!(unexpanded.base_url, "");
        assert_eq!(sentry.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECS));
    }

    #[test]
    fn the_url_may_name_the_api_root() {
        assert_eq!(
            server_root("http://af:8080/api/v1/", "/api/v1"),
            "http://af:8080"
        );
        assert_eq!(
            server_root(" http://af:8080/ ", "/api/v1"),
            "http://af:8080"
        );
        assert_eq!(
            server_root("https://af.example/airflow", "/api/v1"),
            "https://af.example/airflow"
        );
        assert_eq!(
            server_root("https://sentry.io/api/0/", "/api/0"),
            "https://sentry.io"
        );
    }
}

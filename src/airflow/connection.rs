//! How the Airflow client reaches an Airflow: which REST API the server has (Airflow 2's `/api/v1`, or
//! Airflow 3's `/api/v2`), found by asking it, and how a call is authenticated there (basic auth
//! on `/api/v1`; on `/api/v2` a JWT from `POST /auth/token`, sent as a bearer token).
//!
//! A run keeps what it found until the server changes under it: a deploy that upgrades Airflow
//! makes the next call's path vanish (404), so a 404 has the API asked for again, and the call is
//! made again on the new one. The token is fetched once per run; a 401 (it expired) has it
//! fetched again, once per call.

use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{given, AirflowApi, DEFAULT_TIMEOUT_SECS};
use crate::error::Failure;
use crate::journal::Event;
use crate::rest::{display_url, server_root, Auth, Rest, RestError, Service, Shared};

/// Tells the operator something they should know now (Airflow changed API during the run).
pub type Notice = Box<dyn Fn(&str) + Send + Sync>;

const URL_HINT: &str = "OVSCRIPT_AIRFLOW_URL (or `url` under [airflow])";

/// The REST API of an Airflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Airflow 2's stable REST API, with basic auth.
    V1,
    /// Airflow 3's, with a JWT.
    V2,
}

impl Api {
    pub fn root(self) -> &'static str {
        match self {
            Api::V1 => "/api/v1",
            Api::V2 => "/api/v2",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Api::V1 => "v1",
            Api::V2 => "v2",
        }
    }

    fn airflow(self) -> &'static str {
        match self {
            Api::V1 => "Airflow 2",
            Api::V2 => "Airflow 3",
        }
    }
}

/// What a call asks for, in terms both APIs have, so that it can be made again on the other.
pub enum Resource<'a> {
    /// A path under the API's root, e.g. `/dags/~/dagRuns?state=running`: the same on both.
    Api(&'a str),
    /// The health check, which Airflow 3 moved to `/monitor/health`.
    Health,
}

impl Resource<'_> {
    pub fn path(&self, api: Api) -> String {
        match (self, api) {
            (Resource::Api(path), api) => format!("{}{path}", api.root()),
            (Resource::Health, Api::V1) => "/api/v1/health".into(),
            (Resource::Health, Api::V2) => "/api/v2/monitor/health".into(),
        }
    }
}

/// A JSON answer and the URL it came from (for a message about its content).
pub struct Answer {
    pub value: Value,
    pub url: String,
}

/// The `[airflow]` settings a connection needs, checked before anything is sent.
struct Settings {
    root: String,
    credentials: Option<(String, String)>,
    forced: Option<Api>,
    timeout: Duration,
}

impl Settings {
    fn read(config: &crate::config::Airflow) -> Result<Settings, Failure> {
        let url = given(&config.url).ok_or_else(|| not_configured(&["url"]))?;
        let credentials = match (given(&config.user), given(&config.password)) {
            (Some(user), Some(password)) => Some((user, password)),
            // An Airflow without authentication (a local one) needs neither; one without the
            // other is a mistake to name now rather than a 401 later.
            (None, None) => None,
            (Some(_), None) => return Err(not_configured(&["password"])),
            (None, Some(_)) => return Err(not_configured(&["user"])),
        };
        let forced = match config.api.unwrap_or_default() {
            AirflowApi::Auto => None,
            AirflowApi::V1 => Some(Api::V1),
            AirflowApi::V2 => Some(Api::V2),
        };
        // The setting may name an API's root; the server's root is what both APIs hang from.
        let root = server_root(&server_root(&url, "/api/v1"), "/api/v2");
        Ok(Settings {
            root,
            credentials,
            forced,
            timeout: Duration::from_secs(config.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)),
        })
    }

    fn service(&self) -> Service {
        Service {
            timeout: self.timeout,
            ..Service::configured("airflow", Some(&self.root), "", "", None)
                .with_auth(Auth::None, &["user", "password"], "")
                .with_header("Accept", "application/json")
        }
    }
}

fn not_configured(keys: &[&str]) -> Failure {
    Failure::new(crate::config::not_configured("Airflow", "airflow", keys))
}

/// The API in use and the credentials for it; replaced, never changed.
struct Session {
    api: Api,
    auth: Auth,
    /// Found by asking the server (so it may be asked again), not forced by `[airflow] api`.
    detected: bool,
    /// Authenticated by a token, which a 401 renews.
    bearer: bool,
}

/// One Airflow for a run: its settings, its one client (credentials go per request: asking for
/// the API and for a token need none), and the session in use.
pub struct Connection {
    shared: Shared,
    notice: Notice,
    settings: Settings,
    rest: Rest,
    session: Mutex<Option<Arc<Session>>>,
}

impl Connection {
    /// Reads the settings; sends nothing yet.
    pub fn new(
        config: &crate::config::Airflow,
        shared: Shared,
        notice: Notice,
    ) -> Result<Connection, Failure> {
        let settings = Settings::read(config)?;
        let rest = Rest::new(shared.clone(), settings.service())?;
        Ok(Connection {
            shared,
            notice,
            settings,
            rest,
            session: Mutex::new(None),
        })
    }

    /// Sends one call and reads its JSON answer. A 401 of a token renews the token, a 404 has the
    /// server asked which API it speaks; either happens once per call, then the call is made
    /// again. Any other failure is explained, naming `what` was asked for.
    pub fn json(
        &self,
        method: Method,
        resource: &Resource,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Answer, Failure> {
        let mut session = self.session()?;
        let (mut renewed, mut asked_again) = (false, false);
        loop {
            let error = match self.rest.send_as(
                method.clone(),
                &resource.path(session.api),
                body,
                &session.auth,
            ) {
                Ok(reply) => {
                    let value = reply.json().map_err(|e| self.rest.explain(e, what))?;
                    return Ok(Answer {
                        value,
                        url: reply.url,
                    });
                }
                Err(error) => error,
            };
            let status = match &error {
                RestError::Status { status, .. } => *status,
                _ => 0,
            };
            if status == 401 && session.bearer && !renewed {
                renewed = true;
                session = self.replace(&session, session.api)?;
            } else if status == 404 && session.detected && !asked_again {
                asked_again = true;
                let api = self.detect()?;
                self.remember(api);
                if api == session.api {
                    return Err(self.rest.explain(error, what));
                }
                (self.notice)(&format!(
                    "Airflow now answers as {} ({}): it changed during the run; going on with it",
                    api.airflow(),
                    api.root()
                ));
                session = self.replace(&session, api)?;
                self.journal_api(api, true);
            } else {
                return Err(self.rest.explain(error, what));
            }
        }
    }

    /// What this connection shares with the run.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The URL a call would go to, as it may be shown (a dry run's "would").
    pub fn url(&self, resource: &Resource) -> Result<String, Failure> {
        let session = self.session()?;
        Ok(display_url(&self.rest.url(&resource.path(session.api))))
    }

    /// The error for an answer that arrived but is not the shape Airflow's API documents.
    pub fn unreadable(&self, url: &str, what: &str, reason: &str) -> Failure {
        let error = RestError::Body {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        self.rest.explain(error, what)
    }

    fn session(&self) -> Result<Arc<Session>, Failure> {
        let mut current = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(session) = current.as_ref() {
            return Ok(session.clone());
        }
        let (mut api, detected, from_memory) = match self.settings.forced {
            Some(api) => (api, false, false),
            // What an earlier run found for this URL: no round trip spent on asking again (a
            // 404 of the first call, after an upgrade, has it asked then).
            None => match self.remembered() {
                Some(api) => (api, true, true),
                None => {
                    let api = self.detect()?;
                    self.remember(api);
                    (api, true, false)
                }
            },
        };
        let session = match self.open(api, detected) {
            Ok(session) => Arc::new(session),
            // A memory gone stale may not even open (Airflow 2 issues no token): ask now.
            Err(_) if from_memory => {
                api = self.detect()?;
                self.remember(api);
                Arc::new(self.open(api, detected)?)
            }
            Err(e) => return Err(e),
        };
        self.journal_api(api, detected);
        *current = Some(session.clone());
        Ok(session)
    }

    /// Where the API found for each Airflow URL is kept between runs: beside the journal
    /// (`.ovscript/airflow-api.json`); nowhere for a run without one.
    fn memory(&self) -> Option<std::path::PathBuf> {
        let journal = self.shared.journal.path()?;
        Some(journal.parent()?.parent()?.join("airflow-api.json"))
    }

    /// The API an earlier run found at this URL.
    fn remembered(&self) -> Option<Api> {
        let text = std::fs::read_to_string(self.memory()?).ok()?;
        let known: serde_json::Map<String, Value> = serde_json::from_str(&text).ok()?;
        match known.get(&display_url(&self.settings.root))?.as_str()? {
            "v1" => Some(Api::V1),
            "v2" => Some(Api::V2),
            _ => None,
        }
    }

    /// Keeps the API found at this URL for the next runs; a file that cannot be written only
    /// costs them the question.
    fn remember(&self, api: Api) {
        let Some(path) = self.memory() else {
            return;
        };
        let mut known: serde_json::Map<String, Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let url = display_url(&self.settings.root);
        if known.get(&url).and_then(Value::as_str) == Some(api.name()) {
            return;
        }
        known.insert(url, Value::String(api.name().to_string()));
        let Ok(mut file) = tempfile::NamedTempFile::new_in(path.parent().unwrap_or(&path)) else {
            return;
        };
        let text = Value::Object(known).to_string();
        if std::io::Write::write_all(&mut file, text.as_bytes()).is_ok() {
            let _ = file.persist(&path);
        }
    }

    /// The API the run speaks, from its first call and whenever it changes.
    fn journal_api(&self, api: Api, detected: bool) {
        self.shared.journal.record(&Event::AirflowApi {
            api: api.name().to_string(),
            detected,
        });
    }

    /// A new session on `api` in place of `old`, unless another thread replaced `old` already.
    fn replace(&self, old: &Arc<Session>, api: Api) -> Result<Arc<Session>, Failure> {
        let mut current = self.session.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(session) = current.as_ref().filter(|s| !Arc::ptr_eq(s, old)) {
            return Ok(session.clone());
        }
        let session = Arc::new(self.open(api, old.detected)?);
        *current = Some(session.clone());
        Ok(session)
    }

    fn open(&self, api: Api, detected: bool) -> Result<Session, Failure> {
        let (auth, bearer) = match (&self.settings.credentials, api) {
            (None, _) => (Auth::None, false),
            (Some((user, password)), Api::V1) => (
                Auth::Basic {
                    user: user.clone(),
                    password: password.clone(),
                },
                false,
            ),
            (Some((user, password)), Api::V2) => (Auth::Bearer(self.token(user, password)?), true),
        };
        Ok(Session {
            api,
            auth,
            detected,
            bearer,
        })
    }

    /// Asks the server which API it has: Airflow 3's `/api/v2/version`, then Airflow 2's
    /// `/api/v1/version` (both answer without credentials). A 404 means "not this one"; any
    /// other failure is explained as it is.
    fn detect(&self) -> Result<Api, Failure> {
        let what = "asking which API it speaks";
        for api in [Api::V2, Api::V1] {
            match self.rest.get(&format!("{}/version", api.root())) {
                Ok(_) => return Ok(api),
                Err(RestError::Status { status: 404, .. }) => continue,
                Err(error) => return Err(self.rest.explain(error, what)),
            }
        }
        let root = display_url(&self.settings.root);
        let root = root.trim_end_matches('/');
        Err(Failure::new(format!(
            "{root} is not an Airflow API server: it answers 404 for both {root}/api/v2/version (Airflow 3) and {root}/api/v1/version (Airflow 2); check {URL_HINT}"
        )))
    }

    /// A JWT for the configured user from Airflow 3's `POST /auth/token`. It is a secret from
    /// the moment it arrives: the run's redactor hides it before anything could show it.
    fn token(&self, user: &str, password: &str) -> Result<String, Failure> {
        let what = format!("a token for user {user}");
        let body = json!({ "username": user, "password": password });
        let reply = match self.rest.send(Method::POST, "/auth/token", Some(&body)) {
            Ok(reply) => reply,
            // Only with `api = "v2"` set: a detected Airflow 3 has the route.
            Err(RestError::Status { status: 404, url, .. }) => {
                return Err(Failure::new(format!(
                    "{url} answered 404: this Airflow issues no tokens, so it is not Airflow 3; check `api` under [airflow] (OVSCRIPT_AIRFLOW_API), or leave it to `auto`"
                )))
            }
            Err(error) => return Err(self.rest.explain(error, &what)),
        };
        let answer = reply.json().map_err(|e| self.rest.explain(e, &what))?;
        let token = answer["access_token"]
            .as_str()
            .filter(|token| !token.is_empty())
            .ok_or_else(|| self.unreadable(&reply.url, &what, "no `access_token` in the answer"))?;
        self.shared.redactor.add(token);
        Ok(token.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_has_its_paths() {
        assert_eq!(
            Resource::Api("/dags/~/dagRuns?state=running").path(Api::V1),
            "/api/v1/dags/~/dagRuns?state=running"
        );
        assert_eq!(
            Resource::Api("/dags/~/dagRuns?state=running").path(Api::V2),
            "/api/v2/dags/~/dagRuns?state=running"
        );
        assert_eq!(Resource::Health.path(Api::V1), "/api/v1/health");
        assert_eq!(Resource::Health.path(Api::V2), "/api/v2/monitor/health");
    }
}

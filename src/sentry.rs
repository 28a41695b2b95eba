//! `sentry`: the unresolved issues of the configured project seen since a point in time, which
//! is how a runbook decides whether a deploy broke something.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Engine, Map};
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::DEFAULT_TIMEOUT_SECS;
use crate::context::Ctx;
use crate::engine::{describe, Objects};
use crate::error::{host_error, HostResult};
use crate::rest::{segment, Auth, Rest, RestError, Service};

const DEFAULT_URL: &str = "https://sentry.io";

/// The script object `sentry`; the HTTP client is built on first use, so a script that never
/// calls Sentry needs no Sentry settings.
#[derive(Clone)]
pub struct Sentry(Arc<SentryClient>);

struct SentryClient {
    ctx: Ctx,
    rest: OnceLock<Rest>,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Sentry>("Sentry");
    objects.insert(
        "sentry",
        Dynamic::from(Sentry(Arc::new(SentryClient {
            ctx: ctx.clone(),
            rest: OnceLock::new(),
        }))),
    );
    describe(
        "errors_since",
        &["sentry: Sentry", "since: &str", "Array"],
        "Unresolved issues of the project last seen since `since` (a duration like \"30m\" back from now, or an RFC 3339 time), all pages, as #{id, title, culprit, level, count, first_seen, last_seen, permalink}.",
        r#"let errors = sentry.errors_since(deployed_at);"#,
    )
    .register_into_engine(engine, |sentry: Sentry, since: &str| {
        sentry.errors_since(since)
    });
}

impl Sentry {
    fn ctx(&self) -> &Ctx {
        &self.0.ctx
    }

    fn rest(&self) -> HostResult<&Rest> {
        if let Some(rest) = self.0.rest.get() {
            return Ok(rest);
        }
        let rest = Rest::new(self.ctx().clone(), self.service()?)?;
        Ok(self.0.rest.get_or_init(|| rest))
    }

    fn service(&self) -> HostResult<Service> {
        let config = &self.ctx().config.sentry;
        let token = required(&config.token, "token", "OVSCRIPT_SENTRY_TOKEN")?;
        Ok(Service {
            name: "sentry",
            base_url: api_root(config.url.as_deref().unwrap_or(DEFAULT_URL)),
            auth: Auth::Bearer(token),
            credentials_hint: "OVSCRIPT_SENTRY_TOKEN (or `token` under [sentry]): the token needs the event:read scope",
            url_hint: "OVSCRIPT_SENTRY_URL (or `url` under [sentry])",
            timeout: Duration::from_secs(config.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)),
            headers: Vec::new(),
        })
    }

    fn errors_since(&self, since: &str) -> HostResult<Array> {
        let since = crate::when::since(since, Utc::now()).map_err(host_error)?;
        let config = &self.ctx().config.sentry;
        let org = required(&config.org, "org", "OVSCRIPT_SENTRY_ORG")?;
        let project = required(&config.project, "project", "OVSCRIPT_SENTRY_PROJECT")?;
        let rest = self.rest()?;
        let what = format!("Sentry project {org}/{project} (check OVSCRIPT_SENTRY_ORG and OVSCRIPT_SENTRY_PROJECT)");
        let mut errors = Array::new();
        for page in rest.pages(&issues_path(&org, &project)) {
            self.ctx().check_cancelled()?;
            let page = page.map_err(|e| rest.explain(e, &what))?;
            for issue in &page {
                let read = Issue::read(issue).map_err(|reason| {
                    rest.explain(
                        RestError::Body {
                            url: rest.url(&issues_path(&org, &project)),
                            reason,
                        },
                        &what,
                    )
                })?;
                // The project endpoint does not filter by time: the window is applied here.
                if read.last_seen >= since {
                    errors.push(Dynamic::from_map(read.into_map()));
                }
            }
        }
        Ok(errors)
    }
}

/// A setting the call cannot do without, or an error naming where to set it.
fn required(value: &Option<String>, key: &str, variable: &str) -> HostResult<String> {
    match value.as_deref().map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value.to_string()),
        _ => Err(host_error(format!(
            "Sentry is not configured: set {variable} or `{key}` under [sentry] in ovscript.toml"
        ))),
    }
}

/// The server root, whether the setting is `https://sentry.io` or `https://sentry.io/api/0/`.
fn api_root(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/api/0").unwrap_or(url).to_string()
}

/// Unresolved issues of one project, newest first (Sentry's default order).
fn issues_path(org: &str, project: &str) -> String {
    format!(
        "/api/0/projects/{}/{}/issues/?query=is%3Aunresolved",
        segment(org),
        segment(project)
    )
}

/// One issue as scripts see it.
#[derive(Debug, PartialEq)]
struct Issue {
    id: String,
    title: String,
    culprit: String,
    level: String,
    count: i64,
    first_seen: String,
    last_seen: DateTime<Utc>,
    last_seen_text: String,
    permalink: String,
}

impl Issue {
    /// Reads Sentry's issue JSON; `count` arrives as a string ("42") and becomes a number.
    fn read(issue: &Value) -> Result<Issue, String> {
        let text = |key: &str| match &issue[key] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let id = text("id");
        let count = match &issue["count"] {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| format!("issue {id} has no numeric count ({})", issue["count"]))?;
        let last_seen_text = text("lastSeen");
        let last_seen = DateTime::parse_from_rfc3339(&last_seen_text)
            .map_err(|_| format!("issue {id} has no readable lastSeen ({})", issue["lastSeen"]))?
            .with_timezone(&Utc);
        Ok(Issue {
            title: text("title"),
            culprit: text("culprit"),
            level: text("level"),
            count,
            first_seen: text("firstSeen"),
            last_seen,
            last_seen_text,
            permalink: text("permalink"),
            id,
        })
    }

    fn into_map(self) -> Map {
        let mut map = Map::new();
        map.insert("id".into(), self.id.into());
        map.insert("title".into(), self.title.into());
        map.insert("culprit".into(), self.culprit.into());
        map.insert("level".into(), self.level.into());
        map.insert("count".into(), self.count.into());
        map.insert("first_seen".into(), self.first_seen.into());
        map.insert("last_seen".into(), self.last_seen_text.into());
        map.insert("permalink".into(), self.permalink.into());
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_issue_gets_a_numeric_count_and_its_times() {
        let issue = Issue::read(&json!({
            "id": "4512", "shortId": "OPENVERSE-API-1", "title": "KeyError: 'url'",
            "culprit": "api.views.search", "level": "error", "count": "1337",
            "firstSeen": "2024-05-01T11:00:00.123456Z", "lastSeen": "2024-05-01T12:05:00Z",
            "permalink": "https://sentry.io/organizations/o/issues/4512/"
        }))
        .unwrap();
        assert_eq!(issue.count, 1337);
        assert_eq!(issue.first_seen, "2024-05-01T11:00:00.123456Z");
        assert_eq!(issue.last_seen.to_rfc3339(), "2024-05-01T12:05:00+00:00");
        let map = issue.into_map();
        assert_eq!(map["count"].as_int(), Ok(1337));
        assert_eq!(map["last_seen"].to_string(), "2024-05-01T12:05:00Z");
        assert_eq!(map.len(), 8);
    }

    #[test]
    fn an_unreadable_issue_is_named() {
        let err = Issue::read(&json!({"id": "7", "count": "many", "lastSeen": "2024-05-01T12:00:00Z"}))
            .unwrap_err();
        assert!(err.contains("issue 7") && err.contains("many"), "{err}");
        let err = Issue::read(&json!({"id": "8", "count": 3, "lastSeen": "yesterday"})).unwrap_err();
        assert!(err.contains("issue 8") && err.contains("lastSeen"), "{err}");
    }

    #[test]
    fn the_api_root_is_found_either_way() {
        assert_eq!(api_root("https://sentry.io/"), "https://sentry.io");
        assert_eq!(api_root("https://sentry.io/api/0/"), "https://sentry.io");
        assert_eq!(
            issues_path("open verse", "api"),
            "/api/0/projects/open%20verse/api/issues/?query=is%3Aunresolved"
        );
    }
}

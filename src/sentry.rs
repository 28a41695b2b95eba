//! `sentry`: the unresolved issues of the configured project seen since a point in time, which
//! is how a runbook decides whether a deploy broke something.

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use serde_json::Value;
use std::sync::Arc;

use crate::config::given;
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::objects::Objects;
use crate::rest::{segment, Auth, LazyRest, Rest, RestError, Service, Shared};

const DEFAULT_URL: &str = "https://sentry.io";

/// The script object `sentry`; the HTTP client is built on first use, so a script that never
/// calls Sentry needs no Sentry settings.
#[derive(Clone)]
pub struct Sentry(Arc<SentryClient>);

struct SentryClient {
    ctx: Ctx,
    rest: LazyRest,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Sentry>("Sentry");
    objects.insert(
        "sentry",
        Dynamic::from(Sentry(Arc::new(SentryClient {
            ctx: ctx.clone(),
            rest: LazyRest::default(),
        }))),
    );
    engine.register_global_module(rhai::exported_module!(sentry_api).into());
}

/// The `sentry` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod sentry_api {
    use super::*;

    /// Unresolved issues of the project last seen since `since` (a duration like "30m" back from
    /// now, or an RFC 3339 time), all pages, as #{id, title, culprit, level, count, first_seen,
    /// last_seen, permalink}.
    ///
    /// ```rhai
    /// let errors = sentry.errors_since(deployed_at);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn errors_since(sentry: Sentry, since: &str) -> HostResult<Array> {
        sentry.errors_since(since, None)
    }

    /// The same for another project of the organization (its slug), e.g. the ingestion server's.
    ///
    /// ```rhai
    /// let errors = sentry.errors_since(began, "openverse-ingestion-server");
    /// ```
    #[rhai_fn(return_raw, name = "errors_since")]
    pub fn errors_since_in_project(
        sentry: Sentry,
        since: &str,
        project: &str,
    ) -> HostResult<Array> {
        sentry.errors_since(since, Some(project))
    }
}

impl Sentry {
    fn ctx(&self) -> &Ctx {
        &self.0.ctx
    }

    /// The organization and project slugs.
    fn project(&self) -> HostResult<(String, String)> {
        let config = &self.ctx().config.sentry;
        check_settings(config)?;
        let slug = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_string();
        Ok((slug(&config.org), slug(&config.project)))
    }

    fn rest(&self) -> HostResult<&Rest> {
        let rest = self
            .0
            .rest
            .get(&Shared::of(self.ctx()), || Ok(self.service()))?;
        Ok(rest)
    }

    /// What `Rest` needs; `project()` has made sure that the token is set.
    fn service(&self) -> Service {
        let config = &self.ctx().config.sentry;
        let token = given(&config.token).unwrap_or_default();
        Service::configured(
            "sentry",
            config.url.as_deref(),
            DEFAULT_URL,
            "/api/0",
            config.timeout,
        )
        .with_auth(
            Auth::Bearer(token),
            &["token"],
            "the token needs the event:read scope",
        )
    }

    fn errors_since(&self, since: &str, project: Option<&str>) -> HostResult<Array> {
        let now = Utc::now();
        let since = crate::when::since(since, now).map_err(host_error)?;
        let (org, configured) = self.project()?;
        let project = project
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map_or(configured, str::to_string);
        let rest = self.rest()?;
        let path = issues_path(&org, &project, since, now);
        let mut errors = Array::new();
        for page in rest.pages(&path) {
            self.ctx().check_cancelled()?;
            let page = page.map_err(|e| self.explain(rest, e, &org, &project))?;
            for issue in &page {
                let issue = Issue::read(issue).map_err(|reason| {
                    let url = rest.url(&path);
                    self.explain(rest, RestError::Body { url, reason }, &org, &project)
                })?;
                // The server filters too; these checks keep the answer right should it not
                // (a search that ignores `projectSlug`, a window wider than asked).
                if issue.is_of(&project) && issue.last_seen >= since {
                    errors.push(Dynamic::from_map(issue.into_map()));
                }
            }
        }
        Ok(errors)
    }

    /// The issue search answers 403 for a project the token cannot see, including one that does
    /// not exist: the message names both settings.
    fn explain(
        &self,
        rest: &Rest,
        error: RestError,
        org: &str,
        project: &str,
    ) -> Box<EvalAltResult> {
        if let RestError::Status {
            status: 403,
            method,
            url,
            detail,
        } = &error
        {
            return host_error(self.ctx().redact(&format!(
                "sentry refused access to project {org}/{project} (HTTP 403 for {method} {url}: {detail}): check that OVSCRIPT_SENTRY_PROJECT (`project` under [sentry]) names a project of {org} and that OVSCRIPT_SENTRY_TOKEN may read it"
            )));
        }
        let what = format!(
            "the issues of Sentry project {org}/{project} (OVSCRIPT_SENTRY_ORG / OVSCRIPT_SENTRY_PROJECT)"
        );
        rest.explain(error, &what).into()
    }
}

/// The settings every call needs, or one error naming each one missing and where to set it.
fn check_settings(config: &crate::config::Sentry) -> HostResult<()> {
    let missing: Vec<&str> = [
        ("org", &config.org),
        ("project", &config.project),
        ("token", &config.token),
    ]
    .into_iter()
    .filter(|(_, value)| given(value).is_none())
    .map(|(key, _)| key)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(host_error(crate::config::not_configured(
        "Sentry", "sentry", &missing,
    )))
}

/// The organization's issue search (the project issues endpoint is deprecated and does not
/// filter by time): unresolved issues of one project seen between `since` and `now`. Times go
/// without an offset, in UTC, the form Sentry's documentation shows, to the microsecond: an `end`
/// cut to the second would leave out what happened in the last second.
const SENTRY_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

fn issues_path(org: &str, project: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("projectSlug", project)
        .append_pair("query", "is:unresolved")
        .append_pair("start", &since.format(SENTRY_TIME).to_string())
        .append_pair("end", &now.format(SENTRY_TIME).to_string())
        .append_pair("limit", "100")
        .finish();
    format!("/api/0/organizations/{}/issues/?{query}", segment(org))
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
    /// The slug of the issue's project, when the answer says it.
    project: Option<String>,
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
            .map_err(|_| {
                format!(
                    "issue {id} has no readable lastSeen ({})",
                    issue["lastSeen"]
                )
            })?
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
            project: issue["project"]["slug"].as_str().map(str::to_string),
            id,
        })
    }

    fn is_of(&self, project: &str) -> bool {
        self.project.as_deref().is_none_or(|slug| slug == project)
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
        let err =
            Issue::read(&json!({"id": "7", "count": "many", "lastSeen": "2024-05-01T12:00:00Z"}))
                .unwrap_err();
        assert!(err.contains("issue 7") && err.contains("many"), "{err}");
        let err =
            Issue::read(&json!({"id": "8", "count": 3, "lastSeen": "yesterday"})).unwrap_err();
        assert!(err.contains("issue 8") && err.contains("lastSeen"), "{err}");
    }

    #[test]
    fn the_api_root_is_found_either_way() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert_eq!(
            issues_path("open verse", "api", at("2024-05-01T11:30:00.5Z"), at("2024-05-01T12:00:00Z")),
            "/api/0/organizations/open%20verse/issues/?projectSlug=api&query=is%3Aunresolved&start=2024-05-01T11%3A30%3A00.500000&end=2024-05-01T12%3A00%3A00.000000&limit=100"
        );
    }
}

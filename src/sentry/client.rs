//! A typed Sentry client: the unresolved issues of a project seen in a window, all pages. No
//! Rhai here: it answers with `model` types or a `Failure` that says what to do.

use chrono::{DateTime, Utc};

use super::model::Issue;
use crate::config::{given, not_configured};
use crate::error::Failure;
use crate::rest::{display_url, segment, Auth, Rest, RestError, Service, Shared};

const DEFAULT_URL: &str = "https://sentry.io";

pub struct Client {
    rest: Rest,
    org: String,
    /// The project `errors_since` reads unless told another.
    project: String,
}

impl Client {
    /// A client from `[sentry]`, which must give the organization, the project and the token:
    /// one failure names each one missing and where to set it.
    pub fn new(settings: &crate::config::Sentry, shared: Shared) -> Result<Client, Failure> {
        let setting = |key: &'static str, value: &Option<String>| (key, given(value));
        let settings_given = [
            setting("org", &settings.org),
            setting("project", &settings.project),
            setting("token", &settings.token),
        ];
        let missing: Vec<&str> = settings_given
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(key, _)| *key)
            .collect();
        let [(_, Some(org)), (_, Some(project)), (_, Some(token))] = settings_given else {
            return Err(Failure::new(not_configured("Sentry", "sentry", &missing)));
        };
        let service = Service::configured(
            "sentry",
            settings.url.as_deref(),
            DEFAULT_URL,
            "/api/0",
            settings.timeout,
        )
        .with_auth(
            Auth::Bearer(token),
            &["token"],
            "the token needs the event:read scope",
        );
        Ok(Client {
            rest: Rest::new(shared, service)?,
            org: org.trim().to_string(),
            project: project.trim().to_string(),
        })
    }

    /// Unresolved issues of `project` (else the configured one) last seen between `since` and
    /// `now`, all pages, stopping at Ctrl-C between pages.
    pub fn errors_since(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        project: Option<&str>,
    ) -> Result<Vec<Issue>, Failure> {
        let project = project
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .unwrap_or(&self.project);
        let path = issues_path(&self.org, project, since, now);
        let mut errors = Vec::new();
        for page in self.rest.pages(&path) {
            self.rest.shared().check_cancelled()?;
            let page = page.map_err(|e| self.explain(e, project))?;
            for issue in &page {
                let issue = Issue::read(issue).map_err(|reason| {
                    let url = display_url(&self.rest.url(&path));
                    self.explain(RestError::Body { url, reason }, project)
                })?;
                // The server filters too; these checks keep the answer right should it not
                // (a search that ignores `projectSlug`, a window wider than asked).
                if issue.is_of(project) && issue.last_seen >= since {
                    errors.push(issue);
                }
            }
        }
        Ok(errors)
    }

    /// The issue search answers 403 for a project the token cannot see, including one that does
    /// not exist: the message names both settings.
    fn explain(&self, error: RestError, project: &str) -> Failure {
        let org = &self.org;
        if let RestError::Status {
            status: 403,
            method,
            url,
            detail,
        } = &error
        {
            return self.rest.shared().failure(format!(
                "sentry refused access to project {org}/{project} (HTTP 403 for {method} {url}: {detail}): check that OVSCRIPT_SENTRY_PROJECT (`project` under [sentry]) names a project of {org} and that OVSCRIPT_SENTRY_TOKEN may read it"
            ));
        }
        let what = format!(
            "the issues of Sentry project {org}/{project} (OVSCRIPT_SENTRY_ORG / OVSCRIPT_SENTRY_PROJECT)"
        );
        self.rest.explain(error, &what)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{NewIssue, Scenario, World};

    fn settings(world: &World) -> crate::config::Sentry {
        crate::config::Sentry {
            url: Some(world.sentry_url()),
            org: Some(world.sentry_org().to_string()),
            project: Some(world.sentry_project().to_string()),
            token: Some(world.credentials().sentry_token.clone()),
            timeout: Some(5),
        }
    }

    #[test]
    fn the_search_asks_for_one_projects_unresolved_issues_in_the_window() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert_eq!(
            issues_path("open verse", "api", at("2024-05-01T11:30:00.5Z"), at("2024-05-01T12:00:00Z")),
            "/api/0/organizations/open%20verse/issues/?projectSlug=api&query=is%3Aunresolved&start=2024-05-01T11%3A30%3A00.500000&end=2024-05-01T12%3A00%3A00.000000&limit=100"
        );
    }

    #[test]
    fn issues_seen_since_are_read_and_older_ones_left_out() {
        let world = World::start(Scenario::Calm).unwrap();
        let sentry = Client::new(&settings(&world), Shared::detached()).unwrap();
        let now = Utc::now();
        let before = sentry
            .errors_since(now - chrono::Duration::hours(1), now, None)
            .unwrap();
        let id = world.sentry_add_issue(NewIssue::new("KeyError: 'url'"));
        let now = Utc::now();
        let after = sentry
            .errors_since(now - chrono::Duration::hours(1), now, None)
            .unwrap();
        assert_eq!(after.len(), before.len() + 1);
        let new = after
            .iter()
            .find(|issue| issue.id == id)
            .expect("the new issue");
        assert!(new.count >= 1);
        assert!(new.last_seen <= Utc::now());
    }

    #[test]
    fn missing_settings_are_named_together() {
        let settings = crate::config::Sentry {
            org: Some("openverse".into()),
            ..Default::default()
        };
        let failure = Client::new(&settings, Shared::detached()).err().unwrap();
        assert_eq!(
            failure.message(),
            "Sentry is not configured: set OVSCRIPT_SENTRY_PROJECT or `project`, OVSCRIPT_SENTRY_TOKEN or `token` under [sentry] in ovscript.toml"
        );
    }

    #[test]
    fn a_project_the_token_cannot_see_names_both_settings() {
        let world = World::start(Scenario::Calm).unwrap();
        let sentry = Client::new(&settings(&world), Shared::detached()).unwrap();
        let now = Utc::now();
        let failure = sentry
            .errors_since(
                now - chrono::Duration::hours(1),
                now,
                Some("no-such-project"),
            )
            .unwrap_err();
        assert!(
            failure.message().contains("OVSCRIPT_SENTRY_PROJECT")
                && failure.message().contains("no-such-project"),
            "{failure}"
        );
    }
}

//! The fake Sentry: the issue lists of the web API (`/api/0/`) with bearer-token auth.
//!
//! What a client must get right, as with the real one:
//! - `GET /api/0/organizations/{org}/issues/` filters by time (`statsPeriod`, default `14d`, or
//!   `start` and `end`), by project (`project` ids, `-1` or none for all, or `projectSlug`) and by
//!   `query` (default `is:unresolved`);
//! - `GET /api/0/projects/{org}/{project}/issues/` does NOT filter by time: its `statsPeriod`
//!   (only `""`, `24h`, `14d`) picks the stats timeline, so old issues come back too;
//! - pages: `limit` (default and maximum 100) and a `Link` header with `rel="previous"` and
//!   `rel="next"`, each with `results="true|false"`; stop when next has `results="false"`;
//! - `count` is a string.
//!
//! The organization also has a second project with recent errors, and recently seen issues that
//! are resolved or ignored, so that a client that forgets a filter sees the wrong issues.

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};

use super::server::{Incoming, Reply};
use super::{Answer, Ctx, Faults, Scenario};

mod json;
mod query;

use json::*;
use query::*;

pub(crate) const ORG: &str = "openverse";
/// The project the runbooks watch.
pub(crate) const PROJECT: &str = "openverse-catalog";
/// Sentry's largest page.
pub(super) const MAX_PAGE: usize = 100;

pub(super) struct Project {
    pub(super) id: u64,
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
}

pub(super) const PROJECTS: &[Project] = &[
    Project {
        id: 6_340_571,
        slug: PROJECT,
        name: "Openverse Catalog",
    },
    Project {
        id: 6_340_568,
        slug: "openverse-api",
        name: "Openverse API",
    },
];

/// Old unresolved issues of the watched project: (title, culprit, level, days since last seen).
pub(super) const OLD_ISSUES: &[(&str, &str, &str, i64)] = &[
    (
        "AirflowTaskTimeout: Timeout, PID: 1932",
        "airflow.models.taskinstance in _execute_task",
        "error",
        3,
    ),
    (
        "HTTPError: 503 Server Error: Service Unavailable for url: https://api.si.edu/openaccess/api/v1.0/search",
        "providers.provider_api_scripts.smithsonian in get_response_json",
        "error",
        5,
    ),
    (
        "SMTPServerDisconnected: Connection unexpectedly closed",
        "airflow.utils.email in send_mime_email",
        "warning",
        9,
    ),
];

/// The errors of the `sentry-errors` scenario: (title, culprit).
pub(super) const NEW_ERRORS: &[(&str, &str)] = &[
    (
        "ProgrammingError: column \"standardized_popularity\" does not exist",
        "common.loader.sql in upsert_records_to_db_table",
    ),
    (
        "AttributeError: 'NoneType' object has no attribute 'get'",
        "providers.provider_api_scripts.flickr in _get_image_url",
    ),
];

/// An issue to add to the watched project with [`World::sentry_add_issue`](super::World::sentry_add_issue).
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub title: String,
    pub culprit: String,
    /// `error`, `warning`, `fatal`, `info`, `debug`.
    pub level: String,
    /// `unresolved`, `resolved` or `ignored`.
    pub status: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl NewIssue {
    /// An unresolved error first and last seen now.
    pub fn new(title: impl Into<String>) -> NewIssue {
        let now = Utc::now();
        NewIssue {
            title: title.into(),
            culprit: String::new(),
            level: "error".into(),
            status: "unresolved".into(),
            first_seen: now,
            last_seen: now,
        }
    }
}

/// When an issue was last seen: a fixed time, or "still happening" (the answer's time).
#[derive(Clone, Copy)]
pub(super) enum Seen {
    At(DateTime<Utc>),
    Live,
}

pub(super) struct Issue {
    pub(super) id: u64,
    pub(super) short_number: u64,
    pub(super) project: &'static Project,
    pub(super) title: String,
    pub(super) culprit: String,
    pub(super) level: String,
    pub(super) status: String,
    pub(super) first_seen: DateTime<Utc>,
    pub(super) last_seen: Seen,
    pub(super) count: u64,
    pub(super) users: u64,
}

impl Issue {
    /// The last time seen as of `now`, within a window that ends at `end`: a live issue has
    /// events all the time, so its last event in the window is the window's end or now.
    pub(super) fn last_seen(
        &self,
        now: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        match self.last_seen {
            Seen::At(t) => t,
            Seen::Live => end.map_or(now, |e| e.min(now)),
        }
    }
}

pub(crate) struct Sentry {
    issues: Vec<Issue>,
    page_cap: usize,
    started: DateTime<Utc>,
}

impl Sentry {
    pub(crate) fn new(scenario: Scenario, faults: &Faults, now: DateTime<Utc>) -> Sentry {
        let mut sentry = Sentry {
            issues: Vec::new(),
            page_cap: faults
                .sentry_page_cap
                .unwrap_or(MAX_PAGE)
                .clamp(1, MAX_PAGE),
            started: now,
        };
        sentry.seed_old(faults.sentry_old_issues.unwrap_or(OLD_ISSUES.len()), now);
        sentry.seed_noise(now);
        if scenario == Scenario::SentryErrors {
            for (title, culprit) in NEW_ERRORS {
                sentry.push(
                    &PROJECTS[0],
                    title,
                    culprit,
                    "error",
                    "unresolved",
                    (now, Seen::Live),
                    12,
                );
            }
        }
        sentry
    }

    /// Unresolved issues last seen days ago: never "since the deploy".
    pub(super) fn seed_old(&mut self, count: usize, now: DateTime<Utc>) {
        for i in 0..count {
            let (title, culprit, level, days) = match OLD_ISSUES.get(i) {
                Some(&(t, c, l, d)) => (t.to_string(), c.to_string(), l, d),
                None => (
                    format!("ValueError: stale batch {i} could not be parsed"),
                    "common.storage.media in _validate_filetype".to_string(),
                    "error",
                    2 + (i as i64 % 12),
                ),
            };
            let last = now - Span::days(days) - Span::minutes(i as i64);
            let first = last - Span::days(30);
            let count = 3 + (i as u64 * 7) % 50;
            self.push(
                &PROJECTS[0],
                &title,
                &culprit,
                level,
                "unresolved",
                (first, Seen::At(last)),
                count,
            );
        }
    }

    /// Recent issues a correct query leaves out: resolved, ignored, or of another project.
    pub(super) fn seed_noise(&mut self, now: DateTime<Utc>) {
        let recent = |minutes| Seen::At(now - Span::minutes(minutes));
        let catalog = &PROJECTS[0];
        let api = &PROJECTS[1];
        let month_ago = now - Span::days(31);
        self.push(
            catalog,
            "KeyError: 'foreign_landing_url'",
            "providers.provider_api_scripts.wikimedia_commons in get_record_data",
            "error",
            "resolved",
            (month_ago, recent(30)),
            41,
        );
        self.push(
            catalog,
            "SlowQuery: SELECT ... FROM image WHERE ... took 48.2s",
            "common.sql in run",
            "warning",
            "ignored",
            (month_ago, recent(20)),
            230,
        );
        self.push(
            api,
            "OperationalError: canceling statement due to statement timeout",
            "api.views.media_views in list",
            "error",
            "unresolved",
            (month_ago, recent(10)),
            1_204,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        project: &'static Project,
        title: &str,
        culprit: &str,
        level: &str,
        status: &str,
        (first_seen, last_seen): (DateTime<Utc>, Seen),
        count: u64,
    ) -> u64 {
        let id = 5_210_000_001 + self.issues.len() as u64;
        let short_number = 0x1F
            + self
                .issues
                .iter()
                .filter(|i| i.project.id == project.id)
                .count() as u64;
        self.issues.push(Issue {
            id,
            short_number,
            project,
            title: title.into(),
            culprit: culprit.into(),
            level: level.into(),
            status: status.into(),
            first_seen,
            last_seen,
            count,
            users: count.div_ceil(3),
        });
        id
    }

    /// Adds an issue to the watched project; returns its id.
    pub(crate) fn add(&mut self, issue: NewIssue) -> String {
        let seen = (issue.first_seen, Seen::At(issue.last_seen));
        let id = self.push(
            &PROJECTS[0],
            &issue.title,
            &issue.culprit,
            &issue.level,
            &issue.status,
            seen,
            1,
        );
        id.to_string()
    }

    pub(crate) fn handle(&mut self, ctx: &Ctx, req: &Incoming) -> Answer {
        let bearer = bearer_token(req);
        let authorized = bearer == Some(ctx.creds.sentry_token.as_str());
        if let Some(status) = ctx.faults.sentry_status {
            return Answer::new(detail(status, "Internal Error"), authorized);
        }
        let mut segments = req.segments();
        // Sentry's routes end in `/`; accept both forms.
        if segments.len() > 1 && segments.last().is_some_and(String::is_empty) {
            segments.pop();
        }
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        if req.method != "GET" {
            return Answer::new(
                detail(405, &format!("Method \"{}\" not allowed.", req.method)),
                authorized,
            );
        }
        if !authorized {
            let text = match bearer {
                None => "Authentication credentials were not provided.",
                Some(_) => "Invalid token",
            };
            return Answer::new(detail(401, text), false);
        }
        let reply = match segments.as_slice() {
            ["api", "0", "organizations", org] => self.organization(org),
            ["api", "0", "organizations", org, "projects"] => self.projects(org),
            ["api", "0", "organizations", org, "issues"] => self.org_issues(org, ctx, req),
            ["api", "0", "organizations", org, "issues", id] => {
                self.issue(Some(org), id, ctx.now, req)
            }
            ["api", "0", "issues", id] => self.issue(None, id, ctx.now, req),
            ["api", "0", "projects", org, slug] => self.project(org, slug),
            ["api", "0", "projects", org, slug, "issues"] => {
                self.project_issues(org, slug, ctx, req)
            }
            _ => Err(not_found()),
        };
        Answer::new(reply.unwrap_or_else(|e| e), true)
    }

    pub(super) fn organization(&self, org: &str) -> Result<Reply, Reply> {
        check_org(org)?;
        Ok(Reply::json(
            200,
            &json!({"id": "4505000", "slug": ORG, "name": "Openverse"}),
        ))
    }

    pub(super) fn projects(&self, org: &str) -> Result<Reply, Reply> {
        check_org(org)?;
        let list: Vec<Value> = PROJECTS.iter().map(project_json).collect();
        Ok(Reply::json(200, &Value::Array(list)))
    }

    pub(super) fn project(&self, org: &str, slug: &str) -> Result<Reply, Reply> {
        check_org(org)?;
        let project = PROJECTS
            .iter()
            .find(|p| p.slug == slug)
            .ok_or_else(not_found)?;
        Ok(Reply::json(200, &project_json(project)))
    }

    pub(super) fn issue(
        &self,
        org: Option<&str>,
        id: &str,
        now: DateTime<Utc>,
        req: &Incoming,
    ) -> Result<Reply, Reply> {
        if let Some(org) = org {
            check_org(org)?;
        }
        let issue = self
            .issues
            .iter()
            .find(|i| i.id.to_string() == id)
            .ok_or_else(not_found)?;
        Ok(Reply::json(
            200,
            &issue_json(issue, now, None, &req.base_url),
        ))
    }

    /// The organization's issue search: filtered by projects, time window and query.
    pub(super) fn org_issues(&self, org: &str, ctx: &Ctx, req: &Incoming) -> Result<Reply, Reply> {
        check_org(org)?;
        let projects = requested_projects(req)?;
        let (start, end) = time_window(req, ctx.now)?;
        let query = Query::parse(req.param("query").as_deref().unwrap_or("is:unresolved"))?;
        let lax = ctx.faults.sentry_ignores_filters;
        let issues: Vec<&Issue> = self
            .issues
            .iter()
            .filter(|i| lax || projects.iter().any(|p| p.id == i.project.id))
            .filter(|i| lax || (i.first_seen <= end && i.last_seen(ctx.now, Some(end)) >= start))
            .filter(|i| query.matches(i, ctx.now))
            .collect();
        self.page(issues, Some(end), ctx, req)
    }

    /// One project's issues: `statsPeriod` only picks the stats timeline, it filters nothing.
    pub(super) fn project_issues(
        &self,
        org: &str,
        slug: &str,
        ctx: &Ctx,
        req: &Incoming,
    ) -> Result<Reply, Reply> {
        check_org(org)?;
        let project = PROJECTS
            .iter()
            .find(|p| p.slug == slug)
            .ok_or_else(not_found)?;
        if let Some(period) = req.param("statsPeriod") {
            if !["", "24h", "14d"].contains(&period.as_str()) {
                return Err(detail(
                    400,
                    "Invalid stats_period. Valid choices are '', '24h', and '14d'",
                ));
            }
        }
        let query = Query::parse(req.param("query").as_deref().unwrap_or("is:unresolved"))?;
        let issues: Vec<&Issue> = self
            .issues
            .iter()
            .filter(|i| i.project.id == project.id && query.matches(i, ctx.now))
            .collect();
        self.page(issues, None, ctx, req)
    }

    /// Sorts (`sort`: `date` = last seen, default; `new` = first seen; `freq`; `user`), cuts
    /// the page the cursor points at, and adds the `Link` header.
    pub(super) fn page(
        &self,
        mut issues: Vec<&Issue>,
        end: Option<DateTime<Utc>>,
        ctx: &Ctx,
        req: &Incoming,
    ) -> Result<Reply, Reply> {
        let now = ctx.now;
        match req.param("sort").as_deref().unwrap_or("date") {
            "date" => issues.sort_by_key(|i| std::cmp::Reverse((i.last_seen(now, end), i.id))),
            "new" => issues.sort_by_key(|i| std::cmp::Reverse((i.first_seen, i.id))),
            "freq" => issues.sort_by_key(|i| std::cmp::Reverse((i.count, i.id))),
            "user" => issues.sort_by_key(|i| std::cmp::Reverse((i.users, i.id))),
            other => return Err(detail(400, &format!("Invalid sort: {other}"))),
        }
        let limit = match req.param("limit") {
            None => MAX_PAGE,
            Some(l) => l
                .parse::<usize>()
                .map_err(|_| detail(400, "invalid limit"))?,
        }
        .clamp(1, self.page_cap);
        let offset = match req.param("cursor") {
            None => 0,
            Some(c) => parse_cursor(&c).ok_or_else(|| detail(400, "Invalid cursor parameter."))?,
        };
        let total = issues.len();
        let page: Vec<Value> = issues
            .iter()
            .skip(offset)
            .take(limit)
            .map(|i| issue_json(i, now, end, &req.base_url))
            .collect();
        let link = link_header(req, offset, limit, total);
        Ok(Reply::json(200, &Value::Array(page))
            .with_header("Link", link)
            .with_header("X-Hits", total.to_string())
            .with_header("X-Max-Hits", total.to_string()))
    }

    pub(crate) fn started(&self) -> DateTime<Utc> {
        self.started
    }
}

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

use chrono::{DateTime, Duration as Span, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::server::{Incoming, Reply};
use super::{sentry_time, Answer, Ctx, Faults, Scenario};

pub(crate) const ORG: &str = "openverse";
/// The project the runbooks watch.
pub(crate) const PROJECT: &str = "openverse-catalog";
/// Sentry's largest page.
const MAX_PAGE: usize = 100;

struct Project {
    id: u64,
    slug: &'static str,
    name: &'static str,
}

const PROJECTS: &[Project] = &[
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
const OLD_ISSUES: &[(&str, &str, &str, i64)] = &[
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
const NEW_ERRORS: &[(&str, &str)] = &[
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
enum Seen {
    At(DateTime<Utc>),
    Live,
}

struct Issue {
    id: u64,
    short_number: u64,
    project: &'static Project,
    title: String,
    culprit: String,
    level: String,
    status: String,
    first_seen: DateTime<Utc>,
    last_seen: Seen,
    count: u64,
    users: u64,
}

impl Issue {
    /// The last time seen as of `now`, within a window that ends at `end`: a live issue has
    /// events all the time, so its last event in the window is the window's end or now.
    fn last_seen(&self, now: DateTime<Utc>, end: Option<DateTime<Utc>>) -> DateTime<Utc> {
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
    fn seed_old(&mut self, count: usize, now: DateTime<Utc>) {
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
    fn seed_noise(&mut self, now: DateTime<Utc>) {
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
    fn push(
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

    fn organization(&self, org: &str) -> Result<Reply, Reply> {
        check_org(org)?;
        Ok(Reply::json(
            200,
            &json!({"id": "4505000", "slug": ORG, "name": "Openverse"}),
        ))
    }

    fn projects(&self, org: &str) -> Result<Reply, Reply> {
        check_org(org)?;
        let list: Vec<Value> = PROJECTS.iter().map(project_json).collect();
        Ok(Reply::json(200, &Value::Array(list)))
    }

    fn project(&self, org: &str, slug: &str) -> Result<Reply, Reply> {
        check_org(org)?;
        let project = PROJECTS
            .iter()
            .find(|p| p.slug == slug)
            .ok_or_else(not_found)?;
        Ok(Reply::json(200, &project_json(project)))
    }

    fn issue(
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
    fn org_issues(&self, org: &str, ctx: &Ctx, req: &Incoming) -> Result<Reply, Reply> {
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
    fn project_issues(
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
    fn page(
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

/// The projects asked for: `project` ids (`-1` = all), or `projectSlug`s, or all.
fn requested_projects(req: &Incoming) -> Result<Vec<&'static Project>, Reply> {
    let ids = req.param_all("project");
    let slugs = req.param_all("projectSlug");
    if !ids.is_empty() && !slugs.is_empty() {
        return Err(detail(
            400,
            "You may only specify one of project or projectSlug",
        ));
    }
    if (ids.is_empty() && slugs.is_empty()) || ids.iter().any(|i| i == "-1") {
        return Ok(PROJECTS.iter().collect());
    }
    let forbidden = || detail(403, "You do not have permission to perform this action.");
    if !slugs.is_empty() {
        return slugs
            .iter()
            .map(|s| PROJECTS.iter().find(|p| p.slug == s).ok_or_else(forbidden))
            .collect();
    }
    ids.iter()
        .map(|i| {
            let id: u64 = i
                .parse()
                .map_err(|_| detail(400, "Invalid project parameter. Values must be numbers."))?;
            PROJECTS.iter().find(|p| p.id == id).ok_or_else(forbidden)
        })
        .collect()
}

/// The time window of an organization search: `statsPeriod` wins, else `start` and `end`
/// (both), else the last 14 days.
fn time_window(
    req: &Incoming,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Reply> {
    if let Some(period) = req.param("statsPeriod").filter(|p| !p.is_empty()) {
        let span = parse_period(&period)
            .ok_or_else(|| detail(400, &format!("Invalid statsPeriod: {period:?}")))?;
        return Ok((now - span, now));
    }
    match (req.param("start"), req.param("end")) {
        (None, None) => Ok((now - Span::days(14), now)),
        (Some(start), Some(end)) => {
            let parse = |s: &str| {
                parse_time(s)
                    .ok_or_else(|| detail(400, &format!("{s} is not a valid ISO8601 date query")))
            };
            Ok((parse(&start)?, parse(&end)?))
        }
        _ => Err(detail(400, "start and end are both required")),
    }
}

/// `30s`, `15m`, `1h`, `14d`, `2w`.
fn parse_period(text: &str) -> Option<Span> {
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    match unit {
        's' => Some(Span::seconds(n)),
        'm' => Some(Span::minutes(n)),
        'h' => Some(Span::hours(n)),
        'd' => Some(Span::days(n)),
        'w' => Some(Span::weeks(n)),
        _ => None,
    }
}

/// An ISO 8601 time with an offset, or without one (taken as UTC, as Sentry does).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(|t| t.and_utc())
}

/// The offset a cursor `value:offset:is_prev` points at.
fn parse_cursor(cursor: &str) -> Option<usize> {
    let mut parts = cursor.split(':');
    let (_value, offset, _prev) = (parts.next()?, parts.next()?, parts.next()?);
    offset.parse().ok()
}

/// `Link` as Sentry writes it: the request's URL with its query (minus `cursor`), then
/// `&cursor=...`, for `previous` and `next`.
fn link_header(req: &Incoming, offset: usize, limit: usize, total: usize) -> String {
    let params: Vec<(String, String)> = req
        .params()
        .into_iter()
        .filter(|(k, _)| k != "cursor")
        .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let url = format!("{}{}?{}", req.base_url, req.path, query);
    let one = |rel: &str, cursor: String, results: bool| {
        format!(
            "<{url}&cursor={cursor}>; rel=\"{rel}\"; results=\"{results}\"; cursor=\"{cursor}\""
        )
    };
    let previous = one(
        "previous",
        format!("0:{}:1", offset.saturating_sub(limit)),
        offset > 0,
    );
    let next = one(
        "next",
        format!("0:{}:0", offset + limit),
        offset + limit < total,
    );
    format!("{previous}, {next}")
}

/// The few search terms the fake understands: `is:`, `level:`, `firstSeen:`/`lastSeen:`/`age:`
/// with `-PERIOD` (within) or `+PERIOD` (older than), and free text (in the title). Other
/// `key:value` terms are ignored.
struct Query {
    status: Option<String>,
    level: Option<String>,
    seen: Vec<(bool, bool, Span)>,
    text: Vec<String>,
}

impl Query {
    fn parse(query: &str) -> Result<Query, Reply> {
        let mut q = Query {
            status: None,
            level: None,
            seen: Vec::new(),
            text: Vec::new(),
        };
        for term in query.split_whitespace() {
            let Some((key, value)) = term.split_once(':') else {
                q.text.push(term.to_lowercase());
                continue;
            };
            match key {
                "is" => {
                    q.status = Some(if value == "archived" {
                        "ignored".into()
                    } else {
                        value.into()
                    })
                }
                "level" => q.level = Some(value.into()),
                "firstSeen" | "lastSeen" | "age" => {
                    let (within, period) = match value.split_at_checked(1) {
                        Some(("-", p)) => (true, p),
                        Some(("+", p)) => (false, p),
                        _ => {
                            return Err(detail(
                                400,
                                &format!("Invalid date value for {key}: {value}"),
                            ))
                        }
                    };
                    let span = parse_period(period).ok_or_else(|| {
                        detail(400, &format!("Invalid date value for {key}: {value}"))
                    })?;
                    q.seen.push((key == "lastSeen", within, span));
                }
                _ => {}
            }
        }
        Ok(q)
    }

    fn matches(&self, issue: &Issue, now: DateTime<Utc>) -> bool {
        let status_ok = self.status.as_ref().is_none_or(|s| *s == issue.status);
        let level_ok = self.level.as_ref().is_none_or(|l| *l == issue.level);
        let seen_ok = self.seen.iter().all(|&(last, within, span)| {
            let t = if last {
                issue.last_seen(now, None)
            } else {
                issue.first_seen
            };
            (t >= now - span) == within
        });
        let title = issue.title.to_lowercase();
        let text_ok = self.text.iter().all(|w| title.contains(w.as_str()));
        status_ok && level_ok && seen_ok && text_ok
    }
}

fn check_org(org: &str) -> Result<(), Reply> {
    if org == ORG {
        Ok(())
    } else {
        Err(not_found())
    }
}

fn bearer_token(req: &Incoming) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn detail(status: u16, text: &str) -> Reply {
    Reply::json(status, &json!({"detail": text}))
}

fn not_found() -> Reply {
    detail(404, "The requested resource does not exist")
}

fn project_json(p: &Project) -> Value {
    json!({"id": p.id.to_string(), "slug": p.slug, "name": p.name, "platform": "python"})
}

/// Sentry's base-36 short id suffix (`OPENVERSE-CATALOG-1F`).
fn short_id(issue: &Issue) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let (mut n, mut suffix) = (issue.short_number, Vec::new());
    loop {
        suffix.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    suffix.reverse();
    format!(
        "{}-{}",
        issue.project.slug.to_uppercase(),
        String::from_utf8_lossy(&suffix)
    )
}

/// An issue as the lists show it; `base` is the server's URL (the permalink points at the fake,
/// in the self-hosted form `{base}/organizations/{org}/issues/{id}/`).
fn issue_json(issue: &Issue, now: DateTime<Utc>, end: Option<DateTime<Utc>>, base: &str) -> Value {
    let (kind, value) = issue.title.split_once(": ").unwrap_or((&issue.title, ""));
    let substatus = match issue.status.as_str() {
        "resolved" => Value::Null,
        "ignored" => json!("archived_until_escalating"),
        _ if now - issue.first_seen < Span::days(7) => json!("new"),
        _ => json!("ongoing"),
    };
    json!({
        "annotations": [],
        "assignedTo": null,
        "count": issue.count.to_string(),
        "culprit": issue.culprit,
        "firstSeen": sentry_time(issue.first_seen),
        "hasSeen": false,
        "id": issue.id.to_string(),
        "isBookmarked": false,
        "isPublic": false,
        "isSubscribed": false,
        "isUnhandled": issue.level == "error",
        "issueCategory": "error",
        "issueType": "error",
        "lastSeen": sentry_time(issue.last_seen(now, end)),
        "level": issue.level,
        "logger": null,
        "metadata": {"type": kind, "value": value},
        "numComments": 0,
        "permalink": format!("{base}/organizations/{ORG}/issues/{}/", issue.id),
        "platform": "python",
        "priority": if issue.level == "error" { "high" } else { "medium" },
        "project": project_json(issue.project),
        "shareId": null,
        "shortId": short_id(issue),
        "status": issue.status,
        "statusDetails": {},
        "subscriptionDetails": null,
        "substatus": substatus,
        "title": issue.title,
        "type": "error",
        "userCount": issue.users,
    })
}

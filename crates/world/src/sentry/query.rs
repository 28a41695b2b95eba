//! What a request asks of the fake Sentry: projects, time window, cursor, query.

use crate::server::{Incoming, Reply};
use chrono::{DateTime, Duration as Span, NaiveDateTime, Utc};

use super::*;

/// The projects asked for: `project` ids (`-1` = all), or `projectSlug`s, or all.
pub(super) fn requested_projects(req: &Incoming) -> Result<Vec<&'static Project>, Reply> {
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
pub(super) fn time_window(
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
pub(super) fn parse_period(text: &str) -> Option<Span> {
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
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
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
pub(super) fn parse_cursor(cursor: &str) -> Option<usize> {
    let mut parts = cursor.split(':');
    let (_value, offset, _prev) = (parts.next()?, parts.next()?, parts.next()?);
    offset.parse().ok()
}

/// `Link` as Sentry writes it: the request's URL with its query (minus `cursor`), then
/// `&cursor=...`, for `previous` and `next`.
pub(super) fn link_header(req: &Incoming, offset: usize, limit: usize, total: usize) -> String {
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
pub(super) struct Query {
    pub(super) status: Option<String>,
    pub(super) level: Option<String>,
    pub(super) seen: Vec<(bool, bool, Span)>,
    pub(super) text: Vec<String>,
}

impl Query {
    pub(super) fn parse(query: &str) -> Result<Query, Reply> {
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

    pub(super) fn matches(&self, issue: &Issue, now: DateTime<Utc>) -> bool {
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

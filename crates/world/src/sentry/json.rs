//! Sentry's answers: JSON shapes of issues and projects, errors, authentication.

use crate::sentry_time;
use crate::server::{Incoming, Reply};
use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};

use super::*;

pub(super) fn check_org(org: &str) -> Result<(), Reply> {
    if org == ORG {
        Ok(())
    } else {
        Err(not_found())
    }
}

pub(super) fn bearer_token(req: &Incoming) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(super) fn detail(status: u16, text: &str) -> Reply {
    Reply::json(status, &json!({"detail": text}))
}

pub(super) fn not_found() -> Reply {
    detail(404, "The requested resource does not exist")
}

pub(super) fn project_json(p: &Project) -> Value {
    json!({"id": p.id.to_string(), "slug": p.slug, "name": p.name, "platform": "python"})
}

/// Sentry's base-36 short id suffix (`OPENVERSE-CATALOG-1F`).
pub(super) fn short_id(issue: &Issue) -> String {
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
pub(super) fn issue_json(
    issue: &Issue,
    now: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    base: &str,
) -> Value {
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

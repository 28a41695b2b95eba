//! Sentry's issues, as ovscript reads them and as scripts see them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// One issue as scripts see it: #{id, title, culprit, level, count, first_seen, last_seen,
/// permalink}.
#[derive(Debug, PartialEq, Serialize)]
pub struct Issue {
    pub id: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub count: i64,
    pub first_seen: String,
    /// `last_seen_text` read, for comparing.
    #[serde(skip)]
    pub last_seen: DateTime<Utc>,
    /// As Sentry wrote it.
    #[serde(rename = "last_seen")]
    pub last_seen_text: String,
    pub permalink: String,
    /// The slug of the issue's project, when the answer says it.
    #[serde(skip)]
    pub project: Option<String>,
}

impl Issue {
    /// Reads Sentry's issue JSON; `count` arrives as a string ("42") and becomes a number.
    pub fn read(issue: &Value) -> Result<Issue, String> {
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

    pub fn is_of(&self, project: &str) -> bool {
        self.project.as_deref().is_none_or(|slug| slug == project)
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
        let seen = serde_json::to_value(&issue).unwrap();
        assert_eq!(seen["count"], 1337);
        assert_eq!(seen["last_seen"], "2024-05-01T12:05:00Z");
        assert_eq!(seen.as_object().unwrap().len(), 8);
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
}

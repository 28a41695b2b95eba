//! GitHub's answers, typed where ovscript decides something by them; every other field GitHub
//! sends is kept under its own name, so that a script sees a release or a pull request as GitHub
//! shows it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::rest::segment;

/// A release (`GET /repos/{owner}/{repo}/releases`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub id: i64,
    pub tag_name: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
    /// The image tag a rollback goes back to (`rel-` and the tag's date part): ovscript's own,
    /// on the latest published release only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_tag: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Release {
    /// `created_at` or `published_at` as a time; unreadable or missing is none.
    pub fn time(&self, published: bool) -> Option<DateTime<Utc>> {
        let text = if published {
            &self.published_at
        } else {
            &self.created_at
        };
        let time = DateTime::parse_from_rfc3339(text.as_deref()?).ok()?;
        Some(time.with_timezone(&Utc))
    }
}

/// A pull request (`GET /repos/{owner}/{repo}/pulls`, `POST .../pulls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: i64,
    pub html_url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub head: Branch,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A pull request's head: its branch name and everything else GitHub says of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    #[serde(rename = "ref", default)]
    pub name: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `owner/name`, as scripts and settings write a repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    pub fn parse(text: &str) -> Result<Repo, String> {
        match text.trim().split_once('/') {
            Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => Ok(Repo {
                owner: owner.to_string(),
                name: name.to_string(),
            }),
            _ => Err(format!(
                "`{text}` is not a repository: write it as owner/name, e.g. WordPress/openverse-infrastructure"
            )),
        }
    }

    /// `/repos/{owner}/{name}`, ready for a sub-path.
    pub fn path(&self) -> String {
        format!("/repos/{}/{}", segment(&self.owner), segment(&self.name))
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// The Docker image tag of a release: `rel-` and the date part of its tag
/// (`ingestion_server-2023.07.03.17.52.00` -> `rel-2023.07.03.17.52.00`).
pub fn rollback_tag(tag: &str) -> String {
    let date = tag.rsplit_once('-').map_or(tag, |(_, date)| date);
    format!("rel-{date}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rollback_tags_keep_the_date_part() {
        assert_eq!(
            rollback_tag("catalog-2023.07.03.17.52.00"),
            "rel-2023.07.03.17.52.00"
        );
        assert_eq!(
            rollback_tag("ingestion_server-2024.05.01.12.00.00"),
            "rel-2024.05.01.12.00.00"
        );
    }

    #[test]
    fn repositories_are_owner_slash_name() {
        let repo = Repo::parse("WordPress/openverse").unwrap();
        assert_eq!(repo.to_string(), "WordPress/openverse");
        assert_eq!(repo.path(), "/repos/WordPress/openverse");
        for bad in ["openverse", "/openverse", "WordPress/", "a/b/c"] {
            assert!(
                Repo::parse(bad).unwrap_err().contains("owner/name"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_release_keeps_every_field_github_sent() {
        let sent = json!({
            "id": 7, "tag_name": "catalog-2024.05.01.12.00.00", "draft": true,
            "prerelease": false, "created_at": "2024-05-01T12:00:00Z", "published_at": null,
            "html_url": "https://github.com/o/r/releases/7", "body": "notes",
            "author": { "login": "openverse-bot" }
        });
        let release: Release = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(
            release.time(false).unwrap().to_rfc3339(),
            "2024-05-01T12:00:00+00:00"
        );
        assert_eq!(release.time(true), None);
        assert_eq!(serde_json::to_value(&release).unwrap(), sent);
    }

    #[test]
    fn a_pull_request_keeps_its_head_and_the_rest() {
        let sent = json!({
            "number": 4, "html_url": "https://github.com/o/r/pull/4",
            "title": "Publish changelog for catalog-x", "state": "open",
            "head": { "ref": "changelog/catalog-x", "sha": "abc" }
        });
        let pr: PullRequest = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(pr.head.name, "changelog/catalog-x");
        assert_eq!(serde_json::to_value(&pr).unwrap(), sent);
    }
}

//! GitHub's JSON shapes of repositories, releases, pull requests, reviews and users.

use serde_json::{json, Value};

use super::*;

pub(super) fn user_json(login: &str) -> Value {
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({
        "login": login,
        "id": 1_000_000 + login.len() as u64,
        "type": kind,
        "html_url": format!("https://github.com/{login}"),
    })
}

pub(super) fn repo_json(repo: &Repo, base: &str) -> Value {
    let name = repo.full_name.split('/').nth(1).unwrap_or_default();
    json!({
        "id": repo.id,
        "name": name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": {"login": repo.owner(), "type": "Organization"},
        "html_url": format!("https://github.com/{}", repo.full_name),
        "url": format!("{base}/repos/{}", repo.full_name),
        "default_branch": "main",
    })
}

pub(super) fn release_json(repo: &Repo, r: &Release, base: &str) -> Value {
    let api = format!("{base}/repos/{}/releases/{}", repo.full_name, r.id);
    // A draft has no tag yet: its page is `untagged-<hash>`, and it has no archives.
    let html_url = if r.draft {
        format!(
            "https://github.com/{}/releases/tag/untagged-{}",
            repo.full_name,
            &sha(&r.id.to_string())[..20]
        )
    } else {
        format!(
            "https://github.com/{}/releases/tag/{}",
            repo.full_name, r.tag
        )
    };
    let archive = |kind: &str| {
        (!r.draft).then(|| format!("{base}/repos/{}/{kind}/{}", repo.full_name, r.tag))
    };
    json!({
        "url": api,
        "assets_url": format!("{api}/assets"),
        "upload_url": format!("https://uploads.github.com/repos/{}/releases/{}/assets{{?name,label}}", repo.full_name, r.id),
        "html_url": html_url,
        "id": r.id,
        "author": user_json(BOT),
        "node_id": format!("RE_kwDOBIP7Lc4{}", r.id),
        "tag_name": r.tag,
        "target_commitish": "main",
        "name": r.tag,
        "draft": r.draft,
        "prerelease": false,
        "created_at": github_time(r.created_at),
        "published_at": r.published_at.map(github_time),
        "assets": [],
        "tarball_url": archive("tarball"),
        "zipball_url": archive("zipball"),
        "body": r.body,
    })
}

pub(super) fn pull_json(repo: &Repo, p: &Pull, base: &str) -> Value {
    let api = format!("{base}/repos/{}/pulls/{}", repo.full_name, p.number);
    let owner = repo.owner();
    let labels: Vec<Value> = p
        .labels
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": 2_900_000_000u64 + i as u64, "name": name, "color": "ededed", "default": false, "description": null}))
        .collect();
    let branch = |name: &str| {
        json!({
            "label": format!("{owner}:{name}"),
            "ref": name,
            "sha": sha(&format!("{}:{name}", repo.full_name)),
            "user": {"login": owner, "type": "Organization"},
            "repo": {"id": repo.id, "full_name": repo.full_name, "private": repo.private},
        })
    };
    let closed_at = p.merged_at.map(github_time);
    let updated = p
        .reviews
        .last()
        .map_or(p.merged_at.unwrap_or(p.created_at), |r| r.submitted_at);
    json!({
        "url": api,
        "id": 1_800_000_000u64 + p.number,
        "node_id": format!("PR_kwDOBIP7Lc5{}", p.number),
        "html_url": format!("https://github.com/{}/pull/{}", repo.full_name, p.number),
        "number": p.number,
        "state": if p.open { "open" } else { "closed" },
        "locked": false,
        "title": p.title,
        "user": user_json(&p.user),
        "body": p.body,
        "labels": labels,
        "created_at": github_time(p.created_at),
        "updated_at": github_time(updated),
        "closed_at": closed_at,
        "merged_at": closed_at,
        "draft": false,
        "head": branch(&p.head),
        "base": branch(&p.base),
        "author_association": if p.user == BOT || p.user == OPERATOR { "MEMBER" } else { "CONTRIBUTOR" },
    })
}

pub(super) fn review_json(repo: &Repo, p: &Pull, r: &Review, base: &str) -> Value {
    let html = format!(
        "https://github.com/{}/pull/{}#pullrequestreview-{}",
        repo.full_name, p.number, r.id
    );
    let pull_url = format!("{base}/repos/{}/pulls/{}", repo.full_name, p.number);
    json!({
        "id": r.id,
        "node_id": format!("PRR_kwDOBIP7Lc6{}", r.id),
        "user": user_json(OPERATOR),
        "body": r.body,
        "state": r.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "author_association": "MEMBER",
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": (r.state != "PENDING").then(|| github_time(r.submitted_at)),
        "commit_id": sha(&format!("{}:{}", repo.full_name, p.head)),
    })
}

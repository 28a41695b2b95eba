//! The fake GitHub REST API: releases, pull requests and reviews, workflow dispatches.
//!
//! As on github.com: a bad token is a 401 everywhere; without a token the public repository can
//! be read but shows no drafts, the private infrastructure repository does not exist (404), and
//! writes need authentication. Lists are newest first, `per_page` (default 30, at most 100) and
//! `page`, and the `Link` header points at `/repositories/{id}/...` URLs, which a client must
//! follow as given. `head=` on pull requests filters only in the `owner:branch` form; without
//! the owner GitHub ignores it and lists every open pull request.
//!
//! Publishing a draft release (`PATCH .../releases/{id}` with `draft: false`) starts, as the
//! Openverse workflow does, the changelog pull request `Publish changelog for {tag}` from branch
//! `changelog/{tag}`, labelled `skip-changelog`.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::server::{Incoming, Reply};
use super::{github_time, Answer, Ctx, Faults};

mod json;
mod replies;
mod seed;

use json::*;
use replies::*;
use seed::*;

pub(crate) const REPO: &str = "WordPress/openverse";
pub(crate) const INFRA_REPO: &str = "WordPress/openverse-infrastructure";
pub(super) const DOCS: &str = "https://docs.github.com/rest";
/// The account of the release and changelog automation.
pub(super) const BOT: &str = "openverse-bot";
/// The account the rehearsal token belongs to.
pub(super) const OPERATOR: &str = "ovscript-rehearsal";
/// The first number a new pull request gets, per repository.
pub(super) const FIRST_NEW_PR: [u64; 2] = [4242, 900];
pub(super) const DEFAULT_PER_PAGE: usize = 30;
pub(super) const MAX_PER_PAGE: usize = 100;

pub(super) struct Release {
    pub(super) id: u64,
    pub(super) tag: String,
    pub(super) draft: bool,
    pub(super) body: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) published_at: Option<DateTime<Utc>>,
}

pub(super) struct Review {
    pub(super) id: u64,
    pub(super) state: &'static str,
    pub(super) body: String,
    pub(super) submitted_at: DateTime<Utc>,
}

pub(super) struct Pull {
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) user: String,
    pub(super) head: String,
    pub(super) base: String,
    pub(super) body: String,
    pub(super) labels: Vec<&'static str>,
    pub(super) open: bool,
    pub(super) merged_at: Option<DateTime<Utc>>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) reviews: Vec<Review>,
}

pub(super) struct Repo {
    pub(super) id: u64,
    pub(super) full_name: &'static str,
    pub(super) private: bool,
    pub(super) releases: Vec<Release>,
    pub(super) pulls: Vec<Pull>,
    pub(super) next_number: u64,
}

impl Repo {
    fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or_default()
    }

    fn pull(&self, number: &str) -> Option<usize> {
        self.pulls
            .iter()
            .position(|p| p.number.to_string() == number)
    }
}

/// Who is calling, from the `Authorization` header.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Caller {
    Token,
    Anonymous,
    BadToken,
}

pub(crate) struct GitHub {
    repos: Vec<Repo>,
    next_review_id: u64,
    approve_fails: bool,
    dispatches: Vec<Value>,
    opened: Vec<Value>,
    approved: Vec<u64>,
}

impl GitHub {
    pub(crate) fn new(faults: &Faults) -> GitHub {
        let main = Repo {
            id: 75_758_765,
            full_name: REPO,
            private: false,
            releases: seed_releases(),
            pulls: seed_pulls(),
            next_number: FIRST_NEW_PR[0],
        };
        let infra = Repo {
            id: 398_721_123,
            full_name: INFRA_REPO,
            private: true,
            releases: Vec::new(),
            pulls: vec![Pull {
                number: 880,
                title: "Deploy catalog rel-2024.04.01.12.00.00".into(),
                user: OPERATOR.into(),
                head: "deploy/catalog-rel-2024.04.01.12.00.00".into(),
                base: "main".into(),
                body: "Bumps `catalog-airflow` in production.".into(),
                labels: Vec::new(),
                open: false,
                merged_at: Some(at(2024, 4, 1, 13, 2)),
                created_at: at(2024, 4, 1, 12, 40),
                reviews: Vec::new(),
            }],
            next_number: FIRST_NEW_PR[1],
        };
        GitHub {
            repos: vec![main, infra],
            next_review_id: 2_010_000_001,
            approve_fails: faults.github_own_pr,
            dispatches: Vec::new(),
            opened: Vec::new(),
            approved: Vec::new(),
        }
    }

    pub(crate) fn release(&self, tag: &str, base: &str) -> Option<Value> {
        let repo = &self.repos[0];
        let release = repo.releases.iter().find(|r| r.tag == tag)?;
        Some(release_json(repo, release, base))
    }

    /// The tag of the newest draft whose tag starts with `prefix`.
    pub(crate) fn draft_tag(&self, prefix: &str) -> Option<String> {
        let repo = &self.repos[0];
        let drafts = repo
            .releases
            .iter()
            .filter(|r| r.draft && r.tag.starts_with(prefix));
        drafts.max_by_key(|r| r.created_at).map(|r| r.tag.clone())
    }

    pub(crate) fn approved(&self) -> Vec<u64> {
        self.approved.clone()
    }

    pub(crate) fn dispatches(&self) -> Vec<Value> {
        self.dispatches.clone()
    }

    pub(crate) fn opened(&self) -> Vec<Value> {
        self.opened.clone()
    }

    pub(crate) fn handle(&mut self, ctx: &Ctx, req: &Incoming) -> Answer {
        let caller = caller(req, &ctx.creds.github_token);
        let authorized = caller == Caller::Token;
        if caller == Caller::BadToken {
            return Answer::new(message(401, "Bad credentials", DOCS), false);
        }
        if let Some(status) = ctx.faults.github_status {
            return Answer::new(message(status, "Server Error", DOCS), authorized);
        }
        let segments = req.segments();
        let mut segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        if segments.len() > 1 && segments.last() == Some(&"") {
            segments.pop();
        }
        let (reply, change) = self
            .route(&req.method, &segments, caller, ctx, req)
            .unwrap_or_else(|e| (e, None));
        Answer {
            reply,
            authorized,
            change,
        }
    }

    fn route(
        &mut self,
        method: &str,
        segments: &[&str],
        caller: Caller,
        ctx: &Ctx,
        req: &Incoming,
    ) -> Outcome {
        match (method, segments) {
            ("GET", ["user"]) => match caller {
                Caller::Token => read(Reply::json(200, &user_json(OPERATOR))),
                _ => Err(message(401, "Requires authentication", DOCS)),
            },
            ("GET", ["repositories", id, rest @ ..]) => {
                let i = self.repo_by_id(id, caller)?;
                self.read_repo(i, rest, caller, req)
            }
            ("GET", ["repos", owner, name, rest @ ..]) => {
                let i = self.repo(owner, name, caller)?;
                self.read_repo(i, rest, caller, req)
            }
            (_, ["repos", owner, name, rest @ ..]) => {
                let i = self.repo(owner, name, caller)?;
                if caller != Caller::Token {
                    return Err(message(401, "Requires authentication", DOCS));
                }
                self.write_repo(i, method, rest, ctx, req)
            }
            _ => Err(not_found()),
        }
    }

    fn read_repo(&self, i: usize, rest: &[&str], caller: Caller, req: &Incoming) -> Outcome {
        let repo = &self.repos[i];
        let base = &req.base_url;
        match rest {
            [] => read(Reply::json(200, &repo_json(repo, base))),
            ["releases"] => self.list_releases(repo, caller, req),
            ["releases", "latest"] => {
                let latest = repo
                    .releases
                    .iter()
                    .filter(|r| !r.draft)
                    .max_by_key(|r| (r.created_at, r.id))
                    .ok_or_else(not_found)?;
                read(Reply::json(200, &release_json(repo, latest, base)))
            }
            ["releases", "tags", tag] => {
                // A draft has no tag yet: GitHub does not find it by tag.
                let release = repo
                    .releases
                    .iter()
                    .find(|r| !r.draft && r.tag == *tag)
                    .ok_or_else(not_found)?;
                read(Reply::json(200, &release_json(repo, release, base)))
            }
            ["releases", id] => {
                let release = repo
                    .releases
                    .iter()
                    .find(|r| r.id.to_string() == *id && (!r.draft || caller == Caller::Token))
                    .ok_or_else(not_found)?;
                read(Reply::json(200, &release_json(repo, release, base)))
            }
            ["pulls"] => self.list_pulls(repo, req),
            ["pulls", number] => {
                let p = repo.pull(number).ok_or_else(not_found)?;
                read(Reply::json(200, &pull_json(repo, &repo.pulls[p], base)))
            }
            ["pulls", number, "reviews"] => {
                let p = repo.pull(number).ok_or_else(not_found)?;
                let pull = &repo.pulls[p];
                let reviews: Vec<Value> = pull
                    .reviews
                    .iter()
                    .map(|r| review_json(repo, pull, r, base))
                    .collect();
                read(Reply::json(200, &Value::Array(reviews)))
            }
            _ => Err(not_found()),
        }
    }

    fn write_repo(
        &mut self,
        i: usize,
        method: &str,
        rest: &[&str],
        ctx: &Ctx,
        req: &Incoming,
    ) -> Outcome {
        let now = ctx.now;
        match (method, rest) {
            ("PATCH", ["releases", id]) => {
                let retag = ctx.faults.published_tag.as_deref();
                self.update_release(i, id, now, retag, req)
            }
            ("POST", ["pulls"]) => self.create_pull(i, now, req),
            ("POST", ["pulls", number, "reviews"]) => self.create_review(i, number, now, req),
            ("POST", ["actions", "workflows", workflow, "dispatches"]) => {
                self.dispatch(i, workflow, req)
            }
            _ => Err(not_found()),
        }
    }

    /// The repository `owner/name` (case-insensitive, as GitHub); a private one is invisible
    /// without a token.
    fn repo(&self, owner: &str, name: &str, caller: Caller) -> Result<usize, Reply> {
        let full = format!("{owner}/{name}");
        let i = self
            .repos
            .iter()
            .position(|r| r.full_name.eq_ignore_ascii_case(&full))
            .ok_or_else(not_found)?;
        visible(&self.repos[i], caller)
            .then_some(i)
            .ok_or_else(not_found)
    }

    fn repo_by_id(&self, id: &str, caller: Caller) -> Result<usize, Reply> {
        let i = self
            .repos
            .iter()
            .position(|r| r.id.to_string() == id)
            .ok_or_else(not_found)?;
        visible(&self.repos[i], caller)
            .then_some(i)
            .ok_or_else(not_found)
    }

    fn list_releases(&self, repo: &Repo, caller: Caller, req: &Incoming) -> Outcome {
        let mut releases: Vec<&Release> = repo
            .releases
            .iter()
            .filter(|r| !r.draft || caller == Caller::Token)
            .collect();
        releases.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        let link_base = format!("{}/repositories/{}/releases", req.base_url, repo.id);
        let (page, link) = paginate(&releases, req, &link_base);
        let items: Vec<Value> = page
            .iter()
            .map(|r| release_json(repo, r, &req.base_url))
            .collect();
        read(with_link(Reply::json(200, &Value::Array(items)), link))
    }

    /// `state` (`open` by default, `closed`, `all`), `head` (`owner:branch` only), `base`.
    fn list_pulls(&self, repo: &Repo, req: &Incoming) -> Outcome {
        let state = req.param("state").unwrap_or_else(|| "open".into());
        let head = req.param("head").and_then(|h| {
            h.split_once(':')
                .map(|(owner, branch)| (owner.to_lowercase(), branch.to_string()))
        });
        let base = req.param("base");
        let mut pulls: Vec<&Pull> = repo
            .pulls
            .iter()
            .filter(|p| match state.as_str() {
                "closed" => !p.open,
                "all" => true,
                _ => p.open,
            })
            .filter(|p| {
                head.as_ref().is_none_or(|(owner, branch)| {
                    *owner == repo.owner().to_lowercase() && *branch == p.head
                })
            })
            .filter(|p| base.as_ref().is_none_or(|b| *b == p.base))
            .collect();
        pulls.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.number)));
        let link_base = format!("{}/repositories/{}/pulls", req.base_url, repo.id);
        let (page, link) = paginate(&pulls, req, &link_base);
        let items: Vec<Value> = page
            .iter()
            .map(|p| pull_json(repo, p, &req.base_url))
            .collect();
        read(with_link(Reply::json(200, &Value::Array(items)), link))
    }

    /// `PATCH /repos/{o}/{r}/releases/{id}`: edits; `draft: false` publishes.
    fn update_release(
        &mut self,
        i: usize,
        id: &str,
        now: DateTime<Utc>,
        retag: Option<&str>,
        req: &Incoming,
    ) -> Outcome {
        let body = json_object(req)?;
        let repo = &mut self.repos[i];
        let release = repo
            .releases
            .iter_mut()
            .find(|r| r.id.to_string() == id)
            .ok_or_else(not_found)?;
        if let Some(tag) = body.get("tag_name").and_then(Value::as_str) {
            release.tag = tag.to_string();
        }
        if let Some(text) = body.get("body").and_then(Value::as_str) {
            release.body = text.to_string();
        }
        let publish = body.get("draft") == Some(&Value::Bool(false)) && release.draft;
        let mut change = None;
        if publish {
            if let Some(tag) = retag {
                // release-drafter replaced the draft since the runbook read it.
                release.tag = tag.to_string();
            }
            release.draft = false;
            release.published_at = Some(now);
            change = Some(format!("github: published release {}", release.tag));
            let tag = release.tag.clone();
            open_changelog_pr(repo, &tag, now);
        }
        let repo = &self.repos[i];
        let release = repo
            .releases
            .iter()
            .find(|r| r.id.to_string() == id)
            .ok_or_else(not_found)?;
        Ok((
            Reply::json(200, &release_json(repo, release, &req.base_url)),
            change,
        ))
    }

    /// `POST /repos/{o}/{r}/pulls` with `{title, head, base, body}`.
    fn create_pull(&mut self, i: usize, now: DateTime<Utc>, req: &Incoming) -> Outcome {
        let body = json_object(req)?;
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(String::from);
        let mut missing = ["title", "head", "base"]
            .into_iter()
            .filter(|f| field(f).is_none());
        if let Some(name) = missing.next() {
            return Err(validation_failed(
                json!({"resource": "PullRequest", "field": name, "code": "missing_field"}),
            ));
        }
        let (title, head, base) = (
            field("title").unwrap_or_default(),
            field("head").unwrap_or_default(),
            field("base").unwrap_or_default(),
        );
        let repo = &mut self.repos[i];
        let branch = head
            .split_once(':')
            .map_or(head.as_str(), |(_, b)| b)
            .to_string();
        if base != "main" {
            return Err(validation_failed(
                json!({"resource": "PullRequest", "field": "base", "code": "invalid"}),
            ));
        }
        if repo
            .pulls
            .iter()
            .any(|p| p.open && p.head == branch && p.base == base)
        {
            let text = format!(
                "A pull request already exists for {}:{branch}.",
                repo.owner()
            );
            return Err(validation_failed(
                json!({"resource": "PullRequest", "code": "custom", "message": text}),
            ));
        }
        let number = repo.next_number;
        repo.next_number += 1;
        repo.pulls.push(Pull {
            number,
            title: title.clone(),
            user: OPERATOR.into(),
            head: branch.clone(),
            base: base.clone(),
            body: field("body").unwrap_or_default(),
            labels: Vec::new(),
            open: true,
            merged_at: None,
            created_at: now,
            reviews: Vec::new(),
        });
        let repo = &self.repos[i];
        let pull = repo.pulls.last().expect("just pushed");
        let value = pull_json(repo, pull, &req.base_url);
        self.opened.push(json!({
            "repo": repo.full_name,
            "number": number,
            "title": title,
            "head": branch,
            "base": base,
            "body": pull.body,
            "html_url": value["html_url"],
        }));
        let change = format!("github: opened PR #{number} in {}: {title}", repo.full_name);
        let location = value["url"].as_str().unwrap_or_default().to_string();
        Ok((
            Reply::json(201, &value).with_header("Location", location),
            Some(change),
        ))
    }

    /// `POST /repos/{o}/{r}/pulls/{n}/reviews`: `event` APPROVE, REQUEST_CHANGES, COMMENT, or
    /// none (a pending review).
    fn create_review(
        &mut self,
        i: usize,
        number: &str,
        now: DateTime<Utc>,
        req: &Incoming,
    ) -> Outcome {
        let body = if req.body.is_empty() {
            Map::new()
        } else {
            json_object(req)?
        };
        let p = self.repos[i].pull(number).ok_or_else(not_found)?;
        let text = body
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let state = match body.get("event").and_then(Value::as_str) {
            None => "PENDING",
            Some("APPROVE") => "APPROVED",
            Some("REQUEST_CHANGES") if !text.is_empty() => "CHANGES_REQUESTED",
            Some("COMMENT") if !text.is_empty() => "COMMENTED",
            Some("REQUEST_CHANGES" | "COMMENT") => return Err(unprocessable("Review Body is required")),
            Some(other) => {
                return Err(unprocessable(&format!(
                    "Variable $event of type PullRequestReviewEvent was provided invalid value: {other}"
                )))
            }
        };
        if state == "APPROVED" && self.approve_fails {
            return Err(unprocessable(
                "Review Can not approve your own pull request",
            ));
        }
        let id = self.next_review_id;
        self.next_review_id += 1;
        let repo = &mut self.repos[i];
        repo.pulls[p].reviews.push(Review {
            id,
            state,
            body: text,
            submitted_at: now,
        });
        let pull = &repo.pulls[p];
        let change = (state == "APPROVED").then(|| {
            format!(
                "github: approved PR #{} in {} ({})",
                pull.number, repo.full_name, pull.title
            )
        });
        if state == "APPROVED" {
            self.approved.push(pull.number);
        }
        let repo = &self.repos[i];
        let pull = &repo.pulls[p];
        let review = pull.reviews.last().expect("just pushed");
        Ok((
            Reply::json(200, &review_json(repo, pull, review, &req.base_url)),
            change,
        ))
    }

    /// `POST /repos/{o}/{r}/actions/workflows/{file or id}/dispatches` with `{ref, inputs}`.
    fn dispatch(&mut self, i: usize, workflow: &str, req: &Incoming) -> Outcome {
        let known_form = workflow.ends_with(".yml")
            || workflow.ends_with(".yaml")
            || workflow.parse::<u64>().is_ok();
        if !known_form {
            return Err(not_found());
        }
        let docs =
            "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event";
        let body = json_object(req)?;
        let Some(git_ref) = body
            .get("ref")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        else {
            return Err(message(
                422,
                "Invalid request.\n\n\"ref\" wasn't supplied.",
                docs,
            ));
        };
        let inputs = match body.get("inputs") {
            None | Some(Value::Null) => json!({}),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => {
                let text = format!(
                    "Invalid request.\n\nFor 'properties/inputs', {other} is not an object."
                );
                return Err(message(422, &text, docs));
            }
        };
        let repo = self.repos[i].full_name;
        let change = format!(
            "github: dispatched workflow {workflow} in {repo} on {git_ref} with inputs {inputs}"
        );
        self.dispatches
            .push(json!({"repo": repo, "workflow": workflow, "ref": git_ref, "inputs": inputs}));
        Ok((Reply::empty(204), Some(change)))
    }
}

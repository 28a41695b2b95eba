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

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::server::{Incoming, Reply};
use super::{github_time, Answer, Ctx, Faults};

pub(crate) const REPO: &str = "WordPress/openverse";
pub(crate) const INFRA_REPO: &str = "WordPress/openverse-infrastructure";
const DOCS: &str = "https://docs.github.com/rest";
/// The account of the release and changelog automation.
const BOT: &str = "openverse-bot";
/// The account the rehearsal token belongs to.
const OPERATOR: &str = "ovscript-rehearsal";
/// The first number a new pull request gets, per repository.
const FIRST_NEW_PR: [u64; 2] = [4242, 900];
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

struct Release {
    id: u64,
    tag: String,
    draft: bool,
    body: String,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

struct Review {
    id: u64,
    state: &'static str,
    body: String,
    submitted_at: DateTime<Utc>,
}

struct Pull {
    number: u64,
    title: String,
    user: String,
    head: String,
    base: String,
    body: String,
    labels: Vec<&'static str>,
    open: bool,
    merged_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    reviews: Vec<Review>,
}

struct Repo {
    id: u64,
    full_name: &'static str,
    private: bool,
    releases: Vec<Release>,
    pulls: Vec<Pull>,
    next_number: u64,
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
enum Caller {
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

/// An answer and the state change it made, if any.
type Outcome = Result<(Reply, Option<String>), Reply>;

fn read(reply: Reply) -> Outcome {
    Ok((reply, None))
}

fn visible(repo: &Repo, caller: Caller) -> bool {
    !repo.private || caller == Caller::Token
}

/// GitHub takes `Bearer` and the older `token` scheme.
fn caller(req: &Incoming, token: &str) -> Caller {
    let Some(value) = req.header("authorization") else {
        return Caller::Anonymous;
    };
    match value.split_once(' ') {
        Some((scheme, given))
            if (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
                && given.trim() == token =>
        {
            Caller::Token
        }
        _ => Caller::BadToken,
    }
}

/// The changelog pull request the Openverse release workflow opens for a published release.
fn open_changelog_pr(repo: &mut Repo, tag: &str, now: DateTime<Utc>) {
    let number = repo.next_number;
    repo.next_number += 1;
    repo.pulls.push(Pull {
        number,
        title: format!("Publish changelog for {tag}"),
        user: BOT.into(),
        head: format!("changelog/{tag}"),
        base: "main".into(),
        body: format!("This PR was automatically generated by the release workflow: it adds the changelog of `{tag}`."),
        labels: vec!["skip-changelog", "🧰 goal: internal improvement", "🟩 priority: low"],
        open: true,
        merged_at: None,
        created_at: now,
        reviews: Vec::new(),
    });
}

/// Cuts the page `page`/`per_page` asks for; the `Link` header when there is more than a page.
fn paginate<'a, T>(items: &'a [T], req: &Incoming, link_base: &str) -> (&'a [T], Option<String>) {
    let per_page = req
        .param("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_PER_PAGE)
        .min(MAX_PER_PAGE);
    let page = req
        .param("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    if last == 1 {
        return (&items[start..end], None);
    }
    let others: Vec<(String, String)> = req
        .params()
        .into_iter()
        .filter(|(k, _)| k != "page")
        .collect();
    let url = |n: usize| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .extend_pairs(&others)
            .append_pair("page", &n.to_string());
        format!("{link_base}?{}", query.finish())
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(page.min(last + 1) - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    (&items[start..end], Some(links.join(", ")))
}

fn with_link(reply: Reply, link: Option<String>) -> Reply {
    match link {
        Some(link) => reply.with_header("Link", link),
        None => reply,
    }
}

fn json_object(req: &Incoming) -> Result<Map<String, Value>, Reply> {
    match req.json() {
        Some(Value::Object(map)) => Ok(map),
        _ => Err(message(400, "Problems parsing JSON", DOCS)),
    }
}

fn message(status: u16, text: &str, docs: &str) -> Reply {
    Reply::json(
        status,
        &json!({"message": text, "documentation_url": docs, "status": status.to_string()}),
    )
}

fn not_found() -> Reply {
    message(404, "Not Found", DOCS)
}

fn unprocessable(error: &str) -> Reply {
    let docs = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";
    Reply::json(
        422,
        &json!({"message": "Unprocessable Entity", "errors": [error], "documentation_url": docs, "status": "422"}),
    )
}

fn validation_failed(error: Value) -> Reply {
    let docs = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
    Reply::json(
        422,
        &json!({"message": "Validation Failed", "errors": [error], "documentation_url": docs, "status": "422"}),
    )
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid date")
}

/// Openverse release tags: `{app}-{%Y.%m.%d.%H.%M.%S}`.
fn tag(app: &str, t: DateTime<Utc>) -> String {
    format!("{app}-{}", t.format("%Y.%m.%d.%H.%M.%S"))
}

/// Releases in creation order. Release-drafter keeps one draft per app and edits it on every
/// push, so a draft keeps the creation time of the day after its app's last release: the
/// catalog and ingestion-server drafts are older than the 110 api and frontend releases made
/// since, so they are not on the first page, newest first, even with `per_page=100`.
fn seed_releases() -> Vec<Release> {
    let mut list: Vec<(String, bool, DateTime<Utc>)> = Vec::new();
    let apps = ["api", "frontend", "catalog", "ingestion_server"];
    let start = at(2024, 1, 2, 14, 0);
    for i in 0..32 {
        let t = start + Span::hours(67 * i);
        list.push((tag(apps[i as usize % 4], t), false, t));
    }
    list.push((
        tag("catalog", at(2024, 4, 1, 12, 0)),
        false,
        at(2024, 4, 1, 12, 0),
    ));
    list.push((
        "catalog-2024.05.02.10.00.00".into(),
        true,
        at(2024, 4, 1, 12, 6),
    ));
    list.push((
        tag("ingestion_server", at(2024, 4, 2, 9, 30)),
        false,
        at(2024, 4, 2, 9, 30),
    ));
    list.push((
        "ingestion_server-2024.05.02.10.05.00".into(),
        true,
        at(2024, 4, 2, 9, 36),
    ));
    let start = at(2024, 4, 3, 10, 0);
    for i in 0..110 {
        let t = start + Span::hours(6 * i);
        list.push((tag(apps[i as usize % 2], t), false, t));
    }
    list.push((
        "api-2024.05.02.09.00.00".into(),
        true,
        at(2024, 4, 30, 22, 0),
    ));
    list.push((
        "frontend-2024.05.02.09.10.00".into(),
        true,
        at(2024, 4, 30, 23, 0),
    ));
    list.into_iter()
        .enumerate()
        .map(|(i, (tag, draft, created_at))| Release {
            id: 150_100_000 + i as u64,
            body: release_body(&tag, draft),
            tag,
            draft,
            created_at,
            published_at: (!draft).then(|| created_at + Span::minutes(4)),
        })
        .collect()
}

fn release_body(tag: &str, draft: bool) -> String {
    let app = tag.rsplit_once('-').map_or(tag, |(app, _)| app);
    if draft {
        format!(
            "## New Features\n\n- Add the {app} health report to the deployment summary (#4211) @openverse-contributor\n\n\
             ## Bug Fixes\n\n- Retry {app} requests that time out (#4218) @openverse-contributor\n\n\
             ## Internal Improvements\n\n- Bump dependencies of {app} (#4225) @dependabot\n"
        )
    } else {
        format!("## Internal Improvements\n\n- Routine release of {app}.\n")
    }
}

/// Pull requests already in the monorepo: merged changelog PRs of past releases, and open PRs
/// (one of them another app's changelog PR), so that a loose search finds the wrong one.
fn seed_pulls() -> Vec<Pull> {
    let pull = |number,
                title: String,
                user: &str,
                head: String,
                labels: Vec<&'static str>,
                created: DateTime<Utc>,
                merged: Option<DateTime<Utc>>| Pull {
        number,
        body: format!("{title}."),
        title,
        user: user.into(),
        head,
        base: "main".into(),
        labels,
        open: merged.is_none(),
        merged_at: merged,
        created_at: created,
        reviews: Vec::new(),
    };
    let changelog = |t: &str| {
        (
            format!("Publish changelog for {t}"),
            format!("changelog/{t}"),
        )
    };
    let (c_title, c_head) = changelog("catalog-2024.04.01.12.00.00");
    let (i_title, i_head) = changelog("ingestion_server-2024.04.02.09.30.00");
    let (f_title, f_head) = changelog("frontend-2024.04.30.16.00.00");
    let skip = vec!["skip-changelog"];
    vec![
        pull(
            4100,
            c_title,
            BOT,
            c_head,
            skip.clone(),
            at(2024, 4, 1, 12, 10),
            Some(at(2024, 4, 1, 15, 0)),
        ),
        pull(
            4101,
            i_title,
            BOT,
            i_head,
            skip.clone(),
            at(2024, 4, 2, 9, 40),
            Some(at(2024, 4, 2, 11, 0)),
        ),
        pull(
            4230,
            "Bump sentry-sdk from 1.45.0 to 2.0.1 in /catalog".into(),
            "dependabot[bot]",
            "dependabot/pip/catalog/sentry-sdk-2.0.1".into(),
            vec!["🧰 goal: internal improvement"],
            at(2024, 4, 29, 3, 0),
            None,
        ),
        pull(
            4235,
            "Add iNaturalist 2024 taxonomy".into(),
            "openverse-contributor",
            "add/inaturalist-taxonomy-2024".into(),
            vec!["🌟 goal: addition"],
            at(2024, 4, 29, 17, 30),
            None,
        ),
        pull(
            4240,
            f_title,
            BOT,
            f_head,
            skip,
            at(2024, 4, 30, 16, 10),
            None,
        ),
    ]
}

/// A 40-hex-digit id derived from a string (FNV-1a), for commit shas.
fn sha(seed: &str) -> String {
    let mut out = String::new();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0..3u8 {
        for b in seed.bytes().chain([round]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{hash:016x}"));
    }
    out.truncate(40);
    out
}

fn user_json(login: &str) -> Value {
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

fn repo_json(repo: &Repo, base: &str) -> Value {
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

fn release_json(repo: &Repo, r: &Release, base: &str) -> Value {
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

fn pull_json(repo: &Repo, p: &Pull, base: &str) -> Value {
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

fn review_json(repo: &Repo, p: &Pull, r: &Review, base: &str) -> Value {
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

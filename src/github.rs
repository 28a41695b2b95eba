//! `github`: the release, changelog-PR, workflow and PR steps of a runbook, against the
//! monorepo (`[github] repo`) and the infrastructure repository (`[github] infra_repo`).

use chrono::{DateTime, Utc};
use reqwest::Method;
use rhai::{Dynamic, Engine, Map};
use serde_json::{json, Value};
use std::fmt;
use std::sync::Arc;

use crate::config::given;
use crate::context::Ctx;
use crate::error::{host_error, Failure, HostResult};
use crate::journal::Event;
use crate::objects::Objects;
use crate::rest::{segment, Auth, LazyRest, Rest, RestError, Service, Shared};

const DEFAULT_URL: &str = "https://api.github.com";

/// The script object `github`; the HTTP client is built on first use, so a script that never
/// calls GitHub needs no GitHub settings.
#[derive(Clone)]
pub struct Github(Arc<GithubClient>);

struct GithubClient {
    ctx: Ctx,
    rest: LazyRest,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Github>("Github");
    objects.insert(
        "github",
        Dynamic::from(Github(Arc::new(GithubClient {
            ctx: ctx.clone(),
            rest: LazyRest::default(),
        }))),
    );
    engine.register_global_module(rhai::exported_module!(github_api).into());
}

/// The `github` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod github_api {
    use super::*;

    /// The newest draft release (by created_at) whose tag starts with `prefix`, as a map with
    /// GitHub's field names, or () when there is none.
    ///
    /// ```rhai
    /// let draft = github.draft_release("catalog-");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn draft_release(github: Github, prefix: &str) -> HostResult<Dynamic> {
        github.draft_release(prefix)
    }

    /// Publishes a draft release (PATCH draft=false); returns the release as GitHub now shows it.
    ///
    /// ```rhai
    /// github.publish_release(draft);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn publish_release(github: Github, release: Map) -> HostResult<Map> {
        github.publish_release(&release)
    }

    /// The newest published (not draft, not prerelease) release whose tag starts with `prefix`,
    /// with `rollback_tag` added (catalog-2023.07.03.17.52.00 -> rel-2023.07.03.17.52.00), or ().
    ///
    /// ```rhai
    /// let stable = github.latest_release("catalog-");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn latest_release(github: Github, prefix: &str) -> HostResult<Dynamic> {
        github.latest_release(prefix)
    }

    /// The open changelog PR of a release tag (`Publish changelog for {tag}`, branch
    /// changelog/{tag}) as a map with GitHub's field names, or ().
    ///
    /// ```rhai
    /// let pr = github.changelog_pr(draft.tag_name);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn changelog_pr(github: Github, tag: &str) -> HostResult<Dynamic> {
        github.changelog_pr(tag)
    }

    /// Approves a pull request of the repository (a review with event APPROVE); GitHub refuses it
    /// from the PR's own author.
    ///
    /// ```rhai
    /// github.approve_pr(pr.number);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn approve_pr(github: Github, number: i64) -> HostResult<()> {
        github.approve_pr(number)
    }

    /// Opens a pull request in `repo` (owner/name) from branch `head` into `base`; returns
    /// #{number, html_url}, or () in a dry run.
    ///
    /// ```rhai
    /// github.open_pr(github.infra_repo(), "bump-catalog", "main", "Deploy catalog", "Bumps the catalog version.")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn open_pr(
        github: Github,
        repo: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> HostResult<Dynamic> {
        github.open_pr(repo, head, base, title, body)
    }

    /// Starts a workflow (its file name or id) of `repo` (owner/name) on `ref` with `inputs`, e.g.
    /// a rollback deploy.
    ///
    /// ```rhai
    /// github.dispatch_workflow(github.infra_repo(), "deploy-catalog.yml", "main", #{ tag: stable.rollback_tag })
    /// ```
    #[rhai_fn(return_raw)]
    pub fn dispatch_workflow(
        github: Github,
        repo: &str,
        workflow: &str,
        r#ref: &str,
        inputs: Map,
    ) -> HostResult<()> {
        github.dispatch_workflow(repo, workflow, r#ref, inputs)
    }

    /// The application repository (owner/name) that releases and changelog PRs belong to.
    ///
    /// ```rhai
    /// info(github.repo());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn repo(github: Github) -> HostResult<String> {
        github.configured_repo().map(|r| r.to_string())
    }

    /// The infrastructure repository (owner/name): where the Terraform PRs and rollback workflows
    /// are.
    ///
    /// ```rhai
    /// github.dispatch_workflow(github.infra_repo(), "rollback.yml", "main", #{})
    /// ```
    #[rhai_fn(return_raw)]
    pub fn infra_repo(github: Github) -> HostResult<String> {
        github.infra_repo().map(|r| r.to_string())
    }
}

impl Github {
    fn ctx(&self) -> &Ctx {
        &self.0.ctx
    }

    fn rest(&self) -> HostResult<&Rest> {
        let rest = self
            .0
            .rest
            .get(&Shared::of(self.ctx()), || self.service())?;
        Ok(rest)
    }

    fn service(&self) -> Result<Service, Failure> {
        let config = &self.ctx().config.github;
        let token = given(&config.token).ok_or_else(|| {
            Failure::new(crate::config::not_configured(
                "GitHub",
                "github",
                &["token"],
            ))
        })?;
        Ok(Service::configured(
            "github",
            config.url.as_deref(),
            DEFAULT_URL,
            "",
            config.timeout,
        )
        .with_auth(
            Auth::Bearer(token),
            &["token"],
            "the token needs push access to the repository",
        )
        .with_header("Accept", "application/vnd.github+json")
        .with_header("X-GitHub-Api-Version", "2022-11-28"))
    }

    fn configured_repo(&self) -> HostResult<Repo> {
        let text = required(&self.ctx().config.github.repo, "repo")?;
        Repo::parse(&text).map_err(|e| {
            host_error(format!(
                "{e} (OVSCRIPT_GITHUB_REPO or `repo` under [github])"
            ))
        })
    }

    fn infra_repo(&self) -> HostResult<Repo> {
        let text = required(&self.ctx().config.github.infra_repo, "infra_repo")?;
        Repo::parse(&text).map_err(|e| {
            host_error(format!(
                "{e} (OVSCRIPT_GITHUB_INFRA_REPO or `infra_repo` under [github])"
            ))
        })
    }

    /// Every item of a listing, all pages.
    fn list(&self, path: &str, what: &str) -> HostResult<Vec<Value>> {
        let rest = self.rest()?;
        let mut items = Vec::new();
        for page in rest.pages(path) {
            self.ctx().check_cancelled()?;
            items.extend(page.map_err(|e| rest.explain(e, what))?);
        }
        Ok(items)
    }

    fn releases(&self) -> HostResult<Vec<Value>> {
        let repo = self.configured_repo()?;
        self.list(
            &format!("{}/releases?per_page=100", repo.path()),
            &format!("the releases of {repo} (OVSCRIPT_GITHUB_REPO)"),
        )
    }

    fn draft_release(&self, prefix: &str) -> HostResult<Dynamic> {
        let releases = self.releases()?;
        let drafts = releases
            .into_iter()
            .filter(|r| is_draft(r) && tag_of(r).starts_with(prefix));
        match newest(drafts, "created_at") {
            Some(draft) => to_dynamic(draft),
            None => Ok(Dynamic::UNIT),
        }
    }

    fn latest_release(&self, prefix: &str) -> HostResult<Dynamic> {
        let releases = self.releases()?;
        let published = releases.into_iter().filter(|r| {
            !is_draft(r) && r["prerelease"] != Value::Bool(true) && tag_of(r).starts_with(prefix)
        });
        let Some(mut latest) = newest(published, "published_at") else {
            return Ok(Dynamic::UNIT);
        };
        let rollback = rollback_tag(tag_of(&latest));
        latest["rollback_tag"] = Value::String(rollback);
        to_dynamic(latest)
    }

    fn publish_release(&self, release: &Map) -> HostResult<Map> {
        let repo = self.configured_repo()?;
        let id = release
            .get("id")
            .and_then(|id| id.as_int().ok())
            .ok_or_else(|| {
                host_error("publish_release takes a release map with its `id`, as github.draft_release(...) returns it")
            })?;
        let tag = release
            .get("tag_name")
            .map(|t| t.to_string())
            .unwrap_or_default();
        let path = format!("{}/releases/{id}", repo.path());
        if self
            .ctx()
            .would(&format!("PATCH {path} draft=false (publish release {tag})"))
        {
            let mut published = release.clone();
            published.insert("draft".into(), false.into());
            return Ok(published);
        }
        let what = format!("release {tag} (id {id}) of {repo}");
        let rest = self.rest()?;
        let reply = rest
            // The tag confirmed, pinned: release-drafter may rewrite a draft at any moment.
            .send(
                Method::PATCH,
                &path,
                Some(&json!({ "draft": false, "tag_name": tag })),
            )
            .map_err(|e| rest.explain(e, &what))?;
        let updated = reply.json().map_err(|e| rest.explain(e, &what))?;
        self.ctx().record(Event::GithubReleasePublished {
            repo: repo.to_string(),
            id,
            tag: tag.clone(),
        });
        to_dynamic(updated)?.try_cast::<Map>().ok_or_else(|| {
            host_error(format!(
                "GitHub answered the publishing of {what} with something that is not a release"
            ))
        })
    }

    fn changelog_pr(&self, tag: &str) -> HostResult<Dynamic> {
        let repo = self.configured_repo()?;
        let branch = format!("changelog/{tag}");
        let head: String =
            url::form_urlencoded::byte_serialize(format!("{}:{branch}", repo.owner).as_bytes())
                .collect();
        let pulls = self.list(
            &format!("{}/pulls?state=open&head={head}&per_page=100", repo.path()),
            &format!("the pull requests of {repo} (OVSCRIPT_GITHUB_REPO)"),
        )?;
        let title = format!("Publish changelog for {tag}");
        match pulls
            .into_iter()
            .find(|pr| pr["head"]["ref"] == branch.as_str() || pr["title"] == title.as_str())
        {
            Some(pr) => to_dynamic(pr),
            None => Ok(Dynamic::UNIT),
        }
    }

    fn approve_pr(&self, number: i64) -> HostResult<()> {
        let repo = self.configured_repo()?;
        let path = format!("{}/pulls/{number}/reviews", repo.path());
        if self
            .ctx()
            .would(&format!("POST {path} event=APPROVE (approve PR #{number})"))
        {
            return Ok(());
        }
        let rest = self.rest()?;
        match rest.send(Method::POST, &path, Some(&json!({ "event": "APPROVE" }))) {
            Ok(_) => {
                self.ctx().record(Event::GithubPrApproved {
                    repo: repo.to_string(),
                    number,
                });
                Ok(())
            }
            Err(RestError::Status { status: 422, detail, .. }) => Err(host_error(self.ctx().redact(&format!(
                "GitHub refused to approve PR #{number} of {repo} (HTTP 422: {detail}): GitHub does not let the author of a pull request approve it, so someone else must approve it"
            )))),
            Err(e) => Err(rest.explain(e, &format!("PR #{number} of {repo}")).into()),
        }
    }

    fn dispatch_workflow(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: Map,
    ) -> HostResult<()> {
        let repo = Repo::parse(repo).map_err(host_error)?;
        let inputs: Value = rhai::serde::from_dynamic(&Dynamic::from_map(inputs))?;
        let path = format!(
            "{}/actions/workflows/{}/dispatches",
            repo.path(),
            segment(workflow)
        );
        if self
            .ctx()
            .would(&format!("POST {path} ref={git_ref} inputs={inputs}"))
        {
            return Ok(());
        }
        let rest = self.rest()?;
        rest.send(
            Method::POST,
            &path,
            Some(&json!({ "ref": git_ref, "inputs": inputs })),
        )
        .map_err(|e| {
            rest.explain(
                e,
                &format!("workflow {workflow} of {repo} on ref {git_ref}"),
            )
        })?;
        self.ctx().record(Event::GithubWorkflowDispatched {
            repo: repo.to_string(),
            workflow: workflow.to_string(),
            git_ref: git_ref.to_string(),
            inputs: inputs.clone(),
        });
        Ok(())
    }

    fn open_pr(
        &self,
        repo: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> HostResult<Dynamic> {
        let repo = Repo::parse(repo).map_err(host_error)?;
        let path = format!("{}/pulls", repo.path());
        if self
            .ctx()
            .would(&format!("POST {path} {head} -> {base}: {title}"))
        {
            return Ok(Dynamic::UNIT);
        }
        let what = format!("repository {repo} (a PR from {head} into {base})");
        let rest = self.rest()?;
        let reply = rest
            .send(
                Method::POST,
                &path,
                Some(&json!({ "title": title, "head": head, "base": base, "body": body })),
            )
            .map_err(|e| rest.explain(e, &what))?;
        let pr = reply.json().map_err(|e| rest.explain(e, &what))?;
        let (Some(number), Some(html_url)) = (pr["number"].as_i64(), pr["html_url"].as_str())
        else {
            return Err(host_error(format!(
                "GitHub opened a PR in {repo} but its answer has no number and html_url: {pr}"
            )));
        };
        self.ctx().record(Event::GithubPrOpened {
            repo: repo.to_string(),
            number,
            html_url: json!(html_url),
        });
        let mut opened = Map::new();
        opened.insert("number".into(), number.into());
        opened.insert("html_url".into(), html_url.into());
        Ok(Dynamic::from_map(opened))
    }
}

/// A setting the call cannot do without, or an error naming where to set it.
fn required(value: &Option<String>, key: &str) -> HostResult<String> {
    given(value)
        .ok_or_else(|| host_error(crate::config::not_configured("GitHub", "github", &[key])))
}

/// `owner/name`, as scripts and settings write a repository.
#[derive(Debug, PartialEq)]
struct Repo {
    owner: String,
    name: String,
}

impl Repo {
    fn parse(text: &str) -> Result<Repo, String> {
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
    fn path(&self) -> String {
        format!("/repos/{}/{}", segment(&self.owner), segment(&self.name))
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

fn is_draft(release: &Value) -> bool {
    release["draft"] == Value::Bool(true)
}

fn tag_of(release: &Value) -> &str {
    release["tag_name"].as_str().unwrap_or_default()
}

/// The release with the latest `field` time; one without a readable time counts as oldest.
fn newest(releases: impl Iterator<Item = Value>, field: &str) -> Option<Value> {
    releases.max_by_key(|r| {
        r[field]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    })
}

/// The Docker image tag of a release: `rel-` and the date part of its tag
/// (`ingestion_server-2023.07.03.17.52.00` -> `rel-2023.07.03.17.52.00`).
fn rollback_tag(tag: &str) -> String {
    let date = tag.rsplit_once('-').map_or(tag, |(_, date)| date);
    format!("rel-{date}")
}

fn to_dynamic(value: Value) -> HostResult<Dynamic> {
    rhai::serde::to_dynamic(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_newest_release_wins_whatever_the_order() {
        let releases = vec![
            json!({"id": 1, "created_at": "2024-05-01T12:00:00Z"}),
            json!({"id": 2, "created_at": "2024-05-03T08:00:00Z"}),
            json!({"id": 3, "created_at": null}),
            json!({"id": 4, "created_at": "2024-05-02T23:59:59+00:00"}),
        ];
        assert_eq!(newest(releases.into_iter(), "created_at").unwrap()["id"], 2);
        assert_eq!(newest(std::iter::empty(), "created_at"), None);
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
}

//! `github`: the release, changelog-PR, workflow and PR steps of a runbook, against the
//! monorepo (`[github] repo`) and the infrastructure repository (`[github] infra_repo`). This is
//! the binding: `client` speaks to GitHub, `model` types its answers, and scripts see them as
//! maps with GitHub's field names.

mod client;
mod model;

use rhai::{Dynamic, Engine, Map};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

use self::client::{approve_path, dispatch_path, publish_path, Client};
use self::model::Repo;
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::objects::Objects;
use crate::rest::Shared;
use crate::system::System;

/// The script object `github`; its client is made on first use.
pub type Github = Arc<System<Client>>;

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    System::<Client>::install(engine, ctx, objects, "github", "Github");
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

    /// The newest published release whose tag starts with `prefix` that was published at or
    /// after `since` (an RFC 3339 time, or a duration back from now), or (): what a run that
    /// died while GitHub was publishing may have published, to adopt instead of publishing
    /// another draft.
    ///
    /// ```rhai
    /// let done = github.published_since("catalog-", earlier_run().started);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn published_since(github: Github, prefix: &str, since: &str) -> HostResult<Dynamic> {
        github.published_since(prefix, since)
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

    /// Opens a pull request in `repo` (owner/name) from branch `head` into `base` (on `--resume`,
    /// the one open already from that branch is adopted); returns #{number, html_url}, or () in
    /// a dry run.
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

impl System<Client> {
    fn github(&self) -> HostResult<&Client> {
        self.client(|ctx| Client::new(&ctx.config.github, Shared::of(ctx)))
    }

    fn configured_repo(&self) -> HostResult<Repo> {
        Ok(client::configured_repo(
            &self.ctx().config.github.repo,
            "repo",
        )?)
    }

    pub fn infra_repo(&self) -> HostResult<Repo> {
        Ok(client::configured_repo(
            &self.ctx().config.github.infra_repo,
            "infra_repo",
        )?)
    }

    pub fn draft_release(&self, prefix: &str) -> HostResult<Dynamic> {
        self.configured_repo()?;
        to_script(&self.github()?.draft_release(prefix)?)
    }

    pub fn latest_release(&self, prefix: &str) -> HostResult<Dynamic> {
        self.configured_repo()?;
        to_script(&self.github()?.latest_release(prefix)?)
    }

    pub fn published_since(&self, prefix: &str, since: &str) -> HostResult<Dynamic> {
        self.configured_repo()?;
        let since = crate::when::since(since, chrono::Utc::now())
            .map_err(|e| host_error(format!("github.published_since: {e}")))?;
        to_script(&self.github()?.published_since(prefix, since)?)
    }

    pub fn publish_release(&self, release: &Map) -> HostResult<Map> {
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
        let path = publish_path(&repo, id);
        if self
            .ctx()
            .would(&format!("PATCH {path} draft=false (publish release {tag})"))
        {
            let mut published = release.clone();
            published.insert("draft".into(), false.into());
            return Ok(published);
        }
        self.ctx()
            .production_change(&format!("Publishing the release {tag}"))?;
        let published = self.github()?.publish_release(id, &tag)?;
        to_script(&published)?.try_cast::<Map>().ok_or_else(|| {
            host_error(format!(
                "GitHub answered the publishing of release {tag} (id {id}) of {repo} with something that is not a release"
            ))
        })
    }

    pub fn changelog_pr(&self, tag: &str) -> HostResult<Dynamic> {
        self.configured_repo()?;
        to_script(&self.github()?.changelog_pr(tag)?)
    }

    pub fn approve_pr(&self, number: i64) -> HostResult<()> {
        let repo = self.configured_repo()?;
        let path = approve_path(&repo, number);
        if self
            .ctx()
            .would(&format!("POST {path} event=APPROVE (approve PR #{number})"))
        {
            return Ok(());
        }
        self.github()?.approve_pr(number)?;
        Ok(())
    }

    /// `github.dispatch_workflow`, for the deployment's rollback too.
    pub fn dispatch_workflow(
        &self,
        repo: &str,
        workflow: &str,
        git_ref: &str,
        inputs: Map,
    ) -> HostResult<()> {
        let repo = Repo::parse(repo).map_err(host_error)?;
        let inputs: Value = rhai::serde::from_dynamic(&Dynamic::from_map(inputs))?;
        let path = dispatch_path(&repo, workflow);
        if self
            .ctx()
            .would(&format!("POST {path} ref={git_ref} inputs={inputs}"))
        {
            return Ok(());
        }
        self.ctx()
            .production_change(&format!("Dispatching the workflow {workflow} of {repo}"))?;
        self.github()?
            .dispatch_workflow(&repo, workflow, git_ref, &inputs)?;
        Ok(())
    }

    pub fn open_pr(
        &self,
        repo: &str,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> HostResult<Dynamic> {
        let repo = Repo::parse(repo).map_err(host_error)?;
        if self.ctx().would(&format!(
            "POST {}/pulls {head} -> {base}: {title}",
            repo.path()
        )) {
            return Ok(Dynamic::UNIT);
        }
        let client = self.github()?;
        // A run that died after opening it (and is resumed) finds it open: it is adopted, never
        // refused as a duplicate by GitHub on every resume.
        let adopted = match &self.ctx().resumed {
            Some(_) => client.open_pr_from(&repo, head, base)?,
            None => None,
        };
        let pr = match adopted {
            Some(open) => {
                self.ctx().ui.info(&format!(
                    "#{} from {head} is open already: {}",
                    open.number, open.html_url
                ));
                open
            }
            None => client.open_pr(&repo, head, base, title, body)?,
        };
        let mut opened = Map::new();
        opened.insert("number".into(), pr.number.into());
        opened.insert("html_url".into(), pr.html_url.into());
        Ok(Dynamic::from_map(opened))
    }
}

/// A model as scripts see it: a map with GitHub's field names; `None` is `()`.
fn to_script(value: &impl Serialize) -> HostResult<Dynamic> {
    rhai::serde::to_dynamic(value)
}

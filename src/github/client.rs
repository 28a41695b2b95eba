//! A typed GitHub REST client for what a deploy does there: releases, the changelog PR, reviews,
//! pull requests and workflow dispatches. No Rhai here: it answers with `model` types or a
//! `Failure` that says what to do.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::model::{rollback_tag, PullRequest, Release, Repo};
use crate::config::{given, not_configured};
use crate::error::Failure;
use crate::journal::Event;
use crate::rest::{display_url, Auth, Rest, RestError, Service, Shared};

const DEFAULT_URL: &str = "https://api.github.com";

pub struct Client {
    rest: Rest,
    /// The application repository (`[github] repo`), checked when a call needs it.
    repo: Option<String>,
}

impl Client {
    /// A client from `[github]`; it needs the token, the repositories only when a call does.
    pub fn new(settings: &crate::config::Github, shared: Shared) -> Result<Client, Failure> {
        let token = given(&settings.token).ok_or_else(|| missing("token"))?;
        let service = Service::configured(
            "github",
            settings.url.as_deref(),
            DEFAULT_URL,
            "",
            settings.timeout,
        )
        .with_auth(
            Auth::Bearer(token),
            &["token"],
            "the token needs push access to the repository",
        )
        .with_header("Accept", "application/vnd.github+json")
        .with_header("X-GitHub-Api-Version", "2022-11-28");
        Ok(Client {
            rest: Rest::new(shared, service)?,
            repo: given(&settings.repo),
        })
    }

    /// The application repository, which releases and changelog PRs belong to.
    pub fn repo(&self) -> Result<Repo, Failure> {
        configured_repo(&self.repo, "repo")
    }

    /// Every release of the application repository, all pages.
    pub fn releases(&self) -> Result<Vec<Release>, Failure> {
        let repo = self.repo()?;
        self.list(
            &format!("{}/releases?per_page=100", repo.path()),
            &format!("the releases of {repo} (OVSCRIPT_GITHUB_REPO)"),
        )
    }

    /// The newest draft (by `created_at`) whose tag starts with `prefix`.
    pub fn draft_release(&self, prefix: &str) -> Result<Option<Release>, Failure> {
        let drafts = self
            .releases()?
            .into_iter()
            .filter(|r| r.draft && r.tag_name.starts_with(prefix));
        Ok(newest(drafts, false))
    }

    /// The newest published release (not draft, not prerelease, by `published_at`) whose tag
    /// starts with `prefix`, with its `rollback_tag`.
    pub fn latest_release(&self, prefix: &str) -> Result<Option<Release>, Failure> {
        let published = self
            .releases()?
            .into_iter()
            .filter(|r| !r.draft && !r.prerelease && r.tag_name.starts_with(prefix));
        Ok(newest(published, true).map(|mut latest| {
            latest.rollback_tag = Some(rollback_tag(&latest.tag_name));
            latest
        }))
    }

    /// The newest release whose tag starts with `prefix` published at or after `since`: what a
    /// run that died while GitHub was publishing may have published.
    pub fn published_since(
        &self,
        prefix: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<Release>, Failure> {
        // GitHub's times are whole seconds: a release published in the second the run began
        // counts.
        let since = chrono::SubsecRound::trunc_subsecs(since, 0);
        Ok(self
            .latest_release(prefix)?
            .filter(|release| release.time(true).is_some_and(|at| at >= since)))
    }

    /// Publishes draft `id` under `tag`, pinned: release-drafter may rewrite a draft at any
    /// moment. Journaled once GitHub took it; answers the release as GitHub now shows it.
    pub fn publish_release(&self, id: i64, tag: &str) -> Result<Release, Failure> {
        let repo = self.repo()?;
        let what = format!("release {tag} (id {id}) of {repo}");
        let body = json!({ "draft": false, "tag_name": tag });
        let answer = self.send(Method::PATCH, &publish_path(&repo, id), &body, &what)?;
        self.journal(Event::GithubReleasePublished {
            repo: repo.to_string(),
            id,
            tag: tag.to_string(),
        });
        serde_json::from_value(answer).map_err(|e| {
            self.rest.shared().failure(format!(
                "GitHub answered the publishing of {what} with something that is not a release ({e}): it may be published; check its page before going on"
            ))
        })
    }

    /// The open changelog PR of a release tag: branch `changelog/{tag}`, or the title
    /// `Publish changelog for {tag}`.
    pub fn changelog_pr(&self, tag: &str) -> Result<Option<PullRequest>, Failure> {
        let repo = self.repo()?;
        let branch = format!("changelog/{tag}");
        let head: String =
            url::form_urlencoded::byte_serialize(format!("{}:{branch}", repo.owner).as_bytes())
                .collect();
        let pulls: Vec<PullRequest> = self.list(
            &format!("{}/pulls?state=open&head={head}&per_page=100", repo.path()),
            &format!("the pull requests of {repo} (OVSCRIPT_GITHUB_REPO)"),
        )?;
        let title = format!("Publish changelog for {tag}");
        Ok(pulls
            .into_iter()
            .find(|pr| pr.head.name == branch || pr.title == title))
    }

    /// Approves PR `number` of the application repository. GitHub refuses (422) an approval by
    /// the PR's own author: the failure says someone else must approve it.
    pub fn approve_pr(&self, number: i64) -> Result<(), Failure> {
        let repo = self.repo()?;
        let path = approve_path(&repo, number);
        match self.rest.send(Method::POST, &path, Some(&json!({ "event": "APPROVE" }))) {
            Ok(_) => {
                self.journal(Event::GithubPrApproved {
                    repo: repo.to_string(),
                    number,
                });
                Ok(())
            }
            Err(RestError::Status { status: 422, detail, .. }) => Err(self.rest.shared().failure(format!(
                "GitHub refused to approve PR #{number} of {repo} (HTTP 422: {detail}): GitHub does not let the author of a pull request approve it, so someone else must approve it"
            ))),
            Err(e) => Err(self.rest.explain(e, &format!("PR #{number} of {repo}"))),
        }
    }

    /// Opens a pull request in `repo` from `head` into `base`.
    /// The open pull request of `repo` from its branch `head` into `base`, if there is one.
    pub fn open_pr_from(
        &self,
        repo: &Repo,
        head: &str,
        base: &str,
    ) -> Result<Option<PullRequest>, Failure> {
        let owner_branch: String =
            url::form_urlencoded::byte_serialize(format!("{}:{head}", repo.owner).as_bytes())
                .collect();
        let base_query: String = url::form_urlencoded::byte_serialize(base.as_bytes()).collect();
        let pulls: Vec<PullRequest> = self.list(
            &format!(
                "{}/pulls?state=open&head={owner_branch}&base={base_query}&per_page=100",
                repo.path()
            ),
            &format!("the pull requests of {repo} from {head}"),
        )?;
        Ok(pulls.into_iter().find(|pr| pr.head.name == head))
    }

    pub fn open_pr(
        &self,
        repo: &Repo,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, Failure> {
        let what = format!("repository {repo} (a PR from {head} into {base})");
        let request = json!({ "title": title, "head": head, "base": base, "body": body });
        let path = format!("{}/pulls", repo.path());
        let answer = self.send(Method::POST, &path, &request, &what)?;
        let pr: PullRequest = serde_json::from_value(answer.clone()).map_err(|_| {
            self.rest.shared().failure(format!(
                "GitHub opened a PR in {repo} but its answer has no number and html_url: {answer}"
            ))
        })?;
        self.journal(Event::GithubPrOpened {
            repo: repo.to_string(),
            number: pr.number,
            html_url: Value::String(pr.html_url.clone()),
        });
        Ok(pr)
    }

    /// Starts `workflow` (its file name or id) of `repo` on `git_ref` with `inputs`.
    pub fn dispatch_workflow(
        &self,
        repo: &Repo,
        workflow: &str,
        git_ref: &str,
        inputs: &Value,
    ) -> Result<(), Failure> {
        let path = dispatch_path(repo, workflow);
        let body = json!({ "ref": git_ref, "inputs": inputs });
        self.rest
            .send(Method::POST, &path, Some(&body))
            .map_err(|e| {
                let what = format!("workflow {workflow} of {repo} on ref {git_ref}");
                self.rest.explain(e, &what)
            })?;
        self.journal(Event::GithubWorkflowDispatched {
            repo: repo.to_string(),
            workflow: workflow.to_string(),
            git_ref: git_ref.to_string(),
            inputs: inputs.clone(),
        });
        Ok(())
    }

    /// A change GitHub took, journaled as soon as it answered.
    fn journal(&self, event: Event) {
        self.rest.shared().journal.record(&event);
    }

    /// Sends `body` and reads the JSON answer.
    fn send(&self, method: Method, path: &str, body: &Value, what: &str) -> Result<Value, Failure> {
        let reply = self
            .rest
            .send(method, path, Some(body))
            .map_err(|e| self.rest.explain(e, what))?;
        reply.json().map_err(|e| self.rest.explain(e, what))
    }

    /// Every item of a listing, all pages, stopping at Ctrl-C between pages.
    fn list<T: DeserializeOwned>(&self, path: &str, what: &str) -> Result<Vec<T>, Failure> {
        let mut items = Vec::new();
        for page in self.rest.pages(path) {
            self.rest.shared().check_cancelled()?;
            for item in page.map_err(|e| self.rest.explain(e, what))? {
                let item = serde_json::from_value(item).map_err(|e| {
                    let reason = format!("an item is not what GitHub documents ({e})");
                    let url = display_url(&self.rest.url(path));
                    self.rest.explain(RestError::Body { url, reason }, what)
                })?;
                items.push(item);
            }
        }
        Ok(items)
    }
}

/// Where a publish goes, for the request and for a dry run's "would".
pub fn publish_path(repo: &Repo, id: i64) -> String {
    format!("{}/releases/{id}", repo.path())
}

pub fn approve_path(repo: &Repo, number: i64) -> String {
    format!("{}/pulls/{number}/reviews", repo.path())
}

pub fn dispatch_path(repo: &Repo, workflow: &str) -> String {
    format!(
        "{}/actions/workflows/{}/dispatches",
        repo.path(),
        crate::rest::segment(workflow)
    )
}

fn missing(key: &str) -> Failure {
    Failure::new(not_configured("GitHub", "github", &[key]))
}

/// `[github] repo` or `infra_repo`, or a failure naming the setting.
pub fn configured_repo(value: &Option<String>, key: &str) -> Result<Repo, Failure> {
    let text = given(value).ok_or_else(|| missing(key))?;
    Repo::parse(&text).map_err(|e| {
        Failure::new(format!(
            "{e} (OVSCRIPT_GITHUB_{} or `{key}` under [github])",
            key.to_uppercase()
        ))
    })
}

/// The release with the latest creation (or publication) time; one without a readable time
/// counts as oldest.
fn newest(releases: impl Iterator<Item = Release>, published: bool) -> Option<Release> {
    releases.max_by_key(|r| r.time(published))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Scenario, World};

    fn client(world: &World) -> Client {
        let settings = crate::config::Github {
            url: Some(world.github_url()),
            token: Some(world.credentials().github_token.clone()),
            repo: Some(world.github_repo().to_string()),
            infra_repo: Some(world.github_infra_repo().to_string()),
            timeout: Some(5),
        };
        Client::new(&settings, Shared::detached()).unwrap()
    }

    fn release(id: i64, created_at: Option<&str>) -> Release {
        serde_json::from_value(json!({ "id": id, "tag_name": "t", "created_at": created_at }))
            .unwrap()
    }

    #[test]
    fn the_newest_release_wins_whatever_the_order() {
        let releases = vec![
            release(1, Some("2024-05-01T12:00:00Z")),
            release(2, Some("2024-05-03T08:00:00Z")),
            release(3, None),
            release(4, Some("2024-05-02T23:59:59+00:00")),
        ];
        assert_eq!(newest(releases.into_iter(), false).unwrap().id, 2);
        assert_eq!(newest(std::iter::empty(), false), None);
    }

    #[test]
    fn the_draft_is_found_published_and_reads_as_published() {
        let world = World::start(Scenario::Calm).unwrap();
        let github = client(&world);
        let draft = github.draft_release("catalog-").unwrap().expect("a draft");
        assert!(draft.draft);
        assert_eq!(Some(draft.tag_name.clone()), world.draft_tag("catalog-"));
        let published = github.publish_release(draft.id, &draft.tag_name).unwrap();
        assert!(!published.draft);
        assert_eq!(published.tag_name, draft.tag_name);
        assert_eq!(world.release(&draft.tag_name).unwrap()["draft"], false);
        let latest = github
            .latest_release("catalog-")
            .unwrap()
            .expect("published");
        assert_eq!(latest.tag_name, draft.tag_name);
        assert_eq!(latest.rollback_tag, Some(rollback_tag(&draft.tag_name)));
    }

    #[test]
    fn every_change_github_took_is_journaled_by_the_client() {
        let world = World::start(Scenario::Calm).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let journal = crate::journal::Journal::create(dir.path(), Default::default()).unwrap();
        let shared = Shared {
            journal: std::sync::Arc::new(journal),
            ..Shared::detached()
        };
        let settings = crate::config::Github {
            url: Some(world.github_url()),
            token: Some(world.credentials().github_token.clone()),
            repo: Some(world.github_repo().to_string()),
            ..Default::default()
        };
        let github = Client::new(&settings, shared.clone()).unwrap();
        let draft = github.draft_release("catalog-").unwrap().unwrap();
        github.publish_release(draft.id, &draft.tag_name).unwrap();
        let pr = github.changelog_pr(&draft.tag_name).unwrap().unwrap();
        github.approve_pr(pr.number).unwrap();
        let infra = Repo::parse(world.github_infra_repo()).unwrap();
        github
            .dispatch_workflow(&infra, "rollback.yml", "main", &json!({ "tag": "rel-x" }))
            .unwrap();
        let opened = github
            .open_pr(&infra, "bump", "main", "Deploy", "")
            .unwrap();
        let text = std::fs::read_to_string(shared.journal.path().unwrap()).unwrap();
        let changes: Vec<Event> = text
            .lines()
            .map(|line| serde_json::from_str::<Event>(line).unwrap())
            .filter(|event| !matches!(event, Event::Http { .. }))
            .collect();
        let repo = world.github_repo().to_string();
        let infra_repo = infra.to_string();
        assert_eq!(
            changes,
            [
                Event::GithubReleasePublished {
                    repo: repo.clone(),
                    id: draft.id,
                    tag: draft.tag_name.clone(),
                },
                Event::GithubPrApproved {
                    repo,
                    number: pr.number,
                },
                Event::GithubWorkflowDispatched {
                    repo: infra_repo.clone(),
                    workflow: "rollback.yml".into(),
                    git_ref: "main".into(),
                    inputs: json!({ "tag": "rel-x" }),
                },
                Event::GithubPrOpened {
                    repo: infra_repo,
                    number: opened.number,
                    html_url: json!(opened.html_url),
                },
            ],
            "{text}"
        );
        assert!(text.contains(&opened.html_url), "{text}");
        assert!(!text.contains(&world.credentials().github_token), "{text}");
    }

    #[test]
    fn the_changelog_pr_is_found_and_approved() {
        let world = World::start(Scenario::Calm).unwrap();
        let github = client(&world);
        let draft = github.draft_release("catalog-").unwrap().expect("a draft");
        let tag = draft.tag_name.clone();
        // Publishing a release opens its changelog PR.
        assert_eq!(github.changelog_pr(&tag).unwrap(), None);
        github.publish_release(draft.id, &tag).unwrap();
        let pr = github.changelog_pr(&tag).unwrap().expect("a changelog PR");
        assert_eq!(pr.head.name, format!("changelog/{tag}"));
        github.approve_pr(pr.number).unwrap();
        assert_eq!(world.approved_prs(), vec![pr.number as u64]);
        assert_eq!(
            github.changelog_pr("catalog-1999.01.01.00.00.00").unwrap(),
            None
        );
    }

    #[test]
    fn a_wrong_token_names_the_setting() {
        let world = World::start(Scenario::Calm).unwrap();
        let settings = crate::config::Github {
            url: Some(world.github_url()),
            token: Some("not-the-token".into()),
            repo: Some(world.github_repo().to_string()),
            ..Default::default()
        };
        let github = Client::new(&settings, Shared::detached()).unwrap();
        let failure = github.releases().unwrap_err();
        assert!(
            failure.message().contains("refused the credentials")
                && failure
                    .message()
                    .contains("OVSCRIPT_GITHUB_TOKEN (or `token` under [github])"),
            "{failure}"
        );
        let failure = configured_repo(&settings.infra_repo, "infra_repo").unwrap_err();
        assert!(
            failure.message().contains("OVSCRIPT_GITHUB_INFRA_REPO"),
            "{failure}"
        );
    }
}

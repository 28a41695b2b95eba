//! The simulated world: in-process fakes of Airflow, Sentry, GitHub, the container registry and
//! the team's Slack channel on loopback.
//!
//! One implementation serves `ovscript run --rehearse[=SCENARIO]` and the test suite. Each fake
//! listens on `127.0.0.1:<free port>` with its own threads until the [`World`] is dropped; the
//! shapes (paths, parameters, bodies, errors, pagination) are those of the real services, as
//! described in `docs/external-apis.md`, so a client that works here works there.
//!
//! # What is in the world
//!
//! **Airflow 2.10.5** ([`World::airflow_url`], API under `/api/v1`, basic auth), or **Airflow
//! 3.3.2** (`Faults::airflow_version`; API under `/api/v2` only, JWTs from `POST /auth/token`),
//! with the same state: one implementation, seen through the API of its version. DAGs:
//! `airflow_log_cleanup`, `audio_data_refresh` and `image_data_refresh` (tag `data_refresh`,
//! weekly, with the `HttpSensor` task `data_refresh.ingest_upstream.wait_for_ingest_upstream`),
//! `flickr_reingestion_workflow`, `flickr_workflow`, `image_popularity_refresh`,
//! `inaturalist_workflow` (paused), `smithsonian_workflow`, `wikimedia_commons_workflow`. Each
//! has three scheduled runs (`scheduled__<logical date>`, e.g.
//! `scheduled__2024-05-01T00:00:00+00:00`) of its last intervals before the world started, with
//! their task instances; all succeeded unless the scenario says otherwise.
//!
//! **Sentry** ([`World::sentry_url`], API under `/api/0/`, bearer token): organization
//! `openverse`, watched project `openverse-catalog` (id 6340571) and `openverse-api`. Always
//! there: three old unresolved issues of the watched project (last seen 3, 5 and 9 days ago), a
//! resolved and an ignored one seen minutes ago, and an unresolved one of `openverse-api` seen
//! minutes ago: none of these is "a new error since the deploy".
//!
//! **GitHub** ([`World::github_url`], like `https://api.github.com`, bearer token):
//! `WordPress/openverse` (public) with 148 releases, newest first: the drafts
//! `frontend-2024.05.02.09.10.00` and `api-2024.05.02.09.00.00` (newest), 110 published api and
//! frontend releases, then the drafts `ingestion_server-2024.05.02.10.05.00` (id 150100035) and
//! `catalog-2024.05.02.10.00.00` (id 150100033), the last published
//! `ingestion_server-2024.04.02.09.30.00` and `catalog-2024.04.01.12.00.00`, and older ones. So
//! the catalog draft is on page 2 even with `per_page=100`. Publishing a draft opens its changelog
//! PR, numbered from #4242 in publication order. Open PRs already there: #4230 (dependabot),
//! #4235, and #4240 `Publish changelog for frontend-2024.04.30.16.00.00`.
//! `WordPress/openverse-infrastructure` (private): new PRs are numbered from #900; any workflow
//! file (`*.yml`, `*.yaml`, or a numeric id) can be dispatched.
//!
//! **Container registry** ([`World::registry_url`], like `https://ghcr.io`, anonymous bearer
//! tokens from its `/token`): `wordpress/openverse-{api,frontend,catalog,ingestion_server}`, each
//! with `latest` and the `rel-{date}` tag of every release of its app published before the world
//! began (`catalog-2024.04.01.12.00.00` -> `rel-2024.04.01.12.00.00`). Publishing a release in
//! the GitHub fake tags its image `rel-{date}` a while later, as the release workflow's build
//! does: 300 ms of real time after, in every scenario but `image-late` (3 s, six minutes on the
//! rehearsal's clock) and `image-missing` (never).
//!
//! **Slack** ([`World::slack_url`], an incoming webhook like
//! `https://hooks.slack.com/services/...`): `POST` of `{"text": ...}` answers `ok`; what the
//! channel shows is [`World::slack_posts`]. Posts are not changes of the systems a deploy
//! touches: they are not in [`World::changes`].
//!
//! # Scenarios
//!
//! - `calm`: nothing running, drafts waiting, no new Sentry errors.
//! - `dag-running`: `flickr_workflow`'s latest run is `running`, at task `pull_image_data`
//!   (`PythonOperator`, `running`).
//! - `sensor-waiting`: `image_data_refresh`'s latest run is `running`; its
//!   `data_refresh.ingest_upstream.wait_for_ingest_upstream` (`HttpSensor`) is
//!   `up_for_reschedule`, the two tasks before it succeeded, the later ones have no state.
//! - `apply-fails`: the fakes are as in `calm` (the failing `just apply` is the infrastructure
//!   repo's business, not the world's).
//! - `sentry-errors`: two new unresolved errors in the watched project.
//! - `airflow-down`: the Airflow URL points at a port where nothing listens (connection refused).
//! - `image-late`: a release published in the world gets its registry image 3 s (real time) later.
//! - `image-missing`: a release published in the world never gets its registry image.
//! - `airflow-upgrade`: as `calm`, but Airflow answers as 2.10.5 until the production apply of
//!   `catalog-airflow`, then as 3.3.2 (`/api/v2` only), with the same DAGs, runs and pauses.
//!   The apply runs on this machine, not in the world: the rehearsal tells the world when it
//!   happened ([`World::upgrade_airflow_when`]); a test can upgrade it at once
//!   ([`World::upgrade_airflow`]).
//!
//! ## How new Sentry errors appear "after the deploy"
//!
//! The scenario's errors are live from the moment the world starts: first seen at the world's
//! start, and still happening, so each answer reports them last seen at the time of the request
//! (or at the end of the requested window, `end`, if that is earlier, since Sentry reports the
//! last event within the window). Any check made after the deploy with a `since` taken before it
//! (`statsPeriod`, `start`/`end`, or a client-side `lastSeen >= since`) finds them; old issues
//! never match. [`World::sentry_add_issue`] adds more, with the times a test chooses.
//!
//! # Faults
//!
//! [`Faults`] change the answers for tests: an Airflow status for everything, a delay before
//! every answer, many running runs and a small page cap (Airflow pagination), small Sentry pages,
//! broken JSON, GitHub refusing to approve one's own PR, a registry status for everything, the
//! Airflow version, a short life for Airflow 3's tokens, and a Slack that refuses or is slow.

mod airflow;
mod github;
mod registry;
mod scenario;
mod sentry;
mod server;
mod slack;
#[cfg(test)]
mod tests;

use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::Value;

use self::airflow::Airflow;
pub use self::airflow::AirflowVersion;
use self::github::GitHub;
use self::registry::Registry;
use self::sentry::Sentry;
use self::server::{HttpServer, Incoming, Reply, Stop};
use self::slack::Slack;

pub use self::scenario::{Credentials, Faults, Scenario, UnknownScenario};
pub use self::sentry::NewIssue;

/// One request a fake received, as the log keeps it. Never holds credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `airflow`, `sentry`, `github`, `registry` or `slack`.
    pub service: &'static str,
    pub method: String,
    /// As sent (percent-encoded), without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The JSON body, if the request had one.
    pub body: Option<Value>,
    pub status: u16,
    /// Whether the request carried this service's valid credentials.
    pub authorized: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Airflow,
    Sentry,
    GitHub,
    Registry,
    Slack,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Airflow => "airflow",
            Service::Sentry => "sentry",
            Service::GitHub => "github",
            Service::Registry => "registry",
            Service::Slack => "slack",
        }
    }
}

/// What a fake needs to answer one request.
pub(crate) struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub creds: &'a Credentials,
    pub faults: &'a Faults,
}

/// A fake's answer: the reply, whether the caller was authenticated, and the change it made.
pub(crate) struct Answer {
    pub reply: Reply,
    pub authorized: bool,
    pub change: Option<String>,
}

impl Answer {
    pub(crate) fn new(reply: Reply, authorized: bool) -> Answer {
        Answer {
            reply,
            authorized,
            change: None,
        }
    }
}

/// The state of every service; one lock, so that the log and the changes keep one order.
struct State {
    airflow: Airflow,
    sentry: Sentry,
    github: GitHub,
    registry: Registry,
    slack: Slack,
    changes: Vec<String>,
    log: Vec<Request>,
}

struct Shared {
    faults: Faults,
    creds: Credentials,
    state: Mutex<State>,
    /// When Airflow is to be upgraded (`World::upgrade_airflow_when`), until it is.
    upgrade_when: Mutex<Option<UpgradeWhen>>,
}

/// Says, before an Airflow request, whether Airflow is to be upgraded now.
type UpgradeWhen = Box<dyn Fn() -> bool + Send + Sync>;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every request of every fake goes through here: the delay fault, the service, the broken
    /// JSON fault, the log.
    fn answer(&self, service: Service, req: &Incoming, stop: &Stop) -> Option<Reply> {
        if let Some(delay) = self.faults.delay {
            if !stop.sleep(delay) {
                return None;
            }
        }
        if let (Service::Slack, Some(delay)) = (service, self.faults.slack_delay) {
            if !stop.sleep(delay) {
                return None;
            }
        }
        let ctx = Ctx {
            now: Utc::now(),
            creds: &self.creds,
            faults: &self.faults,
        };
        if service == Service::Airflow {
            self.upgrade_if_due();
        }
        let mut state = self.lock();
        let answer = match service {
            Service::Airflow => state.airflow.handle(&ctx, req),
            Service::Sentry => state.sentry.handle(&ctx, req),
            Service::GitHub => state.github.handle(&ctx, req),
            Service::Registry => {
                let State {
                    registry, github, ..
                } = &mut *state;
                registry.handle(&ctx, req, &|release| published(github, release))
            }
            Service::Slack => state.slack.handle(&ctx, req),
        };
        if let Some(release) = answer.change.as_deref().and_then(published_release) {
            // The release workflow builds and pushes its image: the registry has it a while later.
            state.registry.release_published(release, ctx.now);
        }
        let reply = if self.faults.malformed_json {
            break_json(answer.reply)
        } else {
            answer.reply
        };
        state.changes.extend(answer.change);
        state.log.push(Request {
            service: service.name(),
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            body: req.json(),
            status: reply.status,
            authorized: answer.authorized,
        });
        Some(reply)
    }

    /// Upgrades Airflow when the condition given to `World::upgrade_airflow_when` holds (it is
    /// asked before each Airflow request until then, outside the state's lock: it may read files).
    fn upgrade_if_due(&self) {
        let mut when = self
            .upgrade_when
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if when.as_ref().is_some_and(|due| due()) {
            *when = None;
            drop(when);
            self.upgrade_airflow();
        }
    }

    fn upgrade_airflow(&self) {
        let mut state = self.lock();
        if let Some(change) = state.airflow.upgrade() {
            state.changes.push(change);
        }
    }
}

/// The tag of the release that a change of the GitHub fake published (see `changes`).
fn published_release(change: &str) -> Option<&str> {
    change.strip_prefix("github: published release ")
}

/// Whether the GitHub fake has `release` published, which the registry's images are built from.
fn published(github: &GitHub, release: &str) -> bool {
    github
        .release(release, "")
        .is_some_and(|r| r["draft"] == Value::Bool(false))
}

/// Cuts a successful JSON body in half: valid HTTP, invalid JSON.
fn break_json(mut reply: Reply) -> Reply {
    let is_json = reply
        .header("content-type")
        .is_some_and(|t| t.contains("json"));
    if is_json && (200..300).contains(&reply.status) && !reply.body.is_empty() {
        let half = reply.body.len().div_ceil(2);
        reply.body.truncate(half.max(1));
        if serde_json::from_slice::<Value>(&reply.body).is_ok() {
            reply.body.push(b'{');
        }
    }
    reply
}

/// The running fakes. Dropping it stops every server thread and frees the ports.
pub struct World {
    scenario: Scenario,
    shared: Arc<Shared>,
    airflow: Option<HttpServer>,
    airflow_url: String,
    sentry: HttpServer,
    github: HttpServer,
    registry: HttpServer,
    slack: HttpServer,
}

impl World {
    /// Starts the world of `scenario` with default credentials and no faults.
    pub fn start(scenario: Scenario) -> io::Result<World> {
        World::start_with(scenario, Faults::default(), Credentials::default())
    }

    pub fn start_with(scenario: Scenario, faults: Faults, creds: Credentials) -> io::Result<World> {
        let now = Utc::now();
        let state = State {
            airflow: Airflow::new(scenario, &faults, now),
            sentry: Sentry::new(scenario, &faults, now),
            github: GitHub::new(&faults),
            registry: Registry::new(scenario),
            slack: Slack::default(),
            changes: Vec::new(),
            log: Vec::new(),
        };
        let shared = Arc::new(Shared {
            faults,
            creds,
            state: Mutex::new(state),
            upgrade_when: Mutex::new(None),
        });
        let (airflow, airflow_url) = if scenario == Scenario::AirflowDown {
            (None, dead_url()?)
        } else {
            let server = serve(Service::Airflow, &shared)?;
            let url = server.url();
            (Some(server), url)
        };
        Ok(World {
            scenario,
            airflow,
            airflow_url,
            sentry: serve(Service::Sentry, &shared)?,
            github: serve(Service::GitHub, &shared)?,
            registry: serve(Service::Registry, &shared)?,
            slack: serve(Service::Slack, &shared)?,
            shared,
        })
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// E.g. `http://127.0.0.1:41234`, no trailing slash; the API is under `/api/v1` (Airflow 2)
    /// or `/api/v2` (Airflow 3).
    pub fn airflow_url(&self) -> String {
        self.airflow_url.clone()
    }

    /// The Airflow the world runs now.
    pub fn airflow_version(&self) -> AirflowVersion {
        self.shared.lock().airflow.version()
    }

    /// Upgrades Airflow to 3.3.2 now: from the next request on it answers with `/api/v2` only,
    /// with the same DAGs, runs and pauses (as a database migration keeps them). Listed in
    /// `changes` as `airflow: upgraded from 2.10.5 to 3.3.2 (API /api/v2 only)`.
    pub fn upgrade_airflow(&self) {
        self.shared.upgrade_airflow();
    }

    /// Upgrades Airflow at the first request for which `due()` says so (asked before each
    /// Airflow request until then). The deploy that upgrades Airflow happens outside the world
    /// (a recipe of the infrastructure repository): this ties the upgrade to it, and the first
    /// call after the deploy sees the new Airflow.
    pub fn upgrade_airflow_when(&self, due: impl Fn() -> bool + Send + Sync + 'static) {
        *self
            .shared
            .upgrade_when
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(due));
    }

    /// Every token the Airflow 3 fake issued (none on Airflow 2), for tests that check that
    /// none shows in output or journal.
    pub fn airflow_tokens(&self) -> Vec<String> {
        self.shared.lock().airflow.tokens()
    }

    /// The base under which the API is `{url}/api/0/`.
    pub fn sentry_url(&self) -> String {
        self.sentry.url()
    }

    /// The API base, like `https://api.github.com`: releases are `{url}/repos/{o}/{r}/releases`.
    pub fn github_url(&self) -> String {
        self.github.url()
    }

    /// Like `https://ghcr.io`: manifests are `{url}/v2/{name}/manifests/{tag}`, tokens
    /// `{url}/token`. It stands in for the registry host of every image (`[registry] url`).
    pub fn registry_url(&self) -> String {
        self.registry.url()
    }

    /// Whether the registry has `tag` of `image` now (`ghcr.io/wordpress/openverse-catalog`, or
    /// without the host).
    pub fn image_has_tag(&self, image: &str, tag: &str) -> bool {
        let state = self.shared.lock();
        let name = registry::repository(image);
        let published = |release: &str| published(&state.github, release);
        state.registry.has(name, tag, Utc::now(), &published)
    }

    /// Pushes `tag` of `image` to the registry now, whatever the scenario.
    pub fn tag_image(&self, image: &str, tag: &str) {
        self.shared.lock().registry.tag(image, tag);
    }

    /// The team channel's incoming webhook, like `https://hooks.slack.com/services/T/B/SECRET`:
    /// what a rehearsal configures as `[slack] webhook`. Its path is its secret; any other path
    /// answers 404 `no_service`.
    pub fn slack_url(&self) -> String {
        format!("{}{}", self.slack.url(), slack::WEBHOOK_PATH)
    }

    /// What the team's channel shows, oldest first (Slack's `&lt;` escapes undone).
    pub fn slack_posts(&self) -> Vec<String> {
        self.shared.lock().slack.posts()
    }

    pub fn sentry_org(&self) -> &str {
        sentry::ORG
    }

    pub fn sentry_project(&self) -> &str {
        sentry::PROJECT
    }

    /// `WordPress/openverse`.
    pub fn github_repo(&self) -> &str {
        github::REPO
    }

    /// `WordPress/openverse-infrastructure`.
    pub fn github_infra_repo(&self) -> &str {
        github::INFRA_REPO
    }

    pub fn credentials(&self) -> &Credentials {
        &self.shared.creds
    }

    /// Every request every fake received, in the order they were answered.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().log.clone()
    }

    /// The calls that changed the world, in order, e.g.
    /// `github: published release catalog-2024.05.02.10.00.00`, `airflow: paused image_data_refresh`,
    /// `github: approved PR #4242 in WordPress/openverse (Publish changelog for ...)`,
    /// `github: dispatched workflow F in REPO on REF with inputs {...}`,
    /// `github: opened PR #900 in WordPress/openverse-infrastructure: TITLE`.
    /// A call that changes nothing (pausing a paused DAG) is not listed.
    pub fn changes(&self) -> Vec<String> {
        self.shared.lock().changes.clone()
    }

    /// Whether the DAG is paused now; `None` for an unknown DAG.
    pub fn dag_paused(&self, dag_id: &str) -> Option<bool> {
        self.shared.lock().airflow.is_paused(dag_id)
    }

    /// The release of `WordPress/openverse` with this tag, as the API shows it (drafts included).
    pub fn release(&self, tag: &str) -> Option<Value> {
        self.shared.lock().github.release(tag, &self.github_url())
    }

    /// The tag of the newest draft release with `prefix` (`catalog-`), as the world began.
    pub fn draft_tag(&self, prefix: &str) -> Option<String> {
        self.shared.lock().github.draft_tag(prefix)
    }

    /// Numbers of the pull requests approved so far (any repository).
    pub fn approved_prs(&self) -> Vec<u64> {
        self.shared.lock().github.approved()
    }

    /// Workflow dispatches so far: `{repo, workflow, ref, inputs}`.
    pub fn dispatches(&self) -> Vec<Value> {
        self.shared.lock().github.dispatches()
    }

    /// Pull requests opened so far: `{repo, number, title, head, base, body, html_url}`.
    pub fn opened_prs(&self) -> Vec<Value> {
        self.shared.lock().github.opened()
    }

    /// Adds an issue to the watched Sentry project (e.g. a new error after the deploy);
    /// returns its id.
    pub fn sentry_add_issue(&self, issue: NewIssue) -> String {
        self.shared.lock().sentry.add(issue)
    }

    /// When the world started: the scenario's Sentry errors are first seen then.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.shared.lock().sentry.started()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Signal them all first so their threads wind down together; each server's own drop
        // (right after this) joins its threads and closes its port.
        let others = [&self.sentry, &self.github, &self.registry, &self.slack];
        for server in self.airflow.iter().chain(others) {
            server.signal_stop();
        }
    }
}

fn serve(service: Service, shared: &Arc<Shared>) -> io::Result<HttpServer> {
    let shared = shared.clone();
    HttpServer::start(Arc::new(move |req: &Incoming, stop: &Stop| {
        shared.answer(service, req, stop)
    }))
}

/// A loopback URL where nothing listens: bind a free port, then close it.
fn dead_url() -> io::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}"))
}

/// Airflow's times: Python's `isoformat()` of an aware UTC datetime, microseconds only if any.
pub(crate) fn airflow_time(t: DateTime<Utc>) -> String {
    if t.nanosecond() / 1_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// Sentry's times: ISO 8601 in UTC with `Z`, with a fraction only if there is one.
pub(crate) fn sentry_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// GitHub's times: whole seconds, `Z`.
pub(crate) fn github_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

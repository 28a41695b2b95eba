//! A typed Airflow client: the same calls, with the same answers, against Airflow 2 (`/api/v1`,
//! basic auth) and Airflow 3 (`/api/v2`, a JWT); `connection` finds which one the server is, and
//! follows it when a deploy upgrades it. No Rhai here: it answers with `model` types or a
//! `Failure` that says what to do.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::collection::{read_all, MAX_ITEMS};
use super::connection::{Connection, Notice, Resource};
use super::model::{Dag, DagRun, Health, Page, PausedState, TaskInstance, Version};
use crate::error::Failure;
use crate::rest::{segment, Shared};

/// Items asked for per page (Airflow 2's default page is 100 items, Airflow 3's 50). Airflow
/// caps a page at `maximum_page_limit` (100 by default) and may send fewer than asked, so the
/// reading advances by what arrived, never by this.
const PAGE_LIMIT: u64 = 100;

pub struct Client {
    connection: Connection,
}

/// A whole collection and, when it kept changing while being read, what to tell the operator.
pub struct Listing<T> {
    pub items: Vec<T>,
    pub warning: Option<String>,
}

impl Client {
    /// A client from `[airflow]`; nothing is sent yet. `notice` tells the operator what they
    /// should know at once (Airflow answering with another API after a deploy).
    pub fn new(
        settings: &crate::config::Airflow,
        shared: Shared,
        notice: Notice,
    ) -> Result<Client, Failure> {
        Ok(Client {
            connection: Connection::new(settings, shared, notice)?,
        })
    }

    /// Every DAG run in state running, of all DAGs.
    pub fn running_dags(&self) -> Result<Listing<DagRun>, Failure> {
        self.collection(
            "/dags/~/dagRuns?state=running",
            "dag_runs",
            "the running DAG runs",
        )
    }

    /// The task instances of a DAG run that started and have not finished.
    pub fn active_tasks(
        &self,
        dag_id: &str,
        run_id: &str,
    ) -> Result<Listing<TaskInstance>, Failure> {
        let run_path = format!("/dags/{}/dagRuns/{}", segment(dag_id), segment(run_id));
        let what = format!("DAG run {run_id} of DAG {dag_id}");
        let mut tasks: Listing<TaskInstance> = self.collection(
            &format!("{run_path}/taskInstances"),
            "task_instances",
            &what,
        )?;
        if tasks.items.is_empty() {
            // Airflow 2 answers an unknown run with an empty list, not a 404 (Airflow 3 with a
            // 404): ask for the run itself, so that a wrong id is an error that names it rather
            // than "nothing active".
            self.connection
                .json(Method::GET, &Resource::Api(&run_path), None, &what)?;
        }
        tasks.items.retain(TaskInstance::is_active);
        Ok(tasks)
    }

    /// The DAGs with a tag.
    pub fn dags(&self, tag: &str) -> Result<Listing<Dag>, Failure> {
        let path = format!("/dags?tags={}", segment(tag));
        self.collection(&path, "dags", &format!("the DAGs tagged {tag}"))
    }

    pub fn is_paused(&self, dag_id: &str) -> Result<bool, Failure> {
        let what = format!("DAG {dag_id}");
        let resource = Resource::Api(&dag_path(dag_id));
        self.paused_state(Method::GET, &resource, None, &what)
    }

    /// Pauses or unpauses; answers the paused state Airflow confirms.
    pub fn set_paused(&self, dag_id: &str, paused: bool) -> Result<bool, Failure> {
        let path = pause_path(dag_id);
        // Only `is_paused`: Airflow 3 rejects a body with any other field.
        let body = json!({ "is_paused": paused });
        let what = format!("DAG {dag_id}");
        self.paused_state(Method::PATCH, &Resource::Api(&path), Some(&body), &what)
    }

    /// Where `set_paused` sends its PATCH, as it may be shown (a dry run's "would").
    pub fn pause_url(&self, dag_id: &str) -> Result<String, Failure> {
        self.connection.url(&Resource::Api(&pause_path(dag_id)))
    }

    /// The health check, judged (`healthy`).
    pub fn health(&self) -> Result<Health, Failure> {
        let health: Health = self.read(Method::GET, &Resource::Health, None, "the health check")?;
        Ok(health.judge())
    }

    /// The version Airflow reports.
    pub fn version(&self) -> Result<String, Failure> {
        let what = "the version";
        let answer = self
            .connection
            .json(Method::GET, &Resource::Api("/version"), None, what)?;
        let version: Option<Version> = serde_json::from_value(answer.value).ok();
        version.and_then(|v| v.version).ok_or_else(|| {
            self.connection
                .unreadable(&answer.url, what, "no `version` in the answer")
        })
    }

    fn paused_state(
        &self,
        method: Method,
        resource: &Resource,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<bool, Failure> {
        let answer = self.connection.json(method, resource, body, what)?;
        let state: Option<PausedState> = serde_json::from_value(answer.value).ok();
        state.and_then(|s| s.is_paused).ok_or_else(|| {
            self.connection
                .unreadable(&answer.url, what, "no boolean `is_paused` in the DAG")
        })
    }

    /// One answer, read as a `T`.
    fn read<T: DeserializeOwned>(
        &self,
        method: Method,
        resource: &Resource,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<T, Failure> {
        let answer = self.connection.json(method, resource, body, what)?;
        serde_json::from_value(answer.value).map_err(|e| {
            let reason = format!("not what Airflow documents ({e})");
            self.connection.unreadable(&answer.url, what, &reason)
        })
    }

    /// Every item of an Airflow collection (`key`: "dag_runs", "task_instances", "dags"); `path`
    /// is under the API's root.
    fn collection<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        what: &str,
    ) -> Result<Listing<T>, Failure> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let started = std::time::Instant::now();
        let read = read_all(
            |offset| {
                self.connection.shared().check_cancelled()?;
                // Bounded in time as in items: a server that answers slowly page after page.
                if started.elapsed() > crate::rest::MAX_LISTING_TIME {
                    return Err(Failure::new(format!(
                        "Airflow's {what} took longer than {}s to list ({offset} items read): check Airflow's load, or ask for fewer",
                        crate::rest::MAX_LISTING_TIME.as_secs()
                    )));
                }
                let page_path = format!("{path}{separator}limit={PAGE_LIMIT}&offset={offset}");
                let answer =
                    self.connection
                        .json(Method::GET, &Resource::Api(&page_path), None, what)?;
                Page::read(answer.value, key)
                    .map_err(|reason| self.connection.unreadable(&answer.url, what, &reason))
            },
            |count| {
                Failure::new(format!(
                "Airflow's {what} did not end: it counted or sent {count} items, past the {MAX_ITEMS} a listing may hold; check Airflow's API (a proxy or a broken page limit?)"
            ))
            },
        )?;
        let warning = (!read.complete).then(|| {
            format!(
                "{what} kept changing while being read ({} received, Airflow counted {}): the list may be incomplete",
                read.items.len(),
                read.total
            )
        });
        Ok(Listing {
            items: read.items,
            warning,
        })
    }
}

/// A DAG's path under the API's root.
fn dag_path(dag_id: &str) -> String {
    format!("/dags/{}", segment(dag_id))
}

fn pause_path(dag_id: &str) -> String {
    format!("{}?update_mask=is_paused", dag_path(dag_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{AirflowVersion, Credentials, Faults, Scenario, World};
    use std::sync::{Arc, Mutex};

    fn world(scenario: Scenario, version: AirflowVersion) -> World {
        let faults = Faults {
            airflow_version: Some(version),
            ..Faults::default()
        };
        World::start_with(scenario, faults, Credentials::default()).unwrap()
    }

    fn client(world: &World) -> (Client, Arc<Mutex<Vec<String>>>) {
        let settings = crate::config::Airflow {
            url: Some(world.airflow_url()),
            user: Some(world.credentials().airflow_user.clone()),
            password: Some(world.credentials().airflow_password.clone()),
            timeout: Some(5),
            ..Default::default()
        };
        let notices = Arc::new(Mutex::new(Vec::new()));
        let told = notices.clone();
        let notice: Notice = Box::new(move |text: &str| told.lock().unwrap().push(text.into()));
        (
            Client::new(&settings, Shared::detached(), notice).unwrap(),
            notices,
        )
    }

    #[test]
    fn a_waiting_refresh_reads_the_same_from_airflow_2_and_3() {
        let mut seen = Vec::new();
        for version in [AirflowVersion::Airflow2, AirflowVersion::Airflow3] {
            let world = world(Scenario::SensorWaiting, version);
            let (airflow, _) = client(&world);
            let runs = airflow.running_dags().unwrap();
            assert_eq!(runs.warning, None);
            let refresh = runs
                .items
                .iter()
                .find(|run| run.dag_id.contains("data_refresh"))
                .expect("a running refresh");
            let tasks = airflow
                .active_tasks(&refresh.dag_id, &refresh.run_id)
                .unwrap();
            let states: Vec<_> = tasks.items.iter().map(|t| t.state.clone()).collect();
            let refresh_dags = airflow.dags("data_refresh").unwrap().items;
            assert!(refresh_dags
                .iter()
                .all(|dag| dag.tags.contains(&"data_refresh".into())));
            seen.push((refresh.dag_id.clone(), states, refresh_dags.len()));
        }
        assert_eq!(seen[0], seen[1]);
        assert!(
            seen[0].1.contains(&Some("up_for_reschedule".into())),
            "{seen:?}"
        );
    }

    #[test]
    fn a_pause_is_what_airflow_confirms_and_the_world_holds() {
        for version in [AirflowVersion::Airflow2, AirflowVersion::Airflow3] {
            let world = world(Scenario::Calm, version);
            let (airflow, _) = client(&world);
            let dag = airflow.dags("data_refresh").unwrap().items[0]
                .dag_id
                .clone();
            assert!(airflow.set_paused(&dag, true).unwrap());
            assert_eq!(world.dag_paused(&dag), Some(true));
            assert!(airflow.is_paused(&dag).unwrap());
            assert!(!airflow.set_paused(&dag, false).unwrap());
            assert_eq!(world.dag_paused(&dag), Some(false));
            assert!(airflow.health().unwrap().healthy);
            assert!(airflow.version().unwrap().starts_with(match version {
                AirflowVersion::Airflow2 => "2.",
                AirflowVersion::Airflow3 => "3.",
            }));
        }
    }

    #[test]
    fn an_upgrade_during_the_run_is_followed_and_told() {
        let world = world(Scenario::Calm, AirflowVersion::Airflow2);
        let (airflow, notices) = client(&world);
        assert!(airflow.version().unwrap().starts_with("2."));
        world.upgrade_airflow();
        assert!(airflow.version().unwrap().starts_with("3."));
        let notices = notices.lock().unwrap();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].contains("Airflow 3"), "{notices:?}");
    }

    #[test]
    fn an_unknown_run_is_named_not_taken_for_idle() {
        let world = world(Scenario::Calm, AirflowVersion::Airflow2);
        let (airflow, _) = client(&world);
        let failure = airflow
            .active_tasks("image_data_refresh", "no_such_run")
            .err()
            .unwrap();
        assert!(failure.message().contains("no_such_run"), "{failure}");
    }
}

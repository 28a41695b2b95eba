//! `airflow`: what a runbook asks Airflow before and during a deploy (which DAGs run, what
//! their tasks are doing), pausing and unpausing a DAG, and whether Airflow is healthy
//! afterwards. The same calls, with the same answers, against Airflow 2 (`/api/v1`, basic auth)
//! and Airflow 3 (`/api/v2`, a JWT): `api` finds which one the server is, and follows it when a
//! deploy upgrades it.

mod api;

use reqwest::Method;
use rhai::{Array, Dynamic, Engine, Map};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

use self::api::{Connection, Resource};
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::journal::Event;
use crate::objects::Objects;
use crate::rest::segment;

/// Items asked for per page (Airflow 2's default page is 100 items, Airflow 3's 50). Airflow
/// caps a page at `maximum_page_limit` (100 by default) and may send fewer than asked, so the
/// reading advances by what arrived, never by this.
const PAGE_LIMIT: u64 = 100;

/// How many times a collection is read again when it changed while being read.
const READ_ATTEMPTS: usize = 3;

/// Task states of a task instance that has finished; `None` (null) means not started yet.
/// Any other state, including one a newer Airflow may add, counts as active: a runbook that
/// checks for active work must not miss work it does not know.
const FINISHED_STATES: &[&str] = &["success", "failed", "skipped", "upstream_failed", "removed"];

/// The script object `airflow`; the connection is made on first use, so a script that never
/// calls Airflow needs no Airflow settings.
#[derive(Clone)]
pub struct Airflow(Arc<AirflowClient>);

struct AirflowClient {
    ctx: Ctx,
    connection: OnceLock<Connection>,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Airflow>("Airflow");
    objects.insert(
        "airflow",
        Dynamic::from(Airflow(Arc::new(AirflowClient {
            ctx: ctx.clone(),
            connection: OnceLock::new(),
        }))),
    );
    engine.register_global_module(rhai::exported_module!(airflow_api).into());
}

/// The `airflow` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod airflow_api {
    use super::*;

    /// Every DAG run in state running, of all DAGs, all pages, as #{dag_id, run_id, state,
    /// start_date}.
    ///
    /// ```rhai
    /// for run in airflow.running_dags() { info(`${run.dag_id} ${run.run_id}`) }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn running_dags(airflow: Airflow) -> HostResult<Array> {
        airflow.running_dags()
    }

    /// Task instances of a DAG run that started and have not finished (running, queued, scheduled,
    /// up_for_reschedule = a sensor waiting between pokes, deferred, up_for_retry, restarting), as
    /// #{task_id, operator, state}; tasks not started yet are left out.
    ///
    /// ```rhai
    /// airflow.active_tasks(run.dag_id, run.run_id).all(|t| t.state == "up_for_reschedule")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn active_tasks(airflow: Airflow, dag_id: &str, run_id: &str) -> HostResult<Array> {
        airflow.active_tasks(dag_id, run_id)
    }

    /// Pauses a DAG (no new runs or tasks are scheduled); returns its paused state as Airflow
    /// confirms it (true).
    ///
    /// ```rhai
    /// airflow.pause("image_data_refresh")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn pause(airflow: Airflow, dag_id: &str) -> HostResult<bool> {
        airflow.set_paused(dag_id, true)
    }

    /// Unpauses a DAG; returns its paused state as Airflow confirms it (false).
    ///
    /// ```rhai
    /// airflow.unpause("image_data_refresh")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn unpause(airflow: Airflow, dag_id: &str) -> HostResult<bool> {
        airflow.set_paused(dag_id, false)
    }

    /// Whether a DAG is paused.
    ///
    /// ```rhai
    /// if !airflow.is_paused("image_data_refresh") { airflow.pause("image_data_refresh") }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn is_paused(airflow: Airflow, dag_id: &str) -> HostResult<bool> {
        airflow.is_paused(dag_id)
    }

    /// The DAGs with a tag, all pages, as #{dag_id, is_paused, tags}.
    ///
    /// ```rhai
    /// let refresh = airflow.dags("data_refresh").map(|dag| dag.dag_id);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn dags(airflow: Airflow, tag: &str) -> HostResult<Array> {
        airflow.dags(tag)
    }

    /// Airflow's health map (metadatabase, scheduler, ... each with a status) plus `healthy`: true
    /// when the metadatabase and the scheduler are both healthy.
    ///
    /// ```rhai
    /// if !airflow.health().healthy { throw "Airflow is not healthy" }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn health(airflow: Airflow) -> HostResult<Map> {
        airflow.health()
    }

    /// The version Airflow reports, e.g. "2.10.5" or "3.3.2".
    ///
    /// ```rhai
    /// info(`Airflow ${airflow.version()}`)
    /// ```
    #[rhai_fn(return_raw)]
    pub fn version(airflow: Airflow) -> HostResult<String> {
        airflow.version()
    }
}

impl Airflow {
    pub fn ctx(&self) -> &Ctx {
        &self.0.ctx
    }

    fn connection(&self) -> HostResult<&Connection> {
        if let Some(connection) = self.0.connection.get() {
            return Ok(connection);
        }
        let connection = Connection::new(self.ctx())?;
        Ok(self.0.connection.get_or_init(|| connection))
    }

    fn get(&self, path: &str, what: &str) -> HostResult<api::Answer> {
        self.connection()?
            .json(Method::GET, &Resource::Api(path), None, what)
    }

    fn running_dags(&self) -> HostResult<Array> {
        let runs = self.collection(
            "/dags/~/dagRuns?state=running",
            "dag_runs",
            "the running DAG runs",
        )?;
        Ok(runs
            .iter()
            .map(|run| Dynamic::from_map(run_map(run)))
            .collect())
    }

    fn active_tasks(&self, dag_id: &str, run_id: &str) -> HostResult<Array> {
        let run_path = format!("/dags/{}/dagRuns/{}", segment(dag_id), segment(run_id));
        let what = format!("DAG run {run_id} of DAG {dag_id}");
        let tasks = self.collection(
            &format!("{run_path}/taskInstances"),
            "task_instances",
            &what,
        )?;
        if tasks.is_empty() {
            // Airflow 2 answers an unknown run with an empty list, not a 404 (Airflow 3 with a
            // 404): ask for the run itself, so that a wrong id is an error that names it rather
            // than "nothing active".
            self.get(&run_path, &what)?;
        }
        Ok(tasks
            .iter()
            .filter(|task| is_active(&task["state"]))
            .map(|task| Dynamic::from_map(task_map(task)))
            .collect())
    }

    pub fn is_paused(&self, dag_id: &str) -> HostResult<bool> {
        let what = format!("DAG {dag_id}");
        let dag = self.get(&dag_path(dag_id), &what)?;
        self.paused_state(&dag, &what)
    }

    /// Pauses or unpauses; the state Airflow answers with must be the one asked for, because a
    /// runbook goes on to deploy believing it.
    pub fn set_paused(&self, dag_id: &str, paused: bool) -> HostResult<bool> {
        let connection = self.connection()?;
        let path = format!("{}?update_mask=is_paused", dag_path(dag_id));
        let resource = Resource::Api(&path);
        let what = format!("DAG {dag_id}");
        if self.ctx().dry_run {
            // A read, so that a wrong DAG id fails in the dry run and not in the real one.
            self.is_paused(dag_id)?;
        }
        let would = format!("PATCH {} is_paused={paused}", connection.url(&resource)?);
        if self.ctx().would(&would) {
            return Ok(paused);
        }
        // Only `is_paused`: Airflow 3 rejects a body with any other field.
        let body = json!({ "is_paused": paused });
        let dag = connection.json(Method::PATCH, &resource, Some(&body), &what)?;
        let confirmed = self.paused_state(&dag, &what)?;
        self.ctx().record(Event::AirflowPause {
            dag_id: dag_id.to_string(),
            is_paused: confirmed,
            intent: false,
        });
        if confirmed != paused {
            return Err(host_error(format!(
                "Airflow kept {what} {}: the PATCH was accepted but not applied; check the DAG in Airflow's UI",
                if confirmed { "paused" } else { "unpaused" }
            )));
        }
        let done = if confirmed { "paused" } else { "unpaused" };
        self.ctx().ui.line(&format!("{done} {dag_id}"));
        Ok(confirmed)
    }

    fn dags(&self, tag: &str) -> HostResult<Array> {
        let path = format!("/dags?tags={}", segment(tag));
        let dags = self.collection(&path, "dags", &format!("the DAGs tagged {tag}"))?;
        Ok(dags
            .iter()
            .map(|dag| Dynamic::from_map(dag_map(dag)))
            .collect())
    }

    fn health(&self) -> HostResult<Map> {
        let connection = self.connection()?;
        let what = "the health check";
        let health = connection.json(Method::GET, &Resource::Health, None, what)?;
        let healthy = is_healthy(&health.value);
        let mut map = rhai::serde::to_dynamic(&health.value)?
            .try_cast::<Map>()
            .ok_or_else(|| self.unreadable(&health, what, "expected a JSON object"))?;
        map.insert("healthy".into(), healthy.into());
        Ok(map)
    }

    fn version(&self) -> HostResult<String> {
        let what = "the version";
        let answer = self.get("/version", what)?;
        answer.value["version"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.unreadable(&answer, what, "no `version` in the answer"))
    }

    /// Every item of an Airflow collection (`key`: "dag_runs", "task_instances", "dags"); `path`
    /// is under the API's root.
    fn collection(&self, path: &str, key: &str, what: &str) -> HostResult<Vec<Value>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let read = read_all(|offset| {
            self.ctx().check_cancelled()?;
            let page_path = format!("{path}{separator}limit={PAGE_LIMIT}&offset={offset}");
            let answer = self.get(&page_path, what)?;
            Page::read(&answer.value, key).map_err(|reason| self.unreadable(&answer, what, &reason))
        })?;
        if !read.complete {
            self.ctx().ui.warn(&format!(
                "{what} kept changing while being read ({} received, Airflow counted {}): the list may be incomplete",
                read.items.len(),
                read.total
            ));
        }
        Ok(read.items)
    }

    fn paused_state(&self, dag: &api::Answer, what: &str) -> HostResult<bool> {
        dag.value["is_paused"]
            .as_bool()
            .ok_or_else(|| self.unreadable(dag, what, "no boolean `is_paused` in the DAG"))
    }

    /// An answer that arrived but is not the shape Airflow's API documents.
    fn unreadable(
        &self,
        answer: &api::Answer,
        what: &str,
        reason: &str,
    ) -> Box<rhai::EvalAltResult> {
        match self.connection() {
            Ok(connection) => connection.unreadable(&answer.url, what, reason),
            Err(error) => error,
        }
    }
}

/// A DAG's path under the API's root.
fn dag_path(dag_id: &str) -> String {
    format!("/dags/{}", segment(dag_id))
}

/// One page of a collection: its items and the `total_entries` it reported.
#[derive(Debug)]
struct Page {
    items: Vec<Value>,
    total: u64,
}

impl Page {
    fn read(answer: &Value, key: &str) -> Result<Page, String> {
        let items = answer[key]
            .as_array()
            .ok_or_else(|| format!("no `{key}` list in the answer"))?;
        let total = answer["total_entries"]
            .as_u64()
            .ok_or_else(|| "no `total_entries` in the answer".to_string())?;
        Ok(Page {
            items: items.clone(),
            total,
        })
    }
}

/// A whole collection; `complete` is false when it never added up to the total Airflow reported.
#[derive(Debug)]
struct Collection {
    items: Vec<Value>,
    total: u64,
    complete: bool,
}

/// Reads a collection page by page through `fetch(offset)`. Pages may be shorter than asked
/// (the server's cap): the offset advances by what arrived, and an empty page ends the reading
/// so that a server that miscounts cannot keep it going forever. Offsets shift when an item
/// leaves the collection meanwhile (a run finishing), which can skip another item: when the
/// total changed or the pages do not add up to it, the whole collection is read again.
fn read_all(mut fetch: impl FnMut(u64) -> HostResult<Page>) -> HostResult<Collection> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let read = read_once(&mut fetch)?;
        if read.complete || attempt == READ_ATTEMPTS {
            return Ok(read);
        }
    }
}

fn read_once(fetch: &mut impl FnMut(u64) -> HostResult<Page>) -> HostResult<Collection> {
    let first = fetch(0)?;
    let total = first.total;
    let mut steady = true;
    let mut items = first.items;
    while (items.len() as u64) < total {
        let page = fetch(items.len() as u64)?;
        steady &= page.total == total;
        if page.items.is_empty() {
            break;
        }
        items.extend(page.items);
    }
    Ok(Collection {
        complete: steady && items.len() as u64 == total,
        items,
        total,
    })
}

fn is_active(state: &Value) -> bool {
    match state.as_str() {
        None | Some("none") => false,
        Some(state) => !FINISHED_STATES.contains(&state),
    }
}

/// A JSON field as a script value; a missing one or null is `()`.
fn field(value: &Value, key: &str) -> Dynamic {
    rhai::serde::to_dynamic(&value[key]).unwrap_or(Dynamic::UNIT)
}

fn run_map(run: &Value) -> Map {
    let mut map = Map::new();
    map.insert("dag_id".into(), field(run, "dag_id"));
    map.insert("run_id".into(), field(run, "dag_run_id"));
    map.insert("state".into(), field(run, "state"));
    map.insert("start_date".into(), field(run, "start_date"));
    map
}

fn task_map(task: &Value) -> Map {
    let mut map = Map::new();
    map.insert("task_id".into(), field(task, "task_id"));
    map.insert("operator".into(), field(task, "operator"));
    map.insert("state".into(), field(task, "state"));
    map
}

fn dag_map(dag: &Value) -> Map {
    let tags: Array = dag["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tag| field(tag, "name"))
        .collect();
    let mut map = Map::new();
    map.insert("dag_id".into(), field(dag, "dag_id"));
    map.insert("is_paused".into(), field(dag, "is_paused"));
    map.insert("tags".into(), tags.into());
    map
}

/// Airflow answers its health check with 200 even when unhealthy: the statuses say. The
/// triggerer and the DAG processor are optional components (null when not run) and left out.
fn is_healthy(health: &Value) -> bool {
    ["metadatabase", "scheduler"]
        .iter()
        .all(|part| health[part]["status"] == "healthy")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(ids: std::ops::Range<u64>) -> Vec<Value> {
        ids.map(|i| json!({ "dag_run_id": format!("run_{i}") }))
            .collect()
    }

    /// A server holding `items`, sending at most `cap` per page.
    fn server(items: Vec<Value>, cap: usize) -> impl FnMut(u64) -> HostResult<Page> {
        move |offset| {
            let start = (offset as usize).min(items.len());
            let end = (start + cap).min(items.len());
            Ok(Page {
                items: items[start..end].to_vec(),
                total: items.len() as u64,
            })
        }
    }

    #[test]
    fn pages_capped_below_the_limit_are_all_read() {
        let mut offsets = Vec::new();
        let mut fake = server(runs(0..300), 100);
        let read = read_all(|offset| {
            offsets.push(offset);
            fake(offset)
        })
        .unwrap();
        assert_eq!(read.items, runs(0..300));
        assert!(read.complete);
        assert_eq!(offsets, vec![0, 100, 200]);
    }

    #[test]
    fn an_empty_page_ends_the_reading_of_a_miscounting_server() {
        let mut calls = 0;
        let read = read_all(|offset| {
            calls += 1;
            Ok(Page {
                items: if offset == 0 { runs(0..3) } else { Vec::new() },
                total: 10,
            })
        })
        .unwrap();
        assert_eq!(read.items.len(), 3);
        assert!(!read.complete);
        assert_eq!(
            calls,
            2 * READ_ATTEMPTS,
            "two pages per attempt, then given up"
        );
    }

    #[test]
    fn a_collection_that_changed_while_read_is_read_again() {
        // First reading: run_0 finishes after the first page, shifting the rest left by one,
        // so run_100 would be skipped. Second reading: steady.
        let mut reading = 0;
        let read = read_all(|offset| {
            if offset == 0 {
                reading += 1;
            }
            let items = if reading == 1 && offset > 0 {
                runs(1..150)
            } else {
                runs(0..150)
            };
            server(items, 100)(offset)
        })
        .unwrap();
        assert_eq!(reading, 2);
        assert!(read.complete);
        assert_eq!(read.items, runs(0..150));
    }

    #[test]
    fn unfinished_tasks_are_active_and_unstarted_ones_are_not() {
        for state in [
            "running",
            "queued",
            "scheduled",
            "up_for_reschedule",
            "deferred",
            "up_for_retry",
            "restarting",
            "a_new_state",
        ] {
            assert!(is_active(&json!(state)), "{state}");
        }
        for state in [
            json!(null),
            json!("none"),
            json!("success"),
            json!("failed"),
            json!("skipped"),
            json!("upstream_failed"),
            json!("removed"),
        ] {
            assert!(!is_active(&state), "{state}");
        }
    }

    #[test]
    fn healthy_needs_the_metadatabase_and_the_scheduler() {
        let health = |db: &str, scheduler: Value| {
            json!({
                "metadatabase": { "status": db },
                "scheduler": { "status": scheduler, "latest_scheduler_heartbeat": null },
                "triggerer": { "status": null },
            })
        };
        assert!(is_healthy(&health("healthy", json!("healthy"))));
        assert!(!is_healthy(&health("healthy", json!("unhealthy"))));
        assert!(!is_healthy(&health("unhealthy", json!("healthy"))));
        assert!(!is_healthy(&health("healthy", json!(null))));
        assert!(!is_healthy(&json!({})));
    }

    #[test]
    fn the_url_may_name_the_api_root() {
        use crate::rest::server_root;
        assert_eq!(
            server_root("http://af:8080/api/v1/", "/api/v1"),
            "http://af:8080"
        );
        assert_eq!(
            server_root(" http://af:8080/ ", "/api/v1"),
            "http://af:8080"
        );
        assert_eq!(
            server_root("https://af.example/airflow", "/api/v1"),
            "https://af.example/airflow"
        );
    }

    #[test]
    fn a_run_keeps_airflows_values_under_the_scripts_names() {
        let run = run_map(&json!({
            "dag_id": "ovscript_refresh", "dag_run_id": "manual__2026-11-23T19:14:12.554300+00:00",
            "state": "running", "start_date": null, "conf": {},
        }));
        assert_eq!(
            run["run_id"].clone().into_string().unwrap(),
            "manual__2026-11-23T19:14:12.554300+00:00"
        );
        assert_eq!(
            run["dag_id"].clone().into_string().unwrap(),
            "ovscript_refresh"
        );
        assert!(run["start_date"].is_unit());
        assert_eq!(run.len(), 4);
    }
}

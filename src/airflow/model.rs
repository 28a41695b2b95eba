//! Airflow's answers as ovscript reads them, the same from Airflow 2 (`/api/v1`) and Airflow 3
//! (`/api/v2`), under the names scripts see.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Task states of a task instance that has finished; `None` (null) means not started yet.
/// Any other state, including one a newer Airflow may add, counts as active: a runbook that
/// checks for active work must not miss work it does not know.
const FINISHED_STATES: &[&str] = &["success", "failed", "skipped", "upstream_failed", "removed"];

/// A DAG run: #{dag_id, run_id, state, start_date}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DagRun {
    pub dag_id: String,
    /// Airflow's `dag_run_id`.
    #[serde(rename(deserialize = "dag_run_id"))]
    pub run_id: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub start_date: Option<String>,
}

/// A task instance of a DAG run: #{task_id, operator, state}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInstance {
    pub task_id: String,
    /// The operator's class name (`HttpSensor`, `TemplatedConnectionHttpSensor`).
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

impl TaskInstance {
    /// Started and not finished: running, queued, scheduled, up_for_reschedule (a sensor waiting
    /// between pokes), deferred, up_for_retry, restarting, or a state this does not know.
    pub fn is_active(&self) -> bool {
        match self.state.as_deref() {
            None | Some("none") => false,
            Some(state) => !FINISHED_STATES.contains(&state),
        }
    }
}

/// A DAG: #{dag_id, is_paused, tags}, its tags by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dag {
    pub dag_id: String,
    #[serde(default)]
    pub is_paused: Option<bool>,
    #[serde(default, deserialize_with = "tag_names")]
    pub tags: Vec<String>,
}

/// Airflow sends tags as `[{name}]` (Airflow 3 adds the `dag_id`); scripts see the names.
fn tag_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Tag {
        name: String,
    }
    let tags: Option<Vec<Tag>> = Option::deserialize(deserializer)?;
    Ok(tags.into_iter().flatten().map(|tag| tag.name).collect())
}

/// Airflow's health map (metadatabase, scheduler, ... each with a status) plus `healthy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    #[serde(flatten)]
    pub components: Map<String, Value>,
    /// Ovscript's verdict, not Airflow's: see `Health::judge`.
    #[serde(default)]
    pub healthy: bool,
}

impl Health {
    /// Airflow answers its health check with 200 even when unhealthy: the statuses say. The
    /// triggerer and the DAG processor are optional components (null when not run) and left out.
    pub fn judge(mut self) -> Health {
        self.healthy = ["metadatabase", "scheduler"].iter().all(|part| {
            self.components.get(*part).and_then(|c| c.get("status"))
                == Some(&Value::from("healthy"))
        });
        self
    }
}

/// `GET /version`.
#[derive(Debug, Deserialize)]
pub struct Version {
    pub version: Option<String>,
}

/// `GET /dags/{id}`, as far as pausing goes.
#[derive(Debug, Deserialize)]
pub struct PausedState {
    pub is_paused: Option<bool>,
}

/// One page of a collection: its items and the `total_entries` it reported.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T: serde::de::DeserializeOwned> Page<T> {
    /// The page under `key` ("dag_runs", "task_instances", "dags").
    pub fn read(answer: Value, key: &str) -> Result<Page<T>, String> {
        let Value::Object(mut answer) = answer else {
            return Err("expected a JSON object".into());
        };
        let Some(Value::Array(items)) = answer.remove(key) else {
            return Err(format!("no `{key}` list in the answer"));
        };
        let total = answer
            .get("total_entries")
            .and_then(Value::as_u64)
            .ok_or_else(|| "no `total_entries` in the answer".to_string())?;
        let items = items
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<T>, _>>()
            .map_err(|e| format!("an item of `{key}` is not what Airflow documents ({e})"))?;
        Ok(Page { items, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(state: Value) -> TaskInstance {
        serde_json::from_value(json!({ "task_id": "t", "state": state })).unwrap()
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
            assert!(task(json!(state)).is_active(), "{state}");
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
            assert!(!task(state.clone()).is_active(), "{state}");
        }
    }

    #[test]
    fn healthy_needs_the_metadatabase_and_the_scheduler() {
        let health = |db: &str, scheduler: Value| {
            serde_json::from_value::<Health>(json!({
                "metadatabase": { "status": db },
                "scheduler": { "status": scheduler, "latest_scheduler_heartbeat": null },
                "triggerer": { "status": null },
            }))
            .unwrap()
            .judge()
            .healthy
        };
        assert!(health("healthy", json!("healthy")));
        assert!(!health("healthy", json!("unhealthy")));
        assert!(!health("unhealthy", json!("healthy")));
        assert!(!health("healthy", json!(null)));
        let empty: Health = serde_json::from_value(json!({})).unwrap();
        assert!(!empty.judge().healthy);
    }

    #[test]
    fn a_run_keeps_airflows_values_under_the_scripts_names() {
        let run: DagRun = serde_json::from_value(json!({
            "dag_id": "ovscript_refresh", "dag_run_id": "manual__2026-11-23T19:14:12.554300+00:00",
            "state": "running", "start_date": null, "conf": {},
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&run).unwrap(),
            json!({
                "dag_id": "ovscript_refresh", "run_id": "manual__2026-11-23T19:14:12.554300+00:00",
                "state": "running", "start_date": null,
            })
        );
    }

    #[test]
    fn a_dags_tags_are_their_names_in_both_generations() {
        let airflow2: Dag = serde_json::from_value(json!({
            "dag_id": "image_data_refresh", "is_paused": false, "tags": [{ "name": "data_refresh" }]
        }))
        .unwrap();
        let airflow3: Dag = serde_json::from_value(json!({
            "dag_id": "image_data_refresh", "is_paused": false,
            "tags": [{ "name": "data_refresh", "dag_id": "image_data_refresh" }]
        }))
        .unwrap();
        assert_eq!(airflow2, airflow3);
        assert_eq!(airflow2.tags, vec!["data_refresh"]);
    }

    #[test]
    fn a_page_names_what_it_lacks() {
        let page: Page<DagRun> =
            Page::read(json!({ "dag_runs": [], "total_entries": 0 }), "dag_runs").unwrap();
        assert_eq!((page.items.len(), page.total), (0, 0));
        let err = Page::<DagRun>::read(json!({ "total_entries": 0 }), "dag_runs").unwrap_err();
        assert_eq!(err, "no `dag_runs` list in the answer");
        let err = Page::<DagRun>::read(json!({ "dag_runs": [] }), "dag_runs").unwrap_err();
        assert_eq!(err, "no `total_entries` in the answer");
        let err = Page::<DagRun>::read(
            json!({ "dag_runs": [{ "dag_id": 1 }], "total_entries": 1 }),
            "dag_runs",
        )
        .unwrap_err();
        assert!(
            err.starts_with("an item of `dag_runs` is not what Airflow documents"),
            "{err}"
        );
    }
}

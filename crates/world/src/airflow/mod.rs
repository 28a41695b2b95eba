//! The fake Airflow: one state (DAGs, runs, task instances, pauses) seen through the API of the
//! version the world runs: Airflow 2.10.5's stable REST API under `/api/v1` with basic auth
//! (`api_v1`), or Airflow 3.3.2's under `/api/v2` with JWTs from `/auth/token` (`api_v2`).
//! Upgrading the world's Airflow keeps the state, as a database migration does, and changes the
//! API it answers with: a client that followed the one must follow the other.

mod api_v1;
mod api_v2;
mod api_v2_auth;
mod api_v2_json;
mod catalog;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::Value;

use self::catalog::{
    running_in, DagSpec, BUSY_DAGS, DAGS, DAGS_2024, MAPPED_INSTANCES, MAPPED_TASKS,
};
use super::server::Incoming;
use super::{airflow_time, Answer, Ctx, Faults, Scenario};

/// The Airflow the world runs; its version decides the API it answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum AirflowVersion {
    /// Airflow 2.10.5: the stable REST API under `/api/v1`, basic auth, RFC 7807 errors.
    #[default]
    #[serde(rename = "2.10.5")]
    Airflow2,
    /// Airflow 3.3.2: the REST API under `/api/v2` only, JWTs from `POST /auth/token`, FastAPI
    /// errors.
    #[serde(rename = "3.3.2")]
    Airflow3,
}

impl AirflowVersion {
    /// As `/version` reports it: `2.10.5`, `3.3.2`.
    pub fn number(self) -> &'static str {
        match self {
            AirflowVersion::Airflow2 => api_v1::VERSION,
            AirflowVersion::Airflow3 => api_v2::VERSION,
        }
    }
}

struct Dag {
    spec: &'static DagSpec,
    paused: bool,
}

struct DagRun {
    id: u64,
    dag_id: String,
    run_id: String,
    run_type: &'static str,
    /// None for a manual run triggered without one, which only Airflow 3 allows.
    logical: Option<DateTime<Utc>>,
    /// When the run could start: a scheduled run's interval end, a manual run's trigger time.
    run_after: DateTime<Utc>,
    interval_end: DateTime<Utc>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    state: &'static str,
}

impl DagRun {
    /// The logical date Airflow 2 shows, which every run there has.
    fn logical_or_run_after(&self) -> DateTime<Utc> {
        self.logical.unwrap_or(self.run_after)
    }
}

struct TaskInstance {
    /// Airflow 3's uuid of the instance, from this number.
    id: u64,
    dag_id: String,
    run_id: String,
    task_id: &'static str,
    /// -1 for a task that is not mapped, else the instance's index.
    map_index: i64,
    operator: &'static str,
    logical: DateTime<Utc>,
    run_after: DateTime<Utc>,
    state: Option<&'static str>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    try_number: u32,
    priority: usize,
}

/// A JWT the fake issued, and when it stops being accepted.
struct Token {
    jwt: String,
    expires: DateTime<Utc>,
}

pub(crate) struct Airflow {
    version: AirflowVersion,
    dags: Vec<Dag>,
    runs: Vec<DagRun>,
    tis: Vec<TaskInstance>,
    page_cap: usize,
    now: DateTime<Utc>,
    /// `Faults::sensor_poking_reads`: reads of the waiting sensor's run that still find it poking.
    poking_reads: usize,
    /// The DAG whose waiting sensor is caught poking.
    waiting_dag: Option<&'static str>,
    /// Airflow 3's tokens, issued by `/auth/token`.
    tokens: Vec<Token>,
    /// `[api_auth] jwt_expiration_time` (real default: a day).
    token_lifetime: Span,
}

impl Airflow {
    pub(crate) fn new(scenario: Scenario, faults: &Faults, now: DateTime<Utc>) -> Airflow {
        let specs: Vec<&'static DagSpec> = if faults.refresh_dags_2024 {
            let mut specs: Vec<&DagSpec> = DAGS
                .iter()
                .filter(|d| !d.tags.contains(&"data_refresh"))
                .chain(DAGS_2024)
                .collect();
            specs.sort_by_key(|d| d.id);
            specs
        } else {
            DAGS.iter().collect()
        };
        let running = running_in(scenario, faults);
        let token_lifetime = faults
            .airflow_token_lifetime
            .and_then(|d| Span::from_std(d).ok())
            .unwrap_or(Span::days(1));
        let mut airflow = Airflow {
            version: faults.airflow_version.unwrap_or_default(),
            dags: specs
                .iter()
                .map(|spec| Dag {
                    spec,
                    paused: spec.paused,
                })
                .collect(),
            runs: Vec::new(),
            tis: Vec::new(),
            page_cap: faults
                .airflow_page_cap
                .unwrap_or(api_v1::DEFAULT_PAGE_LIMIT)
                .max(1),
            now,
            poking_reads: faults.sensor_poking_reads.unwrap_or(0),
            waiting_dag: running
                .filter(|(_, _, state)| *state == "up_for_reschedule")
                .map(|(dag, _, _)| dag),
            tokens: Vec::new(),
            token_lifetime,
        };
        for spec in specs {
            airflow.seed_history(spec, running);
        }
        // Run ids grow with time, as database ids do; the API's default order is by id.
        airflow.runs.sort_by_key(|r| (r.logical, r.dag_id.clone()));
        for (i, run) in airflow.runs.iter_mut().enumerate() {
            run.id = i as u64 + 1;
        }
        airflow.add_busy_runs(faults.airflow_running_runs.unwrap_or(0));
        airflow
    }

    /// Three scheduled runs per DAG: two older successes and the latest interval's run, which
    /// is the scenario's running one when it names this DAG.
    fn seed_history(
        &mut self,
        spec: &'static DagSpec,
        running: Option<(&str, &str, &'static str)>,
    ) {
        let boundary = spec.schedule.boundary(self.now);
        let interval = spec.schedule.interval();
        for k in (0..3).rev() {
            let interval_end = boundary - interval * k;
            let logical = interval_end - interval;
            let start = (interval_end + Span::seconds(5)).min(self.now);
            let active = running.filter(|(dag, _, _)| k == 0 && *dag == spec.id);
            let (state, end) = match active {
                Some(_) => ("running", None),
                None => {
                    let end = (start + spec.schedule.run_length()).min(self.now);
                    ("success", Some(end.max(start)))
                }
            };
            let run = DagRun {
                id: 0,
                dag_id: spec.id.to_string(),
                run_id: format!("scheduled__{}", airflow_time(logical)),
                run_type: "scheduled",
                logical: Some(logical),
                run_after: interval_end,
                interval_end,
                start,
                end,
                state,
            };
            self.seed_task_instances(spec, &run, active.map(|(_, task, state)| (task, state)));
            self.runs.push(run);
        }
    }

    /// One task instance per task. In a finished run all succeeded; in the running one, tasks
    /// before the active task succeeded, the active task is in its state, later ones have none.
    fn seed_task_instances(
        &mut self,
        spec: &DagSpec,
        run: &DagRun,
        active: Option<(&str, &'static str)>,
    ) {
        let active_index =
            active.and_then(|(task, _)| spec.tasks.iter().position(|(t, _)| *t == task));
        for (i, (task_id, (class, _))) in spec.tasks.iter().enumerate() {
            let task_start = (run.start + Span::minutes(2 * i as i64)).min(self.now);
            let (state, start, end, tries) = match active_index {
                Some(a) if i > a => (None, None, None, 0),
                Some(a) if i == a => {
                    let state = active.map(|(_, s)| s);
                    // A rescheduled sensor has ended its last poke; a running task has not.
                    let end = (state == Some("up_for_reschedule"))
                        .then(|| task_start + Span::milliseconds(179));
                    (state, Some(task_start), end, 1)
                }
                _ => {
                    let end = (task_start + Span::seconds(50)).min(self.now);
                    (Some("success"), Some(task_start), Some(end), 1)
                }
            };
            let indexes = if MAPPED_TASKS.contains(task_id) {
                0..MAPPED_INSTANCES
            } else {
                -1..0
            };
            for map_index in indexes {
                self.tis.push(TaskInstance {
                    id: self.tis.len() as u64 + 1,
                    dag_id: run.dag_id.clone(),
                    run_id: run.run_id.clone(),
                    task_id,
                    map_index,
                    operator: class,
                    logical: run.logical_or_run_after(),
                    run_after: run.run_after,
                    state,
                    start,
                    end,
                    try_number: tries,
                    priority: spec.tasks.len() - i,
                });
            }
        }
    }

    /// `Faults::airflow_running_runs`: manual runs still running, one minute apart, triggered
    /// without a logical date (Airflow 2 shows their trigger time as one).
    fn add_busy_runs(&mut self, count: usize) {
        let first_id = self.runs.len() as u64 + 1;
        for i in 0..count {
            let triggered = self.now - Span::minutes(i as i64 + 1);
            self.runs.push(DagRun {
                id: first_id + i as u64,
                dag_id: BUSY_DAGS[i % BUSY_DAGS.len()].to_string(),
                run_id: format!("manual__{}", airflow_time(triggered)),
                run_type: "manual",
                logical: None,
                run_after: triggered,
                interval_end: triggered,
                start: triggered + Span::seconds(1),
                end: None,
                state: "running",
            });
        }
    }

    pub(crate) fn version(&self) -> AirflowVersion {
        self.version
    }

    /// Airflow 3.3.2 from now on, with the same DAGs, runs and pauses; the change made, if any.
    pub(crate) fn upgrade(&mut self) -> Option<String> {
        let from = self.version;
        self.version = AirflowVersion::Airflow3;
        (from != self.version).then(|| {
            format!(
                "airflow: upgraded from {} to {} (API /api/v2 only)",
                from.number(),
                self.version.number()
            )
        })
    }

    /// Every token Airflow 3 issued, for tests that check none shows.
    pub(crate) fn tokens(&self) -> Vec<String> {
        self.tokens.iter().map(|t| t.jwt.clone()).collect()
    }

    pub(crate) fn is_paused(&self, dag_id: &str) -> Option<bool> {
        self.dag(dag_id).map(|d| d.paused)
    }

    fn dag(&self, dag_id: &str) -> Option<&Dag> {
        self.dags.iter().find(|d| d.spec.id == dag_id)
    }

    pub(crate) fn handle(&mut self, ctx: &Ctx, req: &Incoming) -> Answer {
        self.now = ctx.now;
        match self.version {
            AirflowVersion::Airflow2 => api_v1::handle(self, ctx, req),
            AirflowVersion::Airflow3 => api_v2::handle(self, ctx, req),
        }
    }

    /// The DAGs with any of `tags` (all when none), in `dag_id` order.
    fn dags_tagged(&self, tags: &[String]) -> Vec<&Dag> {
        self.dags
            .iter()
            .filter(|d| tags.is_empty() || d.spec.tags.iter().any(|t| tags.iter().any(|w| w == t)))
            .collect()
    }

    /// Pauses or unpauses; `None` for an unknown DAG, else the change made, if any.
    fn set_paused(&mut self, dag_id: &str, paused: bool) -> Option<Option<String>> {
        let dag = self.dags.iter_mut().find(|d| d.spec.id == dag_id)?;
        let change = (dag.paused != paused).then(|| {
            let verb = if paused { "paused" } else { "unpaused" };
            format!("airflow: {verb} {dag_id}")
        });
        dag.paused = paused;
        Some(change)
    }

    /// The runs of `dag_ids` (all when `None`) in any of `states` (all when none), ordered by
    /// `order_by` (`-` first: descending); `Err` names an ordering Airflow does not allow.
    fn runs_where(
        &self,
        dag_ids: Option<&[String]>,
        states: &[String],
        order_by: &str,
    ) -> Result<Vec<&DagRun>, String> {
        let mut runs: Vec<&DagRun> = self
            .runs
            .iter()
            .filter(|r| dag_ids.is_none_or(|ids| ids.contains(&r.dag_id)))
            .filter(|r| states.is_empty() || states.iter().any(|s| s == r.state))
            .collect();
        let (descending, key) = match order_by.strip_prefix('-') {
            Some(key) => (true, key),
            None => (false, order_by),
        };
        match key {
            "id" => runs.sort_by_key(|r| r.id),
            "start_date" => runs.sort_by_key(|r| (r.start, r.id)),
            "execution_date" | "logical_date" => {
                runs.sort_by_key(|r| (r.logical_or_run_after(), r.id))
            }
            "run_after" => runs.sort_by_key(|r| (r.run_after, r.id)),
            "dag_run_id" | "run_id" => runs.sort_by(|a, b| a.run_id.cmp(&b.run_id)),
            "dag_id" => runs.sort_by(|a, b| (&a.dag_id, a.id).cmp(&(&b.dag_id, b.id))),
            _ => return Err(key.to_string()),
        }
        if descending {
            runs.reverse();
        }
        Ok(runs)
    }

    fn run(&self, dag_id: &str, run_id: &str) -> Option<&DagRun> {
        self.runs
            .iter()
            .find(|r| r.dag_id == dag_id && r.run_id == run_id)
    }

    /// The task instances of a run (`~`: of every run, or every DAG) in any of `states` (all
    /// when none; `none` is an instance without a state).
    fn task_instances(&self, dag_id: &str, run_id: &str, states: &[String]) -> Vec<&TaskInstance> {
        self.tis
            .iter()
            .filter(|t| dag_id == "~" || t.dag_id == dag_id)
            .filter(|t| run_id == "~" || t.run_id == run_id)
            .filter(|t| states.is_empty() || states.iter().any(|s| t.state.unwrap_or("none") == s))
            .collect()
    }

    /// Whether this read of `dag_id`'s task instances finds its waiting sensor mid-poke: a
    /// reschedule sensor is `running` for the seconds of each poke, and the first reads of the
    /// waiting run see it so (`Faults::sensor_poking_reads`).
    fn caught_poking(&mut self, dag_id: &str) -> bool {
        let poking = self.poking_reads > 0 && self.waiting_dag == Some(dag_id);
        if poking {
            self.poking_reads -= 1;
        }
        poking
    }

    /// The task instance shown in `json` as seen mid-poke: running, its poke not ended.
    fn show_poking(ti: &TaskInstance, json: &mut Value) {
        if ti.state == Some("up_for_reschedule") {
            json["state"] = Value::from("running");
            json["end_date"] = Value::Null;
        }
    }
}

/// An items page of a collection: `offset` items skipped, at most `limit` kept.
fn page<T: Copy>(items: &[T], offset: usize, limit: usize) -> Vec<T> {
    items.iter().skip(offset).take(limit).copied().collect()
}

//! The fake Airflow 2.10.5: the stable REST API under `/api/v1` with basic auth, the webserver's
//! `/health`, and the few webserver pages a browser check lands on (`/` → `/home` → `/login/`).
//!
//! Shapes follow Airflow's OpenAPI spec (`api_connexion/openapi/v1.yaml`) and its endpoint code:
//! errors are RFC 7807 problems; list endpoints take `limit`/`offset`, cap `limit` at the
//! `maximum_page_limit` (only `GET`; the `POST .../dagRuns/list` body's `page_limit` is not capped)
//! and report `total_entries`; an unknown DAG or run in a task-instance list is an empty list,
//! not a 404 (Airflow filters, it does not look the run up).

use chrono::{DateTime, Datelike, Duration as Span, TimeZone, Utc};
use serde_json::{json, Value};

use super::server::{reason, Incoming, Reply};
use super::{airflow_time, Answer, Ctx, Faults, Scenario};

pub(crate) const VERSION: &str = "2.10.5";
/// As the real 2.10.5 answers (tools/airflow/samples/version.json).
const GIT_VERSION: &str = ".release:b93c3db6b1641b0840bd15ac7d05bc58ff2cccbf";
const DOCS: &str = "https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html";
/// `[api] fallback_page_limit` and the default `maximum_page_limit`.
const DEFAULT_PAGE_LIMIT: usize = 100;

/// The sensor task of the refresh DAGs, nested in task groups as in Openverse.
pub(crate) const SENSOR_TASK: &str = "data_refresh.ingest_upstream.wait_for_ingest_upstream";

/// The long wait of the 2024 refresh DAGs: a mapped `TemplatedConnectionHttpSensor`, one
/// instance per reindexing worker.
pub(crate) const REINDEX_SENSOR_TASK: &str =
    "run_distributed_reindex.reindex.wait_for_reindexing_task";

/// How many instances a mapped task has (one per reindexing worker).
const MAPPED_INSTANCES: i64 = 4;

/// An operator class: (class_name, module_path).
type Op = (&'static str, &'static str);
const PYTHON: Op = ("PythonOperator", "airflow.operators.python");
/// What `@task` functions report as their operator.
const DECORATED: Op = ("_PythonDecoratedOperator", "airflow.decorators.python");
const HTTP_SENSOR: Op = ("HttpSensor", "airflow.providers.http.sensors.http");
const HTTP_OPERATOR: Op = ("HttpOperator", "airflow.providers.http.operators.http");
const SQL: Op = (
    "SQLExecuteQueryOperator",
    "airflow.providers.common.sql.operators.sql",
);
const BASH: Op = ("BashOperator", "airflow.operators.bash");
/// Openverse's subclass of HttpSensor that takes its connection from a template.
const TEMPLATED_HTTP_SENSOR: Op = ("TemplatedConnectionHttpSensor", "common.sensors.http");

const PROVIDER_TASKS: &[(&str, Op)] = &[
    ("generate_filename", PYTHON),
    ("pull_image_data", PYTHON),
    ("load_image_data.create_loading_table", PYTHON),
    ("load_image_data.copy_to_s3", PYTHON),
    ("load_image_data.load_from_s3", PYTHON),
    ("load_image_data.drop_loading_table", PYTHON),
    ("report_load_completion", PYTHON),
];
const REFRESH_TASKS: &[(&str, Op)] = &[
    ("get_current_record_count", SQL),
    (
        "data_refresh.ingest_upstream.trigger_ingest_upstream",
        HTTP_OPERATOR,
    ),
    (SENSOR_TASK, HTTP_SENSOR),
    ("data_refresh.promote.trigger_promote", HTTP_OPERATOR),
    ("data_refresh.promote.wait_for_promote", HTTP_SENSOR),
    ("report_record_difference", DECORATED),
];
/// The refresh DAGs Openverse moved into Airflow in 2024 (`{env}_{media}_data_refresh`).
const REFRESH_2024_TASKS: &[(&str, Op)] = &[
    ("wait_for_conflicting_dags", DECORATED),
    ("get_source_index", DECORATED),
    ("copy_upstream_tables.copy_upstream_table", DECORATED),
    ("run_distributed_reindex.get_worker_params", DECORATED),
    (
        "run_distributed_reindex.reindex.trigger_reindexing_task",
        HTTP_OPERATOR,
    ),
    (REINDEX_SENSOR_TASK, TEMPLATED_HTTP_SENSOR),
    ("promote_tables.promote_table", DECORATED),
    ("report_record_difference", DECORATED),
];
/// Tasks with one instance per worker (`map_index` 0..MAPPED_INSTANCES).
const MAPPED_TASKS: &[&str] = &[
    "copy_upstream_tables.copy_upstream_table",
    "run_distributed_reindex.reindex.trigger_reindexing_task",
    REINDEX_SENSOR_TASK,
];
const POPULARITY_TASKS: &[(&str, Op)] = &[
    ("get_last_updated_date", DECORATED),
    ("update_media_popularity_metrics", SQL),
    ("update_media_popularity_constants", SQL),
];
const CLEANUP_TASKS: &[(&str, Op)] = &[
    ("log_cleanup_worker_num_1_dir_0", BASH),
    ("log_cleanup_worker_num_1_dir_1", BASH),
];

#[derive(Clone, Copy)]
enum Schedule {
    Daily,
    Weekly,
}

impl Schedule {
    fn interval(self) -> Span {
        match self {
            Schedule::Daily => Span::days(1),
            Schedule::Weekly => Span::days(7),
        }
    }

    fn preset(self) -> &'static str {
        match self {
            Schedule::Daily => "@daily",
            Schedule::Weekly => "@weekly",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Schedule::Daily => "At 00:00",
            Schedule::Weekly => "At 00:00, only on Sunday",
        }
    }

    /// The latest schedule boundary at or before `now` (midnight; for weekly, Sunday midnight).
    fn boundary(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let midnight = Utc
            .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
            .single()
            .unwrap_or(now);
        match self {
            Schedule::Daily => midnight,
            Schedule::Weekly => {
                midnight - Span::days(i64::from(now.weekday().num_days_from_sunday()))
            }
        }
    }

    /// How long one successful run takes, roughly.
    fn run_length(self) -> Span {
        match self {
            Schedule::Daily => Span::minutes(47),
            Schedule::Weekly => Span::hours(9),
        }
    }
}

struct DagSpec {
    id: &'static str,
    description: &'static str,
    tags: &'static [&'static str],
    schedule: Schedule,
    paused: bool,
    fileloc: &'static str,
    tasks: &'static [(&'static str, Op)],
}

/// The DAGs of the simulated catalog, in `dag_id` order (the API's default order).
const DAGS: &[DagSpec] = &[
    DagSpec {
        id: "airflow_log_cleanup",
        description: "A maintenance workflow that you can deploy into Airflow to periodically clean out the task logs.",
        tags: &["maintenance"],
        schedule: Schedule::Daily,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/maintenance/airflow_log_cleanup_workflow.py",
        tasks: CLEANUP_TASKS,
    },
    DagSpec {
        id: "audio_data_refresh",
        description: "Refresh the audio index from the upstream catalog.",
        tags: &["data_refresh"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/data_refresh/dag_factory.py",
        tasks: REFRESH_TASKS,
    },
    DagSpec {
        id: "flickr_reingestion_workflow",
        description: "Reingest Flickr data for past dates.",
        tags: &["provider-reingestion", "provider: image"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/providers/provider_reingestion_workflow_dag_factory.py",
        tasks: PROVIDER_TASKS,
    },
    DagSpec {
        id: "flickr_workflow",
        description: "Content Provider: Flickr",
        tags: &["provider", "provider: image"],
        schedule: Schedule::Daily,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/providers/provider_workflow_dag_factory.py",
        tasks: PROVIDER_TASKS,
    },
    DagSpec {
        id: "image_data_refresh",
        description: "Refresh the image index from the upstream catalog.",
        tags: &["data_refresh"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/data_refresh/dag_factory.py",
        tasks: REFRESH_TASKS,
    },
    DagSpec {
        id: "image_popularity_refresh",
        description: "Refresh popularity metrics and constants for image.",
        tags: &["popularity_refresh"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/popularity/popularity_refresh_dag_factory.py",
        tasks: POPULARITY_TASKS,
    },
    DagSpec {
        id: "inaturalist_workflow",
        description: "Content Provider: iNaturalist",
        tags: &["provider", "provider: image"],
        schedule: Schedule::Weekly,
        paused: true,
        fileloc: "/opt/airflow/catalog/dags/providers/provider_workflow_dag_factory.py",
        tasks: PROVIDER_TASKS,
    },
    DagSpec {
        id: "smithsonian_workflow",
        description: "Content Provider: Smithsonian Institution",
        tags: &["provider", "provider: image"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/providers/provider_workflow_dag_factory.py",
        tasks: PROVIDER_TASKS,
    },
    DagSpec {
        id: "wikimedia_commons_workflow",
        description: "Content Provider: Wikimedia Commons",
        tags: &["provider", "provider: audio", "provider: image"],
        schedule: Schedule::Daily,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/providers/provider_workflow_dag_factory.py",
        tasks: PROVIDER_TASKS,
    },
];

/// The 2024 generation of refresh DAGs (`Faults::refresh_dags_2024`), in `dag_id` order.
const DAGS_2024: &[DagSpec] = &[
    DagSpec {
        id: "production_audio_data_refresh",
        description: "Refresh the production audio index from the upstream catalog.",
        tags: &["data_refresh", "production_data_refresh"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/data_refresh/dag_factory.py",
        tasks: REFRESH_2024_TASKS,
    },
    DagSpec {
        id: "production_image_data_refresh",
        description: "Refresh the production image index from the upstream catalog.",
        tags: &["data_refresh", "production_data_refresh"],
        schedule: Schedule::Weekly,
        paused: false,
        fileloc: "/opt/airflow/catalog/dags/data_refresh/dag_factory.py",
        tasks: REFRESH_2024_TASKS,
    },
];

/// DAGs that receive the extra running runs of `Faults::airflow_running_runs`.
const BUSY_DAGS: &[&str] = &[
    "flickr_workflow",
    "wikimedia_commons_workflow",
    "smithsonian_workflow",
    "flickr_reingestion_workflow",
];

/// Which run a scenario leaves running: (dag_id, the task it is at, that task's state).
fn running_in(
    scenario: Scenario,
    faults: &Faults,
) -> Option<(&'static str, &'static str, &'static str)> {
    match scenario {
        Scenario::DagRunning => Some(("flickr_workflow", "pull_image_data", "running")),
        Scenario::SensorWaiting if faults.refresh_dags_2024 => Some((
            "production_image_data_refresh",
            REINDEX_SENSOR_TASK,
            "up_for_reschedule",
        )),
        Scenario::SensorWaiting => Some(("image_data_refresh", SENSOR_TASK, "up_for_reschedule")),
        _ => None,
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
    logical: DateTime<Utc>,
    interval_end: DateTime<Utc>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    state: &'static str,
}

struct TaskInstance {
    dag_id: String,
    run_id: String,
    task_id: &'static str,
    /// -1 for a task that is not mapped, else the instance's index.
    map_index: i64,
    operator: &'static str,
    logical: DateTime<Utc>,
    state: Option<&'static str>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    try_number: u32,
    priority: usize,
}

pub(crate) struct Airflow {
    dags: Vec<Dag>,
    runs: Vec<DagRun>,
    tis: Vec<TaskInstance>,
    page_cap: usize,
    now: DateTime<Utc>,
    /// `Faults::sensor_poking_reads`: reads of the waiting sensor's run that still find it poking.
    poking_reads: usize,
    /// The DAG whose waiting sensor is caught poking.
    waiting_dag: Option<&'static str>,
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
        let mut airflow = Airflow {
            dags: specs
                .iter()
                .map(|spec| Dag {
                    spec,
                    paused: spec.paused,
                })
                .collect(),
            runs: Vec::new(),
            tis: Vec::new(),
            page_cap: faults.airflow_page_cap.unwrap_or(DEFAULT_PAGE_LIMIT).max(1),
            now,
            poking_reads: faults.sensor_poking_reads.unwrap_or(0),
            waiting_dag: running
                .filter(|(_, _, state)| *state == "up_for_reschedule")
                .map(|(dag, _, _)| dag),
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
                logical,
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
                    dag_id: run.dag_id.clone(),
                    run_id: run.run_id.clone(),
                    task_id,
                    map_index,
                    operator: class,
                    logical: run.logical,
                    state,
                    start,
                    end,
                    try_number: tries,
                    priority: spec.tasks.len() - i,
                });
            }
        }
    }

    /// `Faults::airflow_running_runs`: manual runs still running, one minute apart.
    fn add_busy_runs(&mut self, count: usize) {
        let first_id = self.runs.len() as u64 + 1;
        for i in 0..count {
            let logical = self.now - Span::minutes(i as i64 + 1);
            self.runs.push(DagRun {
                id: first_id + i as u64,
                dag_id: BUSY_DAGS[i % BUSY_DAGS.len()].to_string(),
                run_id: format!("manual__{}", airflow_time(logical)),
                run_type: "manual",
                logical,
                interval_end: logical,
                start: logical + Span::seconds(1),
                end: None,
                state: "running",
            });
        }
    }

    pub(crate) fn is_paused(&self, dag_id: &str) -> Option<bool> {
        self.dag(dag_id).map(|d| d.paused)
    }

    fn dag(&self, dag_id: &str) -> Option<&Dag> {
        self.dags.iter().find(|d| d.spec.id == dag_id)
    }

    pub(crate) fn handle(&mut self, ctx: &Ctx, req: &Incoming) -> Answer {
        self.now = ctx.now;
        let authorized =
            basic_auth_matches(req, &ctx.creds.airflow_user, &ctx.creds.airflow_password);
        if let Some(status) = ctx.faults.airflow_status {
            return Answer::new(fault_problem(status), authorized);
        }
        let segments = req.segments();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let Some(endpoint) = Endpoint::parse(&req.method, &segments) else {
            return Answer::new(not_found_route(), authorized);
        };
        if endpoint.needs_auth() && !authorized {
            return Answer::new(unauthenticated(), false);
        }
        let (reply, change) = self.serve(endpoint, req);
        Answer {
            reply,
            authorized,
            change,
        }
    }

    fn serve(&mut self, endpoint: Endpoint, req: &Incoming) -> (Reply, Option<String>) {
        let result = match endpoint {
            Endpoint::Root => Ok(redirect("/home")),
            Endpoint::Home => Ok(redirect("/login/?next=%2Fhome")),
            Endpoint::Login => Ok(login_page()),
            Endpoint::Health => Ok(Reply::json(200, &self.health())),
            Endpoint::Version => Ok(Reply::json(
                200,
                &json!({"version": VERSION, "git_version": GIT_VERSION}),
            )),
            Endpoint::Dags => self.list_dags(req),
            Endpoint::Dag(dag_id) => self.get_dag(dag_id),
            Endpoint::PatchDag(dag_id) => return self.patch_dag(dag_id, req),
            Endpoint::Tasks(dag_id) => self.list_tasks(dag_id),
            Endpoint::Runs(dag_id) => self.list_runs(dag_id, req),
            Endpoint::RunsBatch => self.list_runs_batch(req),
            Endpoint::Run(dag_id, run_id) => self.get_run(dag_id, run_id),
            Endpoint::TaskInstances(dag_id, run_id) => {
                self.list_task_instances(dag_id, run_id, req)
            }
            Endpoint::TaskInstance(dag_id, run_id, task_id) => {
                self.get_task_instance(dag_id, run_id, task_id)
            }
        };
        (result.unwrap_or_else(|problem| problem), None)
    }

    fn health(&self) -> Value {
        json!({
            "dag_processor": {"latest_dag_processor_heartbeat": null, "status": null},
            "metadatabase": {"status": "healthy"},
            "scheduler": {
                "latest_scheduler_heartbeat": airflow_time(self.now - Span::milliseconds(2_345)),
                "status": "healthy",
            },
            // No triggerer runs, as in the captured samples.
            "triggerer": {"latest_triggerer_heartbeat": null, "status": null},
        })
    }

    fn list_dags(&self, req: &Incoming) -> Result<Reply, Reply> {
        let (limit, offset) = self.limit_offset(req)?;
        let tags = req.param_all("tags");
        let paused = req.param("paused").map(|p| p == "true");
        let pattern = req.param("dag_id_pattern").map(|p| p.to_lowercase());
        let mut dags: Vec<&Dag> = self
            .dags
            .iter()
            .filter(|d| tags.is_empty() || d.spec.tags.iter().any(|t| tags.iter().any(|w| w == t)))
            .filter(|d| paused.is_none_or(|p| d.paused == p))
            .filter(|d| {
                pattern
                    .as_ref()
                    .is_none_or(|p| d.spec.id.contains(p.as_str()))
            })
            .collect();
        if req.param("order_by").as_deref() == Some("-dag_id") {
            dags.reverse();
        }
        Ok(page_of("dags", &dags, offset, limit, |d| self.dag_json(d)))
    }

    fn get_dag(&self, dag_id: &str) -> Result<Reply, Reply> {
        let dag = self.dag(dag_id).ok_or_else(|| {
            problem(
                404,
                "DAG not found",
                Some(format!("The DAG with dag_id: {dag_id} was not found")),
            )
        })?;
        Ok(Reply::json(200, &self.dag_json(dag)))
    }

    /// `PATCH /dags/{id}?update_mask=is_paused` with `{"is_paused": bool}`: the only field the
    /// API lets one change. Answers the DAG as it is after the change.
    fn patch_dag(&mut self, dag_id: &str, req: &Incoming) -> (Reply, Option<String>) {
        let mask: Vec<String> = req
            .param_all("update_mask")
            .iter()
            .flat_map(|m| m.split(',').map(|s| s.trim().to_string()))
            .collect();
        if !mask.is_empty() && mask != ["is_paused"] {
            let detail = "Only `is_paused` field can be edited through the REST API";
            return (problem(400, "Bad Request", Some(detail.into())), None);
        }
        let wanted = match req.json() {
            Some(Value::Object(body)) => body.get("is_paused").cloned(),
            _ => {
                return (
                    problem(
                        400,
                        "Bad Request",
                        Some("Request body must be a JSON object".into()),
                    ),
                    None,
                )
            }
        };
        let paused = match wanted {
            Some(Value::Bool(b)) => b,
            Some(_) => {
                return (
                    problem(
                        400,
                        "Bad Request",
                        Some("{'is_paused': ['Not a valid boolean.']}".into()),
                    ),
                    None,
                )
            }
            None => {
                let detail = "{'is_paused': ['Missing data for required field.']}";
                return (problem(400, "Bad Request", Some(detail.into())), None);
            }
        };
        let Some(dag) = self.dags.iter_mut().find(|d| d.spec.id == dag_id) else {
            return (
                problem(404, &format!("Dag with id: '{dag_id}' not found"), None),
                None,
            );
        };
        let change = (dag.paused != paused).then(|| {
            let verb = if paused { "paused" } else { "unpaused" };
            format!("airflow: {verb} {dag_id}")
        });
        dag.paused = paused;
        let dag = self.dag(dag_id).expect("just found");
        (Reply::json(200, &self.dag_json(dag)), change)
    }

    fn list_tasks(&self, dag_id: &str) -> Result<Reply, Reply> {
        let dag = self
            .dag(dag_id)
            .ok_or_else(|| problem(404, "DAG not found", None))?;
        let mut tasks: Vec<Value> = dag
            .spec
            .tasks
            .iter()
            .enumerate()
            .map(|(i, task)| task_json(dag.spec, i, task))
            .collect();
        tasks.sort_by(|a, b| a["task_id"].as_str().cmp(&b["task_id"].as_str()));
        Ok(Reply::json(
            200,
            &json!({"tasks": tasks, "total_entries": tasks.len()}),
        ))
    }

    fn list_runs(&self, dag_id: &str, req: &Incoming) -> Result<Reply, Reply> {
        let (limit, offset) = self.limit_offset(req)?;
        let states = req.param_all("state");
        let order_by = req.param("order_by").unwrap_or_else(|| "id".into());
        let dag_ids = (dag_id != "~").then(|| vec![dag_id.to_string()]);
        self.runs_page(dag_ids.as_deref(), &states, &order_by, limit, offset)
    }

    /// `POST /dags/~/dagRuns/list`: the same query in a JSON body.
    fn list_runs_batch(&self, req: &Incoming) -> Result<Reply, Reply> {
        let Some(Value::Object(body)) = req.json() else {
            return Err(problem(
                400,
                "Bad Request",
                Some("Request body must be a JSON object".into()),
            ));
        };
        let strings = |key: &str| -> Option<Vec<String>> {
            body.get(key)?.as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
        };
        let number = |key: &str, default: i64, min: i64| -> Result<usize, Reply> {
            let value = match body.get(key) {
                None | Some(Value::Null) => default,
                Some(v) => v.as_i64().ok_or_else(|| {
                    problem(
                        400,
                        "Bad Request",
                        Some(format!("{{'{key}': ['Not a valid integer.']}}")),
                    )
                })?,
            };
            if value < min {
                let detail = format!("{{'{key}': ['Must be greater than or equal to {min}.']}}");
                return Err(problem(400, "Bad Request", Some(detail)));
            }
            Ok(value as usize)
        };
        let limit = number("page_limit", DEFAULT_PAGE_LIMIT as i64, 1)?;
        let offset = number("page_offset", 0, 0)?;
        let order_by = body.get("order_by").and_then(Value::as_str).unwrap_or("id");
        let states = strings("states").unwrap_or_default();
        let dag_ids = strings("dag_ids").filter(|d| !d.is_empty());
        self.runs_page(dag_ids.as_deref(), &states, order_by, limit, offset)
    }

    fn runs_page(
        &self,
        dag_ids: Option<&[String]>,
        states: &[String],
        order_by: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Reply, Reply> {
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
            "execution_date" => runs.sort_by_key(|r| (r.logical, r.id)),
            "dag_run_id" => runs.sort_by(|a, b| a.run_id.cmp(&b.run_id)),
            "dag_id" => runs.sort_by(|a, b| (&a.dag_id, a.id).cmp(&(&b.dag_id, b.id))),
            _ => {
                let detail = format!("Ordering with '{key}' is disallowed or the attribute does not exist on the model");
                return Err(problem(400, "Bad Request", Some(detail)));
            }
        }
        if descending {
            runs.reverse();
        }
        Ok(page_of("dag_runs", &runs, offset, limit, |r| run_json(r)))
    }

    fn get_run(&self, dag_id: &str, run_id: &str) -> Result<Reply, Reply> {
        let run = self
            .runs
            .iter()
            .find(|r| r.dag_id == dag_id && r.run_id == run_id)
            .ok_or_else(|| {
                let detail =
                    format!("DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found");
                problem(404, "DAGRun not found", Some(detail))
            })?;
        Ok(Reply::json(200, &run_json(run)))
    }

    fn list_task_instances(
        &mut self,
        dag_id: &str,
        run_id: &str,
        req: &Incoming,
    ) -> Result<Reply, Reply> {
        // A reschedule sensor is `running` for the seconds of each poke: the first reads of the
        // waiting run see it so (`Faults::sensor_poking_reads`).
        let poking = self.poking_reads > 0 && self.waiting_dag == Some(dag_id);
        if poking {
            self.poking_reads -= 1;
        }
        let (limit, offset) = self.limit_offset(req)?;
        // `state=none` asks for task instances without a state.
        let states = req.param_all("state");
        let tis: Vec<&TaskInstance> = self
            .tis
            .iter()
            .filter(|t| dag_id == "~" || t.dag_id == dag_id)
            .filter(|t| run_id == "~" || t.run_id == run_id)
            .filter(|t| states.is_empty() || states.iter().any(|s| t.state.unwrap_or("none") == s))
            .collect();
        Ok(page_of("task_instances", &tis, offset, limit, |t| {
            let mut json = self.ti_json(t);
            if poking && t.state == Some("up_for_reschedule") {
                json["state"] = json!("running");
                json["end_date"] = Value::Null;
            }
            json
        }))
    }

    fn get_task_instance(&self, dag_id: &str, run_id: &str, task_id: &str) -> Result<Reply, Reply> {
        let ti = self
            .tis
            .iter()
            .find(|t| {
                t.dag_id == dag_id && t.run_id == run_id && t.task_id == task_id && t.map_index < 1
            })
            .ok_or_else(|| problem(404, "Task instance not found", None))?;
        Ok(Reply::json(200, &self.ti_json(ti)))
    }

    /// `limit` (default 100, 0 means the fallback, above the cap means the cap) and `offset`.
    fn limit_offset(&self, req: &Incoming) -> Result<(usize, usize), Reply> {
        let integer = |name: &str| -> Result<Option<i64>, Reply> {
            match req.param(name) {
                None => Ok(None),
                Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                    let detail =
                        format!("Wrong type, expected 'integer' for query parameter '{name}'");
                    problem(400, "Bad Request", Some(detail))
                }),
            }
        };
        let limit = match integer("limit")? {
            None | Some(0) => DEFAULT_PAGE_LIMIT,
            Some(n) if n < 0 => {
                return Err(problem(
                    400,
                    "Bad Request",
                    Some("Page limit must be a positive integer".into()),
                ))
            }
            Some(n) => n as usize,
        };
        let offset = match integer("offset")? {
            Some(n) if n < 0 => {
                let detail = format!("{n} is less than the minimum of 0");
                return Err(problem(400, "Bad Request", Some(detail)));
            }
            Some(n) => n as usize,
            None => 0,
        };
        Ok((limit.min(self.page_cap), offset))
    }

    fn dag_json(&self, dag: &Dag) -> Value {
        let spec = dag.spec;
        let next_start = spec.schedule.boundary(self.now);
        let next_end = next_start + spec.schedule.interval();
        let tags: Vec<Value> = spec.tags.iter().map(|t| json!({"name": t})).collect();
        json!({
            "dag_display_name": spec.id,
            "dag_id": spec.id,
            "default_view": "grid",
            "description": spec.description,
            "file_token": format!("Ii9vcHQvYWlyZmxvdy9jYXRhbG9nL2RhZ3Mi.{}", spec.id.len()),
            "fileloc": spec.fileloc,
            "has_import_errors": false,
            "has_task_concurrency_limits": false,
            "is_active": true,
            "is_paused": dag.paused,
            "is_subdag": false,
            "last_expired": null,
            "last_parsed_time": airflow_time(self.now - Span::seconds(17)),
            "last_pickled": null,
            "max_active_runs": 1,
            "max_active_tasks": 16,
            "max_consecutive_failed_dag_runs": 0,
            "next_dagrun": airflow_time(next_start),
            "next_dagrun_create_after": airflow_time(next_end),
            "next_dagrun_data_interval_end": airflow_time(next_end),
            "next_dagrun_data_interval_start": airflow_time(next_start),
            "owners": ["data-eng-admin"],
            "pickle_id": null,
            "root_dag_id": null,
            "schedule_interval": {"__type": "CronExpression", "value": spec.schedule.preset()},
            "scheduler_lock": null,
            "tags": tags,
            "timetable_description": spec.schedule.description(),
        })
    }

    fn ti_json(&self, ti: &TaskInstance) -> Value {
        let duration = match (ti.start, ti.end) {
            (Some(s), Some(e)) => json!((e - s).num_milliseconds() as f64 / 1000.0),
            _ => Value::Null,
        };
        let started = ti.start.is_some();
        json!({
            "dag_id": ti.dag_id,
            "dag_run_id": ti.run_id,
            "duration": duration,
            "end_date": ti.end.map(airflow_time),
            "execution_date": airflow_time(ti.logical),
            "executor": null,
            "executor_config": "{}",
            "hostname": if started { "catalog-airflow" } else { "" },
            "map_index": ti.map_index,
            "max_tries": 0,
            "note": null,
            "operator": ti.operator,
            "pid": if started { json!(25052) } else { Value::Null },
            "pool": "default_pool",
            "pool_slots": 1,
            "priority_weight": ti.priority,
            "queue": "default",
            "queued_when": ti.start.map(|s| airflow_time(s - Span::seconds(1))),
            "rendered_fields": {},
            "rendered_map_index": null,
            "sla_miss": null,
            "start_date": ti.start.map(airflow_time),
            "state": ti.state,
            "task_display_name": ti.task_id,
            "task_id": ti.task_id,
            "trigger": null,
            "triggerer_job": null,
            "try_number": ti.try_number,
            "unixname": "root",
        })
    }
}

/// The routes the fake knows, matched on method and decoded path segments.
enum Endpoint<'a> {
    Root,
    Home,
    Login,
    Health,
    Version,
    Dags,
    Dag(&'a str),
    PatchDag(&'a str),
    Tasks(&'a str),
    Runs(&'a str),
    RunsBatch,
    Run(&'a str, &'a str),
    TaskInstances(&'a str, &'a str),
    TaskInstance(&'a str, &'a str, &'a str),
}

impl<'a> Endpoint<'a> {
    fn parse(method: &str, segments: &[&'a str]) -> Option<Endpoint<'a>> {
        use Endpoint::*;
        let endpoint = match (method, segments) {
            ("GET", [""]) => Root,
            ("GET", ["home"]) => Home,
            ("GET", ["login", ""]) => Login,
            ("GET", ["health"] | ["api", "v1", "health"]) => Health,
            ("GET", ["api", "v1", "version"]) => Version,
            ("GET", ["api", "v1", "dags"]) => Dags,
            ("GET", ["api", "v1", "dags", dag]) => Dag(dag),
            ("PATCH", ["api", "v1", "dags", dag]) => PatchDag(dag),
            ("GET", ["api", "v1", "dags", dag, "tasks"]) => Tasks(dag),
            ("GET", ["api", "v1", "dags", dag, "dagRuns"]) => Runs(dag),
            ("POST", ["api", "v1", "dags", "~", "dagRuns", "list"]) => RunsBatch,
            ("GET", ["api", "v1", "dags", dag, "dagRuns", run]) => Run(dag, run),
            ("GET", ["api", "v1", "dags", dag, "dagRuns", run, "taskInstances"]) => {
                TaskInstances(dag, run)
            }
            ("GET", ["api", "v1", "dags", dag, "dagRuns", run, "taskInstances", task]) => {
                TaskInstance(dag, run, task)
            }
            _ => return None,
        };
        Some(endpoint)
    }

    /// Health, version and the login pages answer without credentials, as in Airflow.
    fn needs_auth(&self) -> bool {
        !matches!(
            self,
            Endpoint::Root
                | Endpoint::Home
                | Endpoint::Login
                | Endpoint::Health
                | Endpoint::Version
        )
    }
}

fn run_json(run: &DagRun) -> Value {
    json!({
        "conf": {},
        "dag_id": run.dag_id,
        "dag_run_id": run.run_id,
        "data_interval_end": airflow_time(run.interval_end),
        "data_interval_start": airflow_time(run.logical),
        "end_date": run.end.map(airflow_time),
        "execution_date": airflow_time(run.logical),
        "external_trigger": run.run_type == "manual",
        "last_scheduling_decision": airflow_time(run.end.unwrap_or(run.start)),
        "logical_date": airflow_time(run.logical),
        "note": null,
        "run_type": run.run_type,
        "start_date": airflow_time(run.start),
        "state": run.state,
    })
}

fn task_json(dag: &DagSpec, index: usize, (task_id, (class, module)): &(&str, Op)) -> Value {
    let downstream: Vec<&str> = dag
        .tasks
        .get(index + 1)
        .map(|(t, _)| *t)
        .into_iter()
        .collect();
    let (ui_color, template_fields) = operator_look(class);
    json!({
        "class_ref": {"class_name": class, "module_path": module},
        "depends_on_past": false,
        "doc_md": null,
        "downstream_task_ids": downstream,
        "end_date": null,
        "execution_timeout": null,
        "extra_links": [],
        "is_mapped": MAPPED_TASKS.contains(task_id),
        "operator_name": class,
        "owner": "data-eng-admin",
        "params": {},
        "pool": "default_pool",
        "pool_slots": 1.0,
        "priority_weight": 1.0,
        "queue": "default",
        "retries": 2.0,
        "retry_delay": {"__type": "TimeDelta", "days": 0, "microseconds": 0, "seconds": 900},
        "retry_exponential_backoff": false,
        "start_date": "2020-01-01T00:00:00+00:00",
        "task_display_name": task_id,
        "task_id": task_id,
        "template_fields": template_fields,
        "trigger_rule": "all_success",
        "ui_color": ui_color,
        "ui_fgcolor": "#000",
        "wait_for_downstream": false,
        "weight_rule": "downstream",
    })
}

/// An operator's `ui_color` and `template_fields`, as Airflow reports them.
fn operator_look(class: &str) -> (&'static str, &'static [&'static str]) {
    match class {
        "HttpSensor" => ("#e6f1f2", &["endpoint", "request_params", "headers"]),
        "HttpOperator" => ("#f4a460", &["endpoint", "data", "headers"]),
        "SQLExecuteQueryOperator" => ("#cdaaed", &["conn_id", "sql", "parameters", "hook_params"]),
        "BashOperator" => ("#f0ede4", &["bash_command", "env", "cwd"]),
        "EmptyOperator" => ("#e8f7e4", &[]),
        _ => ("#ffefeb", &["templates_dict", "op_args", "op_kwargs"]),
    }
}

/// An RFC 7807 problem as Airflow's API error handler writes it: `type` links the error's
/// section of the API docs when Airflow has one for the status, else `about:blank`.
fn problem(status: u16, title: &str, detail: Option<String>) -> Reply {
    let section = match status {
        400 => Some("BadRequest"),
        401 => Some("Unauthenticated"),
        403 => Some("PermissionDenied"),
        404 => Some("NotFound"),
        405 => Some("MethodNotAllowed"),
        406 => Some("NotAcceptable"),
        409 => Some("AlreadyExists"),
        500 => Some("Unknown"),
        _ => None,
    };
    let kind = section.map_or("about:blank".to_string(), |s| {
        format!("{DOCS}#section/Errors/{s}")
    });
    let body = json!({"detail": detail, "status": status, "title": title, "type": kind});
    Reply::json_as(status, "application/problem+json", &body)
}

/// Airflow 2.10.5 sends no `WWW-Authenticate` header with it (see the samples).
fn unauthenticated() -> Reply {
    problem(401, "Unauthorized", None)
}

/// One page of an Airflow collection: `{KEY: [...], total_entries}`, as every list endpoint
/// answers (the total counts all items, not the page).
fn page_of<T>(
    key: &str,
    items: &[T],
    offset: usize,
    limit: usize,
    to_json: impl Fn(&T) -> Value,
) -> Reply {
    let page: Vec<Value> = items.iter().skip(offset).take(limit).map(to_json).collect();
    Reply::json(200, &json!({ key: page, "total_entries": items.len() }))
}

fn not_found_route() -> Reply {
    let detail = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
    problem(404, "Not Found", Some(detail.into()))
}

/// `Faults::airflow_status`: what a sick Airflow (or its proxy) answers to everything.
fn fault_problem(status: u16) -> Reply {
    let detail = "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.";
    problem(status, reason(status), Some(detail.into()))
}

fn redirect(location: &str) -> Reply {
    let body = format!("<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=\"{location}\">{location}</a>. If not, click the link.\n");
    Reply {
        status: 302,
        headers: vec![
            ("Content-Type".into(), "text/html; charset=utf-8".into()),
            ("Location".into(), location.into()),
        ],
        body: body.into_bytes(),
    }
}

fn login_page() -> Reply {
    let body = "<!DOCTYPE html>\n<html>\n<head><title>Sign In - Airflow</title></head>\n<body><form method=\"post\" action=\"/login/\"><input name=\"username\"><input name=\"password\" type=\"password\"></form></body>\n</html>\n";
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// Whether the request carries `Authorization: Basic base64(user:password)` for these values.
fn basic_auth_matches(req: &Incoming, user: &str, password: &str) -> bool {
    let Some(value) = req.header("authorization") else {
        return false;
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("basic")
        && token.trim() == base64(format!("{user}:{password}").as_bytes())
}

/// Standard base64 with padding: the only form HTTP clients send in basic auth.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn weekly_boundary_is_sunday_midnight() {
        let wednesday = Utc.with_ymd_and_hms(2024, 5, 1, 15, 30, 0).unwrap();
        let sunday = Utc.with_ymd_and_hms(2024, 4, 28, 0, 0, 0).unwrap();
        assert_eq!(Schedule::Weekly.boundary(wednesday), sunday);
        assert_eq!(Schedule::Weekly.boundary(sunday), sunday);
    }
}

//! The simulated catalog's DAGs, as Openverse has them: ids, tags, schedules, tasks and their
//! operators. Both APIs of the fake Airflow show these same DAGs.

use chrono::{DateTime, Datelike, Duration as Span, TimeZone, Utc};

use super::super::{Faults, Scenario};

/// The sensor task of the refresh DAGs, nested in task groups as in Openverse.
pub(crate) const SENSOR_TASK: &str = "data_refresh.ingest_upstream.wait_for_ingest_upstream";

/// The long wait of the 2024 refresh DAGs: a mapped `TemplatedConnectionHttpSensor`, one
/// instance per reindexing worker.
pub(crate) const REINDEX_SENSOR_TASK: &str =
    "run_distributed_reindex.reindex.wait_for_reindexing_task";

/// How many instances a mapped task has (one per reindexing worker).
pub(super) const MAPPED_INSTANCES: i64 = 4;

/// An operator class: (class_name, module_path).
pub(super) type Op = (&'static str, &'static str);
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
pub(super) const MAPPED_TASKS: &[&str] = &[
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
pub(super) enum Schedule {
    Daily,
    Weekly,
}

impl Schedule {
    pub(super) fn interval(self) -> Span {
        match self {
            Schedule::Daily => Span::days(1),
            Schedule::Weekly => Span::days(7),
        }
    }

    pub(super) fn preset(self) -> &'static str {
        match self {
            Schedule::Daily => "@daily",
            Schedule::Weekly => "@weekly",
        }
    }

    pub(super) fn description(self) -> &'static str {
        match self {
            Schedule::Daily => "At 00:00",
            Schedule::Weekly => "At 00:00, only on Sunday",
        }
    }

    /// The latest schedule boundary at or before `now` (midnight; for weekly, Sunday midnight).
    pub(super) fn boundary(self, now: DateTime<Utc>) -> DateTime<Utc> {
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
    pub(super) fn run_length(self) -> Span {
        match self {
            Schedule::Daily => Span::minutes(47),
            Schedule::Weekly => Span::hours(9),
        }
    }
}

pub(super) struct DagSpec {
    pub(super) id: &'static str,
    pub(super) description: &'static str,
    pub(super) tags: &'static [&'static str],
    pub(super) schedule: Schedule,
    pub(super) paused: bool,
    pub(super) fileloc: &'static str,
    pub(super) tasks: &'static [(&'static str, Op)],
}

/// The DAGs of the simulated catalog, in `dag_id` order (the API's default order).
pub(super) const DAGS: &[DagSpec] = &[
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
pub(super) const DAGS_2024: &[DagSpec] = &[
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
pub(super) const BUSY_DAGS: &[&str] = &[
    "flickr_workflow",
    "wikimedia_commons_workflow",
    "smithsonian_workflow",
    "flickr_reingestion_workflow",
];

/// Which run a scenario leaves running: (dag_id, the task it is at, that task's state).
pub(super) fn running_in(
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

/// An operator's `ui_color` and `template_fields`, as Airflow reports them.
pub(super) fn operator_look(class: &str) -> (&'static str, &'static [&'static str]) {
    match class {
        "HttpSensor" => ("#e6f1f2", &["endpoint", "request_params", "headers"]),
        "HttpOperator" => ("#f4a460", &["endpoint", "data", "headers"]),
        "SQLExecuteQueryOperator" => ("#cdaaed", &["conn_id", "sql", "parameters", "hook_params"]),
        "BashOperator" => ("#f0ede4", &["bash_command", "env", "cwd"]),
        "EmptyOperator" => ("#e8f7e4", &[]),
        _ => ("#ffefeb", &["templates_dict", "op_args", "op_kwargs"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekly_boundary_is_sunday_midnight() {
        let wednesday = Utc.with_ymd_and_hms(2024, 5, 1, 15, 30, 0).unwrap();
        let sunday = Utc.with_ymd_and_hms(2024, 4, 28, 0, 0, 0).unwrap();
        assert_eq!(Schedule::Weekly.boundary(wednesday), sunday);
        assert_eq!(Schedule::Weekly.boundary(sunday), sunday);
    }
}

//! Airflow 3's JSON shapes of DAGs, runs and task instances.

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};

use super::api_v2::*;
use super::{Airflow, Dag, DagRun, TaskInstance};

pub(super) fn dag_json(af: &Airflow, dag: &Dag) -> Value {
    let spec = dag.spec;
    let next_start = spec.schedule.boundary(af.now);
    let next_end = next_start + spec.schedule.interval();
    let tags: Vec<Value> = spec
        .tags
        .iter()
        .map(|t| json!({"name": t, "dag_id": spec.id, "dag_display_name": spec.id}))
        .collect();
    let relative = spec
        .fileloc
        .trim_start_matches("/opt/airflow/catalog/dags/");
    json!({
        "dag_id": spec.id,
        "dag_display_name": spec.id,
        "is_paused": dag.paused,
        "is_stale": false,
        "last_parsed_time": time(af.now - Span::seconds(17)),
        "last_parse_duration": 0.128,
        "last_expired": null,
        "bundle_name": "dags-folder",
        "bundle_version": null,
        "relative_fileloc": relative,
        "fileloc": spec.fileloc,
        "description": spec.description,
        "timetable_summary": spec.schedule.preset(),
        "timetable_description": spec.schedule.description(),
        "timetable_partitioned": false,
        "timetable_periodic": true,
        "tags": tags,
        "max_active_tasks": 16,
        "max_active_runs": 1,
        "max_consecutive_failed_dag_runs": 0,
        "has_task_concurrency_limits": false,
        "has_import_errors": false,
        "next_dagrun_logical_date": time(next_start),
        "next_dagrun_data_interval_start": time(next_start),
        "next_dagrun_data_interval_end": time(next_end),
        "next_dagrun_run_after": time(next_end),
        "allowed_run_types": null,
        "owners": ["data-eng-admin"],
        "is_backfillable": true,
        "file_token": format!("eyJidW5kbGVfbmFtZSI6ImRhZ3MtZm9sZGVyIn0.{}", spec.id.len()),
    })
}

/// The DAG version every run and task instance points at (one per DAG here).
pub(super) fn dag_version(dag_id: &str, created: DateTime<Utc>) -> Value {
    json!({
        "id": format!("01900000-0000-7000-8000-{:012x}", dag_id.len()),
        "version_number": 1,
        "dag_id": dag_id,
        "bundle_name": "dags-folder",
        "bundle_version": null,
        "created_at": time(created),
        "dag_display_name": dag_id,
        "bundle_url": null,
    })
}

pub(super) fn run_json(run: &DagRun) -> Value {
    let duration = run
        .end
        .map(|end| (end - run.start).num_milliseconds() as f64 / 1000.0);
    let scheduled = run.logical.is_some();
    json!({
        "dag_run_id": run.run_id,
        "dag_id": run.dag_id,
        "logical_date": run.logical.map(time),
        "queued_at": time(run.start - Span::milliseconds(146)),
        "start_date": time(run.start),
        "end_date": run.end.map(time),
        "duration": duration,
        "data_interval_start": run.logical.map(time),
        "data_interval_end": scheduled.then(|| time(run.interval_end)),
        "run_after": time(run.run_after),
        "last_scheduling_decision": time(run.end.unwrap_or(run.start)),
        "run_type": run.run_type,
        "state": run.state,
        "triggered_by": if scheduled { "timetable" } else { "rest_api" },
        "triggering_user_name": if scheduled { Value::Null } else { json!("ops") },
        "conf": {},
        "note": null,
        "dag_versions": [dag_version(&run.dag_id, run.run_after - Span::days(30))],
        "bundle_version": null,
        "dag_display_name": run.dag_id,
        "partition_key": null,
        "partition_date": null,
    })
}

pub(super) fn ti_json(ti: &TaskInstance) -> Value {
    let duration = match (ti.start, ti.end) {
        (Some(s), Some(e)) => json!((e - s).num_milliseconds() as f64 / 1000.0),
        _ => Value::Null,
    };
    let started = ti.start.is_some();
    json!({
        "id": format!("01900000-0000-7000-8000-{:012x}", ti.id),
        "task_id": ti.task_id,
        "dag_id": ti.dag_id,
        "dag_run_id": ti.run_id,
        "map_index": ti.map_index,
        "logical_date": time(ti.logical),
        "run_after": time(ti.run_after),
        "start_date": ti.start.map(time),
        "end_date": ti.end.map(time),
        "duration": duration,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": 0,
        "task_display_name": ti.task_id,
        "dag_display_name": ti.dag_id,
        "hostname": if started { "catalog-airflow" } else { "" },
        "unixname": "root",
        "pool": "default_pool",
        "pool_slots": 1,
        "queue": "default",
        "priority_weight": ti.priority,
        "operator": ti.operator,
        "operator_name": ti.operator,
        "queued_when": ti.start.map(|s| time(s - Span::seconds(1))),
        "scheduled_when": ti.start.map(|s| time(s - Span::seconds(1))),
        "pid": if started { json!(25052) } else { Value::Null },
        "executor": null,
        "executor_config": "{}",
        "note": null,
        "rendered_map_index": null,
        "rendered_fields": {},
        "trigger": null,
        "triggerer_job": null,
        "dag_version": dag_version(&ti.dag_id, ti.run_after - Span::days(30)),
    })
}

//! Airflow 2.10.5's face: the stable REST API under `/api/v1` with basic auth, the webserver's
//! `/health`, and the few webserver pages a browser check lands on (`/` → `/home` → `/login/`).
//!
//! Shapes follow Airflow's OpenAPI spec (`api_connexion/openapi/v1.yaml`) and its endpoint code:
//! errors are RFC 7807 problems; list endpoints take `limit`/`offset`, cap `limit` at the
//! `maximum_page_limit` (only `GET`; the `POST .../dagRuns/list` body's `page_limit` is not capped)
//! and report `total_entries`; an unknown DAG or run in a task-instance list is an empty list,
//! not a 404 (Airflow filters, it does not look the run up). A path outside the API is the
//! webserver's HTML "Airflow 404" page (so `/api/v2/...` is, as on a real Airflow 2).

use chrono::Duration as Span;
use serde_json::{json, Value};

use super::catalog::{operator_look, DagSpec, Op, MAPPED_TASKS};
use super::{page, Airflow, Dag, DagRun, TaskInstance};
use crate::server::{reason, Incoming, Reply};
use crate::{airflow_time, Answer, Ctx};

pub(super) const VERSION: &str = "2.10.5";
/// As the real 2.10.5 answers (tools/airflow/samples/version.json).
const GIT_VERSION: &str = ".release:b93c3db6b1641b0840bd15ac7d05bc58ff2cccbf";
const DOCS: &str = "https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html";
/// `[api] fallback_page_limit` and the default `maximum_page_limit`.
pub(super) const DEFAULT_PAGE_LIMIT: usize = 100;

pub(super) fn handle(af: &mut Airflow, ctx: &Ctx, req: &Incoming) -> Answer {
    let authorized = basic_auth_matches(req, &ctx.creds.airflow_user, &ctx.creds.airflow_password);
    if let Some(status) = ctx.faults.airflow_status {
        return Answer::new(fault_problem(status), authorized);
    }
    let segments = req.segments();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let Some(endpoint) = Endpoint::parse(&req.method, &segments) else {
        let reply = if segments.first() == Some(&"api") && segments.get(1) == Some(&"v1") {
            not_found_route()
        } else {
            not_found_page()
        };
        return Answer::new(reply, authorized);
    };
    if endpoint.needs_auth() && !authorized {
        return Answer::new(unauthenticated(), false);
    }
    let (reply, change) = serve(af, endpoint, req);
    Answer {
        reply,
        authorized,
        change,
    }
}

fn serve(af: &mut Airflow, endpoint: Endpoint, req: &Incoming) -> (Reply, Option<String>) {
    let result = match endpoint {
        Endpoint::Root => Ok(redirect("/home")),
        Endpoint::Home => Ok(redirect("/login/?next=%2Fhome")),
        Endpoint::Login => Ok(login_page()),
        Endpoint::Health => Ok(Reply::json(200, &health(af))),
        Endpoint::Version => Ok(Reply::json(
            200,
            &json!({"version": VERSION, "git_version": GIT_VERSION}),
        )),
        Endpoint::Dags => list_dags(af, req),
        Endpoint::Dag(dag_id) => get_dag(af, dag_id),
        Endpoint::PatchDag(dag_id) => return patch_dag(af, dag_id, req),
        Endpoint::Tasks(dag_id) => list_tasks(af, dag_id),
        Endpoint::Runs(dag_id) => list_runs(af, dag_id, req),
        Endpoint::RunsBatch => list_runs_batch(af, req),
        Endpoint::Run(dag_id, run_id) => get_run(af, dag_id, run_id),
        Endpoint::TaskInstances(dag_id, run_id) => list_task_instances(af, dag_id, run_id, req),
        Endpoint::TaskInstance(dag_id, run_id, task_id) => {
            get_task_instance(af, dag_id, run_id, task_id)
        }
    };
    (result.unwrap_or_else(|problem| problem), None)
}

fn health(af: &Airflow) -> Value {
    json!({
        "dag_processor": {"latest_dag_processor_heartbeat": null, "status": null},
        "metadatabase": {"status": "healthy"},
        "scheduler": {
            "latest_scheduler_heartbeat": airflow_time(af.now - Span::milliseconds(2_345)),
            "status": "healthy",
        },
        // No triggerer runs, as in the captured samples.
        "triggerer": {"latest_triggerer_heartbeat": null, "status": null},
    })
}

fn list_dags(af: &Airflow, req: &Incoming) -> Result<Reply, Reply> {
    let (limit, offset) = limit_offset(af, req)?;
    let paused = req.param("paused").map(|p| p == "true");
    let pattern = req.param("dag_id_pattern").map(|p| p.to_lowercase());
    let mut dags: Vec<&Dag> = af
        .dags_tagged(&req.param_all("tags"))
        .into_iter()
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
    Ok(page_of("dags", &dags, offset, limit, |d| dag_json(af, d)))
}

fn get_dag(af: &Airflow, dag_id: &str) -> Result<Reply, Reply> {
    let dag = af.dag(dag_id).ok_or_else(|| {
        problem(
            404,
            "DAG not found",
            Some(format!("The DAG with dag_id: {dag_id} was not found")),
        )
    })?;
    Ok(Reply::json(200, &dag_json(af, dag)))
}

/// `PATCH /dags/{id}?update_mask=is_paused` with `{"is_paused": bool}`: the only field the
/// API lets one change. Answers the DAG as it is after the change.
fn patch_dag(af: &mut Airflow, dag_id: &str, req: &Incoming) -> (Reply, Option<String>) {
    match paused_wanted(req) {
        Err(problem) => (problem, None),
        Ok(paused) => match af.set_paused(dag_id, paused) {
            None => (
                problem(404, &format!("Dag with id: '{dag_id}' not found"), None),
                None,
            ),
            Some(change) => {
                let dag = af.dag(dag_id).expect("just changed");
                (Reply::json(200, &dag_json(af, dag)), change)
            }
        },
    }
}

/// The `is_paused` a PATCH asks for, or the problem Airflow answers it with.
fn paused_wanted(req: &Incoming) -> Result<bool, Reply> {
    let mask: Vec<String> = req
        .param_all("update_mask")
        .iter()
        .flat_map(|m| m.split(',').map(|s| s.trim().to_string()))
        .collect();
    if !mask.is_empty() && mask != ["is_paused"] {
        let detail = "Only `is_paused` field can be edited through the REST API";
        return Err(problem(400, "Bad Request", Some(detail.into())));
    }
    let wanted = match req.json() {
        Some(Value::Object(body)) => body.get("is_paused").cloned(),
        _ => {
            let detail = "Request body must be a JSON object";
            return Err(problem(400, "Bad Request", Some(detail.into())));
        }
    };
    match wanted {
        Some(Value::Bool(paused)) => Ok(paused),
        Some(_) => {
            let detail = "{'is_paused': ['Not a valid boolean.']}";
            Err(problem(400, "Bad Request", Some(detail.into())))
        }
        None => {
            let detail = "{'is_paused': ['Missing data for required field.']}";
            Err(problem(400, "Bad Request", Some(detail.into())))
        }
    }
}

fn list_tasks(af: &Airflow, dag_id: &str) -> Result<Reply, Reply> {
    let dag = af
        .dag(dag_id)
        .ok_or_else(|| problem(404, "DAG not found", None))?;
    let tasks = tasks_json(dag.spec);
    Ok(Reply::json(
        200,
        &json!({"tasks": tasks, "total_entries": tasks.len()}),
    ))
}

/// A DAG's tasks as `/dags/{id}/tasks` lists them (both APIs), in `task_id` order.
pub(super) fn tasks_json(spec: &DagSpec) -> Vec<Value> {
    let mut tasks: Vec<Value> = spec
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| task_json(spec, i, task))
        .collect();
    tasks.sort_by(|a, b| a["task_id"].as_str().cmp(&b["task_id"].as_str()));
    tasks
}

fn list_runs(af: &Airflow, dag_id: &str, req: &Incoming) -> Result<Reply, Reply> {
    let (limit, offset) = limit_offset(af, req)?;
    let states = req.param_all("state");
    let order_by = req.param("order_by").unwrap_or_else(|| "id".into());
    let dag_ids = (dag_id != "~").then(|| vec![dag_id.to_string()]);
    runs_page(af, dag_ids.as_deref(), &states, &order_by, limit, offset)
}

/// `POST /dags/~/dagRuns/list`: the same query in a JSON body.
fn list_runs_batch(af: &Airflow, req: &Incoming) -> Result<Reply, Reply> {
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
    runs_page(af, dag_ids.as_deref(), &states, order_by, limit, offset)
}

fn runs_page(
    af: &Airflow,
    dag_ids: Option<&[String]>,
    states: &[String],
    order_by: &str,
    limit: usize,
    offset: usize,
) -> Result<Reply, Reply> {
    let runs = af.runs_where(dag_ids, states, order_by).map_err(|key| {
        let detail = format!(
            "Ordering with '{key}' is disallowed or the attribute does not exist on the model"
        );
        problem(400, "Bad Request", Some(detail))
    })?;
    Ok(page_of("dag_runs", &runs, offset, limit, run_json))
}

fn get_run(af: &Airflow, dag_id: &str, run_id: &str) -> Result<Reply, Reply> {
    let run = af.run(dag_id, run_id).ok_or_else(|| {
        let detail = format!("DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found");
        problem(404, "DAGRun not found", Some(detail))
    })?;
    Ok(Reply::json(200, &run_json(run)))
}

fn list_task_instances(
    af: &mut Airflow,
    dag_id: &str,
    run_id: &str,
    req: &Incoming,
) -> Result<Reply, Reply> {
    let poking = af.caught_poking(dag_id);
    let (limit, offset) = limit_offset(af, req)?;
    // `state=none` asks for task instances without a state.
    let tis = af.task_instances(dag_id, run_id, &req.param_all("state"));
    Ok(page_of("task_instances", &tis, offset, limit, |t| {
        let mut json = ti_json(t);
        if poking {
            Airflow::show_poking(t, &mut json);
        }
        json
    }))
}

fn get_task_instance(
    af: &Airflow,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
) -> Result<Reply, Reply> {
    let ti = af
        .tis
        .iter()
        .find(|t| {
            t.dag_id == dag_id && t.run_id == run_id && t.task_id == task_id && t.map_index < 1
        })
        .ok_or_else(|| problem(404, "Task instance not found", None))?;
    Ok(Reply::json(200, &ti_json(ti)))
}

/// `limit` (default 100, 0 means the fallback, above the cap means the cap) and `offset`.
fn limit_offset(af: &Airflow, req: &Incoming) -> Result<(usize, usize), Reply> {
    let integer = |name: &str| -> Result<Option<i64>, Reply> {
        match req.param(name) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                let detail = format!("Wrong type, expected 'integer' for query parameter '{name}'");
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
    Ok((limit.min(af.page_cap), offset))
}

fn dag_json(af: &Airflow, dag: &Dag) -> Value {
    let spec = dag.spec;
    let next_start = spec.schedule.boundary(af.now);
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
        "last_parsed_time": airflow_time(af.now - Span::seconds(17)),
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

fn ti_json(ti: &TaskInstance) -> Value {
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
    let logical = airflow_time(run.logical_or_run_after());
    json!({
        "conf": {},
        "dag_id": run.dag_id,
        "dag_run_id": run.run_id,
        "data_interval_end": airflow_time(run.interval_end),
        "data_interval_start": logical,
        "end_date": run.end.map(airflow_time),
        "execution_date": logical,
        "external_trigger": run.run_type == "manual",
        "last_scheduling_decision": airflow_time(run.end.unwrap_or(run.start)),
        "logical_date": logical,
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
fn page_of<T: Copy>(
    key: &str,
    items: &[T],
    offset: usize,
    limit: usize,
    to_json: impl Fn(T) -> Value,
) -> Reply {
    let items_json: Vec<Value> = page(items, offset, limit)
        .into_iter()
        .map(to_json)
        .collect();
    Reply::json(
        200,
        &json!({ key: items_json, "total_entries": items.len() }),
    )
}

/// An unknown path under `/api/v1`.
fn not_found_route() -> Reply {
    let detail = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
    problem(404, "Not Found", Some(detail.into()))
}

/// An unknown path outside the API: the webserver's own page (seen for `/api/v2/version`).
fn not_found_page() -> Reply {
    let body = "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <title>Airflow 404</title>\n  </head>\n  <body>\n    <h1>Airflow 404</h1>\n    <p>Page cannot be found.</p>\n    <a href=\"/\">Return to the main page</a>\n  </body>\n</html>";
    Reply {
        status: 404,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
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
}

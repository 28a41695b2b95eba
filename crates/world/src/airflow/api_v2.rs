//! Airflow 3.3.2's face: the REST API under `/api/v2` (FastAPI), JWTs from `POST /auth/token`,
//! `/api/v2/monitor/health`, and the UI for any other path. `/api/v1` is gone.
//!
//! As the real one answers (tools/airflow3/samples/): errors are `{"detail": ...}`, a string, or
//! for a request that fails validation (422) a list of `{type, loc, msg, input}`; a route it
//! does not have is `{"error": ...}`. Version and health need no token; the rest needs
//! `Authorization: Bearer <JWT>`: none is 401 "Not authenticated", an expired one 401 "Token
//! Expired", one it did not issue 403 "Invalid JWT token". Pages default to 50 items
//! (`fallback_page_limit`), are capped at `maximum_page_limit` (100), and `limit=0` is an empty
//! page; run and task-instance lists also carry the cursor fields (null: offset paging). Runs may
//! have no logical date (`run_after` says when they could start); task instances have a uuid
//! `id` and their `map_index`; the task instances of an unknown run are a 404.

use chrono::{DateTime, Duration as Span, Timelike, Utc};
use serde_json::{json, Value};

use super::api_v1::tasks_json;
use super::api_v2_auth::*;
use super::api_v2_json::*;
use super::{page, Airflow, Dag};
use crate::server::{reason, Incoming, Reply};
use crate::{airflow_time, Answer, Ctx};

pub(super) const VERSION: &str = "3.3.2";
/// As the real 3.3.2 answers (tools/airflow3/samples/version.json).
pub(super) const GIT_VERSION: &str = ".release:aa19d2dbb9ed187ec01957a92848d9b005e9ba9d";
/// `[api] fallback_page_limit`.
pub(super) const DEFAULT_PAGE_LIMIT: usize = 50;
/// The states `state=` takes on the run lists.
pub(super) const RUN_STATES: &[&str] = &["queued", "running", "success", "failed"];

pub(super) fn handle(af: &mut Airflow, ctx: &Ctx, req: &Incoming) -> Answer {
    let bearer = bearer(af, req);
    let authorized = bearer == Bearer::Valid;
    if let Some(status) = ctx.faults.airflow_status {
        // What Starlette (or a proxy in front of it) answers when the server fails.
        return Answer::new(plain_text(status, reason(status)), authorized);
    }
    let segments = req.segments();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let Some(endpoint) = Endpoint::parse(&req.method, &segments) else {
        return Answer::new(not_found(&req.method, &segments), authorized);
    };
    if endpoint.needs_auth() {
        let refused = match bearer {
            Bearer::Valid => None,
            Bearer::Missing => Some((401, "Not authenticated")),
            Bearer::Expired => Some((401, "Token Expired")),
            Bearer::Invalid => Some((403, "Invalid JWT token")),
        };
        if let Some((status, text)) = refused {
            return Answer::new(detail(status, text), false);
        }
    }
    let (reply, change) = serve(af, ctx, endpoint, req);
    Answer {
        reply,
        authorized,
        change,
    }
}

pub(super) fn serve(
    af: &mut Airflow,
    ctx: &Ctx,
    endpoint: Endpoint,
    req: &Incoming,
) -> (Reply, Option<String>) {
    let result = match endpoint {
        Endpoint::Ui => Ok(ui_page()),
        Endpoint::Token => token(af, ctx, req),
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
        Endpoint::Run(dag_id, run_id) => get_run(af, dag_id, run_id),
        Endpoint::TaskInstances(dag_id, run_id) => list_task_instances(af, dag_id, run_id, req),
        Endpoint::TaskInstance(dag_id, run_id, task_id) => {
            get_task_instance(af, dag_id, run_id, task_id)
        }
    };
    (result.unwrap_or_else(|error| error), None)
}

pub(super) fn health(af: &Airflow) -> Value {
    // The heartbeats keep Python's `+00:00`.
    let beat = |ago: i64| airflow_time(af.now - Span::milliseconds(ago));
    json!({
        "metadatabase": {"status": "healthy"},
        "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": beat(2_345)},
        // No triggerer runs, as in the captured samples; Airflow 3 runs a DAG processor.
        "triggerer": {"status": null, "latest_triggerer_heartbeat": null},
        "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": beat(4_120)},
    })
}

pub(super) fn list_dags(af: &Airflow, req: &Incoming) -> Result<Reply, Reply> {
    let (limit, offset) = limit_offset(af, req)?;
    let paused =
        match req.param("paused") {
            None => None,
            Some(value) => Some(boolean(&Value::from(value.as_str())).ok_or_else(|| {
                invalid(vec![bool_error(&["query", "paused"], &Value::from(value))])
            })?),
        };
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
    let items: Vec<Value> = page(&dags, offset, limit)
        .into_iter()
        .map(|d| dag_json(af, d))
        .collect();
    Ok(Reply::json(
        200,
        &json!({"dags": items, "total_entries": dags.len()}),
    ))
}

pub(super) fn get_dag(af: &Airflow, dag_id: &str) -> Result<Reply, Reply> {
    let dag = af.dag(dag_id).ok_or_else(|| dag_not_found(dag_id))?;
    Ok(Reply::json(200, &dag_json(af, dag)))
}

pub(super) fn dag_not_found(dag_id: &str) -> Reply {
    detail(404, &format!("The Dag with ID: `{dag_id}` was not found"))
}

/// `PATCH /dags/{id}?update_mask=is_paused` with `{"is_paused": bool}` and nothing else: the body
/// is validated first (422, every problem listed), then the DAG looked up, then the mask.
pub(super) fn patch_dag(af: &mut Airflow, dag_id: &str, req: &Incoming) -> (Reply, Option<String>) {
    let paused = match patch_body(req) {
        Ok(paused) => paused,
        Err(error) => return (error, None),
    };
    if af.dag(dag_id).is_none() {
        let text = format!("Dag with id: {dag_id} was not found");
        return (detail(404, &text), None);
    }
    let mask = req.param_all("update_mask");
    if !mask.is_empty() && mask != ["is_paused"] {
        let text = "Only `is_paused` field can be updated through the REST API";
        return (detail(400, text), None);
    }
    let change = af.set_paused(dag_id, paused).flatten();
    let dag = af.dag(dag_id).expect("just changed");
    (Reply::json(200, &dag_json(af, dag)), change)
}

/// `DAGPatchBody`: `is_paused`, a boolean (pydantic's lax reading: `"true"`, `1` too), required,
/// and no other field.
pub(super) fn patch_body(req: &Incoming) -> Result<bool, Reply> {
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(body) => body,
        Err(e) => {
            return Err(invalid(vec![json!({
                "type": "json_invalid", "loc": ["body", e.column()], "msg": "JSON decode error",
                "input": {}, "ctx": {"error": e.to_string()},
            })]))
        }
    };
    let Value::Object(fields) = &body else {
        return Err(invalid(vec![json!({
            "type": "model_attributes_type", "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": body,
        })]));
    };
    let mut errors: Vec<Value> = fields
        .iter()
        .filter(|(name, _)| *name != "is_paused")
        .map(|(name, value)| {
            json!({"type": "extra_forbidden", "loc": ["body", name],
                   "msg": "Extra inputs are not permitted", "input": value})
        })
        .collect();
    let paused = match fields.get("is_paused") {
        None => {
            errors.insert(
                0,
                json!({"type": "missing", "loc": ["body", "is_paused"], "msg": "Field required", "input": body}),
            );
            None
        }
        Some(value) => {
            let paused = boolean(value);
            if paused.is_none() {
                errors.insert(0, bool_error(&["body", "is_paused"], value));
            }
            paused
        }
    };
    match paused {
        Some(paused) if errors.is_empty() => Ok(paused),
        _ => Err(invalid(errors)),
    }
}

/// A boolean as pydantic reads one in lax mode.
pub(super) fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_u64() == Some(1) => Some(true),
        Value::Number(n) if n.as_u64() == Some(0) => Some(false),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn bool_error(loc: &[&str], input: &Value) -> Value {
    json!({"type": "bool_parsing", "loc": loc,
           "msg": "Input should be a valid boolean, unable to interpret input", "input": input})
}

pub(super) fn list_tasks(af: &Airflow, dag_id: &str) -> Result<Reply, Reply> {
    let dag = af.dag(dag_id).ok_or_else(|| dag_not_found(dag_id))?;
    let tasks: Vec<Value> = tasks_json(dag.spec)
        .into_iter()
        .map(|mut task| {
            task["start_date"] = json!("2020-01-01T00:00:00Z");
            task["retry_exponential_backoff"] = json!(0.0);
            task
        })
        .collect();
    Ok(Reply::json(
        200,
        &json!({"tasks": tasks, "total_entries": tasks.len()}),
    ))
}

pub(super) fn list_runs(af: &Airflow, dag_id: &str, req: &Incoming) -> Result<Reply, Reply> {
    if dag_id != "~" && af.dag(dag_id).is_none() {
        return Err(dag_not_found(dag_id));
    }
    let (limit, offset) = limit_offset(af, req)?;
    let states = req.param_all("state");
    if states.iter().any(|s| !RUN_STATES.contains(&s.as_str())) {
        let text = format!(
            "Invalid value for state. Valid values are {}",
            RUN_STATES.join(", ")
        );
        return Err(detail(422, &text));
    }
    let order_by = req.param("order_by").unwrap_or_else(|| "id".into());
    let dag_ids = (dag_id != "~").then(|| vec![dag_id.to_string()]);
    let runs = af
        .runs_where(dag_ids.as_deref(), &states, &order_by)
        .map_err(|key| {
            let text = format!(
                "Ordering with '{key}' is disallowed or the attribute does not exist on the model"
            );
            detail(400, &text)
        })?;
    let items: Vec<Value> = page(&runs, offset, limit)
        .into_iter()
        .map(run_json)
        .collect();
    Ok(offset_page("dag_runs", items, runs.len()))
}

pub(super) fn get_run(af: &Airflow, dag_id: &str, run_id: &str) -> Result<Reply, Reply> {
    let run = af
        .run(dag_id, run_id)
        .ok_or_else(|| run_not_found(dag_id, run_id, "The DagRun"))?;
    Ok(Reply::json(200, &run_json(run)))
}

pub(super) fn run_not_found(dag_id: &str, run_id: &str, what: &str) -> Reply {
    let text = format!("{what} with dag_id: `{dag_id}` and run_id: `{run_id}` was not found");
    detail(404, &text)
}

pub(super) fn list_task_instances(
    af: &mut Airflow,
    dag_id: &str,
    run_id: &str,
    req: &Incoming,
) -> Result<Reply, Reply> {
    // Unlike Airflow 2, a run that does not exist is named, not an empty list.
    if dag_id != "~" && run_id != "~" && af.run(dag_id, run_id).is_none() {
        return Err(run_not_found(dag_id, run_id, "DagRun"));
    }
    let poking = af.caught_poking(dag_id);
    let (limit, offset) = limit_offset(af, req)?;
    let tis = af.task_instances(dag_id, run_id, &req.param_all("state"));
    let items: Vec<Value> = page(&tis, offset, limit)
        .into_iter()
        .map(|t| {
            let mut json = ti_json(t);
            if poking {
                Airflow::show_poking(t, &mut json);
            }
            json
        })
        .collect();
    Ok(offset_page("task_instances", items, tis.len()))
}

pub(super) fn get_task_instance(
    af: &Airflow,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
) -> Result<Reply, Reply> {
    let ti = af
        .tis
        .iter()
        .find(|t| t.dag_id == dag_id && t.run_id == run_id && t.task_id == task_id && t.map_index < 1)
        .ok_or_else(|| {
            let text = format!("The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` and map_index: `-1` was not found");
            detail(404, &text)
        })?;
    Ok(Reply::json(200, &ti_json(ti)))
}

/// `limit` (default 50; 0 is an empty page; above the cap means the cap) and `offset`, both
/// integers of at least 0.
pub(super) fn limit_offset(af: &Airflow, req: &Incoming) -> Result<(usize, usize), Reply> {
    let mut errors = Vec::new();
    let mut integer = |name: &str| -> Option<usize> {
        let raw = req.param(name)?;
        match raw.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as usize),
            Ok(_) => {
                errors.push(json!({"type": "greater_than_equal", "loc": ["query", name],
                    "msg": "Input should be greater than or equal to 0", "input": raw, "ctx": {"ge": 0}}));
                None
            }
            Err(_) => {
                errors.push(json!({"type": "int_parsing", "loc": ["query", name],
                    "msg": "Input should be a valid integer, unable to parse string as an integer", "input": raw}));
                None
            }
        }
    };
    let limit = integer("limit").unwrap_or(DEFAULT_PAGE_LIMIT);
    let offset = integer("offset").unwrap_or(0);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    Ok((limit.min(af.page_cap), offset))
}

/// A run or task-instance list read by offset: the total, and the cursor fields empty.
pub(super) fn offset_page(key: &str, items: Vec<Value>, total: usize) -> Reply {
    Reply::json(
        200,
        &json!({
            key: items, "total_entries": total, "total_entries_limit": null,
            "next_cursor": null, "previous_cursor": null,
        }),
    )
}

/// The routes the fake knows, matched on method and decoded path segments.
pub(super) enum Endpoint<'a> {
    /// Any other page: the React UI.
    Ui,
    Token,
    Health,
    Version,
    Dags,
    Dag(&'a str),
    PatchDag(&'a str),
    Tasks(&'a str),
    Runs(&'a str),
    Run(&'a str, &'a str),
    TaskInstances(&'a str, &'a str),
    TaskInstance(&'a str, &'a str, &'a str),
}

impl<'a> Endpoint<'a> {
    fn parse(method: &str, segments: &[&'a str]) -> Option<Endpoint<'a>> {
        use Endpoint::*;
        let endpoint = match (method, segments) {
            ("POST", ["auth", "token"]) => Token,
            ("GET", ["api", "v2", "monitor", "health"]) => Health,
            ("GET", ["api", "v2", "version"]) => Version,
            ("GET", ["api", "v2", "dags"]) => Dags,
            ("GET", ["api", "v2", "dags", dag]) => Dag(dag),
            ("PATCH", ["api", "v2", "dags", dag]) => PatchDag(dag),
            ("GET", ["api", "v2", "dags", dag, "tasks"]) => Tasks(dag),
            ("GET", ["api", "v2", "dags", dag, "dagRuns"]) => Runs(dag),
            ("GET", ["api", "v2", "dags", dag, "dagRuns", run]) => Run(dag, run),
            ("GET", ["api", "v2", "dags", dag, "dagRuns", run, "taskInstances"]) => {
                TaskInstances(dag, run)
            }
            ("GET", ["api", "v2", "dags", dag, "dagRuns", run, "taskInstances", task]) => {
                TaskInstance(dag, run, task)
            }
            ("GET", [first, ..]) if !["api", "auth", "health", "execution"].contains(first) => Ui,
            _ => return None,
        };
        Some(endpoint)
    }

    /// The UI, the token, health and version answer without a token, as in Airflow.
    fn needs_auth(&self) -> bool {
        !matches!(
            self,
            Endpoint::Ui | Endpoint::Token | Endpoint::Health | Endpoint::Version
        )
    }
}

/// A path Airflow 3 has no route for: what it says about the old ones.
pub(super) fn not_found(method: &str, segments: &[&str]) -> Reply {
    let error = match segments {
        ["api", "v1", ..] => {
            "/api/v1 has been removed in Airflow 3, please use its upgraded version /api/v2 instead."
        }
        ["health"] => "Moved in Airflow 3. Please change config to check `/api/v2/monitor/health`",
        ["api", ..] => "API route not found",
        _ if method != "GET" => return detail(405, "Method Not Allowed"),
        _ => return detail(404, "Not Found"),
    };
    Reply::json(404, &json!({ "error": error }))
}

/// FastAPI's `HTTPException`: `{"detail": "..."}`.
pub(super) fn detail(status: u16, text: &str) -> Reply {
    Reply::json(status, &json!({ "detail": text }))
}

/// FastAPI's `RequestValidationError`: 422 with every problem found.
pub(super) fn invalid(errors: Vec<Value>) -> Reply {
    Reply::json(422, &json!({ "detail": errors }))
}

pub(super) fn plain_text(status: u16, text: &str) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: text.as_bytes().to_vec(),
    }
}

pub(super) fn ui_page() -> Reply {
    let body = "<!doctype html>\n<html style=\"height: 100%\" dir=\"ltr\" lang=\"en\">\n  <head>\n    <meta charset=\"UTF-8\" />\n    <base href=\"/\" />\n    <title>Airflow</title>\n  </head>\n  <body style=\"height: 100%\">\n    <div id=\"root\" style=\"height: 100%\"></div>\n  </body>\n</html>\n";
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// Airflow 3's times in its answers: pydantic's ISO 8601 in UTC with `Z`, microseconds only if
/// any.
pub(super) fn time(t: DateTime<Utc>) -> String {
    if t.nanosecond() / 1_000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use chrono::TimeZone;
    use serde_json::Map;

    #[test]
    fn a_token_looks_like_airflows_and_is_unique() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 3, 35, 12).unwrap();
        let first = jwt("rehearsal", now, Span::days(1), 0);
        let second = jwt("rehearsal", now, Span::days(1), 1);
        assert_ne!(first, second);
        let parts: Vec<&str> = first.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(first.starts_with("eyJ"), "{first}");
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap();
        let claims: Map<String, Value> = serde_json::from_slice(&payload).unwrap();
        assert_eq!(claims["sub"], "rehearsal");
        assert_eq!(claims["aud"], "apache-airflow");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            86_400
        );
    }

    #[test]
    fn times_end_in_z_with_microseconds_only_if_any() {
        let whole = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(time(whole), "2024-01-01T00:00:00Z");
        let fraction = whole + Span::microseconds(261_244);
        assert_eq!(time(fraction), "2024-01-01T00:00:00.261244Z");
    }

    #[test]
    fn pydantic_reads_booleans_leniently() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!("false"), Some(false)),
            (json!(1), Some(true)),
            (json!("maybe"), None),
            (json!(2), None),
            (json!(null), None),
        ] {
            assert_eq!(boolean(&value), expected, "{value}");
        }
    }
}

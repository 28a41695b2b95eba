//! The fake Airflow 3 and the upgrade, seen from outside through a real HTTP client (the fake
//! Airflow 2 is tested with the other fakes, in `world/tests.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{AirflowVersion, Credentials, Faults, Scenario, World};

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A world whose Airflow is 3.3.2 from the start.
fn airflow3(scenario: Scenario, faults: Faults) -> World {
    let faults = Faults {
        airflow_version: Some(AirflowVersion::Airflow3),
        ..faults
    };
    World::start_with(scenario, faults, Credentials::default()).expect("world")
}

fn url(world: &World, path: &str) -> String {
    format!("{}{path}", world.airflow_url())
}

/// `POST /auth/token` with these credentials.
fn ask_token(world: &World, user: &str, password: &str) -> Response {
    client()
        .post(url(world, "/auth/token"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .expect("airflow answers")
}

/// A token for the world's user.
fn token(world: &World) -> String {
    let c = world.credentials();
    let answer = ask_token(world, &c.airflow_user, &c.airflow_password);
    assert_eq!(answer.status(), 201);
    json_of(answer)["access_token"]
        .as_str()
        .expect("a token")
        .to_string()
}

fn with_token(world: &World, method: Method, path: &str) -> RequestBuilder {
    client()
        .request(method, url(world, path))
        .bearer_auth(token(world))
}

fn get(world: &World, path: &str) -> Response {
    with_token(world, Method::GET, path)
        .send()
        .expect("airflow answers")
}

fn json_of(response: Response) -> Value {
    response.json().expect("a JSON body")
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// A sample from `tools/airflow3/samples/` (captured by `tools/airflow3/capture_samples.py`).
fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/airflow3/samples")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn airflow3_has_only_api_v2_and_says_so_of_the_old_paths() {
    let world = airflow3(Scenario::Calm, Faults::default());
    assert_eq!(world.airflow_version(), AirflowVersion::Airflow3);
    let version = client().get(url(&world, "/api/v2/version")).send().unwrap();
    assert_eq!(version.status(), 200, "no token needed");
    assert_eq!(json_of(version)["version"], "3.3.2");
    let health = client()
        .get(url(&world, "/api/v2/monitor/health"))
        .send()
        .unwrap();
    let health = json_of(health);
    for part in ["metadatabase", "scheduler", "dag_processor"] {
        assert_eq!(health[part]["status"], "healthy", "{part}");
    }
    for (path, sample_file) in [
        ("/api/v1/version", "error-404-api-v1.json"),
        ("/health", "error-404-health-root.json"),
        ("/api/v2/nowhere", "error-404-route.json"),
    ] {
        let answer = client().get(url(&world, path)).send().unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(json_of(answer), sample(sample_file), "{path}");
    }
    let ui = client().get(world.airflow_url()).send().unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().unwrap().contains("<title>Airflow</title>"));
}

#[test]
fn airflow3_wants_a_token_from_auth_token() {
    let world = airflow3(Scenario::Calm, Faults::default());
    let c = world.credentials().clone();
    let wrong = ask_token(&world, &c.airflow_user, "wrong");
    assert_eq!(wrong.status(), 401);
    assert_eq!(json_of(wrong), sample("error-401-token.json"));
    let dags = url(&world, "/api/v2/dags");
    let refused = [
        (client().get(&dags), 401, "error-401-no-token.json"),
        (
            client()
                .get(&dags)
                .basic_auth(&c.airflow_user, Some(&c.airflow_password)),
            401,
            "error-401-no-token.json",
        ),
        (
            client().get(&dags).bearer_auth("not.a.jwt"),
            403,
            "error-403-bad-token.json",
        ),
    ];
    for (request, status, sample_file) in refused {
        let answer = request.send().unwrap();
        assert_eq!(answer.status(), status);
        assert_eq!(json_of(answer), sample(sample_file));
    }
    let jwt = token(&world);
    assert_eq!(jwt.split('.').count(), 3, "{jwt}");
    let ok = client().get(&dags).bearer_auth(&jwt).send().unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(json_of(ok)["total_entries"], 9);
    assert_eq!(world.airflow_tokens(), vec![jwt.clone()]);
    let log = world.requests();
    assert!(log.last().unwrap().authorized);
    assert!(log.iter().all(|r| r
        .body
        .as_ref()
        .is_none_or(|b| !b.to_string().contains(&jwt))));
}

#[test]
fn airflow3_tokens_expire() {
    let faults = Faults {
        airflow_token_lifetime: Some(Duration::from_millis(300)),
        ..Faults::default()
    };
    let world = airflow3(Scenario::Calm, faults);
    let jwt = token(&world);
    let dags = url(&world, "/api/v2/dags");
    let fresh = client().get(&dags).bearer_auth(&jwt).send().unwrap();
    assert_eq!(fresh.status(), 200);
    std::thread::sleep(Duration::from_millis(400));
    let expired = client().get(&dags).bearer_auth(&jwt).send().unwrap();
    assert_eq!(expired.status(), 401);
    assert_eq!(json_of(expired), json!({"detail": "Token Expired"}));
}

#[test]
fn airflow3_shows_the_waiting_sensor_with_its_ids_and_run_after() {
    let world = airflow3(Scenario::SensorWaiting, Faults::default());
    let running = json_of(get(&world, "/api/v2/dags/~/dagRuns?state=running"));
    assert_eq!(running["total_entries"], 1);
    assert_eq!(running["next_cursor"], Value::Null);
    let run = &running["dag_runs"][0];
    assert_eq!(run["dag_id"], "image_data_refresh");
    let run_id = run["dag_run_id"].as_str().unwrap();
    assert!(run_id.starts_with("scheduled__") && run_id.ends_with("+00:00"));
    assert!(run["logical_date"].as_str().unwrap().ends_with('Z'));
    assert!(run["run_after"].as_str().unwrap().ends_with('Z'));
    assert!(run.get("execution_date").is_none(), "gone in Airflow 3");
    let path = format!(
        "/api/v2/dags/image_data_refresh/dagRuns/{}/taskInstances",
        encode(run_id)
    );
    let tis = json_of(get(&world, &path));
    let sensor = tis["task_instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == "data_refresh.ingest_upstream.wait_for_ingest_upstream")
        .expect("the sensor");
    assert_eq!(sensor["state"], "up_for_reschedule");
    assert_eq!(sensor["operator"], "HttpSensor");
    assert_eq!(sensor["map_index"], -1);
    let id = sensor["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a uuid: {id}");
    assert_eq!(id.matches('-').count(), 4, "a uuid: {id}");
    let unknown = get(
        &world,
        "/api/v2/dags/image_data_refresh/dagRuns/no_such_run/taskInstances",
    );
    assert_eq!(unknown.status(), 404, "Airflow 3 names an unknown run");
    assert_eq!(
        json_of(unknown)["detail"],
        "DagRun with dag_id: `image_data_refresh` and run_id: `no_such_run` was not found"
    );
}

#[test]
fn airflow3_pages_default_to_50_and_are_capped() {
    let faults = Faults {
        airflow_running_runs: Some(120),
        ..Faults::default()
    };
    let world = airflow3(Scenario::Calm, faults);
    let page = |query: &str| json_of(get(&world, &format!("/api/v2/dags/~/dagRuns?{query}")));
    let first = page("state=running");
    assert_eq!(first["dag_runs"].as_array().unwrap().len(), 50);
    assert_eq!(first["total_entries"], 120);
    assert_eq!(
        page("state=running&limit=1000")["dag_runs"]
            .as_array()
            .unwrap()
            .len(),
        100
    );
    let last = page("state=running&limit=100&offset=100");
    assert_eq!(last["dag_runs"].as_array().unwrap().len(), 20);
    assert_eq!(
        page("state=running&limit=0")["dag_runs"],
        json!([]),
        "0 is an empty page"
    );
    // Triggered without a logical date: null, and `run_after` says when.
    let manual = &first["dag_runs"][0];
    assert_eq!(manual["run_type"], "manual");
    assert_eq!(manual["logical_date"], Value::Null);
    assert!(manual["run_after"].is_string());
    let bad = get(&world, "/api/v2/dags/~/dagRuns?limit=many");
    assert_eq!(bad.status(), 422);
    assert_eq!(json_of(bad), sample("error-422-limit.json"));
    let bad_state = get(&world, "/api/v2/dags/~/dagRuns?state=bogus");
    assert_eq!(bad_state.status(), 422);
}

#[test]
fn airflow3_patch_takes_is_paused_and_nothing_else() {
    let world = airflow3(Scenario::Calm, Faults::default());
    let patch = |dag: &str, body: Value| {
        with_token(
            &world,
            Method::PATCH,
            &format!("/api/v2/dags/{dag}?update_mask=is_paused"),
        )
        .json(&body)
        .send()
        .unwrap()
    };
    let extra = patch("flickr_workflow", json!({"is_paused": true, "x": 1}));
    assert_eq!(extra.status(), 422);
    assert_eq!(json_of(extra), sample("error-422-patch-extra.json"));
    let missing = patch("flickr_workflow", json!({}));
    assert_eq!(missing.status(), 422);
    assert_eq!(json_of(missing), sample("error-422-patch-missing.json"));
    let unknown = patch("no_such_dag", json!({"is_paused": true}));
    assert_eq!(unknown.status(), 404);
    assert_eq!(json_of(unknown), sample("error-404-dag-patch.json"));
    assert_eq!(world.dag_paused("flickr_workflow"), Some(false));
    let paused = patch("flickr_workflow", json!({"is_paused": true}));
    assert_eq!(paused.status(), 200);
    assert_eq!(json_of(paused)["is_paused"], true);
    assert_eq!(world.dag_paused("flickr_workflow"), Some(true));
    assert_eq!(world.changes(), vec!["airflow: paused flickr_workflow"]);
    let mask = with_token(
        &world,
        Method::PATCH,
        "/api/v2/dags/flickr_workflow?update_mask=description",
    )
    .json(&json!({"is_paused": false}))
    .send()
    .unwrap();
    assert_eq!(mask.status(), 400);
    assert_eq!(world.dag_paused("flickr_workflow"), Some(true));
}

#[test]
fn airflow3_answers_have_the_fields_of_the_real_samples() {
    let world = airflow3(Scenario::SensorWaiting, Faults::default());
    let dags = json_of(get(&world, "/api/v2/dags"));
    let real = sample("dags.json");
    assert_eq!(keys(&dags), keys(&real));
    assert_eq!(keys(&dags["dags"][0]), keys(&real["dags"][0]));
    assert_eq!(
        keys(&dags["dags"][0]["tags"][0]),
        keys(&real["dags"][0]["tags"][0])
    );
    let dag = json_of(get(&world, "/api/v2/dags/flickr_workflow"));
    assert_eq!(keys(&dag), keys(&sample("dag.json")));
    let tasks = json_of(get(&world, "/api/v2/dags/image_data_refresh/tasks"));
    let real = sample("dag-tasks.json");
    assert_eq!(keys(&tasks), keys(&real));
    assert_eq!(keys(&tasks["tasks"][0]), keys(&real["tasks"][0]));
    let runs = json_of(get(&world, "/api/v2/dags/~/dagRuns?state=running"));
    let real = sample("dagruns-running.json");
    assert_eq!(keys(&runs), keys(&real));
    assert_eq!(keys(&runs["dag_runs"][0]), keys(&real["dag_runs"][0]));
    assert_eq!(
        keys(&runs["dag_runs"][0]["dag_versions"][0]),
        keys(&real["dag_runs"][0]["dag_versions"][0])
    );
    let run_id = runs["dag_runs"][0]["dag_run_id"].as_str().unwrap();
    let path = format!(
        "/api/v2/dags/image_data_refresh/dagRuns/{}/taskInstances",
        encode(run_id)
    );
    let tis = json_of(get(&world, &path));
    let real = sample("taskinstances-sensor-waiting.json");
    assert_eq!(keys(&tis), keys(&real));
    assert_eq!(
        keys(&tis["task_instances"][0]),
        keys(&real["task_instances"][0])
    );
    let health = json_of(
        client()
            .get(url(&world, "/api/v2/monitor/health"))
            .send()
            .unwrap(),
    );
    let real = sample("health.json");
    assert_eq!(keys(&health), keys(&real));
    for part in ["metadatabase", "scheduler", "triggerer", "dag_processor"] {
        assert_eq!(keys(&health[part]), keys(&real[part]), "{part}");
    }
    let version = json_of(client().get(url(&world, "/api/v2/version")).send().unwrap());
    assert_eq!(keys(&version), keys(&sample("version.json")));
    let c = world.credentials();
    let answer = ask_token(&world, &c.airflow_user, &c.airflow_password);
    assert_eq!(keys(&json_of(answer)), keys(&sample("token.json")));
}

#[test]
fn upgrading_airflow_keeps_its_state_and_changes_its_api() {
    let world = World::start(Scenario::AirflowUpgrade).unwrap();
    assert_eq!(world.airflow_version(), AirflowVersion::Airflow2);
    let c = world.credentials().clone();
    let v1 = |method: Method, path: &str| {
        client()
            .request(method, url(&world, path))
            .basic_auth(&c.airflow_user, Some(&c.airflow_password))
    };
    let paused = v1(
        Method::PATCH,
        "/api/v1/dags/flickr_workflow?update_mask=is_paused",
    )
    .json(&json!({"is_paused": true}))
    .send()
    .unwrap();
    assert_eq!(paused.status(), 200);
    // Airflow 2 has no `/api/v2`: its webserver's HTML page.
    let v2_on_2 = client().get(url(&world, "/api/v2/version")).send().unwrap();
    assert_eq!(v2_on_2.status(), 404);
    assert!(v2_on_2.text().unwrap().contains("Airflow 404"));

    world.upgrade_airflow();
    world.upgrade_airflow();
    assert_eq!(world.airflow_version(), AirflowVersion::Airflow3);
    let gone = v1(Method::GET, "/api/v1/dags/flickr_workflow")
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    let dag = json_of(get(&world, "/api/v2/dags/flickr_workflow"));
    assert_eq!(dag["is_paused"], true, "the pause survived the upgrade");
    assert_eq!(
        world.changes(),
        vec![
            "airflow: paused flickr_workflow",
            "airflow: upgraded from 2.10.5 to 3.3.2 (API /api/v2 only)",
        ]
    );
}

#[test]
fn an_upgrade_when_due_happens_before_the_next_airflow_request() {
    let world = World::start(Scenario::AirflowUpgrade).unwrap();
    let deployed = Arc::new(AtomicBool::new(false));
    let flag = deployed.clone();
    world.upgrade_airflow_when(move || flag.load(Ordering::SeqCst));
    let version = || {
        let v2 = client().get(url(&world, "/api/v2/version")).send().unwrap();
        v2.status()
    };
    assert_eq!(version(), 404, "still Airflow 2");
    assert_eq!(world.airflow_version(), AirflowVersion::Airflow2);
    deployed.store(true, Ordering::SeqCst);
    assert_eq!(
        world.airflow_version(),
        AirflowVersion::Airflow2,
        "no request yet"
    );
    assert_eq!(version(), 200, "Airflow 3 from the first request after");
    assert_eq!(world.airflow_version(), AirflowVersion::Airflow3);
}

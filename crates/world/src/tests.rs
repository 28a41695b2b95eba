//! The fakes seen from outside, through a real HTTP client.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

use super::*;

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn airflow(world: &World, method: reqwest::Method, path: &str) -> RequestBuilder {
    let c = world.credentials();
    client()
        .request(method, format!("{}{path}", world.airflow_url()))
        .basic_auth(&c.airflow_user, Some(&c.airflow_password))
}

fn airflow_get(world: &World, path: &str) -> Response {
    airflow(world, reqwest::Method::GET, path)
        .send()
        .expect("airflow answers")
}

fn sentry_get(world: &World, url: &str) -> Response {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", world.sentry_url())
    };
    client()
        .get(url)
        .bearer_auth(&world.credentials().sentry_token)
        .send()
        .expect("sentry answers")
}

fn github(world: &World, method: reqwest::Method, url: &str) -> RequestBuilder {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", world.github_url())
    };
    client()
        .request(method, url)
        .bearer_auth(&world.credentials().github_token)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
}

fn github_get(world: &World, url: &str) -> Response {
    github(world, reqwest::Method::GET, url)
        .send()
        .expect("github answers")
}

fn json_of(response: Response) -> Value {
    response.json().expect("a JSON body")
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_string())
}

/// The URL of `rel` in a `Link` header, and the rest of its parameters.
fn link(header: &str, rel: &str) -> Option<(String, String)> {
    header.split(", ").find_map(|part| {
        let (url, params) = part.split_once(">;")?;
        params
            .contains(&format!("rel=\"{rel}\""))
            .then(|| (url.trim_start_matches('<').to_string(), params.to_string()))
    })
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("host:port")
}

fn refused(url: &str) -> bool {
    TcpStream::connect_timeout(&addr(url), Duration::from_secs(1))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

// --- the world itself ---------------------------------------------------------------------

#[test]
fn scenario_names_are_the_contract() {
    let names: Vec<String> = Scenario::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        names,
        [
            "calm",
            "dag-running",
            "sensor-waiting",
            "apply-fails",
            "sentry-errors",
            "airflow-down",
            "image-late",
            "image-missing",
            "airflow-upgrade"
        ]
    );
    for scenario in Scenario::ALL {
        assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
    }
    assert_eq!(Scenario::default(), Scenario::Calm);
    let err = "stormy".parse::<Scenario>().unwrap_err().to_string();
    assert!(
        err.contains("stormy") && names.iter().all(|n| err.contains(n.as_str())),
        "{err}"
    );
}

#[test]
fn credentials_do_not_show_in_debug() {
    let text = format!("{:?}", Credentials::default());
    let c = Credentials::default();
    for secret in [&c.airflow_password, &c.sentry_token, &c.github_token] {
        assert!(!text.contains(secret.as_str()), "{text}");
    }
}

#[test]
fn servers_listen_on_loopback_free_ports() {
    let world = World::start(Scenario::Calm).unwrap();
    let urls = [world.airflow_url(), world.sentry_url(), world.github_url()];
    let ports: Vec<u16> = urls.iter().map(|u| addr(u).port()).collect();
    for (url, port) in urls.iter().zip(&ports) {
        assert!(
            url.starts_with("http://127.0.0.1:") && !url.ends_with('/'),
            "{url}"
        );
        assert_ne!(*port, 0);
    }
    assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
    // Two worlds side by side do not collide.
    let other = World::start(Scenario::Calm).unwrap();
    assert_ne!(other.airflow_url(), world.airflow_url());
    assert_eq!(world.sentry_org(), "openverse");
    assert_eq!(world.sentry_project(), "openverse-catalog");
    assert_eq!(world.github_repo(), "WordPress/openverse");
    assert_eq!(
        world.github_infra_repo(),
        "WordPress/openverse-infrastructure"
    );
}

#[test]
fn drop_stops_every_server_and_kept_alive_connections() {
    let world = World::start(Scenario::Calm).unwrap();
    let urls = [world.airflow_url(), world.sentry_url(), world.github_url()];
    // A client whose pool keeps a connection to the fake open.
    let kept = client();
    let url = format!("{}/health", world.airflow_url());
    assert_eq!(kept.get(&url).send().unwrap().status(), 200);
    let started = Instant::now();
    drop(world);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        started.elapsed()
    );
    for url in &urls {
        assert!(refused(url), "{url} still accepts connections");
    }
    // The pooled connection was closed too: the request fails at once instead of hanging.
    let started = Instant::now();
    assert!(kept.get(&url).send().is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn airflow_down_refuses_connections_and_the_rest_works() {
    let world = World::start(Scenario::AirflowDown).unwrap();
    assert!(refused(&world.airflow_url()));
    let err = client()
        .get(format!("{}/api/v1/health", world.airflow_url()))
        .send()
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    let path = "/api/0/organizations/openverse/issues/?statsPeriod=1h";
    assert_eq!(sentry_get(&world, path).status(), 200);
    assert_eq!(
        github_get(&world, "/repos/WordPress/openverse/releases").status(),
        200
    );
    assert_eq!(world.dag_paused("image_data_refresh"), Some(false));
    assert!(world.requests().iter().all(|r| r.service != "airflow"));
}

#[test]
fn the_log_keeps_every_request_in_order_without_credentials() {
    let world = World::start(Scenario::Calm).unwrap();
    airflow_get(&world, "/api/v1/dags?tags=data_refresh");
    client()
        .get(format!("{}/api/v1/dags", world.airflow_url()))
        .send()
        .unwrap();
    sentry_get(
        &world,
        "/api/0/organizations/openverse/issues/?statsPeriod=1h",
    );
    github(
        &world,
        reqwest::Method::POST,
        "/repos/WordPress/openverse-infrastructure/actions/workflows/deploy.yml/dispatches",
    )
    .json(&json!({"ref": "main", "inputs": {"tag": "rel-2024.04.01.12.00.00"}}))
    .send()
    .unwrap();
    let log = world.requests();
    let summary: Vec<(&str, &str, u16, bool)> = log
        .iter()
        .map(|r| (r.service, r.method.as_str(), r.status, r.authorized))
        .collect();
    assert_eq!(
        summary,
        [
            ("airflow", "GET", 200, true),
            ("airflow", "GET", 401, false),
            ("sentry", "GET", 200, true),
            ("github", "POST", 204, true)
        ]
    );
    assert_eq!(log[0].path, "/api/v1/dags");
    assert_eq!(log[0].query, "tags=data_refresh");
    assert_eq!(log[3].body.as_ref().unwrap()["ref"], "main");
    let text = format!("{log:?}");
    let c = world.credentials();
    for secret in [&c.airflow_password, &c.sentry_token, &c.github_token] {
        assert!(!text.contains(secret.as_str()));
    }
}

// --- Airflow --------------------------------------------------------------------------------

#[test]
fn airflow_rejects_missing_or_wrong_credentials_with_a_problem() {
    let world = World::start(Scenario::Calm).unwrap();
    let url = format!("{}/api/v1/dags", world.airflow_url());
    for request in [
        client().get(&url),
        client().get(&url).basic_auth("rehearsal", Some("wrong")),
    ] {
        let response = request.send().unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/problem+json")
        );
        // Airflow 2.10.5 sends no WWW-Authenticate (tools/airflow/samples/index.json).
        assert_eq!(header(&response, "www-authenticate"), None);
        let body = json_of(response);
        assert_eq!(body["status"], 401);
        assert_eq!(body["title"], "Unauthorized");
        assert!(body["type"]
            .as_str()
            .unwrap()
            .ends_with("#section/Errors/Unauthenticated"));
        assert!(body.as_object().unwrap().contains_key("detail"));
    }
    assert!(world
        .requests()
        .iter()
        .all(|r| !r.authorized && r.status == 401));
}

#[test]
fn airflow_health_and_version_need_no_credentials() {
    let world = World::start(Scenario::Calm).unwrap();
    for path in ["/health", "/api/v1/health"] {
        let body = json_of(
            client()
                .get(format!("{}{path}", world.airflow_url()))
                .send()
                .unwrap(),
        );
        assert_eq!(body["metadatabase"]["status"], "healthy");
        assert_eq!(body["scheduler"]["status"], "healthy");
        assert!(body["scheduler"]["latest_scheduler_heartbeat"].is_string());
    }
    let version = json_of(
        client()
            .get(format!("{}/api/v1/version", world.airflow_url()))
            .send()
            .unwrap(),
    );
    assert_eq!(version["version"], "2.10.5");
    assert!(version["git_version"].is_string());
    // The web UI: `/` ends on the login page.
    let page = client().get(world.airflow_url()).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("Airflow"));
}

#[test]
fn airflow_calm_has_no_running_runs_but_has_finished_ones() {
    let world = World::start(Scenario::Calm).unwrap();
    let running = json_of(airflow_get(&world, "/api/v1/dags/~/dagRuns?state=running"));
    assert_eq!(running, json!({"dag_runs": [], "total_entries": 0}));
    let all = json_of(airflow_get(&world, "/api/v1/dags/~/dagRuns"));
    assert_eq!(all["total_entries"], 27);
    let run = &all["dag_runs"][0];
    for key in [
        "dag_run_id",
        "dag_id",
        "logical_date",
        "execution_date",
        "start_date",
        "end_date",
        "run_type",
        "state",
        "conf",
        "data_interval_start",
        "data_interval_end",
        "external_trigger",
        "note",
    ] {
        assert!(
            run.as_object().unwrap().contains_key(key),
            "{key} missing in {run}"
        );
    }
    assert!(run["dag_run_id"]
        .as_str()
        .unwrap()
        .starts_with("scheduled__"));
}

#[test]
fn airflow_dag_running_shows_the_flickr_run_and_its_task() {
    let world = World::start(Scenario::DagRunning).unwrap();
    let running = json_of(airflow_get(
        &world,
        "/api/v1/dags/~/dagRuns?state=running&state=queued",
    ));
    assert_eq!(running["total_entries"], 1);
    let run = &running["dag_runs"][0];
    assert_eq!(run["dag_id"], "flickr_workflow");
    assert_eq!(run["state"], "running");
    assert_eq!(run["end_date"], Value::Null);
    let run_id = run["dag_run_id"].as_str().unwrap();
    assert!(
        run_id.starts_with("scheduled__") && run_id.ends_with("T00:00:00+00:00"),
        "{run_id}"
    );
    let path = format!(
        "/api/v1/dags/flickr_workflow/dagRuns/{}/taskInstances",
        encode(run_id)
    );
    let tis = json_of(airflow_get(&world, &path));
    let pull = tis["task_instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == "pull_image_data")
        .unwrap();
    assert_eq!(pull["state"], "running");
    assert_eq!(pull["operator"], "PythonOperator");
    assert_eq!(pull["dag_run_id"], run_id);
    // Later tasks have not run: their state is null.
    assert!(tis["task_instances"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["state"].is_null()));
    // Unencoded `:` and `+` are fine in a path too; the single run answers as well.
    let raw = format!("/api/v1/dags/flickr_workflow/dagRuns/{run_id}/taskInstances");
    assert_eq!(
        json_of(airflow_get(&world, &raw))["total_entries"],
        tis["total_entries"]
    );
    let single = json_of(airflow_get(
        &world,
        &format!("/api/v1/dags/flickr_workflow/dagRuns/{}", encode(run_id)),
    ));
    assert_eq!(single["dag_run_id"], run_id);
}

#[test]
fn airflow_sensor_waiting_shows_the_http_sensor_up_for_reschedule() {
    let world = World::start(Scenario::SensorWaiting).unwrap();
    let running = json_of(airflow_get(&world, "/api/v1/dags/~/dagRuns?state=running"));
    assert_eq!(running["total_entries"], 1);
    assert_eq!(running["dag_runs"][0]["dag_id"], "image_data_refresh");
    let run_id = running["dag_runs"][0]["dag_run_id"].as_str().unwrap();
    let path = format!(
        "/api/v1/dags/image_data_refresh/dagRuns/{}/taskInstances",
        encode(run_id)
    );
    let tis = json_of(airflow_get(&world, &path));
    let states: Vec<(&str, Value)> = tis["task_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["task_id"].as_str().unwrap(), t["state"].clone()))
        .collect();
    assert_eq!(
        states,
        [
            ("get_current_record_count", json!("success")),
            (
                "data_refresh.ingest_upstream.trigger_ingest_upstream",
                json!("success")
            ),
            (
                "data_refresh.ingest_upstream.wait_for_ingest_upstream",
                json!("up_for_reschedule")
            ),
            ("data_refresh.promote.trigger_promote", Value::Null),
            ("data_refresh.promote.wait_for_promote", Value::Null),
            ("report_record_difference", Value::Null),
        ]
    );
    let sensor = &tis["task_instances"][2];
    assert_eq!(sensor["operator"], "HttpSensor");
    let one = format!(
        "{path}/{}",
        encode("data_refresh.ingest_upstream.wait_for_ingest_upstream")
    );
    assert_eq!(
        json_of(airflow_get(&world, &one))["state"],
        "up_for_reschedule"
    );
    let tasks = json_of(airflow_get(&world, "/api/v1/dags/image_data_refresh/tasks"));
    let sensor_task = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_id"] == "data_refresh.ingest_upstream.wait_for_ingest_upstream")
        .unwrap();
    assert_eq!(sensor_task["class_ref"]["class_name"], "HttpSensor");
    assert_eq!(tasks["total_entries"], 6);
}

#[test]
fn airflow_unknown_things_are_404_problems_but_an_unknown_run_lists_nothing() {
    let world = World::start(Scenario::Calm).unwrap();
    let response = airflow_get(&world, "/api/v1/dags/no_such_dag");
    assert_eq!(response.status(), 404);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(json_of(response)["title"], "DAG not found");
    let response = airflow_get(
        &world,
        &format!(
            "/api/v1/dags/flickr_workflow/dagRuns/{}",
            encode("manual__nope")
        ),
    );
    assert_eq!(response.status(), 404);
    assert_eq!(json_of(response)["title"], "DAGRun not found");
    assert_eq!(
        airflow_get(&world, "/api/v1/dags/no_such_dag/tasks").status(),
        404
    );
    // Airflow filters task instances by dag and run; it does not look them up.
    let tis = json_of(airflow_get(
        &world,
        "/api/v1/dags/no_such_dag/dagRuns/nope/taskInstances",
    ));
    assert_eq!(tis, json!({"task_instances": [], "total_entries": 0}));
    assert_eq!(airflow_get(&world, "/api/v1/nowhere").status(), 404);
    assert_eq!(
        airflow_get(&world, "/api/v1/dags/~/dagRuns?limit=many").status(),
        400
    );
}

#[test]
fn airflow_pause_and_unpause_change_the_dag() {
    let world = World::start(Scenario::SensorWaiting).unwrap();
    let patch = |paused: bool| {
        airflow(
            &world,
            reqwest::Method::PATCH,
            "/api/v1/dags/image_data_refresh?update_mask=is_paused",
        )
        .json(&json!({"is_paused": paused}))
        .send()
        .unwrap()
    };
    let dag = json_of(patch(true));
    assert_eq!(dag["dag_id"], "image_data_refresh");
    assert_eq!(dag["is_paused"], true);
    assert_eq!(world.dag_paused("image_data_refresh"), Some(true));
    assert_eq!(
        json_of(airflow_get(&world, "/api/v1/dags/image_data_refresh"))["is_paused"],
        true
    );
    patch(true);
    assert_eq!(json_of(patch(false))["is_paused"], false);
    assert_eq!(
        world.changes(),
        [
            "airflow: paused image_data_refresh",
            "airflow: unpaused image_data_refresh"
        ]
    );
    let wrong_mask = airflow(
        &world,
        reqwest::Method::PATCH,
        "/api/v1/dags/image_data_refresh?update_mask=description",
    )
    .json(&json!({"is_paused": true}))
    .send()
    .unwrap();
    assert_eq!(wrong_mask.status(), 400);
    let unknown = airflow(
        &world,
        reqwest::Method::PATCH,
        "/api/v1/dags/nope?update_mask=is_paused",
    )
    .json(&json!({"is_paused": true}))
    .send()
    .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(world.dag_paused("nope"), None);
    assert_eq!(world.changes().len(), 2);
}

#[test]
fn airflow_lists_dags_by_tag() {
    let world = World::start(Scenario::Calm).unwrap();
    let dags = json_of(airflow_get(&world, "/api/v1/dags?tags=data_refresh"));
    let ids: Vec<&str> = dags["dags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dag_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["audio_data_refresh", "image_data_refresh"]);
    assert_eq!(dags["total_entries"], 2);
    assert_eq!(dags["dags"][0]["tags"], json!([{"name": "data_refresh"}]));
    let all = json_of(airflow_get(&world, "/api/v1/dags"));
    assert_eq!(all["total_entries"], 9);
    let paused = json_of(airflow_get(&world, "/api/v1/dags?paused=true"));
    assert_eq!(paused["dags"][0]["dag_id"], "inaturalist_workflow");
}

#[test]
fn airflow_caps_pages_and_counts_every_running_run() {
    let faults = Faults {
        airflow_running_runs: Some(300),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::DagRunning, faults, Credentials::default()).unwrap();
    let first = json_of(airflow_get(
        &world,
        "/api/v1/dags/~/dagRuns?state=running&limit=1000",
    ));
    assert_eq!(first["dag_runs"].as_array().unwrap().len(), 100);
    assert_eq!(first["total_entries"], 301);
    let mut ids = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let page = json_of(airflow_get(
            &world,
            &format!("/api/v1/dags/~/dagRuns?state=running&limit=100&offset={offset}"),
        ));
        let runs = page["dag_runs"].as_array().unwrap();
        if runs.is_empty() {
            break;
        }
        for run in runs {
            assert_eq!(run["state"], "running");
            ids.insert((run["dag_id"].to_string(), run["dag_run_id"].to_string()));
        }
        offset += runs.len();
    }
    assert_eq!(ids.len(), 301);
    // The body's page_limit of the batch endpoint is not capped in Airflow.
    let batch = airflow(&world, reqwest::Method::POST, "/api/v1/dags/~/dagRuns/list")
        .json(&json!({"states": ["running"], "page_limit": 100, "page_offset": 200}))
        .send()
        .unwrap();
    let batch = json_of(batch);
    assert_eq!(batch["dag_runs"].as_array().unwrap().len(), 100);
    assert_eq!(batch["total_entries"], 301);
}

#[test]
fn airflow_page_cap_fault_makes_small_pages() {
    let faults = Faults {
        airflow_page_cap: Some(2),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let page = json_of(airflow_get(&world, "/api/v1/dags?limit=100"));
    assert_eq!(page["dags"].as_array().unwrap().len(), 2);
    assert_eq!(page["total_entries"], 9);
}

#[test]
fn airflow_status_fault_answers_everything_with_that_status() {
    let faults = Faults {
        airflow_status: Some(500),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    for path in [
        "/health",
        "/api/v1/version",
        "/api/v1/dags/~/dagRuns?state=running",
    ] {
        let response = airflow_get(&world, path);
        assert_eq!(response.status(), 500);
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/problem+json")
        );
        let body = json_of(response);
        assert_eq!(body["status"], 500);
        assert_eq!(body["title"], "Internal Server Error");
    }
    let patch = airflow(
        &world,
        reqwest::Method::PATCH,
        "/api/v1/dags/flickr_workflow?update_mask=is_paused",
    )
    .json(&json!({"is_paused": true}))
    .send()
    .unwrap();
    assert_eq!(patch.status(), 500);
    assert_eq!(world.dag_paused("flickr_workflow"), Some(false));
    assert!(world.changes().is_empty());
}

// --- faults for all services ----------------------------------------------------------------------

#[test]
fn delay_fault_makes_clients_time_out_and_does_not_slow_down_drop() {
    let faults = Faults {
        delay: Some(Duration::from_secs(5)),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let impatient = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    for url in [
        format!("{}/health", world.airflow_url()),
        format!(
            "{}/api/0/organizations/openverse/issues/",
            world.sentry_url()
        ),
        format!("{}/repos/WordPress/openverse", world.github_url()),
    ] {
        let started = Instant::now();
        let err = impatient.get(&url).send().unwrap_err();
        assert!(err.is_timeout(), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    let started = Instant::now();
    drop(world);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop waited for the delay"
    );
}

#[test]
fn malformed_json_fault_breaks_every_json_body() {
    let faults = Faults {
        malformed_json: true,
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let answers = [
        airflow_get(&world, "/api/v1/dags/~/dagRuns?state=running"),
        sentry_get(
            &world,
            "/api/0/organizations/openverse/issues/?statsPeriod=1h",
        ),
        github_get(&world, "/repos/WordPress/openverse/releases"),
    ];
    for response in answers {
        assert_eq!(response.status(), 200);
        assert!(header(&response, "content-type").unwrap().contains("json"));
        let text = response.text().unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    }
}

// --- Sentry --------------------------------------------------------------------------------------

const ORG_ISSUES: &str = "/api/0/organizations/openverse/issues/";

#[test]
fn sentry_rejects_missing_or_wrong_tokens() {
    let world = World::start(Scenario::Calm).unwrap();
    let url = format!("{}{ORG_ISSUES}", world.sentry_url());
    let missing = client().get(&url).send().unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        json_of(missing),
        json!({"detail": "Authentication credentials were not provided."})
    );
    let wrong = client().get(&url).bearer_auth("nope").send().unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(json_of(wrong), json!({"detail": "Invalid token"}));
}

#[test]
fn sentry_calm_has_no_new_errors_in_the_watched_project() {
    let world = World::start(Scenario::Calm).unwrap();
    let project = json_of(sentry_get(
        &world,
        "/api/0/projects/openverse/openverse-catalog/",
    ));
    let id = project["id"].as_str().unwrap().to_string();
    let watched = json_of(sentry_get(
        &world,
        &format!("{ORG_ISSUES}?project={id}&query=is:unresolved&statsPeriod=1h"),
    ));
    assert_eq!(watched, json!([]));
    let by_slug = json_of(sentry_get(
        &world,
        &format!("{ORG_ISSUES}?projectSlug=openverse-catalog&statsPeriod=1h"),
    ));
    assert_eq!(by_slug, json!([]));
    // Forgetting the project shows the API's errors; forgetting `is:unresolved` the resolved ones.
    let every_project = json_of(sentry_get(&world, &format!("{ORG_ISSUES}?statsPeriod=1h")));
    assert_eq!(every_project.as_array().unwrap().len(), 1);
    assert_eq!(every_project[0]["project"]["slug"], "openverse-api");
    let any_status = json_of(sentry_get(
        &world,
        &format!("{ORG_ISSUES}?project={id}&query=&statsPeriod=1h"),
    ));
    let statuses: Vec<&str> = any_status
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ignored", "resolved"]);
    // The default window (14 days) holds the old unresolved issues.
    let old = json_of(sentry_get(&world, &format!("{ORG_ISSUES}?project={id}")));
    assert_eq!(old.as_array().unwrap().len(), 3);
}

#[test]
fn sentry_project_issues_ignore_the_time_and_have_sentry_shapes() {
    let world = World::start(Scenario::Calm).unwrap();
    let issues = json_of(sentry_get(
        &world,
        "/api/0/projects/openverse/openverse-catalog/issues/?statsPeriod=24h",
    ));
    let issues = issues.as_array().unwrap();
    assert_eq!(
        issues.len(),
        3,
        "old issues are there: statsPeriod does not filter"
    );
    let issue = &issues[0];
    for key in [
        "id",
        "shortId",
        "title",
        "culprit",
        "permalink",
        "level",
        "status",
        "project",
        "count",
        "userCount",
        "firstSeen",
        "lastSeen",
    ] {
        assert!(issue.as_object().unwrap().contains_key(key), "{key}");
    }
    assert!(issue["count"].is_string(), "count is a string");
    assert!(issue["id"].is_string());
    assert!(issue["userCount"].is_u64());
    assert_eq!(issue["project"]["slug"], "openverse-catalog");
    assert!(issue["shortId"]
        .as_str()
        .unwrap()
        .starts_with("OPENVERSE-CATALOG-"));
    let last_seen = DateTime::parse_from_rfc3339(issue["lastSeen"].as_str().unwrap()).unwrap();
    assert!(Utc::now() - last_seen.with_timezone(&Utc) > chrono::Duration::days(2));
    let bad = sentry_get(
        &world,
        "/api/0/projects/openverse/openverse-catalog/issues/?statsPeriod=1h",
    );
    assert_eq!(bad.status(), 400);
    assert_eq!(
        sentry_get(&world, "/api/0/organizations/elsewhere/issues/").status(),
        404
    );
}

#[test]
fn sentry_errors_scenario_has_live_new_errors() {
    let world = World::start(Scenario::SentryErrors).unwrap();
    let before = Utc::now();
    let issues = json_of(sentry_get(
        &world,
        &format!("{ORG_ISSUES}?projectSlug=openverse-catalog&query=is:unresolved&statsPeriod=30m"),
    ));
    let issues = issues.as_array().unwrap();
    assert_eq!(issues.len(), 2);
    for issue in issues {
        let last = DateTime::parse_from_rfc3339(issue["lastSeen"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let first = DateTime::parse_from_rfc3339(issue["firstSeen"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        assert!(
            last >= before - chrono::Duration::seconds(1) && last <= Utc::now(),
            "{last}"
        );
        assert_eq!(first, world.started_at());
        assert_eq!(issue["status"], "unresolved");
        assert_eq!(issue["level"], "error");
    }
    // A window that ends before the world started does not see them.
    let start = (world.started_at() - chrono::Duration::hours(2)).to_rfc3339();
    let end = (world.started_at() - chrono::Duration::hours(1)).to_rfc3339();
    let url = reqwest::Url::parse_with_params(
        &format!("{}{ORG_ISSUES}", world.sentry_url()),
        [
            ("projectSlug", "openverse-catalog"),
            ("start", start.as_str()),
            ("end", end.as_str()),
        ],
    )
    .unwrap();
    assert_eq!(json_of(sentry_get(&world, url.as_str())), json!([]));
}

#[test]
fn sentry_pages_follow_the_link_header() {
    let faults = Faults {
        sentry_page_cap: Some(10),
        sentry_old_issues: Some(25),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let mut url = format!(
        "{}/api/0/projects/openverse/openverse-catalog/issues/?query=is%3Aunresolved&limit=100",
        world.sentry_url()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = sentry_get(&world, &url);
        let link_header = header(&response, "link").expect("a Link header");
        let page = json_of(response);
        seen.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        pages += 1;
        let (previous, prev_params) = link(&link_header, "previous").unwrap();
        let (next, next_params) = link(&link_header, "next").unwrap();
        assert!(
            previous.contains("&cursor=0:") && next.contains("&cursor=0:"),
            "{link_header}"
        );
        assert!(prev_params.contains("results=") && prev_params.contains("cursor=\"0:"));
        if pages == 1 {
            assert!(prev_params.contains("results=\"false\""), "{link_header}");
            assert!(
                next.contains("limit=100") && next.contains("query=is%3Aunresolved"),
                "{next}"
            );
        }
        if next_params.contains("results=\"false\"") {
            break;
        }
        assert!(next_params.contains("results=\"true\""));
        url = next;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    seen.dedup();
    assert_eq!(seen.len(), 25);
    let small = sentry_get(
        &world,
        "/api/0/projects/openverse/openverse-catalog/issues/?limit=4",
    );
    assert_eq!(json_of(small).as_array().unwrap().len(), 4);
}

#[test]
fn sentry_add_issue_adds_to_the_watched_project() {
    let world = World::start(Scenario::Calm).unwrap();
    let id = world.sentry_add_issue(NewIssue {
        culprit: "api.views in list".into(),
        ..NewIssue::new("TypeError: unsupported operand")
    });
    let issues = json_of(sentry_get(
        &world,
        &format!("{ORG_ISSUES}?projectSlug=openverse-catalog&statsPeriod=5m"),
    ));
    assert_eq!(issues.as_array().unwrap().len(), 1);
    assert_eq!(issues[0]["id"], id);
    assert_eq!(issues[0]["title"], "TypeError: unsupported operand");
    assert_eq!(issues[0]["culprit"], "api.views in list");
    assert_eq!(issues[0]["count"], "1");
}

// --- GitHub ----------------------------------------------------------------------------------------

const RELEASES: &str = "/repos/WordPress/openverse/releases";

/// Every release, following `Link: rel="next"` from `first`.
fn all_releases(world: &World, first: &str) -> (Vec<Value>, usize) {
    let (mut url, mut all, mut pages) = (first.to_string(), Vec::new(), 0);
    loop {
        let response = github_get(world, &url);
        assert_eq!(response.status(), 200);
        let next = header(&response, "link")
            .and_then(|l| link(&l, "next"))
            .map(|(u, _)| u);
        all.extend(json_of(response).as_array().unwrap().iter().cloned());
        pages += 1;
        match next {
            Some(n) => url = n,
            None => return (all, pages),
        }
    }
}

#[test]
fn github_rejects_bad_tokens_and_hides_drafts_and_private_repos_from_anonymous_callers() {
    let world = World::start(Scenario::Calm).unwrap();
    let url = format!("{}{RELEASES}", world.github_url());
    let bad = client().get(&url).bearer_auth("nope").send().unwrap();
    assert_eq!(bad.status(), 401);
    let body = json_of(bad);
    assert_eq!(body["message"], "Bad credentials");
    assert!(body["documentation_url"].is_string());
    let anonymous = json_of(client().get(format!("{url}?per_page=100")).send().unwrap());
    assert!(anonymous
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["draft"] == false));
    let private = client()
        .get(format!(
            "{}/repos/WordPress/openverse-infrastructure",
            world.github_url()
        ))
        .send()
        .unwrap();
    assert_eq!(private.status(), 404);
    assert_eq!(json_of(private)["message"], "Not Found");
    let write = client()
        .patch(format!("{url}/150100033"))
        .json(&json!({"draft": false}))
        .send()
        .unwrap();
    assert_eq!(write.status(), 401);
    assert_eq!(json_of(write)["message"], "Requires authentication");
    assert!(world.changes().is_empty());
}

#[test]
fn github_releases_are_paginated_and_the_drafts_are_not_on_the_first_page() {
    let world = World::start(Scenario::Calm).unwrap();
    let first = github_get(&world, RELEASES);
    let link_header = header(&first, "link").unwrap();
    let (next, _) = link(&link_header, "next").unwrap();
    let (last, _) = link(&link_header, "last").unwrap();
    assert!(
        next.contains("/repositories/") && next.ends_with("page=2"),
        "{next}"
    );
    assert!(last.ends_with("page=5"), "{last}");
    let page_one = json_of(first);
    assert_eq!(page_one.as_array().unwrap().len(), 30);
    assert!(!page_one
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["tag_name"].as_str().unwrap().starts_with("catalog-")));
    let (all, pages) = all_releases(&world, &format!("{RELEASES}?per_page=100"));
    assert_eq!((all.len(), pages), (148, 2));
    let drafts: Vec<(&str, u64)> = all
        .iter()
        .filter(|r| r["draft"] == true)
        .map(|r| (r["tag_name"].as_str().unwrap(), r["id"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        drafts,
        [
            ("frontend-2024.05.02.09.10.00", 150100147),
            ("api-2024.05.02.09.00.00", 150100146),
            ("ingestion_server-2024.05.02.10.05.00", 150100035),
            ("catalog-2024.05.02.10.00.00", 150100033),
        ]
    );
    let created: Vec<&str> = all
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let draft = all
        .iter()
        .find(|r| r["tag_name"] == "catalog-2024.05.02.10.00.00")
        .unwrap();
    for key in [
        "id",
        "tag_name",
        "name",
        "draft",
        "prerelease",
        "target_commitish",
        "body",
        "html_url",
        "created_at",
        "published_at",
    ] {
        assert!(draft.as_object().unwrap().contains_key(key), "{key}");
    }
    assert_eq!(draft["published_at"], Value::Null);
    assert!(draft["html_url"]
        .as_str()
        .unwrap()
        .contains("/releases/tag/untagged-"));
    let latest_catalog = all
        .iter()
        .find(|r| r["draft"] == false && r["tag_name"].as_str().unwrap().starts_with("catalog-"))
        .unwrap();
    assert_eq!(latest_catalog["tag_name"], "catalog-2024.04.01.12.00.00");
    // The last page has no next.
    let last_page = github_get(&world, &format!("{RELEASES}?per_page=100&page=2"));
    let link_header = header(&last_page, "link").unwrap();
    assert!(link(&link_header, "next").is_none() && link(&link_header, "prev").is_some());
}

#[test]
fn github_publishing_a_draft_opens_its_changelog_pr_which_can_be_approved() {
    let world = World::start(Scenario::Calm).unwrap();
    let tag = "catalog-2024.05.02.10.00.00";
    let pulls = |head: &str| {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/repos/WordPress/openverse/pulls", world.github_url()),
            [("state", "open"), ("head", head)],
        )
        .unwrap();
        json_of(github_get(&world, url.as_str()))
    };
    assert_eq!(pulls(&format!("WordPress:changelog/{tag}")), json!([]));
    let published = github(
        &world,
        reqwest::Method::PATCH,
        &format!("{RELEASES}/150100033"),
    )
    .json(&json!({"draft": false}))
    .send()
    .unwrap();
    assert_eq!(published.status(), 200);
    let published = json_of(published);
    assert_eq!(published["draft"], false);
    assert!(published["published_at"].is_string());
    assert_eq!(
        published["html_url"],
        format!("https://github.com/WordPress/openverse/releases/tag/{tag}")
    );
    assert_eq!(world.release(tag).unwrap()["draft"], false);
    let found = pulls(&format!("WordPress:changelog/{tag}"));
    assert_eq!(found.as_array().unwrap().len(), 1);
    let pr = &found[0];
    assert_eq!(pr["number"], 4242);
    assert_eq!(pr["title"], format!("Publish changelog for {tag}"));
    assert_eq!(pr["head"]["ref"], format!("changelog/{tag}"));
    assert!(pr["labels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["name"] == "skip-changelog"));
    // Without `owner:`, GitHub ignores `head` and lists every open PR.
    assert!(pulls(&format!("changelog/{tag}")).as_array().unwrap().len() > 1);
    let review = github(
        &world,
        reqwest::Method::POST,
        "/repos/WordPress/openverse/pulls/4242/reviews",
    )
    .json(&json!({"event": "APPROVE"}))
    .send()
    .unwrap();
    assert_eq!(review.status(), 200);
    assert_eq!(json_of(review)["state"], "APPROVED");
    assert_eq!(world.approved_prs(), [4242]);
    assert_eq!(
        world.changes(),
        [
            format!("github: published release {tag}"),
            format!(
                "github: approved PR #4242 in WordPress/openverse (Publish changelog for {tag})"
            ),
        ]
    );
    let unknown = github(
        &world,
        reqwest::Method::POST,
        "/repos/WordPress/openverse/pulls/9999/reviews",
    )
    .json(&json!({"event": "APPROVE"}))
    .send()
    .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[test]
fn github_own_pr_fault_refuses_the_approval() {
    let faults = Faults {
        github_own_pr: true,
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let response = github(
        &world,
        reqwest::Method::POST,
        "/repos/WordPress/openverse/pulls/4240/reviews",
    )
    .json(&json!({"event": "APPROVE"}))
    .send()
    .unwrap();
    assert_eq!(response.status(), 422);
    let body = json_of(response);
    assert_eq!(body["message"], "Unprocessable Entity");
    assert_eq!(
        body["errors"],
        json!(["Review Can not approve your own pull request"])
    );
    assert!(world.approved_prs().is_empty());
}

#[test]
fn github_dispatches_workflows_and_opens_prs() {
    let world = World::start(Scenario::Calm).unwrap();
    let dispatch = |body: Value| {
        github(&world, reqwest::Method::POST, "/repos/WordPress/openverse-infrastructure/actions/workflows/deploy-catalog.yml/dispatches")
            .json(&body)
            .send()
            .unwrap()
    };
    let ok = dispatch(json!({"ref": "main", "inputs": {"tag": "rel-2024.04.01.12.00.00"}}));
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.text().unwrap(), "");
    let no_ref = dispatch(json!({"inputs": {}}));
    assert_eq!(no_ref.status(), 422);
    assert!(json_of(no_ref)["message"]
        .as_str()
        .unwrap()
        .contains("\"ref\" wasn't supplied"));
    assert_eq!(
        world.dispatches(),
        [
            json!({"repo": "WordPress/openverse-infrastructure", "workflow": "deploy-catalog.yml", "ref": "main", "inputs": {"tag": "rel-2024.04.01.12.00.00"}})
        ]
    );
    let open = |head: &str| {
        github(&world, reqwest::Method::POST, "/repos/WordPress/openverse-infrastructure/pulls")
            .json(&json!({"title": "Deploy catalog", "head": head, "base": "main", "body": "Bumps catalog-airflow."}))
            .send()
            .unwrap()
    };
    let created = open("deploy/catalog");
    assert_eq!(created.status(), 201);
    let created = json_of(created);
    assert_eq!(created["number"], 900);
    assert_eq!(
        created["html_url"],
        "https://github.com/WordPress/openverse-infrastructure/pull/900"
    );
    assert_eq!(
        open("deploy/catalog").status(),
        422,
        "a PR for that branch exists"
    );
    let opened = world.opened_prs();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["number"], 900);
    assert_eq!(opened[0]["head"], "deploy/catalog");
    assert_eq!(world.changes().len(), 2);
    let missing = github(
        &world,
        reqwest::Method::POST,
        "/repos/WordPress/openverse-infrastructure/pulls",
    )
    .json(&json!({"title": "x"}))
    .send()
    .unwrap();
    assert_eq!(missing.status(), 422);
}

#[test]
fn github_unknown_things_are_404() {
    let world = World::start(Scenario::Calm).unwrap();
    for path in [
        "/repos/WordPress/nope/releases",
        "/repos/WordPress/openverse/releases/1",
        "/repos/WordPress/openverse/pulls/1",
        "/nowhere",
    ] {
        let response = github_get(&world, path);
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(json_of(response)["message"], "Not Found");
    }
    let latest = json_of(github_get(
        &world,
        "/repos/WordPress/openverse/releases/latest",
    ));
    assert_eq!(latest["tag_name"], "frontend-2024.04.30.16.00.00");
    let by_tag = github_get(
        &world,
        "/repos/WordPress/openverse/releases/tags/catalog-2024.05.02.10.00.00",
    );
    assert_eq!(by_tag.status(), 404, "a draft has no tag yet");
}

// --- conformance with answers captured from a real Airflow 2.10.5 -------------------------------

/// A sample from `tools/airflow/samples/` (captured by `tools/airflow/capture_samples.py`).
fn sample(name: &str) -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/airflow/samples")
        .join(name);
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
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

#[test]
fn airflow_answers_have_the_fields_of_the_real_samples() {
    let Some(real_dags) = sample("dags.json") else {
        eprintln!("no Airflow samples: skipped");
        return;
    };
    let world = World::start(Scenario::SensorWaiting).unwrap();
    let dags = json_of(airflow_get(&world, "/api/v1/dags"));
    assert_eq!(keys(&dags), keys(&real_dags));
    assert_eq!(keys(&dags["dags"][0]), keys(&real_dags["dags"][0]));
    let patched = airflow(
        &world,
        reqwest::Method::PATCH,
        "/api/v1/dags/flickr_workflow?update_mask=is_paused",
    )
    .json(&json!({"is_paused": false}))
    .send()
    .unwrap();
    assert_eq!(
        keys(&json_of(patched)),
        keys(&sample("dag-patch-pause.json").unwrap())
    );
    let tasks = json_of(airflow_get(&world, "/api/v1/dags/image_data_refresh/tasks"));
    let real_tasks = sample("dag-tasks.json").unwrap();
    assert_eq!(keys(&tasks), keys(&real_tasks));
    assert_eq!(keys(&tasks["tasks"][0]), keys(&real_tasks["tasks"][0]));
    let runs = json_of(airflow_get(&world, "/api/v1/dags/~/dagRuns?state=running"));
    let real_runs = sample("dagruns-running.json").unwrap();
    assert_eq!(keys(&runs), keys(&real_runs));
    assert_eq!(keys(&runs["dag_runs"][0]), keys(&real_runs["dag_runs"][0]));
    let run_id = runs["dag_runs"][0]["dag_run_id"].as_str().unwrap();
    let path = format!(
        "/api/v1/dags/image_data_refresh/dagRuns/{}/taskInstances",
        encode(run_id)
    );
    let tis = json_of(airflow_get(&world, &path));
    let real_tis = sample("taskinstances-sensor-waiting.json").unwrap();
    assert_eq!(keys(&tis), keys(&real_tis));
    assert_eq!(
        keys(&tis["task_instances"][0]),
        keys(&real_tis["task_instances"][0])
    );
    for (path, name) in [
        ("/api/v1/health", "health.json"),
        ("/api/v1/version", "version.json"),
    ] {
        let ours = json_of(airflow_get(&world, path));
        let real = sample(name).unwrap();
        assert_eq!(keys(&ours), keys(&real), "{path}");
        for (key, value) in real.as_object().unwrap() {
            if value.is_object() {
                assert_eq!(keys(&ours[key]), keys(value), "{path} {key}");
            }
        }
    }
    assert_eq!(
        json_of(airflow_get(&world, "/api/v1/version")),
        sample("version.json").unwrap()
    );
}

#[test]
fn airflow_errors_are_those_of_the_real_samples() {
    let Some(real_401) = sample("error-401.json") else {
        eprintln!("no Airflow samples: skipped");
        return;
    };
    let world = World::start(Scenario::Calm).unwrap();
    let wrong = client()
        .get(format!("{}/api/v1/dags", world.airflow_url()))
        .basic_auth("rehearsal", Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(json_of(wrong), real_401);
    let no_dag = airflow(
        &world,
        reqwest::Method::PATCH,
        "/api/v1/dags/no_such_dag?update_mask=is_paused",
    )
    .json(&json!({"is_paused": true}))
    .send()
    .unwrap();
    assert_eq!(json_of(no_dag), sample("error-404-dag.json").unwrap());
    let bad_limit = airflow_get(&world, "/api/v1/dags/~/dagRuns?limit=abc");
    assert_eq!(json_of(bad_limit), sample("error-400-limit.json").unwrap());
    let no_run = json_of(airflow_get(
        &world,
        "/api/v1/dags/image_data_refresh/dagRuns/no_such_run",
    ));
    let real = sample("error-404-dagrun.json").unwrap();
    assert_eq!(keys(&no_run), keys(&real));
    assert_eq!(
        (&no_run["title"], &no_run["type"]),
        (&real["title"], &real["type"])
    );
    let unknown_run = json_of(airflow_get(
        &world,
        "/api/v1/dags/image_data_refresh/dagRuns/no_such_run/taskInstances",
    ));
    assert_eq!(
        unknown_run,
        sample("taskinstances-unknown-run.json").unwrap()
    );
}

#[test]
fn a_world_can_be_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<World>();
    let world = std::sync::Arc::new(World::start(Scenario::Calm).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let world = world.clone();
            std::thread::spawn(move || airflow_get(&world, "/api/v1/dags").status())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(world.requests().len(), 8);
}

#[test]
fn sentry_and_github_status_faults_answer_with_their_error_shapes() {
    let faults = Faults {
        sentry_status: Some(502),
        github_status: Some(500),
        ..Faults::default()
    };
    let world = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let sentry = sentry_get(&world, "/api/0/organizations/openverse/issues/");
    assert_eq!(sentry.status(), 502);
    assert_eq!(json_of(sentry)["detail"], "Internal Error");
    let github = github_get(&world, "/repos/WordPress/openverse/releases");
    assert_eq!(github.status(), 500);
    assert_eq!(json_of(github)["message"], "Server Error");
}

#[test]
fn a_lax_sentry_ignores_the_project_and_the_window() {
    let search = "/api/0/organizations/openverse/issues/?projectSlug=openverse-catalog&query=is:unresolved&statsPeriod=1h";
    let strict = World::start(Scenario::Calm).unwrap();
    let strict_count = json_of(sentry_get(&strict, search))
        .as_array()
        .unwrap()
        .len();
    let faults = Faults {
        sentry_ignores_filters: true,
        ..Faults::default()
    };
    let lax = World::start_with(Scenario::Calm, faults, Credentials::default()).unwrap();
    let issues = json_of(sentry_get(&lax, search));
    let issues = issues.as_array().unwrap();
    assert!(issues.len() > strict_count);
    assert!(issues
        .iter()
        .any(|i| i["project"]["slug"] == "openverse-api"));
}

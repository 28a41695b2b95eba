//! `airflow.*` as a runbook uses it. Every shared check runs against the simulated Airflow
//! (`ovscript::world::World`) in both of its versions, 2.10.5 (`/api/v1`) and 3.3.2 (`/api/v2`),
//! and, under `tools/with-airflow.sh`, against a real Airflow 2.10.5 and a real Airflow 3.3.2
//! with the test DAGs of `tools/airflow/dags/` and `tools/airflow3/dags/`. The fake alone also
//! plays what a real Airflow cannot be made to show on demand: many runs behind a page cap, a
//! 500, a slow answer, a refused connection, broken JSON, an expiring token, an upgrade during
//! a run.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ovscript::journal::Event;
use ovscript::world::{AirflowVersion, Credentials, Faults, Scenario, World};

use crate::test::{journal_text, Output, Test, TAKES_OVER};

/// How long a real Airflow may take to start the triggered run and let its sensor poke once.
const REAL_WAIT: Duration = Duration::from_secs(240);

/// Which Airflow a target is: its API and what it reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    /// 2.10.5: `/api/v1`, basic auth.
    Airflow2,
    /// 3.3.2: `/api/v2`, a JWT from `/auth/token`.
    Airflow3,
}

impl Version {
    fn api_root(self) -> &'static str {
        match self {
            Version::Airflow2 => "/api/v1",
            Version::Airflow3 => "/api/v2",
        }
    }

    fn number(self) -> &'static str {
        match self {
            Version::Airflow2 => "2.10.5",
            Version::Airflow3 => "3.3.2",
        }
    }

    /// The variables `tools/with-airflow.sh` exports for the real one: `{prefix}_URL`, ...
    fn variables(self) -> &'static str {
        match self {
            Version::Airflow2 => "OVSCRIPT_TEST_AIRFLOW",
            Version::Airflow3 => "OVSCRIPT_TEST_AIRFLOW3",
        }
    }
}

/// One Airflow to run the checks against, and the DAGs in it that play each part.
struct Target {
    version: Version,
    url: String,
    user: String,
    password: String,
    /// A `data_refresh` DAG whose HttpSensor waits in reschedule mode.
    refresh_dag: &'static str,
    /// A DAG that is unpaused and may be paused and unpaused by a test.
    pausable_dag: &'static str,
    /// The running run of `refresh_dag` to expect, when it is known in advance.
    expected_run: Option<String>,
    /// How long to keep looking for the sensor waiting.
    wait: Duration,
    world: Option<World>,
}

impl Target {
    fn fake(scenario: Scenario) -> Target {
        Target::fake_with(scenario, Faults::default())
    }

    /// The fake Airflow 3.3.2.
    fn fake3(scenario: Scenario) -> Target {
        Target::fake3_with(scenario, Faults::default())
    }

    fn fake3_with(scenario: Scenario, faults: Faults) -> Target {
        let faults = Faults {
            airflow_version: Some(AirflowVersion::Airflow3),
            ..faults
        };
        Target::fake_with(scenario, faults)
    }

    fn fake_with(scenario: Scenario, faults: Faults) -> Target {
        let version = match faults.airflow_version.unwrap_or_default() {
            AirflowVersion::Airflow2 => Version::Airflow2,
            AirflowVersion::Airflow3 => Version::Airflow3,
        };
        let world = World::start_with(scenario, faults, Credentials::default()).expect("world");
        let creds = world.credentials().clone();
        Target {
            version,
            url: world.airflow_url(),
            user: creds.airflow_user,
            password: creds.airflow_password,
            refresh_dag: "image_data_refresh",
            pausable_dag: "flickr_workflow",
            expected_run: None,
            wait: Duration::ZERO,
            world: Some(world),
        }
    }

    /// The real Airflow of `tools/with-airflow.sh` of this version; without it the test is
    /// skipped with a message, except in CI, where these tests must run.
    fn real(version: Version) -> Option<Target> {
        let prefix = version.variables();
        let var = |name: &str| {
            std::env::var(format!("{prefix}_{name}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let (Some(url), Some(user), Some(password)) = (var("URL"), var("USER"), var("PASSWORD"))
        else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{prefix}_URL/_USER/_PASSWORD are not set: in CI the real-Airflow tests must run under tools/with-airflow.sh"
            );
            eprintln!(
                "skipped: run under tools/with-airflow.sh to test against a real Airflow {}",
                version.number()
            );
            return None;
        };
        Some(Target {
            version,
            url,
            user,
            password,
            refresh_dag: "ovscript_refresh",
            pausable_dag: "ovscript_pausable",
            expected_run: None,
            wait: REAL_WAIT,
            world: None,
        })
    }

    fn world(&self) -> &World {
        self.world.as_ref().expect("a check for the fake only")
    }

    /// `{url}/api/vN{path}`.
    fn api_url(&self, path: &str) -> String {
        format!("{}{}{path}", self.url, self.version.api_root())
    }

    /// A run of `script` configured for this Airflow.
    fn test(&self, script: &str) -> Test {
        Test::new()
            .script(script)
            .env("OVSCRIPT_AIRFLOW_URL", &self.url)
            .env("OVSCRIPT_AIRFLOW_USER", &self.user)
            .env("OVSCRIPT_AIRFLOW_PASSWORD", &self.password)
    }

    fn run(&self, script: &str) -> Output {
        self.test(script).run()
    }

    /// `test` with its deployment taken over first (the deploy lock, no leftovers): what a
    /// pause needs. The script starts on line 2.
    fn deploying(&self, script: &str) -> Test {
        self.test(&format!("{TAKES_OVER}\n{script}")).deploying()
    }
}

/// The real Airflow's HTTP API, for what the tests set up there (ovscript has no trigger).
struct RealApi<'a> {
    target: &'a Target,
    client: reqwest::blocking::Client,
    /// Airflow 3's token for the tests' own calls.
    token: Option<String>,
}

impl<'a> RealApi<'a> {
    fn new(target: &'a Target) -> RealApi<'a> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let token = (target.version == Version::Airflow3).then(|| {
            let body = json!({"username": target.user, "password": target.password});
            let url = format!("{}/auth/token", target.url);
            let answer: Value = client
                .post(&url)
                .json(&body)
                .send()
                .unwrap()
                .json()
                .unwrap();
            answer["access_token"]
                .as_str()
                .expect("a token")
                .to_string()
        });
        RealApi {
            target,
            client,
            token,
        }
    }

    /// One call of the test's own setup. SQLite takes one writer at a time, and a scheduler
    /// writing at the same moment makes Airflow answer 500 "Database error": the setup tries
    /// again a few times, as an operator would (production Airflow runs on Postgres).
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = self.target.api_url(&format!("/{path}"));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), &url);
            request = match &self.token {
                Some(token) => request.bearer_auth(token),
                None => request.basic_auth(&self.target.user, Some(&self.target.password)),
            };
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = response.status();
            let text = response.text().unwrap();
            let locked = status.is_server_error()
                && (text.contains("Database error") || text.contains("database is locked"));
            if locked && attempt < 5 {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            assert!(status.is_success(), "{url}: {status} {text}");
            return serde_json::from_str(&text).unwrap();
        }
    }

    fn unpause(&self, dag_id: &str) {
        self.call(
            reqwest::Method::PATCH,
            &format!("dags/{dag_id}?update_mask=is_paused"),
            Some(json!({"is_paused": false})),
        );
    }

    /// A run of the refresh DAG that is or will be running: the one already running, or a new
    /// one (the DAG allows one active run, so a second would stay queued). Triggered once per
    /// test process and Airflow.
    fn refresh_run(&self) -> String {
        static RUNS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
        let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(run) = runs.get(&self.target.url) {
            return run.clone();
        }
        let dag = self.target.refresh_dag;
        self.unpause(dag);
        let running = self.call(
            reqwest::Method::GET,
            &format!("dags/{dag}/dagRuns?state=running"),
            None,
        );
        let run = match running["dag_runs"].as_array().and_then(|r| r.first()) {
            Some(run) => run["dag_run_id"].as_str().unwrap().to_string(),
            None => {
                // Airflow 3 wants the logical date said, even when there is none.
                let body = match self.target.version {
                    Version::Airflow2 => json!({}),
                    Version::Airflow3 => json!({"logical_date": null}),
                };
                let run = self.call(
                    reqwest::Method::POST,
                    &format!("dags/{dag}/dagRuns"),
                    Some(body),
                );
                run["dag_run_id"].as_str().unwrap().to_string()
            }
        };
        runs.insert(self.target.url.clone(), run.clone());
        run
    }
}

/// Runs `test` until `done` accepts its output or `wait` has passed; the last output.
fn eventually(test: &Test, wait: Duration, done: impl Fn(&Output) -> bool) -> Output {
    let started = Instant::now();
    loop {
        let out = test.run();
        if done(&out) || started.elapsed() >= wait {
            return out;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Lines `kind|field|field...` that the scripts below print, split.
fn rows(out: &Output, kind: &str) -> Vec<Vec<String>> {
    out.stdout
        .lines()
        .filter_map(|line| line.strip_prefix(&format!("{kind}|")))
        .map(|rest| rest.split('|').map(str::to_string).collect())
        .collect()
}

/// The requests a fake received, as `METHOD path` (with `?query` when it has one).
fn requests(world: &World) -> Vec<String> {
    world
        .requests()
        .iter()
        .map(|r| {
            let query = if r.query.is_empty() {
                String::new()
            } else {
                format!("?{}", r.query)
            };
            format!("{} {}{query} {}", r.method, r.path, r.status)
        })
        .collect()
}

const SHOW_RUNS_AND_TASKS: &str = r#"
for run in airflow.running_dags() {
    print(`run|${run.dag_id}|${run.run_id}|${run.state}|${run.start_date}`);
    if run.dag_id == args[0] {
        for task in airflow.active_tasks(run.dag_id, run.run_id) {
            print(`task|${run.run_id}|${task.task_id}|${task.operator}|${task.state}`);
        }
    }
}
"#;

// ---- Shared checks: the fakes and the real Airflows must all pass them. ----

/// A refresh DAG waiting on its sensor: running_dags shows the run, active_tasks (with the run
/// id's `:` and `+` in the path) shows the sensor up_for_reschedule, and no unstarted task.
fn check_sensor_waiting(target: &Target) {
    let is_sensor_waiting =
        |task: &Vec<String>| task[2] == "HttpSensor" && task[3] == "up_for_reschedule";
    let test = target.test(SHOW_RUNS_AND_TASKS).arg(target.refresh_dag);
    let out = eventually(&test, target.wait, |out| {
        rows(out, "task").iter().any(|t| {
            is_sensor_waiting(t) && target.expected_run.as_ref().is_none_or(|run| &t[0] == run)
        })
    });
    out.success();
    let runs = rows(&out, "run");
    let run = runs
        .iter()
        .find(|r| r[0] == target.refresh_dag)
        .unwrap_or_else(|| panic!("no running {} in\n{}", target.refresh_dag, out.stdout));
    if let Some(expected) = &target.expected_run {
        assert_eq!(&run[1], expected, "{}", out.stdout);
    }
    assert!(
        run[1].contains(':') && run[1].contains('+'),
        "run id {}",
        run[1]
    );
    assert_eq!(run[2], "running");
    assert!(run[3].starts_with("20"), "start_date {}", run[3]);
    assert!(runs.iter().all(|r| r[2] == "running"), "{}", out.stdout);
    let tasks = rows(&out, "task");
    let sensor = tasks
        .iter()
        .find(|t| t[1] == "data_refresh.ingest_upstream.wait_for_ingest_upstream")
        .unwrap_or_else(|| panic!("no sensor task in\n{}", out.stdout));
    assert!(
        is_sensor_waiting(sensor),
        "sensor {sensor:?}\n{}",
        out.stdout
    );
    // Tasks before the sensor succeeded, those after it have no state yet: neither is active.
    assert_eq!(tasks.len(), 1, "{tasks:?}");
}

fn check_pause_round_trip(target: &Target) {
    let out = target
        .deploying(
            r#"
            let dag = args[0];
            print(`before|${airflow.is_paused(dag)}`);
            print(`pause|${airflow.pause(dag)}`);
            print(`paused|${airflow.is_paused(dag)}`);
            print(`unpause|${airflow.unpause(dag)}`);
            print(`unpaused|${airflow.is_paused(dag)}`);
        "#,
        )
        .arg(target.pausable_dag)
        .run();
    out.success();
    for (kind, value) in [
        ("before", "false"),
        ("pause", "true"),
        ("paused", "true"),
        ("unpause", "false"),
        ("unpaused", "false"),
    ] {
        assert_eq!(
            rows(&out, kind),
            vec![vec![value.to_string()]],
            "{kind}\n{}",
            out.stdout
        );
    }
    let journal = out.events();
    let patches: Vec<(&String, &String, &Option<u16>)> = journal
        .iter()
        .filter_map(|e| match e {
            Event::Http {
                service,
                method,
                url,
                status,
                ..
            } if method == "PATCH" => Some((service, url, status)),
            _ => None,
        })
        .collect();
    assert_eq!(patches.len(), 2, "{journal:?}");
    let url = target.api_url(&format!(
        "/dags/{}?update_mask=is_paused",
        target.pausable_dag
    ));
    for (patch_service, patch_url, patch_status) in patches {
        assert_eq!(patch_url, &url);
        assert_eq!(patch_status, &Some(200));
        assert_eq!(patch_service, "airflow");
    }
    let changes: Vec<(&String, bool)> = journal
        .iter()
        .filter_map(|e| match e {
            Event::AirflowPause {
                dag_id, is_paused, ..
            } => Some((dag_id, *is_paused)),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].0, &target.pausable_dag);
    assert!(changes[0].1);
    assert!(!changes[1].1);
    assert!(!journal_text(&out.dir).contains(&target.password));
}

fn check_health_and_version(target: &Target) {
    let out = target.run(
        r#"
        let health = airflow.health();
        print(`healthy|${health.healthy}`);
        print(`metadatabase|${health.metadatabase.status}`);
        print(`scheduler|${health.scheduler.status}`);
        print(`version|${airflow.version()}`);
    "#,
    );
    out.success();
    assert_eq!(rows(&out, "healthy"), vec![vec!["true"]], "{}", out.stdout);
    assert_eq!(rows(&out, "metadatabase"), vec![vec!["healthy"]]);
    assert_eq!(rows(&out, "scheduler"), vec![vec!["healthy"]]);
    assert_eq!(rows(&out, "version"), vec![vec![target.version.number()]]);
    let api: Vec<(String, bool)> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::AirflowApi { api, detected } => Some((api, detected)),
            _ => None,
        })
        .collect();
    let expected = target.version.api_root().trim_start_matches("/api/");
    assert_eq!(api.len(), 1, "asked once per run: {api:?}");
    assert_eq!(api[0].0, expected);
    assert!(api[0].1);
}

fn check_dags_by_tag(target: &Target) {
    let out = target.run(
        r#"
        for dag in airflow.dags("data_refresh") {
            print(`dag|${dag.dag_id}|${dag.tags.contains("data_refresh")}|${type_of(dag.is_paused)}`);
        }
    "#,
    );
    out.success();
    let dags = rows(&out, "dag");
    assert!(
        dags.iter().any(|d| d[0] == target.refresh_dag),
        "{}",
        out.stdout
    );
    assert!(
        dags.iter().all(|d| d[1] == "true" && d[2] == "bool"),
        "{}",
        out.stdout
    );
    assert!(
        !dags.iter().any(|d| d[0] == target.pausable_dag),
        "{}",
        out.stdout
    );
}

/// The 401 names the variables that hold the user and the password: on Airflow 2 the first
/// call's, on Airflow 3 the token request's.
fn check_wrong_password(target: &Target) {
    let wrong = "not-the-password-x7";
    let out = target
        .test("print(airflow.running_dags());")
        .env("OVSCRIPT_AIRFLOW_PASSWORD", wrong)
        .run();
    let refused = match target.version {
        Version::Airflow2 => format!(
            "airflow refused the credentials (HTTP 401 for GET {})",
            target.api_url("/dags/~/dagRuns?state=running&limit=100&offset=0")
        ),
        Version::Airflow3 => format!(
            "airflow refused the credentials (HTTP 401 for POST {}/auth/token): Invalid credentials",
            target.url
        ),
    };
    out.code(1)
        .stderr_has("script.rhai:1:")
        .stderr_has(&refused)
        .stderr_has("check OVSCRIPT_AIRFLOW_USER / OVSCRIPT_AIRFLOW_PASSWORD (or `user` / `password` under [airflow])")
        .lacks(wrong);
    assert!(!journal_text(&out.dir).contains(wrong));
}

fn check_unknown_things_are_named(target: &Target) {
    let out = target
        .test(r#"airflow.active_tasks(args[0], "manual__2001-01-01T00:00:00+00:00");"#)
        .arg(target.refresh_dag)
        .run();
    out.code(1).stderr_has(&format!(
        "DAG run manual__2001-01-01T00:00:00+00:00 of DAG {} not found: airflow answered 404",
        target.refresh_dag
    ));
    target
        .deploying(r#"airflow.pause("no_such_dag");"#)
        .run()
        .code(1)
        .stderr_has("DAG no_such_dag not found: airflow answered 404 for PATCH")
        .stderr_has(&target.api_url("/dags/no_such_dag?update_mask=is_paused"));
}

// ---- The shared checks against the fakes (Airflow 2.10.5 and 3.3.2) ----

/// The shared checks as tests against one fake; `$target` makes a target of a scenario.
macro_rules! fake_airflow_tests {
    ($module:ident, $target:path) => {
        mod $module {
            use super::*;

            #[test]
            fn a_waiting_sensor_is_seen_in_its_running_dag() {
                check_sensor_waiting(&$target(Scenario::SensorWaiting));
            }

            #[test]
            fn pause_and_unpause_round_trip() {
                let target = $target(Scenario::Calm);
                check_pause_round_trip(&target);
                let world = target.world();
                assert_eq!(world.dag_paused(target.pausable_dag), Some(false));
                let path = format!("{}/dags/flickr_workflow", target.version.api_root());
                let bodies: Vec<Value> = world
                    .requests()
                    .into_iter()
                    .filter(|r| r.method == "PATCH")
                    .map(|r| {
                        assert_eq!(r.path, path);
                        assert_eq!(r.query, "update_mask=is_paused");
                        r.body.unwrap()
                    })
                    .collect();
                assert_eq!(
                    bodies,
                    vec![json!({"is_paused": true}), json!({"is_paused": false})]
                );
            }

            #[test]
            fn health_and_version() {
                check_health_and_version(&$target(Scenario::Calm));
            }

            #[test]
            fn dags_by_tag() {
                check_dags_by_tag(&$target(Scenario::Calm));
            }

            #[test]
            fn a_wrong_password_names_the_variables() {
                check_wrong_password(&$target(Scenario::Calm));
            }

            #[test]
            fn an_unknown_run_or_dag_is_named() {
                check_unknown_things_are_named(&$target(Scenario::SensorWaiting));
            }
        }
    };
}

fake_airflow_tests!(fake_airflow2, Target::fake);
fake_airflow_tests!(fake_airflow3, Target::fake3);

// ---- The same checks against a real Airflow 2.10.5 and a real Airflow 3.3.2 ----

/// The shared checks as tests against the real Airflow of one version.
macro_rules! real_airflow_tests {
    ($module:ident, $version:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn a_triggered_sensor_run_is_seen_waiting() {
                let Some(mut target) = Target::real($version) else {
                    return;
                };
                target.expected_run = Some(RealApi::new(&target).refresh_run());
                check_sensor_waiting(&target);
            }

            #[test]
            fn pause_and_unpause_round_trip() {
                let Some(target) = Target::real($version) else {
                    return;
                };
                RealApi::new(&target).unpause(target.pausable_dag);
                check_pause_round_trip(&target);
            }

            #[test]
            fn health_and_version() {
                let Some(target) = Target::real($version) else {
                    return;
                };
                // Right after start the scheduler may not have beaten yet.
                let healthy = target.test(r#"if !airflow.health().healthy { throw "not yet" }"#);
                eventually(&healthy, target.wait, |out| out.code == Some(0));
                check_health_and_version(&target);
            }

            #[test]
            fn dags_by_tag() {
                let Some(target) = Target::real($version) else {
                    return;
                };
                check_dags_by_tag(&target);
            }

            #[test]
            fn a_wrong_password_names_the_variables() {
                let Some(target) = Target::real($version) else {
                    return;
                };
                check_wrong_password(&target);
            }

            #[test]
            fn an_unknown_run_or_dag_is_named() {
                let Some(target) = Target::real($version) else {
                    return;
                };
                check_unknown_things_are_named(&target);
            }
        }
    };
}

real_airflow_tests!(real_airflow2, Version::Airflow2);
real_airflow_tests!(real_airflow3, Version::Airflow3);

// ---- What only the fake can play ----

/// Pages are read by what arrived: Airflow 2's and 3's caps, and Airflow 3's runs without a
/// logical date.
#[test]
fn every_running_run_is_read_across_capped_pages() {
    for (version, cap) in [
        (AirflowVersion::Airflow2, 100),
        (AirflowVersion::Airflow2, 40),
        (AirflowVersion::Airflow3, 100),
        (AirflowVersion::Airflow3, 40),
    ] {
        let target = Target::fake_with(
            Scenario::Calm,
            Faults {
                airflow_running_runs: Some(300),
                airflow_page_cap: Some(cap),
                airflow_version: Some(version),
                ..Faults::default()
            },
        );
        let out = target.run(
            r#"
            let runs = airflow.running_dags();
            let ids = runs.map(|r| r.dag_id + " " + r.run_id);
            ids.dedup();
            print(`count|${runs.len()}|${ids.len()}`);
        "#,
        );
        out.success();
        assert_eq!(rows(&out, "count"), vec![vec!["300", "300"]], "cap {cap}");
        let path = format!("{}/dags/~/dagRuns", target.version.api_root());
        let offsets: Vec<usize> = target
            .world()
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| {
                assert!(
                    r.query.starts_with("state=running&limit=100&offset="),
                    "{}",
                    r.query
                );
                r.query.rsplit('=').next().unwrap().parse().unwrap()
            })
            .collect();
        let expected: Vec<usize> = (0..300).step_by(cap).collect();
        assert_eq!(offsets, expected, "{version:?} cap {cap}");
    }
}

/// Airflow 3's token: fetched once per run with the configured user and password, sent as a
/// bearer token, and never shown: not in the output, not in the journal.
#[test]
fn airflow3_a_token_is_fetched_once_and_never_shown() {
    let target = Target::fake3(Scenario::SensorWaiting);
    let out = target
        .test(
            r#"
            let runs = airflow.running_dags();
            for run in runs { print(`tasks|${airflow.active_tasks(run.dag_id, run.run_id).len()}`); }
            print(`dags|${airflow.dags("data_refresh").len()}`);
            print(`paused|${airflow.is_paused("flickr_workflow")}`);
            print(`healthy|${airflow.health().healthy}`);
            print(`version|${airflow.version()}`);
            print(airflow);
        "#,
        )
        // The setting may name the API's root, as it did for Airflow 2.
        .env("OVSCRIPT_AIRFLOW_URL", &format!("{}/api/v1/", target.url))
        .run();
    out.success();
    assert_eq!(rows(&out, "tasks"), vec![vec!["1"]]);
    assert_eq!(rows(&out, "dags"), vec![vec!["2"]]);
    assert_eq!(rows(&out, "version"), vec![vec!["3.3.2"]]);
    let world = target.world();
    let tokens = world.airflow_tokens();
    assert_eq!(tokens.len(), 1, "one token for the run");
    let sent = requests(world);
    assert_eq!(
        sent[..2],
        ["GET /api/v2/version 200", "POST /auth/token 201"]
    );
    assert_eq!(sent.iter().filter(|r| r.contains("/auth/token")).count(), 1);
    assert!(world.requests().iter().skip(2).all(|r| r.authorized
        || r.path == "/api/v2/version"
        || r.path == "/api/v2/monitor/health"));
    for text in [&out.stdout, &out.stderr, &journal_text(&out.dir)] {
        assert!(!text.contains(&tokens[0]), "the token shows in:\n{text}");
        assert!(!text.contains(&target.password));
    }
}

/// An expired token (401) is renewed once, and the call made again.
#[test]
fn airflow3_an_expired_token_is_renewed_and_the_call_made_again() {
    let target = Target::fake3_with(
        Scenario::Calm,
        Faults {
            airflow_token_lifetime: Some(Duration::from_millis(500)),
            ..Faults::default()
        },
    );
    let out = target.run(
        r#"
        print(`before|${airflow.is_paused("flickr_workflow")}`);
        let polls = 0;
        wait_until("the token to expire", 30, 1, || { polls += 1; polls > 1 });
        print(`after|${airflow.is_paused("flickr_workflow")}`);
    "#,
    );
    out.success();
    assert_eq!(rows(&out, "after"), vec![vec!["false"]], "{}", out.stderr);
    assert_eq!(
        requests(target.world()),
        vec![
            "GET /api/v2/version 200",
            "POST /auth/token 201",
            "GET /api/v2/dags/flickr_workflow 200",
            "GET /api/v2/dags/flickr_workflow 401",
            "POST /auth/token 201",
            "GET /api/v2/dags/flickr_workflow 200",
        ]
    );
    for token in target.world().airflow_tokens() {
        assert!(!journal_text(&out.dir).contains(&token));
    }
}

/// A deploy that upgrades Airflow mid-run: the next call's path is gone (404), the server is
/// asked again, and the call is made on Airflow 3's API, with a token; what the host paused
/// before the upgrade it unpauses after it.
#[test]
fn an_upgrade_during_the_run_is_followed() {
    let Some(tools) = crate::test::tools_bin() else {
        return;
    };
    let out = Test::new()
        .env("PATH", &crate::test::path_with(&tools))
        .script(&format!(
            "{TAKES_OVER}{}",
            r#"
            airflow.pause("flickr_workflow");
            print(`before|${airflow.version()}`);
            tf.with("environments/prod/catalog-airflow.tf", "running_dags_cleared", true, || {
                just("apply", "prod", "catalog-airflow");
            });
            print(`paused|${airflow.is_paused("flickr_workflow")}`);
            print(`unpause|${airflow.unpause("flickr_workflow")}`);
            print(`after|${airflow.version()}`);
        "#,
        ))
        .flag("--rehearse=airflow-upgrade")
        .run();
    out.success()
        .stdout_has("Airflow now answers as Airflow 3 (/api/v2): it changed during the run; going on with it")
        .stdout_has("airflow: upgraded from 2.10.5 to 3.3.2 (API /api/v2 only)")
        .lacks("eyJ");
    for (kind, value) in [
        ("before", "2.10.5"),
        ("paused", "true"),
        ("unpause", "false"),
        ("after", "3.3.2"),
    ] {
        assert_eq!(
            rows(&out, kind),
            vec![vec![value]],
            "{kind}\n{}",
            out.stdout
        );
    }
    let rehearsal = std::fs::read_dir(out.dir.join(".ovscript/rehearsals"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let world: Value =
        serde_json::from_str(&std::fs::read_to_string(rehearsal.join("world.json")).unwrap())
            .unwrap();
    let airflow: Vec<String> = world["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["service"] == "airflow")
        .map(|r| {
            format!(
                "{} {} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap(),
                r["status"]
            )
        })
        .collect();
    let after_apply = airflow
        .iter()
        .position(|r| r == "GET /api/v1/dags/flickr_workflow 404")
        .unwrap_or_else(|| panic!("no 404 after the upgrade in {airflow:#?}"));
    assert_eq!(
        airflow[after_apply..],
        [
            "GET /api/v1/dags/flickr_workflow 404",
            "GET /api/v2/version 200",
            "POST /auth/token 201",
            "GET /api/v2/dags/flickr_workflow 200",
            "PATCH /api/v2/dags/flickr_workflow 200",
            "GET /api/v2/version 200",
        ]
    );
    assert_eq!(world["paused"]["flickr_workflow"], false);
    let apis: Vec<String> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::AirflowApi { api, .. } => Some(api),
            _ => None,
        })
        .collect();
    assert_eq!(apis, ["v1", "v2"]);
    assert!(
        !journal_text(&out.dir).contains("eyJ"),
        "a token in the journal"
    );
}

/// The catalog runbook deploys an Airflow upgrade: its post-deploy checks meet Airflow 3.
#[test]
fn the_catalog_runbook_rehearses_an_airflow_upgrade() {
    let Some(tools) = crate::test::tools_bin() else {
        return;
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/catalog.rhai");
    let out = Test::new()
        .env("PATH", &crate::test::path_with(&tools))
        .command(&[
            "run",
            &script.display().to_string(),
            "--rehearse=airflow-upgrade",
            "--yes",
            "--",
            "--expect-airflow-version=3.3.2",
        ]);
    out.success()
        .stdout_has("Airflow 3.3.2")
        .stdout_has("airflow: upgraded from 2.10.5 to 3.3.2 (API /api/v2 only)")
        .lacks("eyJ");
}

/// `[airflow] api` set: the server is not asked, and a 404 is only a 404.
#[test]
fn the_api_can_be_set_and_is_then_not_asked() {
    let target = Target::fake(Scenario::Calm);
    target
        .test(r#"print(`version|${airflow.version()}`);"#)
        .env("OVSCRIPT_AIRFLOW_API", "v1")
        .run()
        .success()
        .stdout_has("version|2.10.5");
    assert_eq!(requests(target.world()), vec!["GET /api/v1/version 200"]);
    let wrong = Target::fake(Scenario::Calm);
    wrong
        .test(r#"airflow.dags("data_refresh");"#)
        .env("OVSCRIPT_AIRFLOW_API", "v2")
        .run()
        .code(1)
        .stderr_has(&format!(
            "{}/auth/token answered 404: this Airflow issues no tokens, so it is not Airflow 3; check `api` under [airflow] (OVSCRIPT_AIRFLOW_API), or leave it to `auto`",
            wrong.url
        ));
    assert_eq!(
        requests(wrong.world()),
        vec!["POST /auth/token 404"],
        "asked nothing else"
    );
    Test::new()
        .script("airflow.version();")
        .env("OVSCRIPT_AIRFLOW_URL", &target.url)
        .env("OVSCRIPT_AIRFLOW_API", "v3")
        .run()
        .code(2)
        .stderr_has("[airflow] api: unknown variant `v3`, expected one of `auto`, `v1`, `v2`");
}

#[test]
fn a_server_that_is_not_airflow_is_named() {
    let world = World::start(Scenario::Calm).unwrap();
    let url = world.github_url();
    Test::new()
        .script("airflow.running_dags();")
        .env("OVSCRIPT_AIRFLOW_URL", &url)
        .run()
        .code(1)
        .stderr_has(&format!(
            "{url} is not an Airflow API server: it answers 404 for both {url}/api/v2/version (Airflow 3) and {url}/api/v1/version (Airflow 2); check OVSCRIPT_AIRFLOW_URL (or `url` under [airflow])"
        ));
}

#[test]
fn a_server_error_is_explained() {
    let target = Target::fake_with(
        Scenario::Calm,
        Faults {
            airflow_status: Some(500),
            ..Faults::default()
        },
    );
    // The first call asks which API the server speaks.
    target
        .run("airflow.running_dags();")
        .code(1)
        .stderr_has(&format!(
            "airflow answered 500 for GET {}/api/v2/version (asking which API it speaks)",
            target.url
        ))
        .stderr_has("The server encountered an internal error")
        .stderr_has("the server failed; check its health and try again");
    // With the API set, the call itself goes first.
    target
        .test("airflow.running_dags();")
        .env("OVSCRIPT_AIRFLOW_API", "v1")
        .run()
        .code(1)
        .stderr_has(&format!(
            "airflow answered 500 for GET {}/api/v1/dags/~/dagRuns?state=running&limit=100&offset=0 (the running DAG runs)",
            target.url
        ));
    let airflow3 = Target::fake3_with(
        Scenario::Calm,
        Faults {
            airflow_status: Some(503),
            ..Faults::default()
        },
    );
    airflow3
        .run("airflow.running_dags();")
        .code(1)
        .stderr_has(&format!(
            "airflow answered 503 for GET {}/api/v2/version (asking which API it speaks): Service Unavailable: the server failed",
            airflow3.url
        ));
}

#[test]
fn a_slow_answer_times_out_naming_the_url() {
    let target = Target::fake_with(
        Scenario::Calm,
        Faults {
            delay: Some(Duration::from_secs(4)),
            ..Faults::default()
        },
    );
    let started = Instant::now();
    let out = target
        .test(r#"airflow.is_paused("flickr_workflow");"#)
        .env("OVSCRIPT_AIRFLOW_TIMEOUT", "1")
        .run();
    out.code(1).stderr_has(&format!(
        "airflow did not answer within 1s at {}/api/v2/version (asking which API it speaks)",
        target.url
    ));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn airflow_down_names_the_url_and_never_the_password() {
    let target = Target::fake(Scenario::AirflowDown);
    let out = target.run("airflow.running_dags();");
    out.code(1)
        .stderr_has(&format!(
            "cannot reach airflow at {}/api/v2/version (asking which API it speaks)",
            target.url
        ))
        .stderr_has("check OVSCRIPT_AIRFLOW_URL")
        .lacks(&target.password);
    assert!(!journal_text(&out.dir).contains(&target.password));
    let journal = out.events();
    let Some(Event::Http { status, .. }) = journal.iter().find(|e| matches!(e, Event::Http { .. }))
    else {
        panic!("the call is journaled");
    };
    assert_eq!(status, &None);
}

#[test]
fn broken_json_is_called_so() {
    let target = Target::fake_with(
        Scenario::Calm,
        Faults {
            malformed_json: true,
            ..Faults::default()
        },
    );
    target
        .run("airflow.version();")
        .code(1)
        .stderr_has(&format!(
        "airflow sent an answer that cannot be read from {}/api/v1/version (the version): not JSON",
        target.url
    ));
}

#[test]
fn wrong_arguments_name_the_function_and_its_signature() {
    let target = Target::fake(Scenario::Calm);
    // A literal of the wrong type, or a wrong count, is found before the run (exit 2).
    target
        .run("airflow.pause(42);")
        .code(2)
        .stderr_has("script.rhai:1:9: airflow.pause(...): argument 1 is an int, which it does not take; it can be called as airflow.pause(dag_id: string) -> bool");
    target
        .run(r#"airflow.active_tasks("image_data_refresh");"#)
        .code(2)
        .stderr_has("airflow.active_tasks(...) with 1 argument(s) matches no signature")
        .stderr_has("airflow.active_tasks(dag_id: string, run_id: string) -> Array");
    // A value known only when the run gets there fails there, as clearly.
    target
        .run("let dag = 42; airflow.pause(dag);")
        .code(1)
        .stderr_has("no function `pause` takes (Airflow, int)")
        .stderr_has("it can be called as:")
        .stderr_has("airflow.pause(dag_id: string) -> bool");
    assert!(target.world().requests().is_empty());
}

#[test]
fn a_dry_run_pause_sends_no_patch() {
    let target = Target::fake(Scenario::SensorWaiting);
    let out = target
        .test(r#"print(`returned|${airflow.pause("image_data_refresh")}`);"#)
        .flag("--dry-run")
        .run();
    out.success()
        .stdout_has(&format!(
            "would: PATCH {}/api/v1/dags/image_data_refresh?update_mask=is_paused is_paused=true",
            target.url
        ))
        .stdout_has("returned|true");
    let world = target.world();
    assert_eq!(world.dag_paused("image_data_refresh"), Some(false));
    assert_eq!(
        requests(world),
        vec![
            "GET /api/v2/version 404",
            "GET /api/v1/version 200",
            "GET /api/v1/dags/image_data_refresh 200",
        ],
        "only reads: which API, and whether the DAG exists"
    );
    let journal = out.events();
    assert!(journal
        .iter()
        .any(|e| matches!(e, Event::Would { what } if what.starts_with("PATCH "))));
    assert!(!journal
        .iter()
        .any(|e| matches!(e, Event::AirflowPause { .. })));
}

#[test]
fn a_dry_run_pause_of_an_unknown_dag_fails_as_the_real_run_would() {
    let target = Target::fake(Scenario::Calm);
    target
        .test(r#"airflow.pause("no_such_dag");"#)
        .flag("--dry-run")
        .run()
        .code(1)
        .stderr_has("DAG no_such_dag not found")
        .stdout_lacks("would: PATCH");
}

#[test]
fn a_missing_url_names_the_setting() {
    Test::new()
        .script("airflow.running_dags();")
        .run()
        .code(1)
        .stderr_has("Airflow is not configured: set OVSCRIPT_AIRFLOW_URL or `url` under [airflow]");
}

#[test]
fn a_script_that_never_calls_airflow_needs_no_airflow_settings() {
    Test::new()
        .script(r#"print("ok");"#)
        .run()
        .success()
        .stdout_has("ok");
}

#[test]
fn a_user_without_a_password_names_the_missing_setting() {
    let target = Target::fake(Scenario::Calm);
    let out = Test::new()
        .script("airflow.running_dags();")
        .env("OVSCRIPT_AIRFLOW_URL", &target.url)
        .env("OVSCRIPT_AIRFLOW_USER", &target.user)
        .run();
    out.code(1).stderr_has(
        "Airflow is not configured: set OVSCRIPT_AIRFLOW_PASSWORD or `password` under [airflow]",
    );
    assert!(target.world().requests().is_empty(), "nothing sent");
}

#[test]
fn ten_thousand_running_runs_read_under_the_default_limits() {
    let target = Target::fake_with(
        Scenario::Calm,
        Faults {
            airflow_running_runs: Some(10_000),
            ..Faults::default()
        },
    );
    target
        .run(
            r#"
            let runs = airflow.running_dags();
            let flickr = runs.filter(|run| run.dag_id == "flickr_workflow");
            print(`runs|${runs.len()}|${flickr.len()}`);
            "#,
        )
        .success()
        .stdout_has("runs|10000|2500");
}

#[test]
fn a_script_that_grows_data_without_end_names_the_limit_to_raise() {
    for (script, key) in [
        ("let a = [1]; loop { a += a; }", "[limits] max_array_size"),
        (
            "let s = \"x\"; loop { s += s; }",
            "[limits] max_string_size",
        ),
        (
            "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
            "[limits] max_",
        ),
    ] {
        Test::new()
            .script(script)
            .run()
            .code(1)
            .stderr_has("raise ")
            .stderr_has(key);
    }
}

/// The API found at a URL is remembered for the next runs (beside the journal): a one-shot read
/// costs no round trip spent on asking which API it is. A memory gone stale (Airflow upgraded
/// since, or the other way round) is found out by the first call's 404, asked again, and mended.
#[test]
fn the_api_found_is_remembered_for_the_next_run_and_mended_when_stale() {
    let target = Target::fake(Scenario::Calm);
    let test = target.test(r#"print(`paused|${airflow.is_paused("flickr_workflow")}`);"#);
    test.run().success().stdout_has("paused|false");
    assert_eq!(
        requests(target.world()),
        vec![
            "GET /api/v2/version 404",
            "GET /api/v1/version 200",
            "GET /api/v1/dags/flickr_workflow 200",
        ]
    );
    let memory = test.path().join(".ovscript/airflow-api.json");
    assert!(std::fs::read_to_string(&memory).unwrap().contains("\"v1\""));
    test.run().success().stdout_has("paused|false");
    assert_eq!(
        requests(target.world())[3..],
        ["GET /api/v1/dags/flickr_workflow 200"],
        "the second run asks nothing more"
    );
    // Stale: the memory says Airflow 3 at this URL.
    let text = std::fs::read_to_string(&memory)
        .unwrap()
        .replace("\"v1\"", "\"v2\"");
    std::fs::write(&memory, text).unwrap();
    test.run().success().stdout_has("paused|false");
    assert_eq!(
        requests(target.world())[4..],
        [
            // The token a stale Airflow 3 would give is refused: the API is asked again.
            "POST /auth/token 404",
            "GET /api/v2/version 404",
            "GET /api/v1/version 200",
            "GET /api/v1/dags/flickr_workflow 200",
        ]
    );
    assert!(std::fs::read_to_string(&memory).unwrap().contains("\"v1\""));
}

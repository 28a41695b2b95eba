//! `tf.get`, `tf.set`, `tf.with` on a realistic infrastructure checkout, checked with the real
//! `terraform fmt` and `terraform validate` (installed by tools/install-tools.sh).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::{journal_events_lenient, Output, Test};
use ovscript::journal::Event;

const FILE: &str = "environments/prod/catalog-airflow.tf";
const FLAG: &str = "module.catalog-airflow.running_dags_cleared";

/// The production catalog as external-apis.md shows it, with the comments and alignment
/// `terraform fmt` gives it (the first test checks that it is fmt-clean to begin with).
const CATALOG: &str = r#"# The catalog (Airflow) in production.
# `just bump prod catalog-airflow` moves docker_image_tag to the newest release.

module "catalog-airflow" {
  source = "../../modules/services/catalog-airflow"

  docker_image_tag = "rel-2024.05.01.12.00.00"
  # true only for the apply of a deploy, once no DAG is running
  running_dags_cleared = false

  scheduler_replicas = 1   # one scheduler: the DAGs are not HA-safe
  worker_concurrency = 16  # task slots per worker
  cpu_per_worker     = 0.5 # vCPU

  environment = "production"
}
"#;

/// Two modules with the same flag: a bare `data_refresh_cleared` is ambiguous here.
const DATA_REFRESH: &str = r#"# The data refresh servers: one per media type, each cleared on its own.

module "image-data-refresh" {
  source               = "../../modules/services/data-refresh"
  media_type           = "image"
  data_refresh_cleared = false
}

module "audio-data-refresh" {
  source               = "../../modules/services/data-refresh"
  media_type           = "audio"
  data_refresh_cleared = false
}
"#;

/// Local modules with only variables: `terraform validate` checks the calls offline.
const CATALOG_MODULE: &str = r#"variable "docker_image_tag" {
  type        = string
  description = "The image to run, rel-YYYY.MM.DD.HH.MM.SS."
}

variable "running_dags_cleared" {
  type        = bool
  description = "true only for the apply of a deploy, once no DAG is running."
}

variable "scheduler_replicas" {
  type = number
}

variable "worker_concurrency" {
  type = number
}

variable "cpu_per_worker" {
  type = number
}

variable "environment" {
  type = string
}
"#;

const DATA_REFRESH_MODULE: &str = r#"variable "media_type" {
  type = string
}

variable "data_refresh_cleared" {
  type = bool
}
"#;

/// A working directory with the infrastructure checkout in `infra/`, configured, and `script`.
fn infra(script: &str) -> Test {
    Test::new()
        .file(&format!("infra/{FILE}"), CATALOG)
        .file("infra/environments/prod/data-refresh.tf", DATA_REFRESH)
        .file(
            "infra/modules/services/catalog-airflow/variables.tf",
            CATALOG_MODULE,
        )
        .file(
            "infra/modules/services/data-refresh/variables.tf",
            DATA_REFRESH_MODULE,
        )
        .env("OVSCRIPT_INFRA_DIR", "infra")
        .script(script)
}

fn infra_file(dir: &Path, file: &str) -> PathBuf {
    dir.join("infra").join(file)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(infra_file(dir, file)).unwrap()
}

/// The real terraform of tools/install-tools.sh (skipped without it, except under CI).
fn terraform() -> Option<PathBuf> {
    crate::test::tools_bin().map(|bin| bin.join("terraform"))
}

/// Runs `terraform ARGS` in `dir` and fails the test with its output unless it succeeds.
#[track_caller]
fn terraform_ok(terraform: &Path, dir: &Path, args: &[&str]) {
    let output = Command::new(terraform)
        .args(args)
        .current_dir(dir)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "terraform {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `terraform fmt -check` and `terraform validate` both accept the production folder.
#[track_caller]
fn terraform_accepts(terraform: &Path, dir: &Path) {
    let prod = dir.join("infra/environments/prod");
    terraform_ok(terraform, &prod, &["fmt", "-check", "-diff", "-no-color"]);
    terraform_ok(
        terraform,
        &prod,
        &["init", "-backend=false", "-input=false", "-no-color"],
    );
    terraform_ok(terraform, &prod, &["validate", "-no-color"]);
}

#[test]
fn set_changes_only_the_value_and_terraform_still_accepts_the_file() {
    let Some(terraform) = terraform() else { return };
    let test = infra("");
    terraform_accepts(&terraform, test.path());

    let set = |script: &str| {
        let test = infra(script);
        let out = test.run();
        out.success();
        terraform_accepts(&terraform, test.path());
        read(test.path(), FILE)
    };
    // By dotted path: the value's bytes change, nothing else.
    assert_eq!(
        set(&format!(
            r#"tf.set("{FILE}", "module.catalog-airflow.scheduler_replicas", 2);"#
        )),
        CATALOG.replace("= 1   # one", "= 2   # one")
    );
    // A clearance flag goes back to false, but tf.set never makes it true: only tf.with does,
    // around an apply, and it puts it back.
    let test = infra(&format!(r#"tf.set("{FILE}", "{FLAG}", false);"#));
    test.run().success();
    assert_eq!(read(test.path(), FILE), CATALOG);
    let test = infra(&format!(
        r#"tf.set("{FILE}", "running_dags_cleared", true);"#
    ));
    test.run().code(1).stderr_has(&format!(
        "tf.set would leave the clearance flag {FLAG} true in {FILE}: nothing was written. A clearance flag is true only while production applies"
    ));
    assert_eq!(read(test.path(), FILE), CATALOG);
    // By unique name, a string and an integer.
    assert_eq!(
        set(&format!(
            r#"tf.set("{FILE}", "docker_image_tag", "rel-2024.06.02.08.30.00");"#
        )),
        CATALOG.replace("rel-2024.05.01.12.00.00", "rel-2024.06.02.08.30.00")
    );
    assert_eq!(
        set(&format!(r#"tf.set("{FILE}", "worker_concurrency", 8);"#)),
        CATALOG.replace("= 16  #", "= 8   #")
    );
    // A wider value on a line whose comment is aligned with its neighbours': the spaces before
    // those comments move as `terraform fmt` wants, and only they.
    assert_eq!(
        set(&format!(r#"tf.set("{FILE}", "cpu_per_worker", 0.25);"#)),
        CATALOG
            .replace("= 1   # one", "= 1    # one")
            .replace("= 16  # task", "= 16   # task")
            .replace("= 0.5 # vCPU", "= 0.25 # vCPU")
    );
}

#[test]
fn get_reads_bools_numbers_and_strings_by_name_or_dotted_path() {
    infra(&format!(
        r#"
        for key in ["{FLAG}", "running_dags_cleared", "worker_concurrency", "cpu_per_worker", "module.catalog-airflow.docker_image_tag"] {{
            let value = tf.get("{FILE}", key);
            print(key + " = " + value + " (" + type_of(value) + ")");
        }}
        "#
    ))
    .run()
    .success()
    .stdout_has(&format!("{FLAG} = false (bool)"))
    .stdout_has("running_dags_cleared = false (bool)")
    .stdout_has("worker_concurrency = 16 (i64)")
    .stdout_has("cpu_per_worker = 0.5 (f64)")
    .stdout_has("docker_image_tag = rel-2024.05.01.12.00.00 (string)");
}

#[test]
fn get_takes_an_absolute_path_as_is() {
    let test = infra("");
    let absolute = infra_file(test.path(), FILE);
    let test = test.script(&format!(
        r#"print("tag " + tf.get("{}", "docker_image_tag"));"#,
        absolute.display()
    ));
    test.run()
        .success()
        .stdout_has("tag rel-2024.05.01.12.00.00");
}

#[test]
fn a_missing_key_lists_the_attributes_and_leaves_the_file_alone() {
    let out = infra(&format!(
        r#"tf.set("{FILE}", "module.catalog-airflow.running_dag_cleared", true);"#
    ))
    .run();
    out.code(1)
        .stderr_has("no attribute `module.catalog-airflow.running_dag_cleared` in ")
        .stderr_has(FILE)
        .stderr_has("module.catalog-airflow.source (line 5)")
        .stderr_has("module.catalog-airflow.running_dags_cleared (line 9)")
        .stderr_has("script.rhai:1:");
    assert_eq!(read(&out.dir, FILE), CATALOG);
    assert!(!out
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileChange { .. })));
}

#[test]
fn an_ambiguous_key_lists_the_dotted_paths_and_leaves_the_file_alone() {
    let file = "environments/prod/data-refresh.tf";
    let out = infra(&format!(
        r#"tf.set("{file}", "data_refresh_cleared", true);"#
    ))
    .run();
    out.code(1)
        .stderr_has("`data_refresh_cleared` is ambiguous in ")
        .stderr_has(file)
        .stderr_has("module.image-data-refresh.data_refresh_cleared (line 6), module.audio-data-refresh.data_refresh_cleared (line 12)");
    assert_eq!(read(&out.dir, file), DATA_REFRESH);

    // The dotted path picks one of them.
    let out = infra(&format!(
        r#"tf.with("{file}", "module.audio-data-refresh.data_refresh_cleared", true, || print(`audio=${{tf.get("{file}", "module.audio-data-refresh.data_refresh_cleared")}} image=${{tf.get("{file}", "module.image-data-refresh.data_refresh_cleared")}}`));"#
    ))
    .run();
    out.success().stdout_has("audio=true image=false");
    assert_eq!(read(&out.dir, file), DATA_REFRESH);
}

#[test]
fn an_unparseable_file_names_the_line_and_column() {
    let broken = CATALOG.replace("worker_concurrency = 16", "worker_concurrency = = 16");
    let out = infra(&format!(r#"tf.get("{FILE}", "{FLAG}");"#))
        .file(&format!("infra/{FILE}"), &broken)
        .run();
    out.code(1)
        .stderr_has("cannot parse ")
        .stderr_has(&format!("{FILE}: line 12, column 24:"))
        .stderr_has("(`worker_concurrency = = 16  # task slots per worker`)");
    assert_eq!(read(&out.dir, FILE), broken);
}

#[test]
fn a_missing_file_is_a_clear_error() {
    infra(r#"tf.set("environments/prod/catalog.tf", "running_dags_cleared", true);"#)
        .run()
        .code(1)
        .stderr_has("infra/environments/prod/catalog.tf does not exist: check the path (a relative path is taken from the infrastructure checkout");
    infra(r#"tf.get("/nowhere/catalog-airflow.tf", "running_dags_cleared");"#)
        .run()
        .code(1)
        .stderr_has("/nowhere/catalog-airflow.tf does not exist: check the path\n");
}

/// Tests may run as root, for whom permission bits do not stop a write; `tf.set` refuses by the
/// bits themselves (the operator made the file read-only on purpose), so this holds for root too.
#[test]
fn a_read_only_file_or_folder_is_refused_and_left_alone() {
    let set = format!(r#"tf.set("{FILE}", "docker_image_tag", "rel-2");"#);

    let test = infra(&set);
    let file = infra_file(test.path(), FILE);
    chmod(&file, 0o444);
    let out = test.run();
    chmod(&file, 0o644);
    out.code(1).stderr_has(&format!(
        "{FILE} is read-only: make it writable (chmod u+w)"
    ));
    assert_eq!(read(&out.dir, FILE), CATALOG);

    let test = infra(&set);
    let folder = infra_file(test.path(), "environments/prod");
    chmod(&folder, 0o555);
    let out = test.run();
    chmod(&folder, 0o755);
    out.code(1)
        .stderr_has("environments/prod is read-only, and an atomic write of ")
        .stderr_has("needs a temporary file there");
    assert_eq!(read(&out.dir, FILE), CATALOG);
    let leftovers: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_write_keeps_the_permissions_and_leaves_no_temporary_file() {
    let test = infra(&format!(
        r#"tf.set("{FILE}", "docker_image_tag", "rel-2");"#
    ));
    let file = infra_file(test.path(), FILE);
    chmod(&file, 0o640);
    test.run().success();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn with_restores_the_original_bytes_after_success_throw_and_a_failing_call() {
    let bodies = [
        (
            r#"|| { print("inside: " + tf.get(f, "running_dags_cleared")); 42 }"#,
            0,
        ),
        (r#"|| { throw "the apply failed"; }"#, 1),
        (r#"|| tf.get(f, "no_such_flag")"#, 1),
    ];
    for (body, code) in bodies {
        let out = infra(&format!(
            r#"let f = "{FILE}"; let value = tf.with(f, "{FLAG}", true, {body}); print("returned " + value);"#
        ))
        .run();
        out.code(code)
            .stdout_has(&format!("set {FLAG} = true in {FILE} (was false)"))
            .stdout_has(&format!("restored {FLAG} = false in {FILE}"));
        assert_eq!(read(&out.dir, FILE), CATALOG, "after {body}");
        if code == 0 {
            out.stdout_has("inside: true").stdout_has("returned 42");
        }
    }
    infra(&format!(
        r#"tf.with("{FILE}", "{FLAG}", true, || {{ throw "the apply failed"; }});"#
    ))
    .run()
    .code(1)
    .stderr_has("the apply failed");
}

#[test]
fn with_keeps_a_change_made_during_the_block_and_restores_only_its_key() {
    let out = infra(&format!(
        r#"let f = "{FILE}"; tf.with(f, "{FLAG}", true, || tf.set(f, "docker_image_tag", "rel-2024.06.02.08.30.00"));"#
    ))
    .run();
    out.success()
        .stderr_has(&format!(
            "{FILE} changed during the block: restoring only {FLAG} and keeping the other changes"
        ))
        .stdout_has(&format!("restored {FLAG} = false in {FILE}"));
    assert_eq!(
        read(&out.dir, FILE),
        CATALOG.replace("rel-2024.05.01.12.00.00", "rel-2024.06.02.08.30.00")
    );
}

#[test]
fn a_dry_run_leaves_the_file_alone_and_says_what_it_would_do() {
    let out = infra(&format!(
        r#"let f = "{FILE}";
        tf.set(f, "docker_image_tag", "rel-2024.06.02.08.30.00");
        tf.with(f, "{FLAG}", true, || print("the block ran"));"#
    ))
    .flag("--dry-run")
    .run();
    out.success()
        .stdout_has(&format!("would: set module.catalog-airflow.docker_image_tag = \"rel-2024.06.02.08.30.00\" in {FILE} (was \"rel-2024.05.01.12.00.00\")"))
        .stdout_has(&format!("would: set {FLAG} = true in {FILE} (was false)"))
        .stdout_has("the block ran")
        .stdout_has(&format!("would: restore {FLAG} = false in {FILE}"));
    assert_eq!(read(&out.dir, FILE), CATALOG);
    assert!(!out
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileChange { .. })));
}

#[test]
fn the_journal_has_each_change_with_its_before_and_after_values() {
    let out = infra(&format!(
        r#"let f = "{FILE}";
        tf.set(f, "worker_concurrency", 8);
        tf.with(f, "{FLAG}", true, || ());"#
    ))
    .run();
    out.success();
    let changes: Vec<_> = out
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::FileChange {
                file,
                key,
                reason,
                before,
                after,
                ..
            } => Some((key, reason, before, after, file)),
            _ => None,
        })
        .collect();
    let line = |key: &str, reason: &str, before, after| {
        (
            key.to_string(),
            reason.to_string(),
            before,
            after,
            FILE.to_string(),
        )
    };
    assert_eq!(
        changes,
        vec![
            line(
                "module.catalog-airflow.worker_concurrency",
                "set",
                serde_json::json!(16),
                serde_json::json!(8)
            ),
            line(
                FLAG,
                "set",
                serde_json::json!(false),
                serde_json::json!(true)
            ),
            line(
                FLAG,
                "restore",
                serde_json::json!(true),
                serde_json::json!(false)
            ),
        ]
    );
}

#[test]
fn ctrl_c_inside_with_restores_the_file_and_exits_130() {
    let test = infra(&format!(
        r#"tf.with("{FILE}", "{FLAG}", true, || {{ wait_until("forever", 600, 1, || false) }});"#
    ));
    let child = test
        .prepare(&["run", "script.rhai"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_journal_event(test.path(), "wait start", |e| {
        matches!(e, Event::WaitStart { .. })
    });
    assert_eq!(
        read(test.path(), FILE),
        CATALOG.replace(
            "running_dags_cleared = false",
            "running_dags_cleared = true"
        ),
        "the flag is set while the block runs"
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout)
        .contains(&format!("restored {FLAG} = false in {FILE}")));
    assert_eq!(read(test.path(), FILE), CATALOG);
}

/// Waits until the journals in `dir` show an event that `seen` accepts (`what`, for the failure).
fn wait_for_journal_event(dir: &Path, what: &str, seen: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !journal_events_lenient(dir).iter().any(&seen) {
        assert!(Instant::now() < deadline, "no {what} in the journal");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_tf_functions_are_documented_and_checked() {
    let out: Output = Test::new().command(&["doc", "tf"]);
    out.success()
        .stdout_has("tf.get(file: String, key: String)")
        .stdout_has("tf.set(file: String, key: String, value: Dynamic)")
        .stdout_has("tf.with(file: String, key: String, value: Dynamic, body: FnPtr)");
    infra(&format!(
        r#"tf.with("{FILE}", "{FLAG}", true, || tf.get("{FILE}", "{FLAG}"));"#
    ))
    .command(&["check", "script.rhai"])
    .success();
}

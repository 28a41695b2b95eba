//! A deploy survives its terminal: Ctrl-C through `| tee`, a terminal that hangs up, signals to
//! the whole process group, `timeout`, a CI runner's cancel, and output that cannot be written.
//! Each runs the catalog runbook's rehearsal with a terraform-like apply (templates/infra's
//! `OVSCRIPT_REHEARSE_APPLY_SIGNALS`) that logs every signal it receives and "loses its state" on
//! a second one; then checks the exit code, the absence of a panic, the flag, the lock, the
//! DAGs, the journal's ending and the signal log.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovscript::journal::Event;

use crate::rehearsal::repo_file;
use crate::test::{journal_events_lenient, path_with, tools_bin, Test};

/// A rehearsal of the catalog deploy whose apply takes `apply_seconds` and logs its signals.
struct Deploy {
    test: Test,
    scenario: &'static str,
}

impl Deploy {
    fn new(scenario: &'static str, apply_seconds: u32) -> Option<Deploy> {
        let bin = tools_bin()?;
        let test = Test::new();
        let log = test.path().join("signals.log");
        let test = test
            .env("PATH", &path_with(&bin))
            .env("OVSCRIPT_REHEARSE_APPLY_SIGNALS", log.to_str().unwrap())
            .env("OVSCRIPT_REHEARSE_APPLY_SLEEP", &apply_seconds.to_string());
        Some(Deploy { test, scenario })
    }

    fn dir(&self) -> &Path {
        self.test.path()
    }

    /// `ovscript run --rehearse=SCENARIO --yes scripts/catalog.rhai` as argv.
    fn argv(&self) -> Vec<String> {
        vec![
            env!("CARGO_BIN_EXE_ovscript").to_string(),
            "run".into(),
            format!("--rehearse={}", self.scenario),
            "--yes".into(),
            repo_file("scripts/catalog.rhai"),
        ]
    }

    /// The run as a child of its own process group (no terminal), its output piped.
    fn spawn(&self) -> Child {
        let argv = self.argv();
        let mut command = self.test.prepare(&argv[1..]);
        command.stdin(Stdio::null()).process_group(0);
        command.spawn().expect("spawn ovscript")
    }

    /// Waits until the apply has started (its signal log says so).
    fn wait_for_the_apply(&self) {
        wait_until("the apply to start", || {
            self.signals().first().is_some_and(|l| l == "started")
        });
        std::thread::sleep(Duration::from_millis(300));
    }

    /// What the apply logged: `started`, each signal, then how it ended.
    fn signals(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir().join("signals.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn rehearsal_dir(&self) -> PathBuf {
        std::fs::read_dir(self.dir().join(".ovscript/rehearsals"))
            .expect("a rehearsal")
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// The run left everything as it found it: flag false, lock gone, DAGs unpaused, and the
    /// journal ends with `outcome`.
    fn left_it_safe(&self, outcome: &str, context: &str) {
        let tf = std::fs::read_to_string(
            self.rehearsal_dir()
                .join("infra/environments/prod/catalog-airflow.tf"),
        )
        .unwrap();
        assert!(
            tf.contains("running_dags_cleared = false"),
            "the flag is left set: {context}"
        );
        let branches = Command::new("git")
            .args(["for-each-ref", "--format=%(refname:short)", "refs/heads"])
            .current_dir(self.rehearsal_dir().join("origin.git"))
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&branches.stdout).contains("deploy-lock"),
            "the lock is held: {context}"
        );
        let events = journal_events_lenient(self.dir());
        let mut paused: Vec<(String, bool)> = Vec::new();
        for event in &events {
            if let Event::AirflowPause {
                dag_id, is_paused, ..
            } = event
            {
                paused.retain(|(d, _)| d != dag_id);
                paused.push((dag_id.clone(), *is_paused));
            }
        }
        assert!(
            paused.iter().all(|(_, p)| !p),
            "DAGs left paused {paused:?}: {context}"
        );
        let ends: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                Event::RunEnd { outcome, .. } => Some(outcome.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(ends, [outcome], "the journal's ending: {context}");
    }
}

fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no {what} after 90s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(target: &str, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {target}");
}

/// The whole output of a finished child, and its code.
fn finish(child: Child) -> (Option<i32>, String) {
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// The run exited `code`, the apply got one SIGINT and stopped cleanly, and everything was put
/// back.
fn stopped_once(deploy: &Deploy, got: Option<i32>, code: i32, outcome: &str, text: &str) {
    assert_eq!(got, Some(code), "{text}");
    no_panic(text);
    assert_eq!(
        deploy.signals(),
        ["started", "INT", "stopped cleanly"],
        "{text}"
    );
    deploy.left_it_safe(outcome, text);
}

fn no_panic(text: &str) {
    for bad in [
        "panicked",
        "Broken pipe",
        "RUST_BACKTRACE",
        "failed printing",
    ] {
        assert!(!text.contains(bad), "{bad}:\n{text}");
    }
}

/// Runs `command` on a real pseudo-terminal (tests/terminal/drive.py): once `wait_file` holds
/// `wait_text`, does `action`; returns the exit code and what the terminal showed.
fn on_a_terminal(
    deploy: &Deploy,
    action: &str,
    (wait_file, wait_text): (&Path, &str),
    command: &[String],
) -> (Option<i32>, String) {
    let result = deploy.dir().join("terminal.json");
    // The test's environment for ovscript (prepare's), given to the driver and so to the run.
    let environment = deploy.test.prepare::<&str>(&[]);
    let mut python = Command::new("python3");
    python
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/terminal/drive.py"))
        .args([
            action,
            wait_file.to_str().unwrap(),
            wait_text,
            result.to_str().unwrap(),
        ])
        .args(command)
        .current_dir(deploy.dir())
        .envs(environment.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm");
    for (name, value) in environment.get_envs() {
        if value.is_none() {
            python.env_remove(name);
        }
    }
    let status = python.status().expect("python3 runs the terminal driver");
    assert!(status.success(), "the terminal driver failed");
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(result).unwrap()).unwrap();
    (
        result["code"].as_i64().map(|c| c as i32),
        result["output"].as_str().unwrap_or_default().to_string(),
    )
}

/// Writes `published` to the file `waiting` once the run published its release (it then waits
/// for the image in `image-late`): the moment to act "early".
fn mark_the_publish(deploy: &Deploy) -> (std::thread::JoinHandle<()>, PathBuf) {
    let dir = deploy.dir().to_path_buf();
    let waiting = dir.join("waiting");
    let mark = waiting.clone();
    let watcher = std::thread::spawn(move || {
        wait_until("the publish", || {
            journal_events_lenient(&dir)
                .iter()
                .any(|e| matches!(e, Event::GithubReleasePublished { .. }))
        });
        std::fs::write(mark, "published").unwrap();
    });
    (watcher, waiting)
}

/// A shell line that runs the deploy piped through `tee` and writes ovscript's own exit code
/// to `code` (the subshell waits for ovscript, which handles the Ctrl-C and exits normally).
fn through_tee(deploy: &Deploy) -> Vec<String> {
    let quoted: Vec<String> = deploy.argv().iter().map(|a| format!("'{a}'")).collect();
    vec![
        "bash".into(),
        "-c".into(),
        format!(
            "( {}; echo $? > code ) 2>&1 | tee deploy.log",
            quoted.join(" ")
        ),
    ]
}

fn tee_code(deploy: &Deploy) -> Option<i32> {
    wait_until("ovscript's exit code", || {
        deploy.dir().join("code").exists()
    });
    std::fs::read_to_string(deploy.dir().join("code"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn ctrl_c_through_tee_during_the_apply_interrupts_it_once_and_puts_everything_back() {
    let Some(deploy) = Deploy::new("sensor-waiting", 30) else {
        return;
    };
    let log = deploy.dir().join("signals.log");
    let (_, shown) = on_a_terminal(&deploy, "ctrl-c", (&log, "started"), &through_tee(&deploy));
    stopped_once(&deploy, tee_code(&deploy), 130, "interrupted", &shown);
}

#[test]
fn ctrl_c_through_tee_early_stops_before_any_change_and_never_panics() {
    // image-late: the run waits for the image; Ctrl-C there kills tee too.
    let Some(deploy) = Deploy::new("image-late", 30) else {
        return;
    };
    let (watcher, waiting) = mark_the_publish(&deploy);
    let (_, shown) = on_a_terminal(
        &deploy,
        "ctrl-c",
        (&waiting, "published"),
        &through_tee(&deploy),
    );
    watcher.join().unwrap();
    assert_eq!(tee_code(&deploy), Some(130), "{shown}");
    no_panic(&shown);
    assert!(
        deploy.signals().is_empty(),
        "the apply ran: {:?}",
        deploy.signals()
    );
    deploy.left_it_safe("interrupted", &shown);
}

#[test]
fn signals_to_the_whole_group_reach_the_apply_once() {
    for (signal, code, outcome) in [
        ("INT", 130, "interrupted"),
        ("TERM", 143, "terminated"),
        ("QUIT", 130, "interrupted"),
    ] {
        let Some(deploy) = Deploy::new("calm", 30) else {
            return;
        };
        let child = deploy.spawn();
        deploy.wait_for_the_apply();
        kill(&format!("-{}", child.id()), signal);
        let (got, text) = finish(child);
        stopped_once(
            &deploy,
            got,
            code,
            outcome,
            &format!("SIG{signal}:\n{text}"),
        );
    }
}

#[test]
fn timeout_and_a_ci_runners_cancel_interrupt_the_apply_once() {
    // `timeout` signals ovscript, then its whole group: one interruption. Its 15 s end in the
    // middle of the 40 s apply.
    let Some(deploy) = Deploy::new("calm", 40) else {
        return;
    };
    let mut argv = vec!["-s".to_string(), "INT".into(), "--preserve-status".into()];
    argv.push("15".into());
    argv.extend(deploy.argv());
    let environment = deploy.test.prepare::<&str>(&[]);
    let mut timeout = Command::new("timeout");
    timeout
        .args(&argv)
        .current_dir(deploy.dir())
        .envs(environment.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = timeout.spawn().unwrap();
    let (got, text) = finish(child);
    stopped_once(&deploy, got, 130, "interrupted", &text);

    // A runner's cancel: SIGINT, SIGTERM 7.5 s later, then SIGKILL 2.5 s after that. The apply
    // takes 8 s to stop cleanly: the SIGTERM comes while ovscript waits for it, and must
    // neither reach it nor hurry it; ovscript puts everything back before the SIGKILL.
    let Some(deploy) = Deploy::new("calm", 30) else {
        return;
    };
    let deploy = Deploy {
        test: deploy.test.env("OVSCRIPT_REHEARSE_APPLY_STOP_SECONDS", "8"),
        ..deploy
    };
    let child = deploy.spawn();
    deploy.wait_for_the_apply();
    let group = format!("-{}", child.id());
    kill(&group, "INT");
    let pid = child.id();
    let cancel = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(7500));
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if alive {
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            std::thread::sleep(Duration::from_millis(2500));
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        }
    });
    let (got, text) = finish(child);
    let _ = cancel.join();
    assert!(
        text.contains("interrupted (SIGTERM) again"),
        "no SIGTERM came:\n{text}"
    );
    stopped_once(&deploy, got, 130, "interrupted", &text);
}

#[test]
fn a_terminal_that_hangs_up_before_the_apply_stops_the_run_with_no_further_change() {
    let Some(deploy) = Deploy::new("image-late", 30) else {
        return;
    };
    let (watcher, waiting) = mark_the_publish(&deploy);
    let (code, _) = on_a_terminal(&deploy, "hangup", (&waiting, "published"), &deploy.argv());
    watcher.join().unwrap();
    assert_eq!(code, Some(129));
    // No bump, no apply after the hangup.
    assert!(deploy.signals().is_empty());
    let events = journal_events_lenient(deploy.dir());
    assert!(
        !events.iter().any(|e| matches!(e, Event::JustStart { .. })),
        "a recipe ran after the hangup"
    );
    deploy.left_it_safe("terminal-lost", "hangup during the image wait");
}

#[test]
fn output_that_cannot_be_written_never_stops_the_deploy() {
    // ENOSPC: stdout and stderr on a full disk.
    let Some(deploy) = Deploy::new("calm", 1) else {
        return;
    };
    let argv = deploy.argv();
    let mut command = deploy.test.prepare(&argv[1..]);
    command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(std::fs::File::create("/dev/full").unwrap());
    let status = command.status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(deploy.signals(), ["started", "finished"]);
    deploy.left_it_safe("ok", "stdout on /dev/full");
    let events = journal_events_lenient(deploy.dir());
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::OutputLost { error, .. } if error.contains("No space"))));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Unshown { text, .. } if text.contains("summary"))));

    // EPIPE: a reader that went away (`| head -1`).
    let Some(deploy) = Deploy::new("calm", 1) else {
        return;
    };
    let argv = deploy.argv();
    let mut command = deploy.test.prepare(&argv[1..]);
    command.stdin(Stdio::null());
    let mut child = command.spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    no_panic(&stderr);
    assert_eq!(deploy.signals(), ["started", "finished"], "{stderr}");
    deploy.left_it_safe("ok", &stderr);
}

/// The events that change the world after the apply's start: none may follow a hangup but the
/// undo (the flag restored, the DAGs unpaused, the lock released).
fn changes_after_the_apply(dir: &Path) -> Vec<Event> {
    journal_events_lenient(dir)
        .into_iter()
        .skip_while(|e| !matches!(e, Event::JustStart { recipe, .. } if recipe == "apply"))
        .skip(1)
        .filter(|e| {
            matches!(
                e,
                Event::JustStart { .. }
                    | Event::GithubReleasePublished { .. }
                    | Event::GithubPrApproved { .. }
                    | Event::GithubPrOpened { .. }
                    | Event::GithubWorkflowDispatched { .. }
                    | Event::LockTaken { .. }
            )
        })
        .collect()
}

#[test]
fn a_terminal_that_hangs_up_during_the_apply_lets_it_finish_then_puts_everything_back() {
    // ovscript leads the terminal's session (the kernel's SIGHUP goes to it): its apply runs on
    // a terminal of its own and is not touched; its question gets no answer.
    let Some(deploy) = Deploy::new("sensor-waiting", 4) else {
        return;
    };
    let log = deploy.dir().join("signals.log");
    let (code, _) = on_a_terminal(&deploy, "hangup", (&log, "started"), &deploy.argv());
    assert_eq!(code, Some(129));
    assert_eq!(deploy.signals(), ["started", "finished"]);
    assert_eq!(changes_after_the_apply(deploy.dir()), []);
    deploy.left_it_safe("terminal-lost", "hangup during the apply");

    // Behind `| tee`, the shell leads the session: it and tee die, ovscript goes on alone.
    let Some(deploy) = Deploy::new("sensor-waiting", 4) else {
        return;
    };
    let log = deploy.dir().join("signals.log");
    on_a_terminal(&deploy, "hangup", (&log, "started"), &through_tee(&deploy));
    wait_until("the run's end", || {
        journal_events_lenient(deploy.dir())
            .iter()
            .any(|e| matches!(e, Event::RunEnd { .. }))
    });
    assert_eq!(deploy.signals(), ["started", "finished"]);
    assert_eq!(changes_after_the_apply(deploy.dir()), []);
    deploy.left_it_safe("terminal-lost", "hangup behind tee during the apply");
}

#[test]
fn a_journal_that_fills_its_disk_stops_the_run_before_its_next_change() {
    // The journal's folder on a 64 KiB tmpfs with one page left, in a mount namespace of the
    // run's own (root, as CI is).
    let Some(deploy) = Deploy::new("calm", 1) else {
        return;
    };
    std::fs::create_dir_all(deploy.dir().join(".ovscript/journal")).unwrap();
    let quoted: Vec<String> = deploy.argv().iter().map(|a| format!("'{a}'")).collect();
    let line = format!(
        "mount -t tmpfs -o size=64k tmpfs .ovscript/journal && dd if=/dev/zero of=.ovscript/journal/filler bs=4096 count=15 2>/dev/null && exec {}",
        quoted.join(" ")
    );
    let environment = deploy.test.prepare::<&str>(&[]);
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", &line])
        .current_dir(deploy.dir())
        .envs(environment.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write the journal") && stderr.contains("No space left"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped: the journal cannot be written"),
        "{stderr}"
    );
    assert!(stderr.contains("lacks this run's last events"), "{stderr}");
    assert!(!stderr.contains("to go on from here"), "{stderr}");
    no_panic(&stderr);
    // It stopped before any change to the world; the lock it took is released.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("API calls that changed state:\n    (none)"),
        "{stdout}"
    );
    assert!(deploy.signals().is_empty());
    let branches = Command::new("git")
        .args(["for-each-ref", "--format=%(refname:short)", "refs/heads"])
        .current_dir(deploy.rehearsal_dir().join("origin.git"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&branches.stdout).trim(), "main");
}

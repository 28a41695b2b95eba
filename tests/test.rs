//! The scenario builder every integration test uses: a scratch working directory, a script,
//! flags and environment, the real `ovscript` binary, and what a user would see.

#![allow(dead_code)]

use ovscript::journal::Event;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_ovscript");

#[derive(Clone)]
pub struct Test {
    pub dir: std::sync::Arc<tempfile::TempDir>,
    args: Vec<String>,
    script_args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    script: Option<String>,
}

impl Default for Test {
    fn default() -> Self {
        Test::new()
    }
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: std::sync::Arc::new(tempfile::tempdir().expect("temp dir")),
            args: Vec::new(),
            script_args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            script: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `script.rhai` in the working directory; `run` runs it.
    pub fn script(mut self, text: &str) -> Test {
        self.write("script.rhai", text);
        self.script = Some("script.rhai".into());
        self
    }

    /// Writes a file (folders made as needed) relative to the working directory.
    pub fn file(self, path: &str, text: &str) -> Test {
        self.write(path, text);
        self
    }

    fn write(&self, path: &str, text: &str) {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    /// A flag for `ovscript run` (before the script path).
    pub fn flag(mut self, flag: &str) -> Test {
        self.args.push(flag.into());
        self
    }

    /// An argument the script sees in `args`.
    pub fn arg(mut self, arg: &str) -> Test {
        self.script_args.push(arg.into());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Test {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Every service of the configuration pointed at the simulated `world` (Airflow, Sentry,
    /// GitHub, the registry), with the world's credentials.
    pub fn world(self, world: &ovscript::world::World) -> Test {
        let creds = world.credentials();
        self.env("OVSCRIPT_AIRFLOW_URL", &world.airflow_url())
            .env("OVSCRIPT_AIRFLOW_USER", &creds.airflow_user)
            .env("OVSCRIPT_AIRFLOW_PASSWORD", &creds.airflow_password)
            .env("OVSCRIPT_SENTRY_URL", &world.sentry_url())
            .env("OVSCRIPT_SENTRY_ORG", world.sentry_org())
            .env("OVSCRIPT_SENTRY_PROJECT", world.sentry_project())
            .env("OVSCRIPT_SENTRY_TOKEN", &creds.sentry_token)
            .env("OVSCRIPT_GITHUB_URL", &world.github_url())
            .env("OVSCRIPT_GITHUB_REPO", world.github_repo())
            .env("OVSCRIPT_GITHUB_INFRA_REPO", world.github_infra_repo())
            .env("OVSCRIPT_GITHUB_TOKEN", &creds.github_token)
            .env("OVSCRIPT_REGISTRY_URL", &world.registry_url())
            .env("OVSCRIPT_SLACK_WEBHOOK", &world.slack_url())
    }

    pub fn stdin(mut self, text: &str) -> Test {
        self.stdin = Some(text.into());
        self
    }

    /// `ovscript run [flags] script.rhai [-- args]`.
    pub fn run(&self) -> Output {
        let script = self.script.clone().expect("Test::script first");
        let mut argv = vec!["run".to_string()];
        argv.extend(self.args.iter().cloned());
        argv.push(script);
        if !self.script_args.is_empty() {
            argv.push("--".into());
            argv.extend(self.script_args.iter().cloned());
        }
        self.command(&argv)
    }

    /// Any `ovscript` command line, in the working directory.
    pub fn command<S: AsRef<str>>(&self, argv: &[S]) -> Output {
        let mut command = self.prepare(argv);
        command.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command.spawn().expect("spawn ovscript");
        if let Some(input) = &self.stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        self.output_of(wait_with_timeout(child, Duration::from_secs(120)))
    }

    /// Another program (the real `just`) with the test's directory and environment, as an
    /// operator would run it there.
    pub fn program<S: AsRef<str>>(&self, program: &str, argv: &[S]) -> Output {
        self.program_in(self.dir.path(), program, argv)
    }

    /// The same, run in the folder `dir` (below the working directory, say).
    pub fn program_in<S: AsRef<str>>(&self, dir: &Path, program: &str, argv: &[S]) -> Output {
        let command = self.prepare(argv);
        let mut other = Command::new(program);
        other
            .args(argv.iter().map(|a| a.as_ref()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => other.env(name, value),
                None => other.env_remove(name),
            };
        }
        self.output_of(wait_with_timeout(
            other.spawn().expect("spawn"),
            Duration::from_secs(120),
        ))
    }

    /// What a finished process showed, kept with the working directory it ran in.
    fn output_of(&self, output: std::process::Output) -> Output {
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir.path().to_path_buf(),
            _keep: self.dir.clone(),
        }
    }

    /// The command, not started (for tests that signal the child).
    pub fn prepare<S: AsRef<str>>(&self, argv: &[S]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(argv.iter().map(|a| a.as_ref()))
            .current_dir(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The developer's own configuration must not leak into a test.
        for (name, _) in std::env::vars() {
            if name.starts_with("OVSCRIPT_") && !name.starts_with("OVSCRIPT_TEST_") {
                command.env_remove(name);
            }
        }
        command.env("NO_COLOR", "1");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }
}

fn wait_with_timeout(child: std::process::Child, limit: Duration) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("wait for ovscript"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("ovscript did not finish within {limit:?}");
        }
    }
}

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
    /// Keeps the working directory alive as long as its output is looked at.
    pub _keep: std::sync::Arc<tempfile::TempDir>,
}

impl Output {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Output {
        assert_eq!(
            self.code,
            Some(expected),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Output {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Output {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Output {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, text: &str) -> &Output {
        assert!(
            !self.stdout.contains(text),
            "stdout shows {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn lacks(&self, text: &str) -> &Output {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "output shows {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Every event of every journal written in the working directory, in run order.
    pub fn events(&self) -> Vec<Event> {
        journal_events(&self.dir)
    }

    /// The run id of the newest journal.
    pub fn run_id(&self) -> String {
        let mut files = journal_files(&self.dir);
        files.sort();
        files
            .last()
            .expect("a journal")
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

pub fn journal_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join(".ovscript/journal"))
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Every line of every journal in `dir`, in run order, read as a `T`.
fn journal_lines_as<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    let mut files = journal_files(dir);
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", f.display()))
                })
                .collect::<Vec<T>>()
        })
        .collect()
}

/// Every event of every journal in `dir`, in run order (`ts` is not part of an event).
pub fn journal_events(dir: &Path) -> Vec<Event> {
    journal_lines_as(dir)
}

/// Every line of every journal in `dir` as raw JSON, in run order, parallel to
/// `journal_events`: only for what an `Event` cannot tell, such as whether a field with a
/// default was written at all.
pub fn journal_lines(dir: &Path) -> Vec<Value> {
    journal_lines_as(dir)
}

/// The raw text of every journal in `dir`, for "never appears" checks.
pub fn journal_text(dir: &Path) -> String {
    journal_files(dir)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// Like `journal_events`, but for a live run: a last line still being written is skipped.
pub fn journal_events_lenient(dir: &Path) -> Vec<Event> {
    let mut files = journal_files(dir);
    files.sort();
    files
        .iter()
        .flat_map(|f| journal_file_events_lenient(f))
        .collect()
}

/// The events of one journal file that may still be written: only the lines ended by their
/// newline are read (a line is written before its newline, so a partial one has none yet).
pub fn journal_file_events_lenient(file: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line is an event"))
        .collect()
}

/// The real `just` and `terraform` that tools/install-tools.sh puts in `.tools/venv/bin`. Not
/// installed: the caller skips its test with a message, except in CI, where that is a failure.
pub fn tools_bin() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin");
    if dir.join("just").is_file() && dir.join("terraform").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "just and terraform are not in {}: CI must run tools/install-tools.sh first",
        dir.display()
    );
    eprintln!("skipped: just and terraform are not installed; run tools/install-tools.sh");
    None
}

/// PATH with `dir` first.
pub fn path_with(dir: &Path) -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", dir.display())
}

/// The first line of a script that changes production: its deployment declared and taken over
/// (leftovers checked, the deploy lock taken), as the host requires. Needs `Test::deploying`.
pub const TAKES_OVER: &str = r#"let deploying = deployment(#{ app: "catalog", service: "catalog-airflow", flag: "running_dags_cleared", check: || [] }); deploying.take_over();"#;

impl Test {
    /// An infrastructure checkout of templates/infra in `infra/`, with a bare `origin.git`
    /// beside it (where the deploy lock lives), configured as the run's: what `TAKES_OVER` needs.
    pub fn deploying(self) -> Test {
        lay_out_infra(&self.path().join("infra"), &self.path().join("origin.git"));
        self.env("OVSCRIPT_INFRA_DIR", "infra")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@x")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@x")
    }
}

/// git in `dir`, which must succeed; its output, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Copies templates/infra into `dir` and makes it a clone of a bare `origin` at `origin`.
pub fn lay_out_infra(dir: &Path, origin: &Path) {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/infra");
    copy_dir(&template, dir);
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    git(dir, &["add", "--all"]);
    git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@x",
            "commit",
            "--quiet",
            "-m",
            "infra",
        ],
    );
    git(
        dir.parent().unwrap(),
        &["init", "--quiet", "--bare", origin.to_str().unwrap()],
    );
    git(dir, &["remote", "add", "origin", origin.to_str().unwrap()]);
    git(dir, &["push", "--quiet", "origin", "main"]);
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

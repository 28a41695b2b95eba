//! `git`: the few git steps a runbook needs (branch, commit, push), run in the infrastructure
//! checkout with an argv (never a shell string). Reads always run, so that a dry run's plan is
//! true; every change is said instead of made in a dry run, and journaled when made.

use rhai::{Array, Dynamic, Engine};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::journal::Event;
use crate::objects::Objects;
use crate::shell::shell_words;

/// Output meant for a person or a parser must not depend on the operator's git configuration.
const STABLE_OUTPUT: &[&str] = &["-c", "color.ui=never", "-c", "core.quotepath=off"];

const READ_HINT: &str = "run the same git command in that directory to see more";

/// The porcelain status of paths, untracked files listed one by one (not as their folder).
const STATUS_PORCELAIN: &[&str] = &["status", "--porcelain=v1", "-z", "--untracked-files=all"];

/// The `git` object: a handle on the infrastructure checkout (cheap to clone).
#[derive(Clone)]
pub struct Git {
    ctx: Ctx,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Git>("Git");
    objects.insert("git", Dynamic::from(Git::new(ctx)));
    engine.register_global_module(rhai::exported_module!(git_api).into());
}

/// The `git` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod git_api {
    use super::*;

    /// The current branch of the infrastructure checkout (`HEAD` when detached).
    ///
    /// ```rhai
    /// if git.branch() != "main" { warn("not on main") }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn branch(git: Git) -> HostResult<String> {
        git.branch()
    }

    /// `git status --short` of the infrastructure checkout: one line per changed file, empty when clean.
    ///
    /// ```rhai
    /// if git.status() != "" { print(git.status()) }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn status(git: Git) -> HostResult<String> {
        git.read(&["status", "--short"])
    }

    /// `git diff HEAD`: the changes to tracked files, staged or not, as a patch.
    ///
    /// ```rhai
    /// print(git.diff());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn diff(git: Git) -> HostResult<String> {
        git.read(&["diff", "HEAD", "--"])
    }

    /// Paths (relative to the checkout) of files changed, added, deleted or untracked.
    ///
    /// ```rhai
    /// git.commit("Deploy catalog", git.changed_files());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn changed_files(git: Git) -> HostResult<Array> {
        git.changed_files()
    }

    /// The commit id (sha) of HEAD.
    ///
    /// ```rhai
    /// info("deployed from " + git.head());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn head(git: Git) -> HostResult<String> {
        git.read(&["rev-parse", "HEAD"])
            .map(|sha| sha.trim().to_string())
    }

    /// Who the operator is to git: `Name <email>`, as git would sign a commit in the
    /// infrastructure checkout (its configuration, GIT_AUTHOR_NAME/EMAIL), else the login name.
    ///
    /// ```rhai
    /// slack.post(`${git.identity()} is deploying the catalog`);
    /// ```
    pub fn identity(git: Git) -> String {
        git.identity()
    }

    /// The commit `branch` is at in `origin` (`git ls-remote`), or () when origin has no such
    /// branch: whether the checkout is behind what others merged.
    ///
    /// ```rhai
    /// if git.remote_head("main") != git.head() { warn("run git pull first") }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn remote_head(git: Git, branch: &str) -> HostResult<Dynamic> {
        git.remote_head(branch)
    }

    /// Creates a branch from HEAD and switches to it (`git checkout -b`); on `--resume`, being on
    /// it already is going on with it.
    ///
    /// ```rhai
    /// git.create_branch("deploy/catalog-" + tag);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn create_branch(git: Git, name: &str) -> HostResult<()> {
        git.create_branch(name)
    }

    /// Adds these files (paths relative to the checkout) and commits only them; an error if they
    /// have no changes (on `--resume`, unless the last commit is this one).
    ///
    /// ```rhai
    /// git.commit("Deploy catalog " + tag, ["environments/prod/catalog-airflow.tf"]);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn commit(git: Git, message: &str, files: Array) -> HostResult<()> {
        git.commit(message, files)
    }

    /// Pushes a branch to `origin` and makes it the upstream (`git push -u origin BRANCH`).
    ///
    /// ```rhai
    /// git.push(git.branch());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn push(git: Git, branch: &str) -> HostResult<()> {
        git.push(branch)
    }
}

impl Git {
    pub fn new(ctx: &Ctx) -> Git {
        Git { ctx: ctx.clone() }
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Runs git in the checkout; any exit status is an answer for the caller to read.
    pub fn run(&self, args: &[&str]) -> HostResult<Output> {
        let output = self.git(args)?.1;
        self.ctx.interrupted_child(&output.status)?;
        Ok(output)
    }

    /// Who the operator is to git: `Name <email>`, as git would sign a commit (its
    /// configuration and GIT_AUTHOR_* variables), else the login name.
    pub fn identity(&self) -> String {
        // `Name <email> 1700000000 +0000`: the time is not the identity.
        let ident = self.read(&["var", "GIT_AUTHOR_IDENT"]).unwrap_or_default();
        let mut words: Vec<&str> = ident.split_whitespace().collect();
        words.truncate(words.len().saturating_sub(2));
        if words.is_empty() {
            std::env::var("USER").unwrap_or_else(|_| "someone".into())
        } else {
            words.join(" ")
        }
    }

    pub fn branch(&self) -> HostResult<String> {
        let args = ["symbolic-ref", "--quiet", "--short", "HEAD"];
        let (dir, output) = self.git(&args)?;
        match output.status.code() {
            Some(0) => Ok(stdout_text(&output).trim().to_string()),
            // `--quiet` makes a detached HEAD exit 1 with no message.
            Some(1) if output.stderr.is_empty() => Ok("HEAD".into()),
            _ => Err(failure(&dir, &args, &output, READ_HINT)),
        }
    }

    pub fn remote_head(&self, branch: &str) -> HostResult<Dynamic> {
        self.check_branch_name(branch)?;
        let git_ref = format!("refs/heads/{branch}");
        let args = ["ls-remote", "--exit-code", "origin", git_ref.as_str()];
        let (dir, output) = self.git(&args)?;
        self.ctx.interrupted_child(&output.status)?;
        match output.status.code() {
            Some(0) => Ok(stdout_text(&output)
                .split_whitespace()
                .next()
                .map_or(Dynamic::UNIT, |sha| Dynamic::from(sha.to_string()))),
            // `--exit-code`: 2 when origin has no such branch.
            Some(2) => Ok(Dynamic::UNIT),
            _ => Err(failure(
                &dir,
                &args,
                &output,
                "check that the infrastructure checkout has an `origin` you can reach",
            )),
        }
    }

    fn changed_files(&self) -> HostResult<Array> {
        // Porcelain paths are relative to the repository root; scripts use the checkout's.
        let prefix = self.read(&["rev-parse", "--show-prefix"])?;
        let status = self.read(&[STATUS_PORCELAIN, &["--", "."]].concat())?;
        Ok(changed_paths(&status, prefix.trim_end())
            .into_iter()
            .map(Dynamic::from)
            .collect())
    }

    pub fn create_branch(&self, name: &str) -> HostResult<()> {
        self.check_branch_name(name)?;
        let args = ["checkout", "-b", name];
        if self.would(&args) {
            return Ok(());
        }
        // Made already and checked out (by a run that died after it, now resumed): go on on it.
        if self.ctx.resumed.is_some() && self.branch()? == name {
            self.ctx
                .ui
                .info(&format!("on the branch {name} already: going on with it"));
            return Ok(());
        }
        self.change(
            &args,
            "pick another branch name, or switch to the existing branch if it is the one you want",
        )?;
        Ok(())
    }

    pub fn commit(&self, message: &str, files: Array) -> HostResult<()> {
        let files = file_list(files)?;
        if message.trim().is_empty() {
            return Err(host_error(
                "git.commit needs a message that says what the change is",
            ));
        }
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let commit = [&["commit", "-m", message, "--"], files.as_slice()].concat();
        if self.would(&commit) {
            return Ok(());
        }
        self.refuse_cleared_flags(&files)?;
        let status = self.read(&[STATUS_PORCELAIN, &["--"], files.as_slice()].concat())?;
        // Committed already (by a run that died after it, now resumed): nothing to do again.
        if status.is_empty() && self.ctx.resumed.is_some() && self.head_commits(message, &files)? {
            self.ctx.ui.info(&format!(
                "the last commit is \"{message}\" with {} already: going on with it",
                shell_words(&files)
            ));
            return Ok(());
        }
        if status.is_empty() {
            return Err(host_error(format!(
                "nothing to commit: {} has no changes in {} (git.changed_files() lists what changed)",
                shell_words(&files),
                self.ctx.infra_dir()?.display()
            )));
        }
        let hint = "check the files and git's message; a commit needs user.name and user.email (git config)";
        self.change(&[&["add", "--all", "--"], files.as_slice()].concat(), hint)?;
        // With paths, `git commit` commits only them: whatever else is staged stays staged.
        self.change(&commit, hint)?;
        Ok(())
    }

    pub fn push(&self, branch: &str) -> HostResult<()> {
        self.check_branch_name(branch)?;
        let args = ["push", "-u", "origin", branch];
        if self.would(&args) {
            return Ok(());
        }
        let output = self.change(
            &args,
            "check that the remote `origin` exists, that the branch exists locally, and that you may push to it (credentials, network)",
        )?;
        // What the server says (GitHub's link to open a pull request) is for the operator.
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            if line
                .strip_prefix("remote:")
                .is_some_and(|said| !said.trim().is_empty())
            {
                self.ctx.ui.info(line);
            }
        }
        Ok(())
    }

    /// Whether the last commit is `message` and changed every one of `files`.
    fn head_commits(&self, message: &str, files: &[&str]) -> HostResult<bool> {
        let Ok(subject) = self.read(&["log", "-1", "--format=%B"]) else {
            return Ok(false); // No commit at all.
        };
        if subject.trim() != message.trim() {
            return Ok(false);
        }
        let changed = self.read(&["diff-tree", "--no-commit-id", "--name-only", "-r", "HEAD"])?;
        Ok(files
            .iter()
            .all(|file| changed.lines().any(|line| line == *file)))
    }

    /// No commit ovscript makes holds a clearance flag (`*_cleared`) set to `true`: it would
    /// deploy with the safety off the next time anyone applies.
    fn refuse_cleared_flags(&self, files: &[&str]) -> HostResult<()> {
        let dir = self.ctx.infra_dir()?;
        for file in files.iter().filter(|f| f.ends_with(".tf")) {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
                continue;
            };
            if let Some(line) = text.lines().find(|line| is_cleared_true(line)) {
                return Err(host_error(format!(
                    "not committing {file}: it has `{}`; a clearance flag is committed only as false. Set it back to false first",
                    line.trim()
                )));
            }
        }
        Ok(())
    }

    /// `git check-ref-format --branch` is git's own rule, and it also refuses a name starting
    /// with `-` that `checkout -b` or `push` would take for an option.
    fn check_branch_name(&self, name: &str) -> HostResult<()> {
        let args = ["check-ref-format", "--branch", name];
        let (_, output) = self.git(&args)?;
        if output.status.success() {
            Ok(())
        } else {
            Err(host_error(format!(
                "`{name}` is not a valid git branch name: use letters, digits, `-`, `_`, `.` and `/` (e.g. deploy/catalog-2024.05.01)"
            )))
        }
    }

    /// In a dry run: says `would: git ARGS` and returns true.
    fn would(&self, args: &[&str]) -> bool {
        self.ctx.would(&format!("git {}", shell_words(args)))
    }

    /// A read: git's stdout, or an error carrying its stderr.
    pub fn read(&self, args: &[&str]) -> HostResult<String> {
        let (dir, output) = self.git(args)?;
        self.ctx.interrupted_child(&output.status)?;
        if output.status.success() {
            Ok(stdout_text(&output))
        } else {
            Err(failure(&dir, args, &output, READ_HINT))
        }
    }

    /// A change, made and journaled (the caller asked `would` first).
    fn change(&self, args: &[&str], hint: &str) -> HostResult<Output> {
        let started = Instant::now();
        let (dir, output) = self.git(args)?;
        self.ctx.interrupted_child(&output.status)?;
        self.ctx.record(Event::Git {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code(),
            duration_ms: started.elapsed().as_millis() as u64,
        });
        if output.status.success() {
            Ok(output)
        } else {
            Err(failure(&dir, args, &output, hint))
        }
    }

    fn git(&self, args: &[&str]) -> HostResult<(PathBuf, Output)> {
        let dir = self.ctx.infra_dir()?;
        // A commit or a push in flight is waited for by the exit's undo (the lock's release).
        let _change = self.ctx.cancel.change();
        let output = duct::cmd("git", STABLE_OUTPUT.iter().chain(args).copied())
            .dir(&dir)
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    host_error("git is not installed or not on PATH: install git")
                } else {
                    host_error(format!("cannot start git: {e}"))
                }
            })?;
        Ok((dir, output))
    }
}

/// `running_dags_cleared = true` and the like (comments aside).
fn is_cleared_true(line: &str) -> bool {
    let code = line.split(['#']).next().unwrap_or_default();
    let code = code.split("//").next().unwrap_or_default();
    let code = code.split("/*").next().unwrap_or_default();
    match code.split_once('=') {
        // `"true"` too: Terraform turns the string into true for a bool variable.
        Some((key, value)) => {
            key.trim().ends_with("_cleared") && value.trim().trim_matches('"') == "true"
        }
        None => false,
    }
}

fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What failed, git's own words, and what to do.
fn failure(dir: &Path, args: &[&str], output: &Output, hint: &str) -> Box<rhai::EvalAltResult> {
    let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let hint = if said.contains("not a git repository") {
        "the infrastructure checkout must be a clone of the infrastructure repository: check OVSCRIPT_INFRA_DIR or [infra] dir"
    } else {
        hint
    };
    let code = output
        .status
        .code()
        .map_or("a signal".to_string(), |c| format!("exit code {c}"));
    host_error(format!(
        "`git {}` failed in {} ({code}): {said}\n{hint}",
        shell_words(args),
        dir.display()
    ))
}

fn file_list(files: Array) -> HostResult<Vec<String>> {
    if files.is_empty() {
        return Err(host_error(
            "git.commit needs the files to commit, e.g. git.commit(message, git.changed_files())",
        ));
    }
    files
        .into_iter()
        .map(|file| {
            let type_name = crate::diagnostic::script_types(file.type_name());
            file.into_immutable_string()
                .map(|s| s.to_string())
                .map_err(|_| {
                    host_error(format!(
                        "git.commit: the files must be paths (strings), and one is a {type_name}"
                    ))
                })
        })
        .collect()
}

/// The paths in `git status --porcelain=v1 -z` output, made relative to the checkout (`prefix`
/// is where it sits in the repository). A rename lists its new path.
fn changed_paths(porcelain: &str, prefix: &str) -> Vec<String> {
    let mut entries = porcelain.split('\0').filter(|e| !e.is_empty());
    let mut paths = Vec::new();
    while let Some(entry) = entries.next() {
        let (state, path) = (entry.get(..2).unwrap_or(""), entry.get(3..).unwrap_or(""));
        if state.contains(['R', 'C']) {
            entries.next(); // the path it was renamed or copied from
        }
        paths.push(path.strip_prefix(prefix).unwrap_or(path).to_string());
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleared_flag_set_true_is_found() {
        assert!(is_cleared_true("    running_dags_cleared = true"));
        assert!(is_cleared_true(
            "data_refresh_cleared=true # for the deploy"
        ));
        assert!(!is_cleared_true("  running_dags_cleared = false"));
        assert!(!is_cleared_true("  # running_dags_cleared = true"));
        assert!(is_cleared_true("  running_dags_cleared = \"true\""));
        assert!(is_cleared_true(
            "  running_dags_cleared = true /* for now */"
        ));
        assert!(!is_cleared_true("  docker_image_tag = \"true\""));
    }

    #[test]
    fn porcelain_paths_become_checkout_paths() {
        let status =
            " M infra/a.tf\0?? infra/new dir/b.tf\0R  infra/c.tf\0infra/old.tf\0 D infra/d.tf\0";
        assert_eq!(
            changed_paths(status, "infra/"),
            ["a.tf", "new dir/b.tf", "c.tf", "d.tf"]
        );
        assert_eq!(changed_paths(" M a.tf\0", ""), ["a.tf"]);
        assert!(changed_paths("", "").is_empty());
    }
}

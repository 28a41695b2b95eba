//! The deploy lock: one deploy at a time per infrastructure repository, across every operator's
//! checkout. The lock is a branch (`deploy-lock`, `[infra] lock_branch`) in the repository's
//! `origin`, taken and released by atomic pushes: a push that expects the branch absent
//! (`--force-with-lease=<ref>:`), and a delete that expects our own commit. The lock commit's
//! message says who holds it, which runbook, which run, and since when, so that anyone can see
//! it with `git fetch origin deploy-lock && git log -1 FETCH_HEAD`.

use rhai::{Dynamic, Engine, Map};
use std::process::Output;

use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::git::Git;
use crate::journal::Event;

/// Git's object id of the empty tree: a lock commit holds no files.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

pub const DEFAULT_BRANCH: &str = "deploy-lock";

/// Who holds the lock, as its commit says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Holder {
    pub commit: String,
    pub who: String,
    pub host: String,
    pub runbook: String,
    pub run_id: String,
    pub since: String,
}

impl Holder {
    fn message(&self) -> String {
        format!(
            "deploy lock held by {} on {}\n\nwho: {}\nhost: {}\nrunbook: {}\nrun: {}\nsince: {}\n",
            self.who, self.host, self.who, self.host, self.runbook, self.run_id, self.since
        )
    }

    /// Reads a lock commit's message; lines it does not know are ignored.
    fn parse(commit: &str, message: &str) -> Holder {
        let mut holder = Holder {
            commit: commit.to_string(),
            ..Holder::default()
        };
        // The first line is for people; the fields are one per line.
        for line in message.lines().skip(1) {
            if let Some((key, value)) = line.split_once(": ") {
                let value = value.trim().to_string();
                match key {
                    "who" => holder.who = value,
                    "host" => holder.host = value,
                    "runbook" => holder.runbook = value,
                    "run" => holder.run_id = value,
                    "since" => holder.since = value,
                    _ => {}
                }
            }
        }
        holder
    }

    /// `run R of RUNBOOK, by WHO on HOST since T`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "run {} of {}, by {} on {} since {}",
            self.run_id, self.runbook, self.who, self.host, self.since
        )
    }

    fn to_map(&self) -> Map {
        let mut map = Map::new();
        for (key, value) in [
            ("commit", &self.commit),
            ("who", &self.who),
            ("host", &self.host),
            ("runbook", &self.runbook),
            ("run_id", &self.run_id),
            ("since", &self.since),
        ] {
            map.insert(key.into(), Dynamic::from(value.clone()));
        }
        map
    }
}

/// The lock as seen from one run (a cheap handle on the infrastructure checkout).
#[derive(Clone)]
pub struct DeployLock {
    git: Git,
}

pub fn register(engine: &mut Engine) {
    engine.register_global_module(rhai::exported_module!(lock_api).into());
}

/// `git.lock()` and `git.lock_holder()`; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod lock_api {
    use super::*;

    /// Takes the deploy lock: a branch (`deploy-lock`) pushed to the infrastructure repository's
    /// origin, so that no other deploy from any checkout runs at once. Throws, naming the holder
    /// and its run, when another run holds it; on `--resume` takes over the lock of the run it
    /// resumes. Released when the run ends, whatever happens (success, failure, Ctrl-C, SIGTERM).
    /// A dry run takes none and says whether one is held.
    ///
    /// ```rhai
    /// git.lock();
    /// ```
    #[rhai_fn(return_raw)]
    pub fn lock(git: Git) -> HostResult<()> {
        DeployLock::of(&git).take()
    }

    /// Who holds the deploy lock, as #{who, host, runbook, run_id, since, commit}, or () when it
    /// is free.
    ///
    /// ```rhai
    /// let holder = git.lock_holder(); if holder != () { info(`held by ${holder.who}`) }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn lock_holder(git: Git) -> HostResult<Dynamic> {
        Ok(DeployLock::of(&git)
            .holder()?
            .map_or(Dynamic::UNIT, |h| Dynamic::from_map(h.to_map())))
    }
}

/// Takes the deploy lock for this run (`git.lock()`).
pub fn take(git: &Git) -> HostResult<()> {
    DeployLock::of(git).take()
}

/// Who holds the deploy lock now, if anyone (`git.lock_holder()`).
pub fn holder(git: &Git) -> HostResult<Option<Holder>> {
    DeployLock::of(git).holder()
}

/// `--break-lock`: shows who holds the lock, asks, and removes it (expecting that commit).
pub fn break_lock(ctx: &Ctx) -> HostResult<()> {
    let lock = DeployLock::of(&Git::new(ctx));
    let Some(holder) = lock.holder()? else {
        ctx.ui.info(&format!(
            "the deploy lock ({}) is free: nothing to break",
            lock.branch()
        ));
        return Ok(());
    };
    ctx.ui
        .warn(&format!("the deploy lock is held: {}", holder.describe()));
    // A run alive on this machine holds its journal: its lock is not to be broken, --yes or not.
    let journal = ctx
        .base_dir
        .join(crate::journal::DIR)
        .join(format!("{}.jsonl", holder.run_id));
    if holder.host == host_name() && crate::journal::is_running(&journal) {
        return Err(host_error(format!(
            "run {} is alive on this machine (it, or a recipe it started, holds its journal): it is deploying, and its lock is not broken; let it finish, or stop it (Ctrl-C) and go on with --resume {}",
            holder.run_id, holder.run_id
        )));
    }
    if let Some(age) = age_of(&holder.since) {
        ctx.ui.warn(&format!(
            "it was taken {age} ago, on {}: make sure that run is dead there",
            holder.host
        ));
    }
    if ctx.would(&format!("remove the deploy lock of run {}", holder.run_id)) {
        return Ok(());
    }
    let question = format!(
        "Only if that run is dead (two deploys at once can leave production broken): type its run id, {}, to remove its lock:",
        holder.run_id
    );
    if !crate::operator::ask_to_type(ctx, &question, &holder.run_id)? {
        return Err(host_error(
            "the deploy lock was left as it is: the run id was not typed (--yes does not answer this question)",
        ));
    }
    lock.delete(&holder.commit)?;
    ctx.record(Event::LockBroken {
        commit: holder.commit.clone(),
        run_id: holder.run_id.clone(),
    });
    ctx.ui.info("removed the deploy lock");
    Ok(())
}

impl DeployLock {
    fn of(git: &Git) -> DeployLock {
        DeployLock { git: git.clone() }
    }

    fn ctx(&self) -> &Ctx {
        self.git.ctx()
    }

    fn branch(&self) -> String {
        crate::config::given(&self.ctx().config.infra.lock_branch)
            .unwrap_or_else(|| DEFAULT_BRANCH.to_string())
    }

    fn git_ref(&self) -> String {
        format!("refs/heads/{}", self.branch())
    }

    /// Asks origin who holds the lock now.
    pub fn holder(&self) -> HostResult<Option<Holder>> {
        let git_ref = self.git_ref();
        let output = self
            .git
            .run(&["ls-remote", "--exit-code", "origin", &git_ref])?;
        match output.status.code() {
            Some(0) => {}
            // `--exit-code`: 2 when no such ref.
            Some(2) => return Ok(None),
            _ => return Err(self.failure("ls-remote", &output)),
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let commit = stdout.split_whitespace().next().unwrap_or_default();
        let fetched = self.git.run(&["fetch", "--quiet", "origin", &git_ref])?;
        if !fetched.status.success() {
            return Err(self.failure("fetch", &fetched));
        }
        let shown = self.git.run(&["log", "-1", "--format=%B", commit])?;
        Ok(Some(Holder::parse(
            commit,
            &String::from_utf8_lossy(&shown.stdout),
        )))
    }

    fn take(&self) -> HostResult<()> {
        let ctx = self.ctx().clone();
        let run_id = ctx.journal.run_id().to_string();
        let holder = self.holder()?;
        if ctx.dry_run {
            let state = match &holder {
                Some(h) => format!("it is held now: {}", h.describe()),
                None => "it is free now".to_string(),
            };
            ctx.ui.would(&format!(
                "take the deploy lock ({} in origin); {state}",
                self.branch()
            ));
            return Ok(());
        }
        if let Some(holder) = holder {
            let resumed = ctx.resumed.as_ref();
            let ours = resumed.is_some_and(|r| {
                r.run_id == holder.run_id || r.lock.as_deref() == Some(holder.commit.as_str())
            });
            if !ours {
                return Err(host_error(format!(
                    "another deploy holds the lock: {}. Nothing was changed. Wait for it to end; if that run is dead, go on with it (ovscript run --resume {} ...) or remove its lock with --break-lock",
                    holder.describe(),
                    holder.run_id
                )));
            }
            ctx.ui.info(&format!(
                "took over the deploy lock of run {}",
                holder.run_id
            ));
            self.hold(holder.commit);
            return Ok(());
        }
        let mine = Holder {
            commit: String::new(),
            who: self.git.identity(),
            host: host_name(),
            runbook: ctx.runbook.clone(),
            run_id,
            since: crate::when::rfc3339(chrono::Utc::now()),
        };
        let commit =
            self.git
                .read(&["commit-tree", EMPTY_TREE, "-m", mine.message().trim_end()])?;
        let commit = commit.trim().to_string();
        let git_ref = self.git_ref();
        let lease = format!("--force-with-lease={git_ref}:");
        let refspec = format!("{commit}:{git_ref}");
        let pushed = self
            .git
            .run(&["push", "--quiet", "origin", &lease, &refspec])?;
        if !pushed.status.success() {
            // Someone took it between the look and the push: say who.
            if let Some(holder) = self.holder()? {
                return Err(host_error(format!(
                    "another deploy took the lock just now: {}. Nothing was changed",
                    holder.describe()
                )));
            }
            return Err(self.failure("push", &pushed));
        }
        ctx.record(Event::LockTaken {
            commit: commit.clone(),
            branch: self.branch(),
        });
        ctx.ui.info(&format!(
            "took the deploy lock ({} in origin)",
            self.branch()
        ));
        self.hold(commit);
        Ok(())
    }

    /// Holds `commit` until the run ends; a process that must exit at once releases it too.
    fn hold(&self, commit: String) {
        let ctx = self.ctx().clone();
        let (undo, undo_commit) = (self.clone(), commit.clone());
        let last_resort = ctx.cancel.last_resort(move || {
            let _ = undo.delete(&undo_commit);
        });
        ctx.guards.set_lock_held(true);
        let releasing = self.clone();
        ctx.at_end.push(move || {
            releasing.ctx().guards.set_lock_held(false);
            releasing.release(&commit);
            // Released now: a later exit has nothing of ours to undo.
            drop(last_resort);
        });
    }

    /// Deletes our lock; a failure is said loudly and left for the operator.
    fn release(&self, commit: &str) {
        let ctx = self.ctx();
        // Clean-up: runs to its end after Ctrl-C too.
        let _hold = ctx.cancel.hold();
        match self.delete(commit) {
            Ok(()) => {
                ctx.record(Event::LockReleased {
                    commit: commit.to_string(),
                });
                ctx.ui.info("released the deploy lock");
            }
            Err(e) => {
                let message = crate::diagnostic::message_of(&e);
                ctx.ui
                    .warn(&format!("could not release the deploy lock: {message}"));
                ctx.summary.by_hand(&format!(
                    "remove the deploy lock ({} in the infrastructure repository's origin): ovscript run --break-lock ...",
                    self.branch()
                ));
            }
        }
    }

    /// Deletes the lock branch if it still is `commit`.
    fn delete(&self, commit: &str) -> HostResult<()> {
        let git_ref = self.git_ref();
        let lease = format!("--force-with-lease={git_ref}:{commit}");
        let refspec = format!(":{git_ref}");
        let output = self
            .git
            .run(&["push", "--quiet", "origin", &lease, &refspec])?;
        if output.status.success() {
            Ok(())
        } else {
            Err(self.failure("push", &output))
        }
    }

    fn failure(&self, what: &str, output: &Output) -> Box<rhai::EvalAltResult> {
        host_error(self.ctx().redact(&format!(
            "the deploy lock ({}): `git {what}` with origin failed: {}; check that the infrastructure checkout has an `origin` you may push to",
            self.branch(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// How long ago `since` (RFC 3339) was, as a person reads it.
fn age_of(since: &str) -> Option<String> {
    let since = chrono::DateTime::parse_from_rfc3339(since.trim()).ok()?;
    let age = chrono::Utc::now()
        .signed_duration_since(since)
        .to_std()
        .ok()?;
    Some(crate::ui::human(age))
}

pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_message_reads_back() {
        let holder = Holder {
            commit: "abc".into(),
            who: "Ada <ada@example.org>".into(),
            host: "laptop on wifi".into(),
            runbook: "/w/scripts/catalog.rhai".into(),
            run_id: "20240501T120000Z-0001".into(),
            since: "2024-05-01T12:00:00Z".into(),
        };
        assert_eq!(Holder::parse("abc", &holder.message()), holder);
        assert_eq!(
            holder.describe(),
            "run 20240501T120000Z-0001 of /w/scripts/catalog.rhai, by Ada <ada@example.org> on laptop on wifi since 2024-05-01T12:00:00Z"
        );
    }
}

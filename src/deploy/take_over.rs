//! Before a deployment changes anything: what an earlier run of the runbook left (the clearance
//! flag `true`, an uncommitted bump, DAGs it paused, the deploy lock) is found, and a fresh run
//! never deploys over it; a resumed run takes it over. Then the lock is taken. Only after both
//! does the host let this run change production.

use super::Deployment;
use crate::error::{host_error, HostResult};
use crate::journal::RunRecord;

/// How long git's index lock must have been left alone to be a dead command's: git holds it for
/// the moments of one command.
const STALE_INDEX_LOCK: std::time::Duration = std::time::Duration::from_secs(3);

/// What an earlier run left, as the operator reads it.
struct Left {
    items: Vec<String>,
    flag_set: bool,
    paused: Vec<String>,
}

impl Deployment {
    /// Checks for leftovers, takes the deploy lock, and opens the guards for this run.
    pub fn take_over(&self) -> HostResult<()> {
        let ctx = &self.ctx;
        ctx.guards.set_deploying();
        let earlier = ctx.earlier_run();
        let resuming = earlier.as_ref().is_some_and(|(_, resuming)| *resuming);
        let earlier = earlier.map(|(record, _)| record);
        let holder = crate::deploy_lock::holder(&self.git)?;
        let earlier_holds = match (&holder, &earlier) {
            (Some(holder), Some(earlier)) => {
                holder.run_id == earlier.run_id
                    || earlier.lock.as_deref() == Some(holder.commit.as_str())
            }
            _ => false,
        };
        if let (Some(holder), false) = (&holder, earlier_holds) {
            return Err(host_error(format!(
                "another deploy holds the lock: {}. Nothing was changed. Wait for it to end; if that run is dead, go on with it (--resume {}) from its checkout, or remove the lock with --break-lock",
                holder.describe(),
                holder.run_id
            )));
        }
        if let Some(earlier) = earlier.as_ref().filter(|e| e.running && !resuming) {
            return Err(host_error(format!(
                "run {} of this runbook is deploying now (started {}, at \"{}\"), in another terminal or process on this machine. Nothing was changed. Wait for it to end.",
                earlier.run_id,
                earlier.started,
                earlier.last_step.as_deref().unwrap_or("its start")
            )));
        }
        let left = self.leftovers(earlier.as_ref(), holder.is_some())?;
        if !left.items.is_empty() && !resuming {
            return Err(host_error(self.refusal(earlier.as_ref(), &left)));
        }
        crate::deploy_lock::take(&self.git)?;
        if resuming {
            self.remove_a_stale_index_lock()?;
        }
        if let (true, Some(earlier)) = (resuming, &earlier) {
            let what = if left.items.is_empty() {
                "it left nothing".to_string()
            } else {
                format!("it left {}", left.items.join(", "))
            };
            ctx.ui
                .info(&format!("going on with run {}: {what}", earlier.run_id));
            if left.flag_set {
                // The apply is redone through the guarded path, which raises the flag itself.
                self.tf.set(
                    &self.declared.tf_file(),
                    &self.declared.flag(),
                    &false.into(),
                )?;
            }
        }
        ctx.guards.set_leftovers_checked();
        Ok(())
    }

    /// A git command of the run being resumed, killed while it held the checkout's index
    /// (`git add`, `git commit`), leaves `.git/index.lock`, and every later git command of the
    /// resume would fail on it. That run is dead (its journal lock is free), and a lock no git
    /// has touched for a while is its: removed, and said.
    fn remove_a_stale_index_lock(&self) -> HostResult<()> {
        let path = self.git.read(&["rev-parse", "--git-path", "index.lock"])?;
        let lock = self.ctx.infra_dir()?.join(path.trim());
        // A live git holds it for moments: wait until it is gone, or untouched long enough.
        loop {
            let Ok(meta) = std::fs::metadata(&lock) else {
                return Ok(());
            };
            let age = meta
                .modified()
                .ok()
                .and_then(|at| at.elapsed().ok())
                .unwrap_or_default();
            if age >= STALE_INDEX_LOCK {
                break;
            }
            // Real time, as the file's: a rehearsal's fast clock must not make this a busy loop.
            self.ctx.cancel.wait(std::time::Duration::from_millis(200));
            self.ctx.check_cancelled()?;
        }
        if self.ctx.would(&format!("remove {}", lock.display())) {
            return Ok(());
        }
        std::fs::remove_file(&lock).map_err(|e| {
            host_error(format!(
                "cannot remove {} (left by the killed run's git): {e}; remove it by hand, then go on",
                lock.display()
            ))
        })?;
        self.ctx.ui.warn(&format!(
            "removed {}: a git command of the run being resumed was killed while holding it",
            lock.display()
        ));
        Ok(())
    }

    fn leftovers(&self, earlier: Option<&RunRecord>, locked: bool) -> HostResult<Left> {
        let declared = &self.declared;
        let flag_set = self
            .tf
            .get(&declared.tf_file(), &declared.flag())?
            .as_bool()
            == Ok(true);
        let changes = self.git.read(&["status", "--short"])?;
        let mut paused = Vec::new();
        for dag in earlier
            .map(|e| e.paused_dags.as_slice())
            .unwrap_or_default()
        {
            if self.airflow.is_paused(dag)? {
                paused.push(dag.clone());
            }
        }
        let mut items = Vec::new();
        if flag_set {
            items.push(format!(
                "{} = true in {}",
                declared.flag_name,
                declared.tf_file()
            ));
        }
        if !changes.trim().is_empty() {
            items.push(format!(
                "uncommitted changes in the infrastructure checkout ({} file(s): a bump?)",
                changes.trim_end().lines().count()
            ));
        }
        items.extend(paused.iter().map(|dag| format!("the DAG {dag}, paused")));
        if locked {
            items.push("the deploy lock".to_string());
        }
        Ok(Left {
            items,
            flag_set,
            paused,
        })
    }

    /// Why a fresh run does not deploy over what an earlier one left, and how to finish or
    /// discard that run.
    fn refusal(&self, earlier: Option<&RunRecord>, left: &Left) -> String {
        let (who, finish) = match earlier {
            None => ("an earlier run".to_string(), String::new()),
            Some(earlier) => (
                format!(
                    "run {} (started {}, {} at \"{}\")",
                    earlier.run_id,
                    earlier.started,
                    earlier.outcome.map_or("killed", |o| o.word()),
                    earlier.last_step.as_deref().unwrap_or("its start")
                ),
                format!(
                    " To finish it: ovscript run --resume {} with this runbook.",
                    earlier.run_id
                ),
            ),
        };
        let dags = if left.paused.is_empty() {
            "the DAGs it paused".to_string()
        } else {
            left.paused.join(", ")
        };
        format!(
            "not deploying: {who} left {}. Nothing was changed.{finish} To discard it instead: set {} back to false and restore the checkout (git checkout main && git checkout -- .), unpause {dags} in Airflow, and remove the lock with --break-lock if it holds one.",
            left.items.join(", "),
            self.declared.flag_name
        )
    }
}

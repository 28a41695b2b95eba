//! The seed's central step, held by the host: the clearance flag `true` only while `just apply
//! prod SERVICE` runs, put back whatever happens; and what follows when the apply, or a check
//! after it, goes wrong: the rollback offer, or for an apply that succeeded but whose flag could
//! not be put back, its own outcome with no rollback.

use rhai::{Array, Dynamic, Map, NativeCallContext};

use super::{field, Deployment, Rollback};
use crate::diagnostic::{is_interrupt, message_of};
use crate::error::{host_error, HostResult, WaitTimedOut};

/// How often Sentry is asked while it is watched after a deploy.
const SENTRY_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// How far a production apply got, as the host saw it (never read from a message).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Applied {
    /// `just apply` did not start (a check before it failed, no such recipe): production is as
    /// it was.
    NotStarted,
    /// `just apply` started (here, or in the run this one resumes) and did not succeed:
    /// production may be half-applied.
    Failed,
    /// `just apply` exited 0; what failed came after it (the flag's restore).
    Succeeded,
}

impl Deployment {
    /// The step "Set FLAG = true, just apply prod SERVICE, restore false". `paused` are the
    /// DAGs paused for it. A failure once `just apply` has started offers the rollback; a flag
    /// that cannot be put back after a good apply is said as such, with no rollback.
    pub fn apply_production(
        &self,
        call: &NativeCallContext,
        stable: &Dynamic,
        paused: &[String],
    ) -> HostResult<()> {
        let declared = &self.declared;
        let apply = format!("apply prod {}", declared.service);
        let title = format!(
            "Set {} = true, just {apply}, restore false",
            declared.flag_name
        );
        let mut applied = Applied::NotStarted;
        let result = crate::operator::host_step(call, &title, || {
            self.guarded_apply(call, paused, &mut applied)
                .map(|()| Dynamic::UNIT)
        });
        let Err(error) = result else {
            return Ok(());
        };
        if is_interrupt(&error) {
            return Err(error);
        }
        if applied == Applied::NotStarted && self.just_started(call, &apply) {
            // Started by the run this one resumes: it may have touched production.
            applied = Applied::Failed;
        }
        let message = message_of(&error);
        match applied {
            Applied::Succeeded => {
                let (flag, file) = (&declared.flag_name, declared.tf_file());
                self.ctx.warn(&format!(
                    "the production apply succeeded, but the step failed after it: {message}"
                ));
                self.ctx.warn(&format!(
                    "{flag} may still be true in {file}: set it to false by hand"
                ));
                self.ctx.by_hand(&format!(
                    "set {flag} = false in {file} (the apply succeeded; no rollback is needed)"
                ));
            }
            Applied::Failed => {
                let reason = format!("the production apply failed: {message}");
                if let Err(e) = self.offer_rollback(call, stable, &reason) {
                    if is_interrupt(&e) {
                        return Err(e);
                    }
                    self.ctx.warn(&format!(
                        "handling the error failed too: {}",
                        message_of(&e)
                    ));
                }
            }
            Applied::NotStarted => self.ctx.warn(&format!(
                "production was not touched: just {apply} did not start"
            )),
        }
        Err(error)
    }

    /// Airflow checked again just before (a DAG may have started since the first check, and a
    /// resumed run skipped it), then the flag raised only while `just apply` runs.
    fn guarded_apply(
        &self,
        call: &NativeCallContext,
        paused: &[String],
        applied: &mut Applied,
    ) -> HostResult<()> {
        for dag in self.dags_to_pause(call)? {
            if !paused.contains(&dag) {
                return Err(host_error(format!(
                    "not applying: {dag} started waiting on its sensor after the first check and is not paused. Nothing was applied; run the deploy again."
                )));
            }
        }
        let declared = &self.declared;
        self.tf
            .with(
                &declared.tf_file(),
                &declared.flag(),
                &Dynamic::TRUE,
                || {
                    let args = ("apply", "prod", declared.service.clone());
                    let ran = call.call_native_fn::<()>("just", args);
                    *applied = if ran.is_ok() {
                        Applied::Succeeded
                    } else if self.just_started(call, &format!("apply prod {}", declared.service)) {
                        Applied::Failed
                    } else {
                        Applied::NotStarted
                    };
                    ran.map(|()| Dynamic::UNIT)
                },
            )
            .map(|_| ())
    }

    /// What the declared check says now: the DAGs to pause for the apply.
    pub fn dags_to_pause(&self, call: &NativeCallContext) -> HostResult<Vec<String>> {
        let dags = self
            .declared
            .check
            .call_within_context::<Dynamic>(call, ())?;
        let kind = dags.type_name();
        let dags = dags.try_cast::<Array>().ok_or_else(|| {
            host_error(format!(
                "the deployment's check must return the DAGs to pause (an array of ids), not {kind}"
            ))
        })?;
        Ok(dags.iter().map(ToString::to_string).collect())
    }

    /// Whether this run, or the one it resumes, started `just COMMAND` (its process began).
    fn just_started(&self, call: &NativeCallContext, command: &str) -> bool {
        call.call_native_fn::<bool>("just_started", (command.to_string(),))
            .unwrap_or(true)
    }

    /// Offers to roll production back to `stable` (from `last_stable`): by dispatching the
    /// infrastructure repository's workflow with its rel- tag, or with `rollback: "local"` by
    /// setting that tag in the .tf file and applying it through the same guarded apply as a
    /// deploy. Returns whether it was done.
    pub fn offer_rollback(
        &self,
        call: &NativeCallContext,
        stable: &Dynamic,
        reason: &str,
    ) -> HostResult<bool> {
        self.ctx.warn(reason);
        self.ctx
            .warn("if production is disrupted, treat this as a production incident");
        self.notify_incident(stable, reason)?;
        let Some(stable) = stable.clone().try_cast::<Map>() else {
            self.ctx
                .warn("no earlier published release to roll back to: roll back by hand");
            self.ctx
                .by_hand("roll production back by hand (there is no earlier published release)");
            return Ok(false);
        };
        let (tag, release) = (field(&stable, "rollback_tag"), field(&stable, "tag_name"));
        let declared = &self.declared;
        let how = match declared.rollback {
            Rollback::Local => "by applying it from this checkout".to_string(),
            Rollback::Workflow => format!("with {}", declared.rollback_workflow),
        };
        if !crate::operator::ask_yes_no(
            &self.ctx,
            &format!("Roll back production to {tag} ({release}) {how}?"),
        )? {
            self.ctx.ui.info("no rollback");
            self.ctx
                .by_hand(&format!("decide whether to roll production back to {tag}"));
            return Ok(false);
        }
        match declared.rollback {
            Rollback::Local => self.roll_back_locally(call, &stable, &tag)?,
            Rollback::Workflow => {
                let workflow = &declared.rollback_workflow;
                let mut inputs = Map::new();
                inputs.insert("tag".into(), tag.clone().into());
                let repo = self.github.infra_repo()?.to_string();
                self.github
                    .dispatch_workflow(&repo, workflow, "main", inputs)?;
                self.notify_rollback(
                    &stable,
                    &format!("the {workflow} workflow of the infrastructure repository runs it"),
                )?;
                self.ctx.warn(&format!(
                    "rollback to {tag} dispatched: follow the {workflow} run in the infrastructure repository; do not --resume this deploy"
                ));
                self.ctx.by_hand(&format!(
                    "follow the {workflow} run that rolls production back to {tag}"
                ));
            }
        }
        Ok(true)
    }

    /// The rollback from this checkout: the stable image tag written, then the same guarded
    /// apply as a deploy, the DAGs the check names paused around it.
    fn roll_back_locally(
        &self,
        call: &NativeCallContext,
        stable: &Map,
        tag: &str,
    ) -> HostResult<()> {
        let declared = &self.declared;
        self.notify_rollback(
            stable,
            "applying it from a checkout of the infrastructure repository",
        )?;
        let title = format!(
            "Roll back: {} = {tag}, just apply prod {}",
            declared.image_key(),
            declared.service
        );
        crate::operator::host_step(call, &title, || {
            self.tf.set(
                &declared.tf_file(),
                &declared.image_key(),
                &Dynamic::from(tag.to_string()),
            )?;
            let dags = self.dags_to_pause(call)?;
            let mut applied = Applied::NotStarted;
            crate::airflow_guard::while_paused(&self.airflow, dags.clone(), || {
                self.guarded_apply(call, &dags, &mut applied)
                    .map(|()| Dynamic::UNIT)
            })
        })
        .map(drop)?;
        self.ctx.warn(&format!(
            "rolled back production to {tag} from this checkout; do not --resume this deploy"
        ));
        self.ctx.by_hand(&format!(
            "open a PR on the infrastructure repository with the rollback to {tag} in {}",
            declared.tf_file()
        ));
        Ok(())
    }

    /// New unresolved Sentry errors of `project` ("" for the configured one) since `since`,
    /// watched for `watch` ("" looks once). Any: a table, the rollback offered, and the run
    /// stopped when it is done. Sentry unreadable: said loudly, never "no new errors".
    pub fn check_sentry(
        &self,
        call: &NativeCallContext,
        since: &str,
        watch: &str,
        project: &str,
        stable: &Dynamic,
    ) -> HostResult<()> {
        let project = (!project.is_empty()).then_some(project);
        let errors = match self.sentry_errors(since, watch, project) {
            Ok(errors) => errors,
            Err(e) if is_interrupt(&e) => return Err(e),
            Err(e) => {
                self.ctx
                    .warn(&format!("Sentry was NOT checked: {}", message_of(&e)));
                self.ctx.by_hand(&format!(
                    "check Sentry for new errors since {since} (it could not be read: the deploy was not checked)"
                ));
                return Ok(());
            }
        };
        if errors.is_empty() {
            self.ctx
                .ui
                .info(&format!("no new Sentry errors since {since}"));
            return Ok(());
        }
        let count = errors.len();
        self.ctx.warn(&format!(
            "{count} unresolved Sentry error(s) seen since {since}:"
        ));
        let columns = [
            "level",
            "count",
            "title",
            "culprit",
            "first_seen",
            "last_seen",
            "permalink",
        ]
        .map(String::from);
        self.ctx
            .ui
            .line(crate::ui::table(&errors, Some(&columns)).trim_end());
        if self.offer_rollback(call, stable, "new errors since the deploy began")? {
            let tag = stable
                .clone()
                .try_cast::<Map>()
                .map(|s| field(&s, "rollback_tag"))
                .unwrap_or_default();
            return Err(host_error(format!(
                "rolled back to {tag} after {count} new Sentry error(s)"
            )));
        }
        self.ctx
            .by_hand(&format!("look into the {count} new Sentry error(s)"));
        Ok(())
    }

    /// Sentry's new errors since `since`, asked again every 30 s for `watch` while there are none.
    fn sentry_errors(&self, since: &str, watch: &str, project: Option<&str>) -> HostResult<Array> {
        let mut errors = self.sentry.errors_since(since, project)?;
        if !errors.is_empty() || watch.is_empty() {
            return Ok(errors);
        }
        let timeout = crate::when::parse_duration(watch).map_err(host_error)?;
        let watched = crate::operator::poll(
            &self.ctx,
            &format!("new Sentry errors (watching for {watch})"),
            timeout,
            SENTRY_POLL,
            || {
                errors = self.sentry.errors_since(since, project)?;
                Ok(!errors.is_empty())
            },
        );
        match watched {
            Err(e) if WaitTimedOut::is(&e) => {
                self.ctx.ui.info(&format!("watched Sentry for {watch}"));
                Ok(errors)
            }
            other => other.map(|_| errors),
        }
    }
}

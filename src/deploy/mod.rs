//! The deployment as the host knows it. A runbook declares what it deploys once
//! (`deployment(#{...})`, checked before any step) and takes it over (`take_over()`): the
//! host looks for what an earlier run left and takes the deploy lock. Until then, and whatever
//! the script says, no production change is made: the guards in `context` refuse it.
//!
//! This layer sits above the systems: it uses `git`, `tf` and `airflow`, which know nothing
//! of it.

mod announce;
mod checkout;
mod declaration;
mod github_steps;
mod production;
mod release;
mod take_over;

use rhai::{Dynamic, Engine, FnPtr, Map, NativeCallContext};
use std::sync::Arc;

use crate::airflow::Airflow;
use crate::context::Ctx;
use crate::error::{usage_failure, HostResult};
use crate::git::Git;
use crate::github::Github;
use crate::objects::Objects;
use crate::registry::Registry;
use crate::sentry::Sentry;
use crate::slack::Slack;
use crate::tf::Tf;

pub use declaration::{flag_path, image_key, tf_file, Declaration, Rollback};

/// The script's handle on its declared deployment (the Rhai type `Deployment`): read-only.
#[derive(Clone)]
pub struct Deployment {
    declared: Arc<Declaration>,
    ctx: Ctx,
    git: Git,
    tf: Tf,
    airflow: Airflow,
    github: Github,
    registry: Registry,
    sentry: Sentry,
    slack: Slack,
}

/// A text field of a map a system answered (a release, a PR), empty when it is missing or ().
fn field(map: &Map, key: &str) -> String {
    map.get(key)
        .filter(|v| !v.is_unit())
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The system object `name` of the run (`airflow`, `github`...), which the deployment uses.
fn system<T: Clone + Send + Sync + 'static>(objects: &Objects, name: &str) -> T {
    objects
        .get(name)
        .and_then(|object| object.clone().try_cast::<T>())
        .unwrap_or_else(|| panic!("the systems are registered before the deployment: {name}"))
}

/// Gives scripts `deployment(#{...})` and the `Deployment` it returns. Needs the systems among
/// `objects`: they are registered first.
pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &Objects) {
    let airflow: Airflow = system(objects, "airflow");
    let github: Github = system(objects, "github");
    let registry: Registry = system(objects, "registry");
    let sentry: Sentry = system(objects, "sentry");
    let slack: Slack = system(objects, "slack");
    let (ctx, tf) = (ctx.clone(), Tf::new(ctx));
    let git = Git::new(&ctx);
    engine.register_type_with_name::<Deployment>("Deployment");
    crate::objects::describe(
        "deployment",
        &["declared: Map", "Deployment"],
        "Declares what the runbook deploys, checked before any step (an unknown or missing key, a bad value: exit 2): app (the release tag's prefix), service (for just and terraform), flag (the clearance flag), check (a closure returning the DAGs to pause), and optionally image, image_timeout, rollback (workflow or local), rollback_workflow. Its properties: app, service, flag_name, flag (dotted), tf_file, image_key, image, image_timeout, rollback, rollback_workflow, check.",
        r#"let catalog = deployment(#{ app: "catalog", service: "catalog-airflow", flag: "running_dags_cleared", check: || deploy::dags_to_pause() });"#,
    )
    .register_into_engine(engine, move |map: Map| -> HostResult<Deployment> {
        let declared = Declaration::from_map(&map).map_err(usage_failure)?;
        Ok(Deployment {
            declared: Arc::new(declared),
            ctx: ctx.clone(),
            git: git.clone(),
            tf: tf.clone(),
            airflow: airflow.clone(),
            github: github.clone(),
            registry: registry.clone(),
            sentry: sentry.clone(),
            slack: slack.clone(),
        })
    });
    register_properties(engine);
    engine.register_global_module(rhai::exported_module!(deployment_api).into());
}

/// How one property is read from the declaration.
type Property = fn(&Declaration) -> String;

/// What runbooks and `stdlib/deploy.rhai` read of a deployment (`catalog.tf_file`): computed
/// from the declaration, never written.
fn register_properties(engine: &mut Engine) {
    let texts: [(&str, Property); 10] = [
        ("app", |d| d.app.clone()),
        ("service", |d| d.service.clone()),
        ("flag_name", |d| d.flag_name.clone()),
        ("flag", Declaration::flag),
        ("tf_file", Declaration::tf_file),
        ("image_key", Declaration::image_key),
        ("image", |d| d.image.clone()),
        ("image_timeout", |d| d.image_timeout.clone()),
        ("rollback", |d| d.rollback.word().to_string()),
        ("rollback_workflow", |d| d.rollback_workflow.clone()),
    ];
    for (name, read) in texts {
        engine.register_get(name, move |d: &mut Deployment| read(&d.declared));
    }
    engine.register_get("check", |d: &mut Deployment| -> FnPtr {
        d.declared.check.clone()
    });
}

/// The deployment's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod deployment_api {
    use super::*;

    /// Before anything changes: finds what an earlier run of this runbook left (the clearance
    /// flag true, an uncommitted bump, DAGs it paused, the deploy lock) and refuses to deploy
    /// over it, naming the run and how to finish or discard it; on `--resume` takes it over (the
    /// flag back to false before the apply is redone). Then takes the deploy lock. No production
    /// change is made by a run that has not done this.
    ///
    /// ```rhai
    /// check_step("Check for an earlier run's leftovers, take the deploy lock", || catalog.take_over());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn take_over(deployment: &mut Deployment) -> HostResult<()> {
        deployment.take_over()
    }

    /// The infrastructure checkout must be on main, clean and at origin's main before anything
    /// is bumped (a stale checkout applied would undo what others merged); on `--resume`, the
    /// earlier run's changes are its own to go on with. Changes nothing.
    ///
    /// ```rhai
    /// check_step("Check the infrastructure checkout", || catalog.check_checkout());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_checkout(deployment: &mut Deployment) -> HostResult<()> {
        deployment.check_checkout()
    }

    /// The image tag of a release of this app: its tag with the `APP-` prefix replaced by `rel-`
    /// (catalog-2024.05.02.10.00.00 -> rel-2024.05.02.10.00.00).
    ///
    /// ```rhai
    /// let tag = catalog.image_tag(release.tag_name);
    /// ```
    pub fn image_tag(deployment: &mut Deployment, release_tag: &str) -> String {
        deployment.image_tag(release_tag)
    }

    /// After the bump: the production .tf must name the image of `release_tag`, the one waited
    /// for in the registry (not a release published meanwhile); throws, naming both, if not.
    ///
    /// ```rhai
    /// just("bump", "prod", "catalog-airflow"); catalog.check_bump(release.tag_name);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_bump(deployment: &mut Deployment, release_tag: &str) -> HostResult<()> {
        deployment.check_bump(release_tag)
    }

    /// Shows the newest draft release of the app (its notes), asks, and publishes it, pinning
    /// the tag confirmed; returns the release as GitHub published it. Going on with a run that
    /// died while GitHub was publishing, adopts what it published instead. Stops if GitHub
    /// published another tag than the one confirmed.
    ///
    /// ```rhai
    /// let release = step("Publish the drafted catalog release", || catalog.publish_draft());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn publish_draft(deployment: &mut Deployment) -> HostResult<Map> {
        deployment.publish_draft()
    }

    /// "After the app is built and tagged": waits until the image of the release `tag`
    /// (`IMAGE:rel-...`) is in the registry, for up to the declared image_timeout, asking every
    /// 15 s; returns the image tag. A dry run asks once.
    ///
    /// ```rhai
    /// step("Wait for the release's image in the registry", || catalog.wait_for_image(release.tag_name));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn wait_for_image(deployment: &mut Deployment, tag: &str) -> HostResult<String> {
        deployment.wait_for_image(tag)
    }

    /// The release a rollback would go to, as #{tag_name, rollback_tag}: the newest published
    /// release of the app, unless production runs another image (then that image, which is
    /// known to work); () when there is neither. Says which, and warns when they differ.
    ///
    /// ```rhai
    /// let stable = step("Note the last stable release, for a rollback", || catalog.last_stable());
    /// ```
    #[rhai_fn(return_raw)]
    pub fn last_stable(deployment: &mut Deployment) -> HostResult<Dynamic> {
        deployment.last_stable()
    }

    /// Finds the changelog PR of the release `tag` and approves it after a confirmation; not
    /// there yet, declined, or refused by GitHub (one's own PR): a warning and a thing to do by
    /// hand, never a failed deploy.
    ///
    /// ```rhai
    /// step("Approve the changelog PR", || catalog.approve_changelog(release.tag_name));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn approve_changelog(deployment: &mut Deployment, tag: &str) -> HostResult<()> {
        deployment.approve_changelog(tag)
    }

    /// Commits `files` of the infrastructure checkout on the branch `deploy/SERVICE-TAG`,
    /// pushes it and opens a PR into main (on `--resume`, what the earlier run made of them is
    /// adopted); notes the review as left by hand. Returns #{number, html_url}, or () in a dry run.
    ///
    /// ```rhai
    /// catalog.open_infra_pr(release.tag_name, [catalog.tf_file]);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn open_infra_pr(
        deployment: &mut Deployment,
        tag: &str,
        files: rhai::Array,
    ) -> HostResult<Dynamic> {
        deployment.open_infra_pr(tag, files)
    }

    /// Tells the team's channel who deploys the release `tag` to production, runs `body` (the
    /// deployment and its checks), then tells how it ended whatever happens (done, failed with
    /// its message, Ctrl-C), after how long, and what is left to do by hand. A post never stops
    /// the deploy. Passes on `body`'s error; returns what it returns. Called as a function: the
    /// body reads the deployment too, and a method call would hold it locked meanwhile.
    ///
    /// ```rhai
    /// announced(catalog, release.tag_name, || { step("Bump", || just("bump", "prod", "catalog-airflow")); });
    /// ```
    #[rhai_fn(return_raw)]
    pub fn announced(
        call: NativeCallContext,
        deployment: Deployment,
        tag: &str,
        body: FnPtr,
    ) -> HostResult<Dynamic> {
        deployment.announced(&call, tag, &body)
    }

    /// The seed's central step, as one step titled "Set FLAG = true, just apply prod SERVICE,
    /// restore false": Airflow checked again (a DAG not in `paused` waiting on its sensor stops
    /// it), the clearance flag set to true only while `just apply prod SERVICE` runs and put back
    /// whatever happens. If the apply started and failed, the rollback to `stable` is offered; if
    /// it succeeded but the flag could not be put back, that is said, with what to do, and no
    /// rollback. `paused`: the DAGs paused for it (`airflow.while_paused`).
    ///
    /// ```rhai
    /// catalog.apply_production(stable, to_pause);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn apply_production(
        call: NativeCallContext,
        deployment: &mut Deployment,
        stable: Dynamic,
        paused: rhai::Array,
    ) -> HostResult<()> {
        let paused: Vec<String> = paused.iter().map(ToString::to_string).collect();
        deployment.apply_production(&call, &stable, &paused)
    }

    /// Offers to roll production back to `stable` (from `last_stable`; () when there is none)
    /// after `reason`: the team's channel told, then, confirmed, the infrastructure repository's
    /// rollback workflow dispatched with its rel- tag, or with `rollback: "local"` the tag set in
    /// the .tf file and applied through the same guarded apply as a deploy. Returns whether it
    /// was done.
    ///
    /// ```rhai
    /// on_error(|| check_airflow(), |message| catalog.offer_rollback(stable, message));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn offer_rollback(
        call: NativeCallContext,
        deployment: &mut Deployment,
        stable: Dynamic,
        reason: &str,
    ) -> HostResult<bool> {
        deployment.offer_rollback(&call, &stable, reason)
    }

    /// New unresolved Sentry errors of `project` ("" for the one configured) since `since`,
    /// watched for `watch` (a duration; "" looks once), since errors take a while to show. Any:
    /// shown as a table, the rollback to `stable` offered, and the runbook stopped when it is
    /// done. Sentry unreadable: said loudly ("NOT checked") and left by hand, never "no errors".
    ///
    /// ```rhai
    /// step("Check for Sentry errors", || catalog.check_sentry(began, "10m", "", stable));
    /// ```
    #[rhai_fn(return_raw)]
    pub fn check_sentry(
        call: NativeCallContext,
        deployment: &mut Deployment,
        since: &str,
        watch: &str,
        project: &str,
        stable: Dynamic,
    ) -> HostResult<()> {
        deployment.check_sentry(&call, since, watch, project, &stable)
    }

    /// Tells the team's channel that production may be disrupted (`reason`) and which rollback
    /// is offered (to `stable`, or none when it is ()): "treat this as a production incident".
    ///
    /// ```rhai
    /// catalog.notify_incident(stable, "the production apply failed");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn notify_incident(
        deployment: &mut Deployment,
        stable: Dynamic,
        reason: &str,
    ) -> HostResult<bool> {
        deployment.notify_incident(&stable, reason)
    }

    /// Tells the team's channel that production is being rolled back to `stable`, and `how`.
    ///
    /// ```rhai
    /// catalog.notify_rollback(stable, "the deploy workflow runs it");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn notify_rollback(
        deployment: &mut Deployment,
        stable: Map,
        how: &str,
    ) -> HostResult<bool> {
        deployment.notify_rollback(&stable, how)
    }
}

//! `sentry`: the unresolved issues of the configured project seen since a point in time, which
//! is how a runbook decides whether a deploy broke something. This is the binding: `client`
//! speaks to Sentry, `model` types its answers.

mod client;
mod model;

use chrono::Utc;
use rhai::{Array, Engine};
use std::sync::Arc;

use self::client::Client;
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::objects::Objects;
use crate::rest::Shared;
use crate::system::System;

/// The script object `sentry`; its client is made on first use.
pub type Sentry = Arc<System<Client>>;

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    System::<Client>::install(engine, ctx, objects, "sentry", "Sentry");
    engine.register_global_module(rhai::exported_module!(sentry_api).into());
}

/// The `sentry` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod sentry_api {
    use super::*;

    /// Unresolved issues of the project last seen since `since` (a duration like "30m" back from
    /// now, or an RFC 3339 time), all pages, as #{id, title, culprit, level, count, first_seen,
    /// last_seen, permalink}.
    ///
    /// ```rhai
    /// let errors = sentry.errors_since(deployed_at);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn errors_since(sentry: Sentry, since: &str) -> HostResult<Array> {
        sentry.errors_since(since, None)
    }

    /// The same for another project of the organization (its slug), e.g. the ingestion server's.
    ///
    /// ```rhai
    /// let errors = sentry.errors_since(began, "openverse-ingestion-server");
    /// ```
    #[rhai_fn(return_raw, name = "errors_since")]
    pub fn errors_since_in_project(
        sentry: Sentry,
        since: &str,
        project: &str,
    ) -> HostResult<Array> {
        sentry.errors_since(since, Some(project))
    }
}

impl System<Client> {
    fn sentry(&self) -> HostResult<&Client> {
        self.client(|ctx| Client::new(&ctx.config.sentry, Shared::of(ctx)))
    }

    /// `sentry.errors_since`, for the deployment's check after a deploy too.
    pub fn errors_since(&self, since: &str, project: Option<&str>) -> HostResult<Array> {
        let now = Utc::now();
        let since = crate::when::since(since, now).map_err(host_error)?;
        let issues = self.sentry()?.errors_since(since, now, project)?;
        issues.iter().map(rhai::serde::to_dynamic).collect()
    }
}

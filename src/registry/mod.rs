//! `registry`: whether a container image has a tag, asked of its registry with the OCI
//! distribution API, so that a runbook never bumps a service to an image that was not built.
//!
//! `HEAD /v2/<name>/manifests/<tag>` answers 200 (the tag exists) or 404 (`MANIFEST_UNKNOWN`).
//! Registries like ghcr.io first answer 401 with a bearer challenge, public images included: the
//! token it names is fetched anonymously, once per repository for the run, and the request sent
//! again with it. The token travels in a header only; no message and no journal line holds it.
//! Any other answer, or none, is an error: a runbook must never take "could not check" for "not
//! there".
//!
//! This is the binding: `client` asks, `model` reads images and tags, `challenge` the registry's
//! token dance.

mod challenge;
mod client;
mod model;

use rhai::Engine;
use std::sync::Arc;

use self::client::Client;
use self::model::{check_tag, Image};
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::objects::Objects;
use crate::rest::Shared;
use crate::system::System;

/// The script object `registry`; its client is made on first use.
pub type Registry = Arc<System<Client>>;

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    System::<Client>::install(engine, ctx, objects, "registry", "Registry");
    engine.register_global_module(rhai::exported_module!(registry_api).into());
}

/// The `registry` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod registry_api {
    use super::*;

    /// Whether an image (its registry host, then its name) has this tag: true or false as the
    /// registry answers (OCI distribution API, the anonymous token ghcr.io gives; `[registry] url`
    /// replaces the host); throws when it cannot tell (refused, 5xx, no answer).
    ///
    /// ```rhai
    /// let built = registry.has_tag("ghcr.io/wordpress/openverse-catalog", "rel-2024.05.02.10.00.00");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn has_tag(registry: Registry, image: &str, tag: &str) -> HostResult<bool> {
        registry.has_tag(image, tag)
    }
}

impl System<Client> {
    pub fn has_tag(&self, image: &str, tag: &str) -> HostResult<bool> {
        let usage = |e: String| host_error(format!("registry.has_tag: {e}"));
        let image = Image::parse(image).map_err(usage)?;
        let tag = check_tag(tag).map_err(usage)?;
        self.ctx().check_cancelled()?;
        let client = self.client(|ctx| Client::new(&ctx.config.registry, Shared::of(ctx)))?;
        Ok(client.has_tag(&image, tag)?)
    }
}

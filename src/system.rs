//! A system's script object (`airflow`, `github`, `sentry`, `registry`, `http`): the run's
//! context and the system's client, made on first use, so that a script that never calls a
//! system needs no settings for it. Each binding names its own: `type Github =
//! Arc<System<github::Client>>`, a type of its own for Rhai.

use rhai::{Dynamic, Engine};
use std::sync::Arc;

use crate::context::Ctx;
use crate::error::{Failure, HostResult};
use crate::objects::Objects;
use crate::rest::Lazy;

pub struct System<C> {
    ctx: Ctx,
    client: Lazy<C>,
}

impl<C: Send + Sync + 'static> System<C> {
    /// Gives scripts the object `name`, of the Rhai type `type_name`.
    pub fn install(
        engine: &mut Engine,
        ctx: &Ctx,
        objects: &mut Objects,
        name: &str,
        type_name: &str,
    ) {
        engine.register_type_with_name::<Arc<System<C>>>(type_name);
        let system: System<C> = System {
            ctx: ctx.clone(),
            client: Lazy::default(),
        };
        objects.insert(name, Dynamic::from(Arc::new(system)));
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// The client, made by `make` from the run's context on the first call.
    pub fn client(&self, make: impl FnOnce(&Ctx) -> Result<C, Failure>) -> HostResult<&C> {
        Ok(self.client.get(|| make(&self.ctx))?)
    }
}

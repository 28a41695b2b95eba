//! `git` host object: not built yet (issue 3).

use rhai::Engine;

use crate::context::Ctx;
use crate::engine::Objects;

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    let _ = (engine, ctx, objects);
}

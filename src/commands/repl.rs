//! `ovscript repl`: a session with the host objects, journaled, against the real systems or a
//! rehearsal's world.

use super::setup::{clock_for, context, start_rehearsal, Settings};
use super::{load_config, working_dir};
use crate::cli::Common;
use crate::engine::Runtime;
use crate::error::Error;
use crate::operator::Resume;

pub(super) fn repl(
    dry_run: bool,
    yes: bool,
    rehearse: Option<&str>,
    common: &Common,
) -> Result<(), Error> {
    let base_dir = working_dir()?;
    let mut config = load_config(common, &base_dir)?;
    // Kept for the whole session: the simulated world stops when it is dropped.
    let rehearsal = start_rehearsal(rehearse, &base_dir, &mut config)?;
    let settings = Settings {
        config,
        dry_run,
        yes,
        clock: clock_for(&rehearsal),
        journal: true,
        runbook: String::new(),
        rehearsal: rehearsal.is_some(),
        resumed: None,
    };
    let ctx = context(settings, base_dir.clone())?;
    if let Some(rehearsal) = &rehearsal {
        ctx.ui.line(&format!(
            "rehearsal `{}`: a simulated world on this machine",
            rehearsal.scenario
        ));
    }
    let runtime = Runtime::new(ctx, Resume::default(), Some(&base_dir), Vec::new());
    let result = crate::repl::start(runtime);
    drop(rehearsal);
    result
}

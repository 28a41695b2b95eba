//! What every command builds before its work: the run's context from its settings, a runtime
//! that runs nothing live, and a rehearsal's simulated world.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::working_dir;
use crate::config::Config;
use crate::context::{Clock, Context, Ctx};
use crate::engine::Runtime;
use crate::error::Error;
use crate::journal::{self, Journal};
use crate::operator::Resume;
use crate::redact::Redactor;
use crate::ui::Ui;

/// How a context is made: from flags for `run`, with nothing live for `check` and `doc`.
pub struct Settings {
    pub config: Config,
    pub dry_run: bool,
    pub yes: bool,
    pub clock: Clock,
    pub journal: bool,
    pub runbook: String,
    pub rehearsal: bool,
    pub resumed: Option<journal::RunRecord>,
}

impl Settings {
    /// Nothing live, nothing journaled: for `check`, `doc`, completion.
    pub fn offline(config: Config) -> Settings {
        Settings {
            config,
            dry_run: true,
            yes: false,
            clock: Clock::default(),
            journal: false,
            runbook: String::new(),
            rehearsal: false,
            resumed: None,
        }
    }
}

pub fn context(settings: Settings, base_dir: PathBuf) -> Result<Ctx, Error> {
    let redactor = Redactor::new(settings.config.secrets());
    if settings.journal && crate::actions::active() {
        // Masked in the job's log before anything is printed, and each secret learnt later (an
        // Airflow 3 token) before it could be.
        redactor.tell_each_form(|form| {
            if !form.trim().is_empty() {
                crate::ui::out(&format!("{}\n", crate::actions::mask(form)));
            }
        });
    }
    let journal = if settings.journal {
        Journal::create(&base_dir, redactor.clone()).map_err(|e| {
            Error::usage(format!(
                "cannot create the journal under {}: {e}",
                base_dir.join(journal::DIR).display()
            ))
        })?
    } else {
        Journal::disabled()
    };
    let journal = Arc::new(journal);
    if settings.journal {
        crate::signals::journal_run(journal.clone());
    }
    Ok(Arc::new(Context {
        config: settings.config,
        dry_run: settings.dry_run,
        yes: settings.yes,
        journal: journal.clone(),
        ui: Ui::new(redactor.clone(), Some(journal)),
        cancel: crate::signals::cancel(),
        clock: settings.clock,
        base_dir,
        redactor,
        summary: Default::default(),
        runbook: settings.runbook,
        rehearsal: settings.rehearsal,
        resumed: settings.resumed,
        at_end: Default::default(),
        guards: Default::default(),
        deferred: Default::default(),
    }))
}

/// A runtime that runs nothing live: for `check`, `doc`, completion.
pub fn offline_runtime(config: Config, script_dir: Option<&Path>) -> Result<Runtime, Error> {
    let settings = Settings::offline(config);
    let ctx = context(settings, working_dir()?)?;
    Ok(Runtime::new(ctx, Resume::default(), script_dir, Vec::new()))
}

/// Starts the simulated world of `--rehearse=SCENARIO` and points `config` at it.
pub(super) fn start_rehearsal(
    scenario: Option<&str>,
    base_dir: &Path,
    config: &mut Config,
) -> Result<Option<crate::rehearse::Rehearsal>, Error> {
    let Some(name) = scenario else {
        return Ok(None);
    };
    let scenario = crate::rehearse::parse_scenario(name)?;
    // The operator's real secrets stay redacted although the world's replace them.
    let real_secrets = config.secrets();
    config.kept_secrets.extend(real_secrets);
    let id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    let dir = base_dir.join(".ovscript/rehearsals").join(id);
    crate::rehearse::Rehearsal::start(scenario, dir, config).map(Some)
}

/// A rehearsal's waits run on a fast clock.
pub(super) fn clock_for(rehearsal: &Option<crate::rehearse::Rehearsal>) -> Clock {
    match rehearsal {
        Some(_) => Clock::fast(crate::rehearse::CLOCK_SPEED),
        None => Clock::default(),
    }
}

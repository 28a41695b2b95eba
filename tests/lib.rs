//! One integration test crate: each module is a group of scenarios run against the real binary.

mod test;

mod actions;
mod airflow;
mod architecture;
mod bad_inputs;
mod docs;
mod embedded;
mod foundation;
mod history;
mod just_git;
mod mutants;
mod registry;
mod rehearsal;
mod repl;
mod runbook_pages;
mod runbooks;
mod safety;
mod sentry_github;
mod slack;
mod terminal;
mod tf;
mod workflows;

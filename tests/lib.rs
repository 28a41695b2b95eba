//! One integration test crate: each module is a group of scenarios run against the real binary.

mod test;

mod airflow;
mod architecture;
mod embedded;
mod docs;
mod foundation;
mod just_git;
mod registry;
mod repl;
mod runbooks;
mod safety;
mod sentry_github;
mod tf;

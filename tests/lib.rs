//! One integration test crate: each module is a group of scenarios run against the real binary.

mod test;

mod foundation;
mod airflow;
mod just_git;
mod sentry_github;
mod tf;

//! The named states of the simulated world (scenarios, a contract), the credentials its fakes
//! accept, and the faults tests give it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::AirflowVersion;

/// A named state of the world; the names are a contract (users pick them, tests use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scenario {
    #[default]
    Calm,
    DagRunning,
    SensorWaiting,
    ApplyFails,
    SentryErrors,
    AirflowDown,
    ImageLate,
    ImageMissing,
    AirflowUpgrade,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::Calm,
        Scenario::DagRunning,
        Scenario::SensorWaiting,
        Scenario::ApplyFails,
        Scenario::SentryErrors,
        Scenario::AirflowDown,
        Scenario::ImageLate,
        Scenario::ImageMissing,
        Scenario::AirflowUpgrade,
    ];

    /// The contract name: `calm`, `dag-running`, ...
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Calm => "calm",
            Scenario::DagRunning => "dag-running",
            Scenario::SensorWaiting => "sensor-waiting",
            Scenario::ApplyFails => "apply-fails",
            Scenario::SentryErrors => "sentry-errors",
            Scenario::AirflowDown => "airflow-down",
            Scenario::ImageLate => "image-late",
            Scenario::ImageMissing => "image-missing",
            Scenario::AirflowUpgrade => "airflow-upgrade",
        }
    }

    /// One line saying what the world looks like.
    pub fn summary(self) -> &'static str {
        match self {
            Scenario::Calm => {
                "nothing running, a draft release waiting, apply succeeds, no new Sentry errors"
            }
            Scenario::DagRunning => "a provider DAG (flickr_workflow) is running",
            Scenario::SensorWaiting => {
                "image_data_refresh is running, its HttpSensor task up_for_reschedule"
            }
            Scenario::ApplyFails => "`just apply` exits non-zero",
            Scenario::SentryErrors => "new unresolved Sentry errors appear after the deploy",
            Scenario::AirflowDown => "Airflow does not answer (connection refused)",
            Scenario::ImageLate => {
                "the published release's image appears in the registry a while after publishing"
            }
            Scenario::ImageMissing => "the published release's image never appears in the registry",
            Scenario::AirflowUpgrade => {
                "Airflow answers as 2.10.5 until the production apply, as 3.3.2 (v2 API only) after"
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of [`Scenario::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown scenario `{}`; valid scenarios: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Scenario, UnknownScenario> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s.trim())
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// The credentials the fakes accept. `Debug` does not show them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub airflow_user: String,
    pub airflow_password: String,
    pub sentry_token: String,
    pub github_token: String,
}

impl Default for Credentials {
    /// Fixed rehearsal values.
    fn default() -> Credentials {
        Credentials {
            airflow_user: "rehearsal".into(),
            airflow_password: "rehearsal-airflow-password".into(),
            sentry_token: "rehearsal-sentry-token".into(),
            github_token: "rehearsal-github-token".into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("airflow_user", &self.airflow_user)
            .field("airflow_password", &"<redacted>")
            .field("sentry_token", &"<redacted>")
            .field("github_token", &"<redacted>")
            .finish()
    }
}

/// Ways to make the world misbehave, for tests. `Faults::default()` is a healthy world.
/// A rehearsal takes them as JSON from `OVSCRIPT_TEST_WORLD_FAULTS` (e.g.
/// `{"refresh_dags_2024": true}`), so that scenario tests can play a runbook against them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every Airflow answer has this status (e.g. 500) and an RFC 7807 body; nothing changes.
    pub airflow_status: Option<u16>,
    /// Every Sentry answer has this status (e.g. 502) and Sentry's `{detail}` body.
    pub sentry_status: Option<u16>,
    /// Every GitHub answer has this status (e.g. 500) and GitHub's `{message}` body.
    pub github_status: Option<u16>,
    /// Sentry's organization search ignores the project and the time window asked for (a lax
    /// or differently configured server): clients must filter what they get.
    pub sentry_ignores_filters: bool,
    /// Every answer of every service waits this long first (to test client timeouts).
    pub delay: Option<Duration>,
    /// This many extra running DAG runs (e.g. 300), to test pagination.
    pub airflow_running_runs: Option<usize>,
    /// Airflow's `maximum_page_limit` (real default 100).
    pub airflow_page_cap: Option<usize>,
    /// Every successful JSON answer of every service has a broken (truncated) body.
    pub malformed_json: bool,
    /// Approving a pull request answers 422 "Can not approve your own pull request".
    pub github_own_pr: bool,
    /// The refresh DAGs are the 2024 generation (`production_image_data_refresh`, ...), whose
    /// long wait is the mapped `TemplatedConnectionHttpSensor` of `REINDEX_SENSOR_TASK`.
    pub refresh_dags_2024: bool,
    /// The first this-many reads of the waiting refresh run's task instances find its sensor
    /// `running` (caught mid-poke), the later ones `up_for_reschedule`.
    pub sensor_poking_reads: Option<usize>,
    /// Publishing a draft release answers with this tag instead of the draft's (release-drafter
    /// replaced the draft between the read and the publish).
    pub published_tag: Option<String>,
    /// Sentry's largest page (real: 100), to force clients to follow `Link` pages.
    pub sentry_page_cap: Option<usize>,
    /// How many old unresolved issues the watched Sentry project has (default 3).
    pub sentry_old_issues: Option<usize>,
    /// Every registry answer, the token endpoint's too, has this status (e.g. 500) and the
    /// distribution API's `{errors: [{code: UNKNOWN}]}` body.
    pub registry_status: Option<u16>,
    /// The Airflow the world starts with: `"2.10.5"` (the default; `/api/v1`) or `"3.3.2"`
    /// (`/api/v2` only).
    pub airflow_version: Option<AirflowVersion>,
    /// How long Airflow 3's tokens are accepted (real default: a day), to test their renewal.
    pub airflow_token_lifetime: Option<Duration>,
    /// Every Slack answer has this status and Slack's word for it (400 `invalid_payload`, 404
    /// `no_service`, 410 `channel_is_archived`, ...); nothing is posted.
    pub slack_status: Option<u16>,
    /// Every Slack answer waits this long first (the post is still delivered), to test that a
    /// slow Slack does not hold a deploy up.
    pub slack_delay: Option<Duration>,
}

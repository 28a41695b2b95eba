//! `airflow`: what a runbook asks Airflow before and during a deploy (which DAGs run, what
//! their tasks are doing), pausing and unpausing a DAG, and whether Airflow is healthy
//! afterwards. This is the binding: `client` speaks to Airflow 2 or 3 through `connection`,
//! `model` types the answers, and scripts see them as maps.

mod client;
mod collection;
mod connection;
mod model;

use rhai::{Array, Engine, Map};
use serde::Serialize;
use std::sync::Arc;

use self::client::{Client, Listing};
use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::journal::Event;
use crate::objects::Objects;
use crate::rest::Shared;
use crate::system::System;

/// The script object `airflow`; its client is made on first use.
pub type Airflow = Arc<System<Client>>;

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    System::<Client>::install(engine, ctx, objects, "airflow", "Airflow");
    engine.register_global_module(rhai::exported_module!(airflow_api).into());
}

/// The `airflow` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod airflow_api {
    use super::*;

    /// Every DAG run in state running, of all DAGs, all pages, as #{dag_id, run_id, state,
    /// start_date}.
    ///
    /// ```rhai
    /// for run in airflow.running_dags() { info(`${run.dag_id} ${run.run_id}`) }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn running_dags(airflow: Airflow) -> HostResult<Array> {
        airflow.running_dags()
    }

    /// Task instances of a DAG run that started and have not finished (running, queued, scheduled,
    /// up_for_reschedule = a sensor waiting between pokes, deferred, up_for_retry, restarting), as
    /// #{task_id, operator, state}; tasks not started yet are left out.
    ///
    /// ```rhai
    /// airflow.active_tasks(run.dag_id, run.run_id).all(|t| t.state == "up_for_reschedule")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn active_tasks(airflow: Airflow, dag_id: &str, run_id: &str) -> HostResult<Array> {
        airflow.active_tasks(dag_id, run_id)
    }

    /// Pauses a DAG (no new runs or tasks are scheduled); returns its paused state as Airflow
    /// confirms it (true).
    ///
    /// ```rhai
    /// airflow.pause("image_data_refresh")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn pause(airflow: Airflow, dag_id: &str) -> HostResult<bool> {
        airflow.set_paused(dag_id, true)
    }

    /// Unpauses a DAG; returns its paused state as Airflow confirms it (false).
    ///
    /// ```rhai
    /// airflow.unpause("image_data_refresh")
    /// ```
    #[rhai_fn(return_raw)]
    pub fn unpause(airflow: Airflow, dag_id: &str) -> HostResult<bool> {
        airflow.set_paused(dag_id, false)
    }

    /// Whether a DAG is paused.
    ///
    /// ```rhai
    /// if !airflow.is_paused("image_data_refresh") { airflow.pause("image_data_refresh") }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn is_paused(airflow: Airflow, dag_id: &str) -> HostResult<bool> {
        airflow.is_paused(dag_id)
    }

    /// The DAGs with a tag, all pages, as #{dag_id, is_paused, tags}.
    ///
    /// ```rhai
    /// let refresh = airflow.dags("data_refresh").map(|dag| dag.dag_id);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn dags(airflow: Airflow, tag: &str) -> HostResult<Array> {
        airflow.dags(tag)
    }

    /// Airflow's health map (metadatabase, scheduler, ... each with a status) plus `healthy`: true
    /// when the metadatabase and the scheduler are both healthy.
    ///
    /// ```rhai
    /// if !airflow.health().healthy { throw "Airflow is not healthy" }
    /// ```
    #[rhai_fn(return_raw)]
    pub fn health(airflow: Airflow) -> HostResult<Map> {
        airflow.health()
    }

    /// The version Airflow reports, e.g. "2.10.5" or "3.3.2".
    ///
    /// ```rhai
    /// info(`Airflow ${airflow.version()}`)
    /// ```
    #[rhai_fn(return_raw)]
    pub fn version(airflow: Airflow) -> HostResult<String> {
        airflow.version()
    }
}

impl System<Client> {
    fn airflow(&self) -> HostResult<&Client> {
        self.client(|ctx| {
            let told = ctx.clone();
            let notice = Box::new(move |text: &str| told.ui.info(text));
            Client::new(&ctx.config.airflow, Shared::of(ctx), notice)
        })
    }

    fn running_dags(&self) -> HostResult<Array> {
        self.listed(self.airflow()?.running_dags()?)
    }

    fn active_tasks(&self, dag_id: &str, run_id: &str) -> HostResult<Array> {
        self.listed(self.airflow()?.active_tasks(dag_id, run_id)?)
    }

    fn dags(&self, tag: &str) -> HostResult<Array> {
        self.listed(self.airflow()?.dags(tag)?)
    }

    pub fn is_paused(&self, dag_id: &str) -> HostResult<bool> {
        Ok(self.airflow()?.is_paused(dag_id)?)
    }

    /// Pauses or unpauses; the state Airflow answers with must be the one asked for, because a
    /// runbook goes on to deploy believing it.
    pub fn set_paused(&self, dag_id: &str, paused: bool) -> HostResult<bool> {
        let client = self.airflow()?;
        if self.ctx().dry_run {
            // A read, so that a wrong DAG id fails in the dry run and not in the real one.
            client.is_paused(dag_id)?;
        }
        let would = format!("PATCH {} is_paused={paused}", client.pause_url(dag_id)?);
        if self.ctx().would(&would) {
            return Ok(paused);
        }
        if paused {
            // Unpausing is putting back: always allowed.
            self.ctx()
                .production_change(&format!("Pausing the DAG {dag_id}"))?;
        }
        let confirmed = client.set_paused(dag_id, paused)?;
        self.ctx().record(Event::AirflowPause {
            dag_id: dag_id.to_string(),
            is_paused: confirmed,
            intent: false,
        });
        if confirmed != paused {
            return Err(host_error(format!(
                "Airflow kept DAG {dag_id} {}: the PATCH was accepted but not applied; check the DAG in Airflow's UI",
                if confirmed { "paused" } else { "unpaused" }
            )));
        }
        let done = if confirmed { "paused" } else { "unpaused" };
        self.ctx().ui.line(&format!("{done} {dag_id}"));
        Ok(confirmed)
    }

    fn health(&self) -> HostResult<Map> {
        let health = self.airflow()?.health()?;
        rhai::serde::to_dynamic(&health)?
            .try_cast::<Map>()
            .ok_or_else(|| host_error("Airflow's health check is not a map"))
    }

    fn version(&self) -> HostResult<String> {
        Ok(self.airflow()?.version()?)
    }

    /// A listing as scripts see it, after warning when it may be incomplete.
    fn listed<T: Serialize>(&self, listing: Listing<T>) -> HostResult<Array> {
        if let Some(warning) = &listing.warning {
            self.ctx().ui.warn(warning);
        }
        listing.items.iter().map(rhai::serde::to_dynamic).collect()
    }
}

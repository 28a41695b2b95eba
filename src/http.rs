//! `http`: a plain GET of any URL, for checks like "Airflow is accessible". A status is an
//! answer, not a failure: the script decides what a 503 means.

use reqwest::Method;
use rhai::{Engine, Map};
use std::sync::Arc;

use crate::context::Ctx;
use crate::error::{host_error, HostResult};
use crate::objects::Objects;
use crate::rest::{display_url, Rest, RestError, Service, Shared};
use crate::system::System;

/// The script object `http`: one client for every URL, built on first use.
pub type Http = Arc<System<Rest>>;

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    System::<Rest>::install(engine, ctx, objects, "http", "Http");
    engine.register_global_module(rhai::exported_module!(http_api).into());
}

/// The `http` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod http_api {
    use super::*;

    /// GETs any http(s) URL: #{status, body, elapsed_ms}; a non-2xx status is returned, not thrown;
    /// no answer (refused, timeout) throws.
    ///
    /// ```rhai
    /// let page = http.get("https://airflow.openverse.engineering/health");
    /// ```
    #[rhai_fn(return_raw)]
    pub fn get(http: Http, url: &str) -> HostResult<Map> {
        http.get(url)
    }
}

impl System<Rest> {
    fn rest(&self) -> HostResult<&Rest> {
        self.client(|ctx| {
            let service = Service {
                credentials_hint: "the credentials in the URL".into(),
                ..Service::by_url("http", None, "the URL")
            };
            Rest::new(Shared::of(ctx), service)
        })
    }

    fn get(&self, url: &str) -> HostResult<Map> {
        let url = url.trim();
        let parsed = url::Url::parse(url).map_err(|e| {
            host_error(format!(
                "http.get: `{url}` is not a URL ({e}): write it like https://example.org/health"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(host_error(format!(
                "http.get: `{}` is not an http(s) URL",
                display_url(url)
            )));
        }
        let rest = self.rest()?;
        let reply = rest
            .exchange(Method::GET, url, None)
            .map_err(|e| self.explain(rest, e))?;
        let mut answer = Map::new();
        answer.insert("status".into(), i64::from(reply.status).into());
        answer.insert("body".into(), reply.text.into());
        answer.insert(
            "elapsed_ms".into(),
            i64::try_from(reply.elapsed.as_millis())
                .unwrap_or(i64::MAX)
                .into(),
        );
        Ok(answer)
    }

    /// Failures name the URL (without credentials) rather than a "service" called http.
    fn explain(&self, rest: &Rest, error: RestError) -> Box<rhai::EvalAltResult> {
        let message = match error {
            RestError::Unreachable { url, reason } => format!("cannot reach {url}: {reason}"),
            RestError::Timeout { url } => format!(
                "{url} did not answer within {}s",
                rest.service().timeout.as_secs()
            ),
            other => return rest.explain(other, "http.get").into(),
        };
        host_error(self.ctx().redact(&message))
    }
}

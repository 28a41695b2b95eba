//! `slack`: tells the team's channel (the seeds' `#openverse-alerts`) what a deploy does, through
//! a Slack incoming webhook (`[slack] webhook`).
//!
//! A notification is never a reason to stop a deploy or to leave a flag set: without a webhook
//! the run says so once and goes on; a post Slack refuses, or that takes too long, is a warning
//! (and the operator is asked, once, to tell the team by hand). Only Ctrl-C stops a post. The
//! webhook URL is a secret (whoever has it can post): it is redacted like a token, and no
//! message here names it.

use reqwest::Method;
use rhai::{Dynamic, Engine};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::given;
use crate::context::Ctx;
use crate::error::HostResult;
use crate::journal::Event;
use crate::objects::Objects;
use crate::rest::{Lazy, Rest, RestError, Service, Shared};

/// Seconds a post may take when `[slack] timeout` does not say: a notification must not hold a
/// deploy up for long.
const DEFAULT_TIMEOUT_SECS: u64 = 10;

const WHERE: &str = "OVSCRIPT_SLACK_WEBHOOK, or `webhook` under [slack]";

/// The script object `slack`; its HTTP client is made on the first post.
#[derive(Clone)]
pub struct Slack(Arc<SlackClient>);

struct SlackClient {
    ctx: Ctx,
    rest: Lazy<Rest>,
    /// The run was told that no webhook is configured.
    told_unconfigured: AtomicBool,
    /// A post failed: the operator was asked to tell the team by hand.
    told_failed: AtomicBool,
}

pub fn register(engine: &mut Engine, ctx: &Ctx, objects: &mut Objects) {
    engine.register_type_with_name::<Slack>("Slack");
    objects.insert(
        "slack",
        Dynamic::from(Slack(Arc::new(SlackClient {
            ctx: ctx.clone(),
            rest: Lazy::default(),
            told_unconfigured: AtomicBool::new(false),
            told_failed: AtomicBool::new(false),
        }))),
    );
    engine.register_global_module(rhai::exported_module!(slack_api).into());
}

/// The `slack` object's methods; their doc comments are their documentation everywhere.
#[rhai::plugin::export_module]
mod slack_api {
    use super::*;

    /// Posts a message to the team's channel (the Slack incoming webhook of `[slack] webhook`);
    /// true when Slack took it. Never stops the run: without a webhook it says so once, and a
    /// refusal or a timeout is a warning. A dry run says what it would post.
    ///
    /// ```rhai
    /// slack.post(`${git.identity()} is deploying ${release.tag_name} to production`);
    /// ```
    #[rhai_fn(return_raw)]
    pub fn post(slack: Slack, text: &str) -> HostResult<bool> {
        slack.post(text)
    }
}

impl Slack {
    fn ctx(&self) -> &Ctx {
        &self.0.ctx
    }

    /// `slack.post`, for the host's own announcements too.
    pub fn post(&self, text: &str) -> HostResult<bool> {
        let ctx = self.ctx();
        // The channel is a door out like any output: a secret never goes through it.
        let text = ctx.redact(text);
        let text = text.trim();
        if text.is_empty() {
            ctx.ui
                .warn("slack.post: nothing to post (the text is empty)");
            return Ok(false);
        }
        let webhook = given(&ctx.config.slack.webhook);
        if webhook.is_none() && !self.0.told_unconfigured.swap(true, Ordering::SeqCst) {
            ctx.ui.info(&format!(
                "note: Slack is not configured: the team's channel is not told of this run (set {WHERE})"
            ));
        }
        if ctx.would(&format!("post to Slack: {text}")) {
            return Ok(false);
        }
        let Some(webhook) = webhook else {
            self.journal(text, "not configured", None, None);
            return Ok(false);
        };
        ctx.check_cancelled()?;
        let rest = self.rest()?;
        let body = json!({ "text": escape(text) });
        match rest.send(Method::POST, &webhook, Some(&body)) {
            Ok(reply) => {
                self.journal(text, "posted", Some(reply.status), None);
                Ok(true)
            }
            Err(RestError::Interrupted { url }) => Err(rest
                .explain(
                    RestError::Interrupted { url },
                    "posting to the team's channel",
                )
                .into()),
            Err(error) => {
                let status = match &error {
                    RestError::Status { status, .. } => Some(*status),
                    _ => None,
                };
                let reason = ctx.redact(&explain(&error, rest));
                self.journal(text, "failed", status, Some(&reason));
                ctx.ui.warn(&format!(
                    "could not post to Slack: {reason}; the deploy goes on"
                ));
                if !self.0.told_failed.swap(true, Ordering::SeqCst) {
                    let what = "tell the team's channel how the deploy went: Slack did not take ovscript's posts (see the warnings)";
                    ctx.summary.by_hand(what);
                    ctx.record(Event::ByHand { what: what.into() });
                }
                Ok(false)
            }
        }
    }

    fn rest(&self) -> HostResult<&Rest> {
        let timeout = self
            .ctx()
            .config
            .slack
            .timeout
            .or(Some(DEFAULT_TIMEOUT_SECS));
        // The webhook is a full URL, which `Rest` keeps as it is.
        let rest = self.0.rest.get(|| {
            Rest::new(
                Shared::of(self.ctx()),
                Service::by_url("slack", timeout, WHERE),
            )
        })?;
        Ok(rest)
    }

    /// Journals a post: its text (never the webhook), what came of it.
    fn journal(&self, text: &str, outcome: &str, status: Option<u16>, error: Option<&str>) {
        self.ctx().record(Event::SlackPost {
            text: text.to_string(),
            outcome: outcome.to_string(),
            status,
            error: error.map(str::to_string),
        });
    }
}

/// Why a post failed, and what to do, in Slack's own words where it gives some. The URL is left
/// out: it is the secret.
fn explain(error: &RestError, rest: &Rest) -> String {
    match error {
        RestError::Status { status, detail, .. } => {
            let word = detail.trim();
            let advice = match (*status, word) {
                (404, _) | (_, "no_service") | (_, "invalid_token") => {
                    format!("the webhook is revoked, disabled or mistyped: check {WHERE}")
                }
                (410, _) | (_, "channel_is_archived") => {
                    "its channel is archived: make a webhook for the channel in use".to_string()
                }
                (403, _) => {
                    "the workspace does not let this webhook post: ask its Slack admins".to_string()
                }
                (400, _) => {
                    "Slack could not read the message: this is a bug of ovscript's, please report it"
                        .to_string()
                }
                (429, _) => "Slack limits how often the webhook posts: try again later".to_string(),
                _ => "Slack is failing: see https://slack-status.com".to_string(),
            };
            let said = if word.is_empty() {
                String::new()
            } else {
                format!(" `{word}`")
            };
            format!("Slack answered {status}{said} ({advice})")
        }
        RestError::Timeout { .. } => format!(
            "Slack did not answer within {}s (raise `timeout` under [slack] if it is often slow)",
            rest.service().timeout.as_secs()
        ),
        RestError::Unreachable { reason, .. } => {
            format!("cannot reach Slack: {reason} (check {WHERE}, and the network)")
        }
        RestError::Body { reason, .. } => format!("Slack's answer cannot be read: {reason}"),
        RestError::Interrupted { .. } => "interrupted".to_string(),
    }
}

/// A message as Slack wants it: `&`, `<` and `>` escaped, so that `Name <email>` is shown as
/// written rather than taken for a link.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_characters_are_escaped() {
        assert_eq!(
            escape("Ada <ada@example.org> & co > all"),
            "Ada &lt;ada@example.org&gt; &amp; co &gt; all"
        );
    }
}

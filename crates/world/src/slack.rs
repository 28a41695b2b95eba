//! The fake Slack: one incoming webhook, the team's channel of a rehearsal.
//!
//! As at `https://hooks.slack.com`: the webhook is `POST /services/{team}/{bot}/{secret}` (the
//! path is the credential) with a JSON body `{"text": ...}`, and the answers are plain text:
//! `200 ok`; `400 invalid_payload` for a body that is not JSON or has no `text`; `404 no_service`
//! for any other path (a revoked or mistyped webhook) or method. Slack's formatting escapes
//! (`&amp;`, `&lt;`, `&gt;`) are undone in what the channel shows ([`Slack::posts`]), as Slack
//! displays them. Faults: every answer with one status (`slack_status`, with the word Slack
//! gives for it) or late (`slack_delay`, the post still delivered, as Slack does after a client
//! gave up).

use serde_json::Value;

use super::server::{Incoming, Reply};
use super::{Answer, Ctx};

/// The path of the world's webhook: what the rehearsal configures as `[slack] webhook`.
pub(crate) const WEBHOOK_PATH: &str =
    "/services/T0REHEARSAL/B0REHEARSAL/rehearsal-slack-webhook-secret";

#[derive(Default)]
pub(crate) struct Slack {
    /// What the channel shows, oldest first.
    posts: Vec<String>,
}

impl Slack {
    pub(crate) fn handle(&mut self, ctx: &Ctx, req: &Incoming) -> Answer {
        let authorized = req.path == WEBHOOK_PATH;
        if let Some(status) = ctx.faults.slack_status {
            return Answer::new(text(status, error_word(status)), authorized);
        }
        if !authorized || req.method != "POST" {
            return Answer::new(text(404, "no_service"), false);
        }
        let Some(posted) = message(req) else {
            return Answer::new(text(400, "invalid_payload"), true);
        };
        self.posts.push(posted);
        Answer::new(text(200, "ok"), true)
    }

    pub(crate) fn posts(&self) -> Vec<String> {
        self.posts.clone()
    }
}

/// The text a request posts, as the channel shows it; `None` when Slack would refuse the body.
fn message(req: &Incoming) -> Option<String> {
    let body: Value = serde_json::from_slice(&req.body).ok()?;
    let posted = body.get("text")?.as_str()?;
    (!posted.trim().is_empty()).then(|| unescape(posted))
}

/// Slack's three formatting escapes, undone as its clients display them.
fn unescape(posted: &str) -> String {
    posted
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The word Slack answers with for a status.
fn error_word(status: u16) -> &'static str {
    match status {
        200 => "ok",
        400 => "invalid_payload",
        403 => "action_prohibited",
        404 => "no_service",
        410 => "channel_is_archived",
        _ => "rollup_error",
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        status,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: body.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, body: &str) -> Incoming {
        Incoming {
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            base_url: "http://127.0.0.1:1".into(),
        }
    }

    fn answer(slack: &mut Slack, faults: &super::super::Faults, req: &Incoming) -> (u16, String) {
        let creds = super::super::Credentials::default();
        let ctx = Ctx {
            now: chrono::Utc::now(),
            creds: &creds,
            faults,
        };
        let reply = slack.handle(&ctx, req).reply;
        (reply.status, String::from_utf8(reply.body).unwrap())
    }

    #[test]
    fn answers_as_a_slack_webhook() {
        let mut slack = Slack::default();
        let healthy = super::super::Faults::default();
        let ok = post(WEBHOOK_PATH, r#"{"text": "a &lt;b&gt; &amp; c"}"#);
        assert_eq!(answer(&mut slack, &healthy, &ok), (200, "ok".into()));
        let no_text = post(WEBHOOK_PATH, r#"{"blocks": []}"#);
        assert_eq!(
            answer(&mut slack, &healthy, &no_text),
            (400, "invalid_payload".into())
        );
        let not_json = post(WEBHOOK_PATH, "text=hello");
        assert_eq!(
            answer(&mut slack, &healthy, &not_json),
            (400, "invalid_payload".into())
        );
        let wrong_path = post(
            "/services/T0REHEARSAL/B0REHEARSAL/other",
            r#"{"text": "x"}"#,
        );
        assert_eq!(
            answer(&mut slack, &healthy, &wrong_path),
            (404, "no_service".into())
        );
        let mut get = ok.clone();
        get.method = "GET".into();
        assert_eq!(
            answer(&mut slack, &healthy, &get),
            (404, "no_service".into())
        );
        assert_eq!(slack.posts(), ["a <b> & c"]);
    }

    #[test]
    fn a_status_fault_answers_every_post_with_slacks_word_for_it() {
        let mut slack = Slack::default();
        let faults = super::super::Faults {
            slack_status: Some(410),
            ..Default::default()
        };
        let ok = post(WEBHOOK_PATH, r#"{"text": "x"}"#);
        assert_eq!(
            answer(&mut slack, &faults, &ok),
            (410, "channel_is_archived".into())
        );
        assert!(slack.posts().is_empty());
    }
}

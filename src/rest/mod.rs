//! HTTP plumbing shared by the systems that speak JSON over HTTP (Airflow, Sentry, GitHub, the
//! registry, http, Slack): one blocking client per system with timeouts, every call journaled
//! (method, URL without credentials, status, duration), and failures turned into messages that
//! say what to do. Each system owns its own `Rest`; this module knows nothing about any of them,
//! and nothing about Rhai: it takes of the run only what it uses (`Shared`).

mod detail;
mod service;

use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cancel::Cancel;
use crate::context::Context;
use crate::error::Failure;
use crate::journal::{Event, Journal};
use crate::redact::Redactor;

use self::detail::detail_of;
pub use self::service::{server_root, Auth, Service};

/// What a client takes of the run: Ctrl-C (a call waits for an answer or for it), the journal
/// (every call is a line), the redactor (no message shows a secret, nor a token a server issued).
#[derive(Clone)]
pub struct Shared {
    pub cancel: Cancel,
    pub journal: Arc<Journal>,
    pub redactor: Redactor,
}

impl Shared {
    pub fn of(context: &Context) -> Shared {
        Shared {
            cancel: context.cancel.clone(),
            journal: context.journal.clone(),
            redactor: context.redactor.clone(),
        }
    }

    /// Nothing journaled, nothing secret, never cancelled: for a client's own tests.
    pub fn detached() -> Shared {
        Shared {
            cancel: Cancel::default(),
            journal: Arc::new(Journal::disabled()),
            redactor: Redactor::default(),
        }
    }

    /// `Failure::Interrupted` once Ctrl-C was pressed: a client asks between pages.
    pub fn check_cancelled(&self) -> Result<(), Failure> {
        if self.cancel.is_cancelled() {
            Err(Failure::Interrupted("interrupted".into()))
        } else {
            Ok(())
        }
    }

    /// A failure as the operator may read it: no secret in it.
    pub fn failure(&self, message: impl AsRef<str>) -> Failure {
        Failure::new(self.redactor.redact(message.as_ref()))
    }
}

/// A client made on first use: building one starts a thread, and a script that never calls a
/// system must not need that system configured.
pub struct Lazy<T>(std::sync::OnceLock<T>);

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy(std::sync::OnceLock::new())
    }
}

impl<T> Lazy<T> {
    /// The client, made now by `make` if this is the first call; a failure is made again next
    /// time (the operator may have fixed the setting in the REPL).
    pub fn get(&self, make: impl FnOnce() -> Result<T, Failure>) -> Result<&T, Failure> {
        if let Some(client) = self.0.get() {
            return Ok(client);
        }
        let client = make()?;
        Ok(self.0.get_or_init(|| client))
    }
}

pub struct Rest {
    shared: Shared,
    service: Service,
    client: Client,
}

pub struct Reply {
    pub method: Method,
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum RestError {
    /// The server answered with a non-success status.
    Status {
        method: Method,
        url: String,
        status: u16,
        detail: String,
    },
    Unreachable {
        url: String,
        reason: String,
    },
    Timeout {
        url: String,
    },
    /// The answer is not the JSON expected.
    Body {
        url: String,
        reason: String,
    },
    /// Ctrl-C while waiting for the answer.
    Interrupted {
        url: String,
    },
}

/// A request that got no complete answer.
fn failure(error: &reqwest::Error, url: &str) -> RestError {
    let url = url.to_string();
    if error.is_timeout() {
        RestError::Timeout { url }
    } else if error.is_body() || error.is_decode() {
        RestError::Body {
            url,
            reason: root_cause(error),
        }
    } else {
        RestError::Unreachable {
            url,
            reason: root_cause(error),
        }
    }
}

impl Rest {
    pub fn new(shared: Shared, mut service: Service) -> Result<Rest, Failure> {
        service.base_url = service.base_url.trim_end_matches('/').to_string();
        let client = Client::builder()
            .timeout(service.timeout)
            .connect_timeout(service.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("ovscript/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Failure::new(format!(
                    "cannot set up the HTTP client for {}: {e}",
                    service.name
                ))
            })?;
        Ok(Rest {
            shared,
            service,
            client,
        })
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// What this client shares with the run.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// `path` appended to the base URL; a full `http(s)://` URL (a pagination link) is kept.
    pub fn url(&self, path: &str) -> String {
        let scheme = path
            .split("://")
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if path.contains("://") && (scheme == "http" || scheme == "https") {
            path.to_string()
        } else {
            format!("{}/{}", self.service.base_url, path.trim_start_matches('/'))
        }
    }

    pub fn get(&self, path: &str) -> Result<Reply, RestError> {
        self.send(Method::GET, path, None)
    }

    /// A JSON list read page after page along `Link: rel="next"` (GitHub, Sentry), one page per
    /// item, so that a caller can stop between pages (Ctrl-C, or having found what it wants).
    pub fn pages(&self, path: &str) -> Pages<'_> {
        Pages {
            rest: self,
            next: Some(path.to_string()),
            read: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Sends one request and journals it. A non-2xx status is an error carrying the server's
    /// own explanation (RFC 7807 `detail`, GitHub's `message`, Sentry's `detail`); a passing
    /// server failure (500, 502, 503, 504) to a request that may be repeated is tried twice more.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, RestError> {
        self.send_as(method, path, body, &self.service.auth)
    }

    /// Like `send`, with this request's own credentials (see `exchange_as`).
    pub fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: &Auth,
    ) -> Result<Reply, RestError> {
        let mut reply = self.exchange_as(method.clone(), path, body, auth, &[])?;
        // A server restarting (a deploy restarts Airflow), a proxy in front of it, or Airflow's
        // own database being busy answers 5xx for a moment: a request that may be repeated
        // safely is tried again, a little later, before the run stops on it.
        for pause in RETRY_PAUSES {
            if !(is_transient(reply.status) && may_repeat(&method)) {
                break;
            }
            self.shared.cancel.wait(pause);
            if self.shared.cancel.is_cancelled() {
                break;
            }
            reply = self.exchange_as(method.clone(), path, body, auth, &[])?;
        }
        if !(200..300).contains(&reply.status) {
            return Err(RestError::Status {
                // Redacted before it is cut short: a cut token would no longer be recognised.
                detail: detail_of(&self.shared.redactor.redact(&reply.text)),
                method: reply.method,
                url: reply.url,
                status: reply.status,
            });
        }
        Ok(reply)
    }

    /// Like `send`, but any status is an answer (`http.get` reports a 503 rather than failing);
    /// only a request that got no complete answer is an error.
    pub fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, RestError> {
        self.exchange_as(method, path, body, &self.service.auth, &[])
    }

    /// Like `exchange`, with this request's own credentials and extra headers: a system whose
    /// credentials differ per resource (a registry's token per repository) keeps one client.
    pub fn exchange_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: &Auth,
        headers: &[(&str, &str)],
    ) -> Result<Reply, RestError> {
        let url = self.url(path);
        let shown = display_url(&url);
        let started = Instant::now();
        let request = self.request(method.clone(), &url, body, auth, headers);
        let changes = !matches!(method, Method::GET | Method::HEAD);
        let answer = self.answer(request, &shown, changes);
        let elapsed = started.elapsed();
        let (status, headers, text) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                self.journal(&method, &shown, None, elapsed);
                return Err(error);
            }
        };
        self.journal(&method, &shown, Some(status), elapsed);
        Ok(Reply {
            method,
            url: shown,
            status,
            headers,
            text,
            elapsed,
        })
    }

    /// Sends a read on a worker thread and waits for the whole answer or Ctrl-C, whichever comes
    /// first: a hanging server must not keep the operator from interrupting. A change (any
    /// method but GET and HEAD) is sent and waited for, within its timeout.
    fn answer(
        &self,
        request: RequestBuilder,
        shown: &str,
        changes: bool,
    ) -> Result<(u16, HeaderMap, String), RestError> {
        let url = shown.to_string();
        let exchange = move || {
            request
                .send()
                .map_err(|e| failure(&e, &url))
                .and_then(|response| {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let text = response.text().map_err(|e| failure(&e, &url))?;
                    Ok((status, headers, text))
                })
        };
        if changes {
            // A change is never abandoned half-way (a publish GitHub takes after the run stopped
            // would go unjournaled, after the lock is released): it is waited for, within its
            // timeout, and the exit's undo waits for it too.
            let _change = self.shared.cancel.change();
            return exchange();
        }
        let answer = self.shared.cancel.interruptible(exchange);
        answer.unwrap_or_else(|| {
            Err(RestError::Interrupted {
                url: shown.to_string(),
            })
        })
    }

    fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        auth: &Auth,
        headers: &[(&str, &str)],
    ) -> RequestBuilder {
        let mut request = self.client.request(method, url);
        for (name, value) in self.service.headers.iter().chain(headers) {
            request = request.header(*name, *value);
        }
        request = match auth {
            Auth::None => request,
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
            Auth::Bearer(token) => request.bearer_auth(token),
        };
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    fn journal(&self, method: &Method, url: &str, status: Option<u16>, elapsed: Duration) {
        self.shared.journal.record(&Event::Http {
            service: self.service.name.to_string(),
            method: method.as_str().to_string(),
            url: url.to_string(),
            status,
            duration_ms: elapsed.as_millis() as u64,
        });
    }

    /// The operator's message for a failed call about `what` ("DAG flickr_workflow").
    pub fn explain(&self, error: RestError, what: &str) -> Failure {
        let name = self.service.name;
        let message = match error {
            RestError::Interrupted { url } => {
                return Failure::Interrupted(format!("while waiting for {name} at {url} ({what})"));
            }
            RestError::Status { status: status @ (401 | 403), url, detail, method } => format!(
                "{name} refused the credentials (HTTP {status} for {method} {url}){}: check {}",
                suffix(&detail),
                self.service.credentials_hint
            ),
            RestError::Status { status: 404, url, detail, method } => {
                format!("{what} not found: {name} answered 404 for {method} {url}{}", suffix(&detail))
            }
            RestError::Status { status, url, detail, method } => {
                let advice = if status >= 500 { ": the server failed; check its health and try again" } else { "" };
                format!("{name} answered {status} for {method} {url} ({what}){}{advice}", suffix(&detail))
            }
            RestError::Unreachable { url, reason } => format!(
                "cannot reach {name} at {url} ({what}): {reason}: check {} and that {name} is up",
                self.service.url_hint
            ),
            RestError::Timeout { url } => format!(
                "{name} did not answer within {}s at {url} ({what}): it may be overloaded; try again, or raise `timeout` in [{name}]",
                self.service.timeout.as_secs()
            ),
            RestError::Body { url, reason } => format!("{name} sent an answer that cannot be read from {url} ({what}): {reason}"),
        };
        self.shared.failure(message)
    }
}

impl Reply {
    pub fn json(&self) -> Result<Value, RestError> {
        serde_json::from_str(&self.text).map_err(|e| RestError::Body {
            url: self.url.clone(),
            reason: format!("not JSON ({e})"),
        })
    }

    /// The `rel="next"` link of a `Link` header, unless it says `results="false"` (Sentry).
    pub fn next_link(&self) -> Option<String> {
        let header = self.headers.get("link")?.to_str().ok()?;
        next_link(header)
    }
}

pub struct Pages<'a> {
    rest: &'a Rest,
    next: Option<String>,
    /// The pages read so far (their URLs): a link back to one of them is a loop.
    read: Vec<String>,
    started: Instant,
}

/// The most pages one listing reads, and for how long: a server whose `next` links never end
/// must not keep a deploy reading.
pub const MAX_PAGES: usize = 1_000;
pub const MAX_LISTING_TIME: Duration = Duration::from_secs(600);

impl Pages<'_> {
    /// Why the page at `path` is not read: a loop, too many pages or too long, or another host
    /// (the credentials go only to the configured one).
    fn refused(&self, path: &str) -> Option<RestError> {
        let url = self.rest.url(path);
        let shown = display_url(&url);
        let reason = if self.read.contains(&url) {
            format!("the server's next link points back to a page already read, after {} pages: it loops", self.read.len())
        } else if self.read.len() >= MAX_PAGES {
            format!("the server's next links did not end after {MAX_PAGES} pages")
        } else if self.started.elapsed() > MAX_LISTING_TIME {
            format!(
                "the listing took longer than {}s",
                MAX_LISTING_TIME.as_secs()
            )
        } else if !self.read.is_empty() && !same_origin(&url, &self.rest.service.base_url) {
            format!(
                "the server's next link leaves {} for another host: not followed (credentials go only to the configured host)",
                display_url(&self.rest.service.base_url)
            )
        } else {
            return None;
        };
        Some(RestError::Body { url: shown, reason })
    }
}

/// Whether two URLs have one origin (scheme, host, port).
/// How long to wait before each repeat of a request that met a passing server failure.
const RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1500)];

/// A status that says the server, or a proxy before it, failed for now rather than refused.
fn is_transient(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Whether sending the request again can do no more than sending it once. Every PATCH and PUT
/// the systems send sets a value outright (`is_paused: true`, `draft: false`); a POST (trigger a
/// DAG run, open a pull request) is never repeated.
fn may_repeat(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

impl Iterator for Pages<'_> {
    type Item = Result<Vec<Value>, RestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.next.take()?;
        if let Some(refused) = self.refused(&path) {
            return Some(Err(refused));
        }
        self.read.push(self.rest.url(&path));
        let page = self.rest.get(&path).and_then(|reply| {
            self.next = reply.next_link();
            match reply.json()? {
                Value::Array(items) => Ok(items),
                _ => Err(RestError::Body {
                    url: reply.url,
                    reason: "expected a JSON list".into(),
                }),
            }
        });
        Some(page)
    }
}

/// One path segment (a slug, a tag, a run id, a workflow file) with everything but unreserved
/// characters percent-encoded, so that `/`, `:`, `+` or `?` in it cannot change the path.
pub fn segment(text: &str) -> String {
    const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, ESCAPED).to_string()
}

/// Parses `Link: <url>; rel="next"; results="true", <url>; rel="last"` (GitHub and Sentry).
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut fields = part.split(';').map(str::trim);
        let url = fields.next()?.strip_prefix('<')?.strip_suffix('>')?;
        let params: Vec<&str> = fields.collect();
        let is_next = params.iter().any(|p| p.replace(' ', "") == "rel=\"next\"");
        let no_results = params
            .iter()
            .any(|p| p.replace(' ', "") == "results=\"false\"");
        (is_next && !no_results).then(|| url.to_string())
    })
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// Query parameters whose values are credentials (`?access_token=...`, `&sig=...`).
const SECRET_PARAMS: &[&str] = &["token", "key", "secret", "password", "sig", "auth"];

/// A URL as it may be shown: no user, password or credential-like query value in it.
pub fn display_url(url: &str) -> String {
    // `admin:pw@host/x` parses as the scheme `admin`: not a URL with a host.
    match url::Url::parse(url).ok().filter(|u| !u.cannot_be_a_base()) {
        Some(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let masked: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let secret = SECRET_PARAMS
                        .iter()
                        .any(|s| k.to_ascii_lowercase().contains(s));
                    (
                        k.into_owned(),
                        if secret { "***".into() } else { v.into_owned() },
                    )
                })
                .collect();
            if masked.iter().any(|(_, v)| v == "***") {
                parsed.query_pairs_mut().clear().extend_pairs(masked);
            }
            parsed.to_string()
        }
        // Not a URL a parser takes (no scheme, a space): its `user:password@` still goes.
        None => without_userinfo(url),
    }
}

/// `text` with any `user:password@` before a host removed (`a:b@host/x` -> `host/x`).
fn without_userinfo(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}{}", &rest[at + 1..]),
        None => text.to_string(),
    }
}

/// The innermost cause: "connection refused", not "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_of_github_and_sentry() {
        let github = r#"<https://api.github.com/repos/o/r/releases?page=2>; rel="next", <https://api.github.com/repos/o/r/releases?page=5>; rel="last""#;
        assert_eq!(
            next_link(github).as_deref(),
            Some("https://api.github.com/repos/o/r/releases?page=2")
        );
        let sentry_more = r#"<https://s/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", <https://s/api/0/x/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0""#;
        assert_eq!(
            next_link(sentry_more).as_deref(),
            Some("https://s/api/0/x/?cursor=0:100:0")
        );
        let sentry_end = r#"<https://s/x?cursor=0:0:1>; rel="previous"; results="true"; cursor="0:0:1", <https://s/x?cursor=0:200:0>; rel="next"; results="false"; cursor="0:200:0""#;
        assert_eq!(next_link(sentry_end), None);
    }

    /// A server on 127.0.0.1 that answers every request with `[1]` and the `Link` header that
    /// `next` gives for its path; it records the `Authorization` header of each request.
    fn linking_server(
        next: impl Fn(&str, u16) -> Option<String> + Send + 'static,
    ) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let path = request.split(' ').nth(1).unwrap_or("/").to_string();
                let mut auth = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("authorization:") {
                        auth = value.trim().to_string();
                    }
                }
                log.lock().unwrap().push(format!("{path} {auth}"));
                let link = next(&path, port)
                    .map(|url| format!("Link: <{url}>; rel=\"next\"\r\n"))
                    .unwrap_or_default();
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: 3\r\nConnection: close\r\n\r\n[1]"
                );
            }
        });
        (format!("http://127.0.0.1:{port}"), seen)
    }

    /// A server on 127.0.0.1 that answers its first `failing` requests with `status`, then `{}`;
    /// it records each request's method.
    fn failing_at_first(
        failing: usize,
        status: u16,
    ) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                log.lock()
                    .unwrap()
                    .push(request.split(' ').next().unwrap_or("").to_string());
                let status = if n < failing { status } else { 200 };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
            }
        });
        (url, seen)
    }

    #[test]
    fn a_passing_server_failure_is_tried_again_when_repeating_is_harmless() {
        let (url, seen) = failing_at_first(2, 503);
        let reply = client(&url).send(
            Method::PATCH,
            "/dag",
            Some(&serde_json::json!({"is_paused": true})),
        );
        assert_eq!(reply.unwrap().status, 200);
        assert_eq!(*seen.lock().unwrap(), ["PATCH", "PATCH", "PATCH"]);

        let (url, seen) = failing_at_first(3, 500);
        match client(&url).get("/x") {
            Err(RestError::Status { status: 500, .. }) => {}
            other => panic!("expected the third 500, got {:?}", other.map(|r| r.status)),
        }
        assert_eq!(seen.lock().unwrap().len(), 3, "tried three times, no more");

        let (url, seen) = failing_at_first(1, 502);
        assert!(client(&url)
            .send(Method::POST, "/dagRuns", Some(&serde_json::json!({})))
            .is_err());
        assert_eq!(
            *seen.lock().unwrap(),
            ["POST"],
            "a POST is never sent twice"
        );

        let (url, seen) = failing_at_first(1, 404);
        assert!(client(&url).get("/x").is_err());
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "a refusal is not a passing failure"
        );
    }

    fn client(base_url: &str) -> Rest {
        let shared = Shared {
            cancel: Cancel::default(),
            journal: Arc::new(Journal::disabled()),
            redactor: Redactor::default(),
        };
        let service = Service {
            name: "sentry",
            base_url: base_url.to_string(),
            auth: Auth::Bearer("t0ken".into()),
            credentials_hint: String::new(),
            url_hint: String::new(),
            timeout: Duration::from_secs(5),
            headers: Vec::new(),
        };
        Rest::new(shared, service).unwrap()
    }

    fn read_all(rest: &Rest) -> Result<usize, RestError> {
        let mut pages = 0;
        for page in rest.pages("/start") {
            page?;
            pages += 1;
        }
        Ok(pages)
    }

    #[test]
    fn a_listing_stops_at_a_loop_at_its_bound_and_at_another_host() {
        // Two pages that link to each other.
        let (base, _) = linking_server(|path, port| {
            let other = if path == "/start" { "/two" } else { "/start" };
            Some(format!("http://127.0.0.1:{port}{other}"))
        });
        let error = read_all(&client(&base)).unwrap_err();
        assert!(
            matches!(&error, RestError::Body { reason, .. } if reason.contains("points back to a page already read, after 2 pages")),
            "{error:?}"
        );
        // Links that never end: a new page each time.
        let (base, _) = linking_server(|path, port| {
            let n: usize = path.trim_start_matches("/p").parse().unwrap_or(0);
            Some(format!("http://127.0.0.1:{port}/p{}", n + 1))
        });
        let error = read_all(&client(&base)).unwrap_err();
        assert!(
            matches!(&error, RestError::Body { reason, .. } if reason.contains(&format!("did not end after {MAX_PAGES} pages"))),
            "{error:?}"
        );
        // A next link to another host: not followed, and the token never goes there.
        let (elsewhere, visited) = linking_server(|_, _| None);
        let target = format!("{elsewhere}/collect");
        let (base, _) = linking_server(move |_, _| Some(target.clone()));
        let error = read_all(&client(&base)).unwrap_err();
        assert!(
            matches!(&error, RestError::Body { reason, .. } if reason.contains("for another host: not followed")),
            "{error:?}"
        );
        assert!(visited.lock().unwrap().is_empty());
    }

    #[test]
    fn a_redirect_to_another_host_carries_no_credentials() {
        use std::io::{BufRead, BufReader, Write};
        let (elsewhere, visited) = linking_server(|_, _| None);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = format!("{elsewhere}/collect");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                    line.clear();
                }
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        let rest = client(&format!("http://127.0.0.1:{port}"));
        let _ = rest.get("/start");
        let seen = visited.lock().unwrap().clone();
        assert_eq!(
            seen,
            ["/collect "],
            "the other host got credentials: {seen:?}"
        );
    }

    #[test]
    fn a_segment_cannot_change_the_path() {
        assert_eq!(segment("catalog-2024.05.01_x~"), "catalog-2024.05.01_x~");
        assert_eq!(
            segment("manual__2024-05-01T12:00:00+00:00"),
            "manual__2024-05-01T12%3A00%3A00%2B00%3A00"
        );
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn urls_a_parser_refuses_lose_their_credentials_too() {
        assert_eq!(display_url("admin:pw@127.0.0.1:8080/x"), "127.0.0.1:8080/x");
        assert_eq!(
            display_url("http://admin:p w@host name/x"),
            "http://host name/x"
        );
        assert_eq!(display_url("not a url at all"), "not a url at all");
        assert_eq!(display_url("host/a@b"), "host/a@b");
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            display_url("http://admin:pw@127.0.0.1:8080/api/v1/dags"),
            "http://127.0.0.1:8080/api/v1/dags"
        );
        assert_eq!(
            display_url("https://x.test/a?access_token=s3cr3t&page=2"),
            "https://x.test/a?access_token=***&page=2"
        );
        assert_eq!(
            display_url("https://x.test/a?update_mask=is_paused"),
            "https://x.test/a?update_mask=is_paused"
        );
    }
}

//! A small HTTP/1.1 server on loopback, shared by the three fakes.
//!
//! Why not `tiny_http`: it drops any `Connection` header a response sets, keeps every connection
//! alive, and gives no way to close those connections or to join its threads. A client's pooled
//! connection then outlives the fake: after the world is dropped, a request sent on it is queued
//! where nobody answers and the client hangs until its timeout. Here every connection is tracked,
//! and dropping the server closes the listener, shuts every connection down and joins every
//! thread before `drop` returns: the port is free and nothing keeps running.
//!
//! Scope: what `reqwest`, `curl` and Python's `urllib` send: origin-form targets, `Content-Length`
//! or chunked request bodies, `Expect: 100-continue`, keep-alive and `Connection: close`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// Largest request head (request line and headers) and body the fakes accept.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One parsed request, as the fakes see it.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub method: String,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `http://127.0.0.1:PORT` of the server that received it, to build absolute links.
    pub base_url: String,
}

impl Incoming {
    /// Path segments, percent-decoded one by one (so an encoded `/` stays inside its segment).
    /// `+` stays `+`: in a path it is not a space.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect()
    }

    /// Query pairs, decoded the way web frameworks do (`+` is a space), in order.
    pub fn params(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Every value of a repeatable query parameter (`?state=a&state=b`).
    pub fn param_all(&self, name: &str) -> Vec<String> {
        self.params()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        if self.body.is_empty() {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

/// One answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply::json_as(status, "application/json", value)
    }

    pub fn json_as(status: u16, content_type: &str, value: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The standard reason phrase of a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A stop signal that sleeping handlers can wait on, so a slow answer never delays shutdown.
#[derive(Default)]
pub(crate) struct Stop {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Stop {
    fn lock(&self) -> MutexGuard<'_, bool> {
        self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn stop(&self) {
        *self.lock() = true;
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        *self.lock()
    }

    /// Sleeps `duration` unless stopped first; true when the whole duration passed.
    pub fn sleep(&self, duration: Duration) -> bool {
        let guard = self.lock();
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, duration, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        !*guard
    }
}

/// Answers one request; `None` closes the connection without an answer (used on shutdown).
pub(crate) type Handler = dyn Fn(&Incoming, &Stop) -> Option<Reply> + Send + Sync;

/// An open connection: a handle to shut its socket down, and its thread.
struct Connection {
    socket: TcpStream,
    thread: JoinHandle<()>,
}

type Connections = Arc<Mutex<Vec<Connection>>>;

/// A running server on `127.0.0.1:<free port>`; dropping it stops it completely.
pub(crate) struct HttpServer {
    addr: SocketAddr,
    stop: Arc<Stop>,
    accept: Option<JoinHandle<()>>,
    connections: Connections,
}

impl HttpServer {
    pub fn start(handler: Arc<Handler>) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(Stop::default());
        let connections: Connections = Arc::default();
        let accept = {
            let (stop, connections) = (stop.clone(), connections.clone());
            thread::Builder::new()
                .name(format!("world-http-{}", addr.port()))
                .spawn(move || accept_loop(listener, handler, stop, connections))?
        };
        Ok(HttpServer {
            addr,
            stop,
            accept: Some(accept),
            connections,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Tells every thread to stop, without waiting (so several servers stop at once).
    pub fn signal_stop(&self) {
        self.stop.stop();
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.stop();
        // The accept thread is blocked in accept(): one connection wakes it, it sees the stop
        // and returns, which closes the listener. Joining it means the port is closed now.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let connections = std::mem::take(
            &mut *self
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for c in &connections {
            // Wakes a thread blocked reading the next request of a kept-alive connection.
            let _ = c.socket.shutdown(Shutdown::Both);
        }
        for c in connections {
            let _ = c.thread.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    handler: Arc<Handler>,
    stop: Arc<Stop>,
    connections: Connections,
) {
    let base_url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    for stream in listener.incoming() {
        if stop.is_stopped() {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors or similar: do not spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(socket) = stream.try_clone() else {
            continue;
        };
        let (handler, stop2, base_url) = (handler.clone(), stop.clone(), base_url.clone());
        let spawned = thread::Builder::new()
            .name("world-http-conn".into())
            .spawn(move || serve_connection(stream, &*handler, &stop2, &base_url));
        let Ok(thread) = spawned else { continue };
        let mut list = connections.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|c| !c.thread.is_finished());
        list.push(Connection { socket, thread });
    }
}

fn serve_connection(stream: TcpStream, handler: &Handler, stop: &Stop, base_url: &str) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let (incoming, close) = match read_request(&mut reader, &mut writer, base_url) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return,
            Err(_) => {
                let _ = write_reply(&mut writer, &Reply::empty(400), false, true);
                return;
            }
        };
        if stop.is_stopped() {
            return;
        }
        let Some(reply) = handler(&incoming, stop) else {
            return;
        };
        let head_only = incoming.method == "HEAD";
        if write_reply(&mut writer, &reply, head_only, close).is_err() || close {
            return;
        }
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one line ending in `\n`, without the line ending; `None` at end of stream.
fn read_line(reader: &mut impl BufRead, budget: &mut usize) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget || !line.ends_with(b"\n") {
        return Err(bad("request head too long or truncated"));
    }
    *budget -= n;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| bad("not UTF-8"))
}

/// Reads one request; `None` when the client closed the connection between requests.
/// The flag says whether the connection must close after the answer.
fn read_request(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    base_url: &str,
) -> io::Result<Option<(Incoming, bool)>> {
    let mut budget = MAX_HEAD;
    // Empty lines between requests are allowed (RFC 9112 §2.2).
    let request_line = loop {
        match read_line(reader, &mut budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("bad request line"));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?.ok_or_else(|| bad("truncated head"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let close = match header("connection") {
        Some(v) if v.contains("close") => true,
        Some(v) if v.contains("keep-alive") => false,
        _ => version == "HTTP/1.0",
    };
    if header("expect").is_some_and(|v| v == "100-continue") {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(reader)?
    } else {
        let length = match header("content-length") {
            Some(v) => v.parse::<usize>().map_err(|_| bad("bad Content-Length"))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let incoming = Incoming {
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
        base_url: base_url.to_string(),
    };
    Ok(Some((incoming, close)))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let line = read_line(reader, &mut budget)?.ok_or_else(|| bad("truncated chunk"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while read_line(reader, &mut budget)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn write_reply(
    writer: &mut impl Write,
    reply: &Reply,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    // No Content-Length on 1xx, 204 and 304 (RFC 9110 §8.6).
    let bodyless = reply.status < 200 || reply.status == 204 || reply.status == 304;
    if !bodyless {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    if !bodyless && !head_only {
        writer.write_all(&reply.body)?;
    }
    writer.flush()
}

//! The overlay's web server: one embedded page, an SSE stream, and the
//! agent's marks. Runs on its own thread with a small tokio runtime, so the
//! caller stays plain synchronous code.
//!
//! Every route needs the session's random token (in the printed URL) and a
//! loopback `Host`, and posts must come from the page itself
//! (`shoutcue_web`; docs/SECURITY.md). A mark names a cue the page was
//! really shown, once per action, and marks are rate-limited, so nothing
//! but the agent's own clicks reaches the feedback file and the note.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use shoutcue_web::{loopback_host_only, require_token, same_origin_posts, Limits, Token};
use tokio::sync::{broadcast, oneshot};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

/// The page, embedded so the binary needs no files beside it.
const PAGE: &str = include_str!("page.html");

/// Messages kept for late subscribers beyond this many are still streamed
/// live; the cap only bounds a very long call's memory.
const HISTORY_CAP: usize = 10_000;

/// Marks accepted per [`MARK_WINDOW`]: far above what an agent clicks, far
/// below a script's flood.
const MARKS_PER_WINDOW: usize = 10;
/// The rate limit's window.
const MARK_WINDOW: Duration = Duration::from_secs(10);

/// Why the overlay could not start or record.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// The port could not be bound (in use, or not allowed).
    #[error("overlay: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The feedback file could not be opened for appending.
    #[error("{path}: cannot open the feedback file: {source}")]
    Feedback {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The incident note could not be written.
    #[error("{path}: cannot write the incident note: {source}")]
    Note {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The server thread could not start its runtime.
    #[error("overlay: cannot start the web server: {0}")]
    Runtime(std::io::Error),
    /// No session token could be drawn.
    #[error("overlay: {0}")]
    Token(#[from] shoutcue_web::TokenError),
    /// The publisher thread failed (writing events to stdout, say) or could not start.
    #[error("overlay publisher: {0}")]
    Publisher(std::io::Error),
}

/// How to serve the overlay.
#[derive(Debug, Clone)]
pub struct OverlayOptions {
    /// Address to bind; loopback by default so nothing leaves the machine.
    pub addr: SocketAddr,
    /// Where the agent's marks are appended as JSON Lines (for QA), if anywhere.
    pub feedback: Option<PathBuf>,
    /// The call's name (file or device), written with each mark.
    pub call: String,
}

impl OverlayOptions {
    /// Loopback on `port` (0: any free port), no feedback file.
    pub fn loopback(port: u16, call: impl Into<String>) -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            feedback: None,
            call: call.into(),
        }
    }
}

/// What the agent said about a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkAction {
    /// The agent said the cue's sentence.
    Said,
    /// A false alarm: the customer was not shouting.
    Dismiss,
}

/// One mark from the agent's page, as recorded in the note and the feedback file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    /// Record format version.
    pub v: u8,
    /// The call (file or device).
    pub call: String,
    /// Call time when the agent marked it, s.
    pub t: f64,
    /// What the agent said about the cue.
    pub action: MarkAction,
    /// The cue's script step, 1-4.
    pub step: u8,
    /// 1, or 2 for step 3's repeat.
    pub repeat: u8,
    /// When the cue was shown, s from call start.
    pub cue_t: f64,
    /// Wall clock, seconds since the Unix epoch.
    pub unix_s: f64,
}

/// The body of `POST /api/mark` as the page sends it.
#[derive(Debug, Deserialize)]
struct MarkRequest {
    action: MarkAction,
    step: u8,
    #[serde(default = "one")]
    repeat: u8,
    cue_t: f64,
}

fn one() -> u8 {
    1
}

/// A mark's body, checked: which cue (step, repeat, when it was shown)
/// and what the agent said about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkBody {
    /// What the agent said about the cue.
    pub action: MarkAction,
    /// The cue's script step, 1-4.
    pub step: u8,
    /// 1, or 2 for step 3's repeat (1 when left out).
    pub repeat: u8,
    /// When the cue was shown, s from call start: finite, not negative.
    pub cue_t: f64,
}

/// Why a mark's body was refused (the 400 answer's text).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MarkError {
    /// Not JSON of the mark's shape.
    #[error("mark body: expected {expected}, got {got}")]
    Body {
        /// The shape wanted.
        expected: &'static str,
        /// What the JSON parser said of the body.
        got: String,
    },
    /// The step or repeat is out of range.
    #[error("step {step} repeat {repeat}: expected step 1-4 and repeat 1-2")]
    Rung {
        /// The step sent.
        step: u8,
        /// The repeat sent.
        repeat: u8,
    },
    /// The cue time is not a time in the call.
    #[error("cue_t {got}: expected seconds from call start")]
    CueTime {
        /// The time sent.
        got: f64,
    },
}

/// Parses and checks the body of `POST /api/mark`. Pure: whether the cue
/// was really shown, and the rate limit, are the server's to check.
pub fn parse_mark(body: &[u8]) -> Result<MarkBody, MarkError> {
    let req: MarkRequest = serde_json::from_slice(body).map_err(|e| MarkError::Body {
        expected: r#"JSON {"action": "said"|"dismiss", "step": 1-4, "repeat": 1-2, "cue_t": seconds}"#,
        got: e.to_string(),
    })?;
    if !(1..=4).contains(&req.step) || !(1..=2).contains(&req.repeat) {
        return Err(MarkError::Rung {
            step: req.step,
            repeat: req.repeat,
        });
    }
    if !req.cue_t.is_finite() || req.cue_t < 0.0 {
        return Err(MarkError::CueTime { got: req.cue_t });
    }
    Ok(MarkBody {
        action: req.action,
        step: req.step,
        repeat: req.repeat,
        cue_t: req.cue_t,
    })
}

/// The 415 for a body that does not say it is JSON, as axum's `Json`
/// extractor answered before the body was parsed here.
fn not_json(headers: &HeaderMap) -> Option<Response> {
    (!is_json(headers)).then(|| {
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`",
        )
            .into_response()
    })
}

/// Whether a Content-Type names JSON (`application/json`, or a `+json` type),
/// as axum's `Json` extractor demanded before the body was parsed here.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json"
        || mime
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

#[derive(Clone)]
struct Msg {
    /// SSE event name; `None` for the schema-v1 event lines.
    name: Option<&'static str>,
    data: Arc<str>,
}

struct Shared {
    tx: broadcast::Sender<Msg>,
    history: Mutex<Vec<Msg>>,
    marks: Mutex<Vec<Mark>>,
    feedback: Option<(String, Mutex<File>)>,
    call: String,
    /// Call time of the latest message, f64 bits.
    now_t: AtomicU64,
    /// The cues the page was shown, and which actions were marked on each.
    shown: Mutex<Vec<ShownCue>>,
    /// When the latest accepted marks came (the rate limit).
    recent_marks: Mutex<VecDeque<Instant>>,
}

/// A cue the page was sent, so a mark can only name one that existed.
struct ShownCue {
    step: u8,
    repeat: u8,
    t: f64,
    said: bool,
    dismissed: bool,
}

/// A cue as the overlay keeps it from the typed event, so that a mark can
/// name only a cue that was shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CueShown {
    /// The ladder's step.
    pub step: u8,
    /// Which saying of it.
    pub repeat: u8,
    /// The cue's time as its line says it (ms-rounded), s.
    pub t: f64,
}

impl CueShown {
    /// The cue an engine event shows, if it is one.
    pub fn of(ev: &shoutcue_core::engine::Event) -> Option<Self> {
        use shoutcue_core::coach::CoachEvent;
        match *ev {
            shoutcue_core::engine::Event::Coach(CoachEvent::Cue { t, rung, .. }) => Some(Self {
                step: rung.step,
                repeat: rung.repeat,
                t: shoutcue_core::sinks::round_ms(t),
            }),
            _ => None,
        }
    }
}

/// The running overlay server. Dropping it stops the server.
pub struct Overlay {
    shared: Arc<Shared>,
    addr: SocketAddr,
    token: Token,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Overlay {
    /// Binds and starts serving on a background thread. Binding happens
    /// here, so a taken port is an error now rather than a silent failure.
    pub fn start(opts: OverlayOptions) -> Result<Self, OverlayError> {
        let feedback = match &opts.feedback {
            Some(p) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|source| OverlayError::Feedback {
                        path: p.display().to_string(),
                        source,
                    })?;
                Some((p.display().to_string(), Mutex::new(f)))
            }
            None => None,
        };
        let listener =
            std::net::TcpListener::bind(opts.addr).map_err(|source| OverlayError::Bind {
                addr: opts.addr,
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| OverlayError::Bind {
                addr: opts.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| OverlayError::Bind {
            addr: opts.addr,
            source,
        })?;
        let (tx, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            tx,
            history: Mutex::new(Vec::new()),
            marks: Mutex::new(Vec::new()),
            feedback,
            call: opts.call,
            now_t: AtomicU64::new(0f64.to_bits()),
            shown: Mutex::new(Vec::new()),
            recent_marks: Mutex::new(VecDeque::new()),
        });
        let token = Token::random()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(OverlayError::Runtime)?;
        let (stop_tx, stop_rx) = oneshot::channel();
        // The page itself is static and needs no token: it reads the token
        // from the address's fragment (never sent, logged or referred) and
        // sends it in a header with every request for data.
        let mut app = Router::new()
            .route("/events", get(events))
            .route("/api/mark", post(mark))
            .route("/api/mark/latest", post(mark_latest))
            .with_state(shared.clone())
            .layer(from_fn(same_origin_posts))
            .layer(from_fn_with_state(token.clone(), require_token))
            .route("/", get(page));
        if addr.ip().is_loopback() {
            app = app.layer(from_fn(loopback_host_only));
        }
        // Outermost, so refusals (401, 421) carry the headers too.
        app = app.layer(from_fn(shoutcue_web::security_headers));
        let thread = std::thread::Builder::new()
            .name("shoutcue-overlay".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("shoutcue: overlay: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        _ = shoutcue_web::serve(listener, app, Limits::default()) => {}
                        _ = stop_rx => {}
                    }
                });
                // Dropping the runtime here cancels open event streams.
            })
            .map_err(OverlayError::Runtime)?;
        Ok(Self {
            shared,
            addr,
            token,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Where the page is served (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address with its token, for printing: whoever has it
    /// can read this call's page, so it goes to the agent's own terminal.
    pub fn url(&self) -> String {
        format!("http://{}/#token={}", self.addr, self.token.as_str())
    }

    /// A command a desktop hotkey can run to mark the cue shown last as
    /// said (`said` → `dismiss` for a false alarm), without the page having
    /// the keyboard's focus.
    pub fn hotkey_command(&self) -> String {
        format!(
            "curl -s -X POST -H '{}: {}' -H 'Content-Type: application/json' -d '{{\"action\":\"said\"}}' http://{}/api/mark/latest",
            shoutcue_web::TOKEN_HEADER,
            self.token.as_str(),
            self.addr
        )
    }

    /// The session's token (tests and tools that call the routes).
    pub fn token(&self) -> &str {
        self.token.as_str()
    }

    /// Sends one schema-v1 line (without its newline) to every page, and
    /// keeps it for pages that connect later. `cue`: the cue it shows, from
    /// the event the line was rendered from.
    pub fn publish_event(&self, t: f64, cue: Option<CueShown>, line: &str) {
        self.set_now(t);
        if let Some(c) = cue {
            lock(&self.shared.shown).push(ShownCue {
                step: c.step,
                repeat: c.repeat,
                t: c.t,
                said: false,
                dismissed: false,
            });
        }
        self.publish(Msg {
            name: None,
            data: Arc::from(line),
        });
    }

    /// Sends the voice meter (JSON) to every page; not kept.
    pub fn publish_meter(&self, t: f64, json: &str) {
        self.set_now(t);
        let _ = self.shared.tx.send(Msg {
            name: Some("meter"),
            data: Arc::from(json),
        });
    }

    fn set_now(&self, t: f64) {
        if t.is_finite() {
            self.shared.now_t.store(t.to_bits(), Ordering::Relaxed);
        }
    }

    fn publish(&self, msg: Msg) {
        // Held while sending, so a page subscribing now sees each line once:
        // either in the history it copies or on its new receiver.
        let mut h = self
            .shared
            .history
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if h.len() < HISTORY_CAP {
            h.push(msg.clone());
        }
        let _ = self.shared.tx.send(msg);
    }

    /// The agent's marks so far, in order.
    pub fn marks(&self) -> Vec<Mark> {
        self.shared
            .marks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Number of pages connected now.
    pub fn viewers(&self) -> usize {
        self.shared.tx.receiver_count()
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn page() -> Response {
    shoutcue_web::page(PAGE)
}

async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, std::convert::Infallible>>> {
    let (backlog, rx) = {
        let h = shared.history.lock().unwrap_or_else(|p| p.into_inner());
        (h.clone(), shared.tx.subscribe())
    };
    // A page that fell more than the channel's capacity behind is told to
    // reload: it then gets the whole history again, cues included.
    let live = BroadcastStream::new(rx).map(|m| {
        m.unwrap_or_else(|_| Msg {
            name: Some("resync"),
            data: Arc::from("{}"),
        })
    });
    let stream = tokio_stream::iter(backlog).chain(live).map(|m| {
        let ev = SseEvent::default().data(&*m.data);
        Ok(match m.name {
            Some(n) => ev.event(n),
            None => ev,
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
}

async fn mark(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = not_json(&headers) {
        return refused;
    }
    let req = match parse_mark(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    record_mark(&shared, req)
}

/// The body of `POST /api/mark/latest`: only what the agent says.
#[derive(Debug, Deserialize)]
struct LatestRequest {
    action: MarkAction,
}

/// `POST /api/mark/latest` `{"action":"said"|"dismiss"}`: marks the cue
/// shown last. For a desktop hotkey (the agent's eyes and keyboard are on
/// the softphone or the CRM, not on this page): the token in a header, no
/// need to know which cue is up. The same checks as a mark from the page.
async fn mark_latest(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = not_json(&headers) {
        return refused;
    }
    let req: LatestRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!(r#"mark body: expected JSON {{"action": "said"|"dismiss"}}, got {e}"#),
            )
                .into_response()
        }
    };
    let latest = lock(&shared.shown).last().map(|c| (c.step, c.repeat, c.t));
    let Some((step, repeat, cue_t)) = latest else {
        return (StatusCode::CONFLICT, "no cue has been shown yet").into_response();
    };
    record_mark(
        &shared,
        MarkBody {
            action: req.action,
            step,
            repeat,
            cue_t,
        },
    )
}

/// Checks a mark against the cues shown and the rate limit, then records
/// it (feedback file, note) and tells the pages.
fn record_mark(shared: &Arc<Shared>, req: MarkBody) -> Response {
    if let Some(refused) = admit_mark(shared, &req) {
        return refused;
    }
    let unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let m = Mark {
        v: 1,
        call: shared.call.clone(),
        t: shoutcue_core::sinks::round_ms(f64::from_bits(shared.now_t.load(Ordering::Relaxed))),
        action: req.action,
        step: req.step,
        repeat: req.repeat,
        cue_t: shoutcue_core::sinks::round_ms(req.cue_t),
        unix_s: (unix_s * 1000.0).round() / 1000.0,
    };
    let line = match serde_json::to_string(&m) {
        Ok(l) => l,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if let Some((path, f)) = &shared.feedback {
        let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{path}: cannot append the mark: {e}"),
            )
                .into_response();
        }
    }
    shared
        .marks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(m);
    // The page says it was marked, wherever the mark came from.
    let _ = shared.tx.send(Msg {
        name: Some("mark"),
        data: Arc::from(line.as_str()),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        line,
    )
        .into_response()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether this mark may be recorded: it names a cue the page was shown,
/// that action was not marked on it before, and marks are not flooding.
/// `Some(response)` is the refusal.
fn admit_mark(shared: &Shared, req: &MarkBody) -> Option<Response> {
    {
        let now = Instant::now();
        let mut recent = lock(&shared.recent_marks);
        while recent
            .front()
            .is_some_and(|&t| now.duration_since(t) > MARK_WINDOW)
        {
            recent.pop_front();
        }
        if recent.len() >= MARKS_PER_WINDOW {
            return Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "more than {MARKS_PER_WINDOW} marks in {} s",
                        MARK_WINDOW.as_secs()
                    ),
                )
                    .into_response(),
            );
        }
        recent.push_back(now);
    }
    let mut shown = lock(&shared.shown);
    let Some(cue) = shown
        .iter_mut()
        .find(|c| c.step == req.step && c.repeat == req.repeat && (c.t - req.cue_t).abs() < 0.002)
    else {
        return Some(
            (
                StatusCode::CONFLICT,
                format!(
                    "no cue step {} repeat {} was shown at {} s",
                    req.step, req.repeat, req.cue_t
                ),
            )
                .into_response(),
        );
    };
    let done = match req.action {
        MarkAction::Said => &mut cue.said,
        MarkAction::Dismiss => &mut cue.dismissed,
    };
    if *done {
        return Some((StatusCode::CONFLICT, "this cue was already marked so").into_response());
    }
    *done = true;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_bodies_are_checked_with_typed_errors() {
        let m = parse_mark(br#"{"action":"dismiss","step":3,"repeat":2,"cue_t":1.5}"#).unwrap();
        assert_eq!(
            (m.action, m.step, m.repeat, m.cue_t),
            (MarkAction::Dismiss, 3, 2, 1.5)
        );
        assert_eq!(
            parse_mark(br#"{"action":"said","step":1,"cue_t":0}"#)
                .unwrap()
                .repeat,
            1
        );
        assert_eq!(
            parse_mark(br#"{"action":"said","step":5,"cue_t":1}"#),
            Err(MarkError::Rung { step: 5, repeat: 1 })
        );
        assert_eq!(
            parse_mark(br#"{"action":"said","step":1,"cue_t":-2}"#),
            Err(MarkError::CueTime { got: -2.0 })
        );
        for body in [&b"not json"[..], b"{\"action\":\"said\"}", b"\xff"] {
            let e = parse_mark(body).unwrap_err();
            assert!(matches!(e, MarkError::Body { .. }), "{e}");
            assert!(e.to_string().starts_with("mark body: expected JSON"), "{e}");
        }
    }
}

//! The HTTP side: the supervisor console (`/`), each agent's page
//! (`/agent?agent=ID`), one call's cue view for an agent desktop to frame
//! (`/embed?call=ID&agent=A&exp=T&sig=S`, [`crate::embed`]), their event
//! streams (Server-Sent Events) and `/healthz`.
//!
//! The console shows every call's public events: never an agent nudge or
//! anything marked private. An agent's page gets the events of the calls
//! that agent is on, their private nudges included.
//!
//! Who may read what (docs/SECURITY.md): the console needs the console
//! token (printed at start); an agent's page needs that agent's own token,
//! derived from the pages' secret and the agent id, so no agent's link
//! opens another agent's page and the console's token opens none of them.
//! Bound to loopback unless configured, and then, against DNS rebinding,
//! answering only requests whose `Host` is a loopback name. `/healthz`
//! and `/metrics` (OpenMetrics text, [`crate::metrics`]) carry counts
//! only and stay open for load balancers' probes and scrapers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};
use shoutcue_web::{loopback_host_only, require_token, Limits, Token, TokenError};
use tokio::net::TcpListener;
use tokio_stream::wrappers::BroadcastStream;

use crate::call::Protocol;
use crate::embed::{EmbedLink, EmbedQuery, LinkRefused};
use crate::hub::{Hub, HubLine};
use crate::Shared;

const CONSOLE: &str = include_str!("console.html");
const AGENT: &str = include_str!("agent.html");

/// The pages' secret and the tokens it gives.
pub struct Pages {
    secret: Token,
    console: Token,
}

impl Pages {
    /// From the operator's secret, or a random one for this run.
    pub fn new(secret: Option<&str>) -> Result<Self, TokenError> {
        let secret = match secret {
            Some(s) => Token::given(s)?,
            None => Token::random()?,
        };
        let console = secret.derive("console");
        Ok(Self { secret, console })
    }

    /// The supervisor console's token.
    pub fn console(&self) -> &Token {
        &self.console
    }

    /// Agent `id`'s own page token.
    pub fn agent(&self, id: &str) -> Token {
        self.secret.derive(&format!("agent:{id}"))
    }

    /// The signature of `label` under the pages' secret (labels of other
    /// kinds start otherwise: `agent:`, `console`, `embed:`).
    pub(crate) fn sign(&self, label: &str) -> Token {
        self.secret.derive(label)
    }
}

/// Serves the pages and `/healthz` until aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let tls = shared.tls.clone();
    let loopback = listener
        .local_addr()
        .is_ok_and(|a: SocketAddr| a.ip().is_loopback());
    // The console page is static (its token comes in the link's fragment);
    // its events need the token.
    let console = Router::new()
        .route("/console/events", get(console_events))
        .layer(from_fn_with_state(
            shared.pages.console().clone(),
            require_token,
        ))
        .route("/", get(|| async { shoutcue_web::page(CONSOLE) }));
    let mut ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    match &shared.cfg.ops_token {
        // A token that does not parse (validate() refuses it at start) is
        // one nobody has: never served open by mistake.
        Some(t) => {
            ops = ops.layer(from_fn_with_state(
                shoutcue_web::Token::given(t).ok(),
                require_bearer,
            ))
        }
        None if !loopback => tracing::warn!(
            "/healthz and /metrics on a non-loopback bind are open to anyone who can reach it: set ops_token (SHOUTCUE_OPS_TOKEN)"
        ),
        None => {}
    }
    let mut app = Router::new()
        .route("/agent", get(agent_page))
        .route("/agent/events", get(agent_events))
        .route("/embed", get(embed_page))
        .route("/embed/events", get(embed_events))
        .route(
            "/embed/link",
            axum::routing::post(desktop_link).options(desktop_link_preflight),
        )
        .merge(ops)
        .merge(console)
        .with_state(shared);
    if loopback {
        app = app.layer(from_fn(loopback_host_only));
    }
    // Outermost, so refusals (401, 421) carry the headers too.
    app = app.layer(from_fn(shoutcue_web::security_headers));
    shoutcue_web::serve_tls(listener, app, Limits::default(), tls).await;
}

/// Refuses (401) a request to `/healthz` or `/metrics` without
/// `Authorization: Bearer <ops_token>` (compared in constant time).
async fn require_bearer(
    State(token): State<Option<shoutcue_web::Token>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|g| token.as_ref().is_some_and(|t| t.matches(g.trim()))) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "Authorization: Bearer <ops_token> needed",
        )
            .into_response()
    }
}

#[derive(serde::Deserialize)]
struct AgentQuery {
    agent: String,
}

/// Whether `req` carries agent `agent`'s own token (in the
/// `x-shoutcue-token` header, or the older `token` query parameter).
fn agent_allowed(shared: &Shared, agent: &str, req: &Request) -> bool {
    !agent.is_empty()
        && shoutcue_web::token_in(req).is_some_and(|t| shared.pages.agent(agent).matches(t))
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "token missing or wrong: open your own agent link",
    )
        .into_response()
}

/// The agent page itself: static, holding no data, so it needs no token;
/// the page reads its token from the link's fragment (never sent to a
/// server, never in a log or a referrer) and asks for its events with it.
async fn agent_page() -> Response {
    shoutcue_web::page(AGENT)
}

fn sse_of(l: &HubLine) -> SseEvent {
    SseEvent::default().data(l.to_json())
}

type BoxedEvents = std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>>;
type SseStream = Sse<axum::response::sse::KeepAliveStream<BoxedEvents>>;

fn live(
    hub: &Hub,
    keep: impl Fn(&HubLine) -> bool + Send + 'static,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static {
    BroadcastStream::new(hub.subscribe()).filter_map(move |m| {
        let out = match m {
            Ok(l) if keep(&l) => Some(Ok(sse_of(&l))),
            Ok(_) => None,
            // Fell behind: say so, and the page reloads its picture.
            Err(_) => Some(Ok(SseEvent::default().event("resync").data("{}"))),
        };
        std::future::ready(out)
    })
}

fn keep_alive(s: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static) -> SseStream {
    Sse::new(Box::pin(s) as BoxedEvents)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

async fn console_events(State(shared): State<Arc<Shared>>) -> SseStream {
    // Subscribe first, then take the snapshot; the page drops lines it has (by seq).
    let live = live(&shared.console, |l| !l.private);
    let first: Vec<_> = shared
        .console
        .snapshot()
        .iter()
        .map(|l| Ok(sse_of(l)))
        .collect();
    keep_alive(stream::iter(first).chain(live))
}

async fn agent_events(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<AgentQuery>,
    req: Request,
) -> Result<SseStream, Response> {
    if !agent_allowed(&shared, &q.agent, &req) {
        return Err(refused());
    }
    let id: Arc<str> = q.agent.into();
    let mine = {
        let id = id.clone();
        move |l: &HubLine| l.agent_id.as_deref() == Some(&*id)
    };
    // The agent's public lines so far (a page that opens mid-call, or
    // reloads after a resync, sees the current cue), then live ones.
    // Private nudges are live only.
    Ok(snapshot_then_live(&shared.hub, mine))
}

/// The lines of `hub` that `keep` passes: those the hub still holds (its
/// running and last ended calls' public lines), then every new one. It
/// subscribes first and snapshots second, so no line falls between; the
/// page drops a line it already has by `seq`.
fn snapshot_then_live(
    hub: &Hub,
    keep: impl Fn(&HubLine) -> bool + Clone + Send + 'static,
) -> SseStream {
    let live = live(hub, keep.clone());
    let first: Vec<_> = hub
        .snapshot()
        .iter()
        .filter(|l| keep(l))
        .map(|l| Ok(sse_of(l)))
        .collect();
    keep_alive(stream::iter(first).chain(live))
}

/// The link's call, if the link holds now.
fn embed_link(shared: &Shared, q: &EmbedQuery) -> Result<EmbedLink, LinkRefused> {
    crate::embed::verify(&shared.pages, q, crate::embed::now_unix())
}

/// A refused link, in words (401).
fn link_refused(e: LinkRefused) -> Response {
    (StatusCode::UNAUTHORIZED, e.to_string()).into_response()
}

/// The agent's cue view for one call, framed by the agent's desktop: the
/// agent page under a policy whose `frame-ancestors` is `embed_ancestors`.
async fn embed_page(State(shared): State<Arc<Shared>>, Query(q): Query<EmbedQuery>) -> Response {
    match embed_link(&shared, &q) {
        Ok(_) => shoutcue_web::framed_page(AGENT, &shared.ancestors),
        Err(e) => link_refused(e),
    }
}

/// One call's lines: its public ones, and its private nudges unless the
/// platform named another agent for the call than the link's. (When it
/// named none, as AudioSocket cannot, the link's word stands: whoever made
/// it with the pages' secret said who is on the call.)
async fn embed_events(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<EmbedQuery>,
) -> Result<SseStream, Response> {
    let link = embed_link(&shared, &q).map_err(link_refused)?;
    let call: Arc<str> = link.call.into();
    let agent: Arc<str> = link.agent.into();
    let mine = move |l: &HubLine| {
        *l.call_id == *call && (!l.private || l.agent_id.as_deref().is_none_or(|a| *a == *agent))
    };
    Ok(snapshot_then_live(&shared.hub, mine))
}

/// The `Origin` of a browser request, if it may call `/embed/link`: one of
/// `embed_ancestors` (a desktop's own script), or this server's own origin
/// (the view's page). `Ok(None)`: no `Origin` (not a browser).
fn link_origin(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, OriginRefused> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(None);
    };
    let origin = origin.to_str().unwrap_or("").to_string();
    let own = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"));
    let listed = shared.ancestors.allows(&origin);
    if own || listed {
        Ok(Some(origin))
    } else {
        tracing::info!(%origin, "/embed/link from an origin not in embed_ancestors refused (403)");
        Err(OriginRefused)
    }
}

/// A browser origin that may not ask for links (403).
struct OriginRefused;

impl IntoResponse for OriginRefused {
    fn into_response(self) -> Response {
        (
            StatusCode::FORBIDDEN,
            "this origin is not in embed_ancestors",
        )
            .into_response()
    }
}

/// The headers that let `origin` read the answer.
fn with_cors(mut r: Response, origin: Option<String>) -> Response {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    r
}

async fn desktop_link_preflight(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match link_origin(&shared, &headers) {
        Ok(origin) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            with_cors(r, origin)
        }
        Err(e) => e.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct LinkRequest {
    platform: crate::desktop::Platform,
    call: String,
}

/// `POST /embed/link`: a desktop's token for a signed link to a call's
/// view, the agent named by the platform ([`crate::desktop`]).
async fn desktop_link(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let origin = match link_origin(&shared, &headers) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let answer = async {
        if !shared.desktops.any() {
            return Err(crate::desktop::VouchError::NotConfigured(
                "no agent desktop (genesys_api, flex_account_sid)",
            ));
        }
        let req: LinkRequest = serde_json::from_slice(&body).map_err(|e| {
            crate::desktop::VouchError::BadRequest(format!(
                "expected {{\"platform\":\"genesys\"|\"flex\",\"call\":\"ID\"}}: {e}"
            ))
        })?;
        if req.call.is_empty() || req.call.len() > 256 {
            return Err(crate::desktop::VouchError::BadRequest(
                "call: 1 to 256 bytes".into(),
            ));
        }
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .trim();
        let agent = shared
            .desktops
            .vouch(req.platform, token, &req.call)
            .await?;
        let link = EmbedLink {
            call: req.call,
            agent,
            exp: crate::embed::now_unix() + DESKTOP_LINK_TTL_S,
        };
        Ok(link)
    }
    .await;
    let r = match answer {
        Ok(link) => Json(json!({
            "url": format!("/embed?{}", crate::embed::signed_query(&shared.pages, &link)),
            "agent": link.agent,
            "expires": link.exp,
        }))
        .into_response(),
        Err(e) => {
            tracing::info!(status = e.status(), "/embed/link refused: {e}");
            (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.to_string(),
            )
                .into_response()
        }
    };
    with_cors(r, origin)
}

/// How long a link a desktop's token bought stays valid, s: a shift's
/// call, with room; the view asks again for the next call.
const DESKTOP_LINK_TTL_S: u64 = 4 * 3600;

async fn healthz(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let s = &shared.stats;
    let by = |a: &[std::sync::atomic::AtomicU64; 4]| {
        let mut m = serde_json::Map::new();
        for p in Protocol::ALL {
            m.insert(
                p.as_str().into(),
                a[p.index()].load(Ordering::Relaxed).into(),
            );
        }
        Value::Object(m)
    };
    Json(json!({
        "status": if shared.draining.load(Ordering::Relaxed) {
            "draining"
        } else if s.events_failing.load(Ordering::Relaxed) > 0 {
            // Calls go on (pages, NATS), but their files are losing lines.
            "degraded"
        } else {
            "ok"
        },
        "events_failing_calls": s.events_failing.load(Ordering::Relaxed),
        "events_lines_lost": s.events_lines_lost.load(Ordering::Relaxed),
        "active_calls": s.active.load(Ordering::Relaxed),
        "max_calls": shared.cfg.max_calls,
        "calls_started": by(&s.started),
        "calls_ended": by(&s.ended),
        "calls_refused": by(&s.refused),
        "samples_analysed": s.samples.load(Ordering::Relaxed),
        "frames_analysed": s.frames(),
        "late_frames": s.late_frames.load(Ordering::Relaxed),
        "dropped_frames": s.dropped_frames.load(Ordering::Relaxed),
        "frame_latency_p50_us_at_most": s.latency_quantile_us(0.5),
        "frame_latency_p99_us_at_most": s.latency_quantile_us(0.99),
        "console_nats": shared.cfg.console_nats.as_ref().map(|_| {
            let f = &shared.fleet;
            json!({
                "connected": f.connected.load(Ordering::Relaxed),
                "nodes_alive": f.nodes_alive.load(Ordering::Relaxed),
                "lines": f.lines.load(Ordering::Relaxed),
                "heartbeats": f.heartbeats.load(Ordering::Relaxed),
                "calls_lost": f.calls_lost.load(Ordering::Relaxed),
            })
        }),
        "nats": shared.outbox.as_deref().map(|o| json!({
            "connected": o.stats.connected.load(Ordering::Relaxed),
            "queue_depth": o.pending(),
            "published": o.stats.published.load(Ordering::Relaxed),
            "dropped": o.stats.dropped.load(Ordering::Relaxed),
            "reconnects": o.stats.reconnects.load(Ordering::Relaxed),
        })),
    }))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        crate::metrics::render(&shared),
    )
        .into_response()
}

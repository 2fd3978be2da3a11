//! The HTTP side: the supervisor console (`/`), each agent's page
//! (`/agent?agent=ID`), their event streams (Server-Sent Events) and
//! `/healthz`.
//!
//! The console shows every call's public events: never an agent nudge or
//! anything marked private. An agent's page gets the events of the calls
//! that agent is on, their private nudges included. Bound to loopback
//! unless configured, and, so that no outside web page can read these
//! through DNS rebinding, a loopback listener answers only requests whose
//! `Host` is `localhost`, `127.0.0.1` or `[::1]`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_stream::wrappers::BroadcastStream;

use crate::call::Protocol;
use crate::hub::HubLine;
use crate::Shared;

const CONSOLE: &str = include_str!("console.html");
const AGENT: &str = include_str!("agent.html");

/// Serves the pages and `/healthz` until aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let loopback = listener
        .local_addr()
        .is_ok_and(|a: SocketAddr| a.ip().is_loopback());
    let mut app = Router::new()
        .route("/", get(|| async { Html(CONSOLE) }))
        .route("/agent", get(|| async { Html(AGENT) }))
        .route("/console/events", get(console_events))
        .route("/agent/events", get(agent_events))
        .route("/healthz", get(healthz))
        .with_state(shared);
    if loopback {
        app = app.layer(middleware::from_fn(loopback_host_only));
    }
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("HTTP listener stopped: {e}");
    }
}

/// Whether a `Host` header names this machine's loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or("").to_ascii_lowercase()
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

async fn loopback_host_only(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        next.run(req).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            "this page answers on localhost only",
        )
            .into_response()
    }
}

fn sse_of(l: &HubLine) -> SseEvent {
    SseEvent::default().data(l.to_json())
}

type BoxedEvents = std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>>;
type SseStream = Sse<axum::response::sse::KeepAliveStream<BoxedEvents>>;

fn live(
    shared: &Shared,
    keep: impl Fn(&HubLine) -> bool + Send + 'static,
) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static {
    BroadcastStream::new(shared.hub.subscribe()).filter_map(move |m| {
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
    let live = live(&shared, |l| !l.private);
    let first: Vec<_> = shared
        .hub
        .snapshot()
        .iter()
        .map(|l| Ok(sse_of(l)))
        .collect();
    keep_alive(stream::iter(first).chain(live))
}

#[derive(serde::Deserialize)]
struct AgentQuery {
    agent: String,
}

async fn agent_events(State(shared): State<Arc<Shared>>, Query(q): Query<AgentQuery>) -> SseStream {
    let id = q.agent;
    keep_alive(live(&shared, move |l| {
        l.agent_id.as_deref() == Some(id.as_str())
    }))
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let s = &shared.stats;
    let by = |a: &[std::sync::atomic::AtomicU64; 4]| {
        let mut m = serde_json::Map::new();
        for p in [
            Protocol::AudioHook,
            Protocol::AudioSocket,
            Protocol::FreeSwitch,
            Protocol::Twilio,
        ] {
            m.insert(
                p.as_str().into(),
                a[p.index()].load(Ordering::Relaxed).into(),
            );
        }
        Value::Object(m)
    };
    Json(json!({
        "status": if shared.draining.load(Ordering::Relaxed) { "draining" } else { "ok" },
        "active_calls": s.active.load(Ordering::Relaxed),
        "max_calls": shared.cfg.max_calls,
        "calls_started": by(&s.started),
        "calls_ended": by(&s.ended),
        "calls_refused": by(&s.refused),
        "samples_analysed": s.samples.load(Ordering::Relaxed),
        "frames_analysed": s.frames(),
        "frame_latency_p50_us_at_most": s.latency_quantile_us(0.5),
        "frame_latency_p99_us_at_most": s.latency_quantile_us(0.99),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_pass() {
        for ok in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:9",
            "[::1]:80",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.nip.io",
            "",
            "[::2]:80",
            "10.0.0.1",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}

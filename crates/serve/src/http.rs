//! The operator's HTTP side: `/healthz` (always) and, later, the pages.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::call::Protocol;
use crate::Shared;

/// Serves `/healthz` until aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .with_state(shared);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("HTTP listener stopped: {e}");
    }
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

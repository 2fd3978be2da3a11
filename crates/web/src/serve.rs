//! The accept loop for local pages.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What one page server allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection that has not sent a whole request head by then is
    /// closed (half-open connections otherwise stay forever).
    pub header_read_timeout: Duration,
    /// Connections open at once; past this, new ones are closed at once.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s for a request head; 256 connections (an agent's overlay has a
    /// handful, a console a few per supervisor).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// Serves `app` on `listener` until the returned future is dropped.
/// HTTP/1.1 only, with upgrades (WebSockets) allowed.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) {
    let open = std::sync::Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            // Out of file descriptors, say: wait rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let svc = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            // A client that goes away mid-request is its own business.
            let _ = conn.await;
            drop(permit);
        });
    }
}

//! The accept loop for local pages.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::{PendingBudget, Throttled};

/// What one page server allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A connection that has not sent a whole request head by then is
    /// closed (half-open connections otherwise stay forever).
    pub header_read_timeout: Duration,
    /// Connections open at once; past this, new ones are closed at once.
    pub max_connections: usize,
    /// Of those, connections that have not yet sent a whole request head
    /// (or finished their TLS handshake), at most: the rest of the budget
    /// stays for connections that are serving (issue 27, item 9).
    pub max_pending: usize,
    /// Waiting connections from any one source address, at most, so one
    /// host holding idle sockets cannot crowd out another.
    pub max_pending_per_source: usize,
    /// Each connection's bytes are read no faster than this on average
    /// (one second's worth at once): whatever a client sends, it costs
    /// the server a bounded amount of work a second ([`crate::Throttled`]).
    pub max_read_bytes_per_s: usize,
}

impl Default for Limits {
    /// 10 s for a request head; 256 connections (an agent's overlay has a
    /// handful, a console a few per supervisor), of which 128 may be
    /// waiting for their request, 32 of those from one address; 64 kB/s
    /// read per connection (a page posts marks of a few hundred bytes).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_pending: 128,
            max_pending_per_source: 32,
            max_read_bytes_per_s: 64 * 1024,
        }
    }
}

/// Serves `app` on `listener` until the returned future is dropped.
/// HTTP/1.1 only, with upgrades (WebSockets) allowed.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) {
    serve_tls(listener, app, limits, None).await
}

/// [`serve`], over TLS when `tls` is given: each connection's handshake
/// must finish within the header-read timeout, so a client that opens a
/// socket and says nothing holds no slot for long.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<std::sync::Arc<crate::Tls>>,
) {
    let open = std::sync::Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let pending = PendingBudget::new(limits.max_pending, limits.max_pending_per_source);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
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
        let Ok(waiting) = pending.try_take(peer.ip()) else {
            drop(stream);
            continue;
        };
        let stream = Throttled::new(stream, limits.max_read_bytes_per_s);
        // The connection stops waiting (and gives its place back) when its
        // first request head is in.
        let waiting = std::sync::Mutex::new(Some(waiting));
        let inner = TowerToHyperService::new(app.clone());
        let svc = hyper::service::service_fn(move |req| {
            waiting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            hyper::service::Service::call(&inner, req)
        });
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            let http = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .to_owned();
            // A client that goes away mid-request, or fails its handshake,
            // is its own business.
            match acceptor {
                None => {
                    let _ = http
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                }
                Some(a) => {
                    let shake =
                        tokio::time::timeout(limits.header_read_timeout, a.accept(stream)).await;
                    if let Ok(Ok(s)) = shake {
                        let _ = http
                            .serve_connection(TokioIo::new(s), svc)
                            .with_upgrades()
                            .await;
                    }
                }
            }
            drop(permit);
        });
    }
}

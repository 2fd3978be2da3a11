//! The guards and the accept loop over real loopback sockets: a half-open
//! connection is closed, a rebound Host, a missing token and a cross-site
//! post are refused, and the right request passes.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use shoutcue_web::{loopback_host_only, require_token, same_origin_posts, serve, Limits, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start(limits: Limits) -> (std::net::SocketAddr, Token) {
    let token = Token::random().unwrap();
    let app = Router::new()
        .route("/", get(|| async { "page" }))
        .route("/api/mark", post(|| async { "marked" }))
        .layer(from_fn(same_origin_posts))
        .layer(from_fn_with_state(token.clone(), require_token))
        .layer(from_fn(loopback_host_only));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(serve(l, app, limits));
    (addr, token)
}

/// Sends one raw request and returns the status code.
async fn status(addr: std::net::SocketAddr, req: String) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_guard_refuses_its_case_and_the_right_request_passes() {
    let (addr, token) = start(Limits::default()).await;
    let port = addr.port();
    let t = token.as_str();
    let get = |path: &str, host: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(
        status(
            addr,
            get(&format!("/?token={t}"), &format!("127.0.0.1:{port}"))
        )
        .await,
        200
    );
    assert_eq!(
        status(
            addr,
            get(&format!("/?token={t}"), &format!("localhost:{port}"))
        )
        .await,
        200
    );
    // DNS rebinding: right token or not, a foreign name is refused.
    assert_eq!(
        status(
            addr,
            get(&format!("/?token={t}"), &format!("evil.example:{port}"))
        )
        .await,
        421
    );
    // Another local user without the printed address.
    assert_eq!(
        status(addr, get("/", &format!("127.0.0.1:{port}"))).await,
        401
    );
    assert_eq!(
        status(addr, get("/?token=guess", &format!("127.0.0.1:{port}"))).await,
        401
    );
    let post = |origin: Option<String>| {
        let o = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        format!(
            "POST /api/mark HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-shoutcue-token: {t}\r\n{o}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    assert_eq!(
        status(addr, post(Some(format!("http://127.0.0.1:{port}")))).await,
        200
    );
    assert_eq!(status(addr, post(None)).await, 200);
    assert_eq!(
        status(addr, post(Some("http://evil.example".into()))).await,
        403
    );
    assert_eq!(status(addr, post(Some("null".into()))).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_connection_is_closed_after_the_header_timeout() {
    let (addr, _) = start(Limits {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 8,
        ..Limits::default()
    })
    .await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Half a request head, then nothing.
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(r.is_ok(), "the connection was still open after 5 s");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_and_the_held_ones_survive() {
    let (addr, token) = start(Limits {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 4,
        ..Limits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_secs(3), extra.read(&mut b)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "the fifth connection was not closed: {r:?}"
    );
    // A held connection still gets its page.
    let s = &mut held[0];
    let port = addr.port();
    s.write_all(
        format!(
            "GET /?token={} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
            token.as_str()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));
}

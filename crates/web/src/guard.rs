//! Middleware for the three checks every local page route passes.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Token;

/// The header a script may send the token in instead of the query string.
pub const TOKEN_HEADER: &str = "x-shoutcue-token";

/// Whether a `Host` header (or the host of an `Origin`) names this
/// machine's loopback: `localhost`, `127.0.0.1` or `[::1]`, any port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, after)) if after.is_empty() || after.starts_with(':') => format!("[{h}]"),
            _ => return false,
        }
    } else {
        let mut parts = host.splitn(2, ':');
        let name = parts.next().unwrap_or("");
        if let Some(port) = parts.next() {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
        }
        name.to_ascii_lowercase()
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

/// Refuses (421) a request whose `Host` is not a loopback name: a page
/// that rebound its own name to 127.0.0.1 still sends its own name here.
pub async fn loopback_host_only(req: Request, next: Next) -> Response {
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

/// Refuses (403) a state-changing request whose `Origin` is not the page's
/// own (`http://` + its `Host`). Browsers always send `Origin` on such
/// requests, so a cross-site form or script is caught; a client without
/// one (curl, a test) still needs the token.
pub async fn same_origin_posts(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let h = req.headers();
    let Some(origin) = h.get(header::ORIGIN) else {
        return next.run(req).await;
    };
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let same = match (origin.to_str().ok(), host) {
        (Some(o), Some(host)) => {
            let o = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"));
            o.is_some_and(|o| o.eq_ignore_ascii_case(host))
        }
        _ => false,
    };
    if same {
        next.run(req).await
    } else {
        (
            StatusCode::FORBIDDEN,
            "cross-origin request refused: post from the page itself",
        )
            .into_response()
    }
}

/// The token a request carries: the `x-shoutcue-token` header, else the
/// `token` query parameter (an `EventSource` cannot set headers).
pub fn token_in(req: &Request) -> Option<&str> {
    if let Some(t) = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return Some(t);
    }
    // Tokens are URL-safe base64, so no percent-decoding is needed.
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
}

/// Refuses (401) a request without the session's token.
pub async fn require_token(State(token): State<Token>, req: Request, next: Next) -> Response {
    if token_in(&req).is_some_and(|t| token.matches(t)) {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "token missing or wrong: open the address shoutcue printed, token included",
        )
            .into_response()
    }
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
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.nip.io",
            "localhost.evil.example",
            "localhost:80@evil",
            "",
            "[::2]:80",
            "[::1]evil",
            "10.0.0.1",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}

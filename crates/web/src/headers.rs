//! The headers every response carries, and each page's own
//! Content-Security-Policy.
//!
//! Why a policy at all: the pages show call ids, agent ids and script lines
//! that came from outside, so if one ever reached the DOM as markup, the
//! policy is what keeps it from running. Why hashes and not
//! `'unsafe-inline'`: each page is one file with one inline `<script>` and
//! one `<style>`; their SHA-256 lets exactly those run and nothing injected.
//! Why `frame-ancestors 'none'`: no other site may frame a page and trick
//! the agent into clicking it; embedding in an agent desktop will need an
//! allow-list of its own.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy of a response that is not one of our pages (events, JSON,
/// errors): it may load nothing and be framed by nobody.
const NOTHING: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The `'sha256-…'` sources of every `<tag>…</tag>` block in `html`.
fn hashes(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let body = &rest[i + open.len()..];
        let Some(j) = body.find(&close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..j]);
        out.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[j + close.len()..];
    }
    out
}

/// The Content-Security-Policy for `html`: its own inline script and style
/// (by hash), streams and posts to its own origin, nothing else, no framing.
pub fn page_csp(html: &str) -> String {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "'none'".to_string()
        } else {
            v.join(" ")
        }
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        list(hashes(html, "script")),
        list(hashes(html, "style"))
    )
}

/// One of our pages as a response: HTML, never cached, under its policy.
pub fn page(html: &'static str) -> Response {
    let csp = HeaderValue::from_str(&page_csp(html))
        .unwrap_or_else(|_| HeaderValue::from_static(NOTHING));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        html,
    )
        .into_response()
}

/// Adds what every response carries: no MIME sniffing, no referrer (page
/// URLs hold tokens), no caching (pages show calls), and, unless the
/// handler set its own (a page), a policy that allows nothing.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NOTHING),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_exactly_the_pages_own_inline_blocks_run() {
        let html = "<style>b{}</style><script>go()</script><p>x</p>";
        let csp = page_csp(html);
        // echo -n 'go()' | openssl dgst -sha256 -binary | base64
        let go = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"go()"));
        assert!(csp.contains(&format!("script-src 'sha256-{go}';")), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        // A second, injected script would need its own hash.
        let injected = page_csp("<script>go()</script><script>evil()</script>");
        assert_eq!(injected.matches("'sha256-").count(), 2);
        assert!(page_csp("<p>no script</p>").contains("script-src 'none'"));
    }
}

//! The headers every response carries, and each page's own
//! Content-Security-Policy.
//!
//! Why a policy at all: the pages show call ids, agent ids and script lines
//! that came from outside, so if one ever reached the DOM as markup, the
//! policy is what keeps it from running. Why hashes and not
//! `'unsafe-inline'`: each page is one file with one inline `<script>` and
//! one `<style>`; their SHA-256 lets exactly those run and nothing injected.
//! Why `frame-ancestors 'none'`: no other site may frame a page and trick
//! the agent into clicking it. The one page meant to live inside an agent
//! desktop is served with [`framed_page`], whose ancestors come from an
//! operator's [`Ancestors`] allow-list, checked so that nothing but origins
//! can reach the header.

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
    csp(html, &Ancestors::default())
}

/// Why an origin was refused for `frame-ancestors`.
#[derive(Debug, thiserror::Error)]
#[error("frame ancestor {got:?}: expected an origin such as https://apps.mypurecloud.com, https://*.twil.io or http://localhost:8080 (scheme, host, optional port; nothing else)")]
pub struct AncestorError {
    /// What was given.
    pub got: String,
}

/// The origins that may frame the embeddable page, as an operator listed
/// them. Each is checked to be an origin (`https://host[:port]`, a host may
/// start with `*.`), because the list goes verbatim into a response
/// header: a `;` or a space would add a directive of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ancestors(Vec<String>);

impl Ancestors {
    /// Checks every origin; empty: no site may frame the page.
    pub fn new<S: AsRef<str>>(origins: &[S]) -> Result<Self, AncestorError> {
        let mut out = Vec::with_capacity(origins.len());
        for o in origins {
            let o = o.as_ref();
            if !is_origin(o) {
                return Err(AncestorError { got: o.to_string() });
            }
            out.push(o.to_string());
        }
        Ok(Self(out))
    }

    /// Whether a request's `Origin` is one of the listed (a `*.` entry
    /// matches any subdomain of the rest, as in the CSP; not the rest itself).
    pub fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| match o.split_once("://*.") {
            Some((scheme, suffix)) => origin
                .strip_prefix(scheme)
                .and_then(|r| r.strip_prefix("://"))
                .and_then(|host| host.strip_suffix(suffix))
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => o == origin,
        })
    }

    /// The `frame-ancestors` sources: the list, or `'none'`.
    fn sources(&self) -> String {
        if self.0.is_empty() {
            "'none'".to_string()
        } else {
            self.0.join(" ")
        }
    }
}

/// `scheme://host[:port]` with scheme http or https, a host of letters,
/// digits, `-` and `.` (optionally after `*.`), and a port of 1-5 digits.
fn is_origin(o: &str) -> bool {
    let Some((scheme, rest)) = o.split_once("://") else {
        return false;
    };
    if scheme != "https" && scheme != "http" {
        return false;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    host_ok && port_ok
}

fn csp(html: &str, ancestors: &Ancestors) -> String {
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "'none'".to_string()
        } else {
            v.join(" ")
        }
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors {}",
        list(hashes(html, "script")),
        list(hashes(html, "style")),
        ancestors.sources()
    )
}

/// One of our pages as a response: HTML, never cached, under its policy.
pub fn page(html: &'static str) -> Response {
    framed_page(html, &Ancestors::default())
}

/// A page that the listed origins (and only they) may frame: the agent's
/// cue view inside an agent desktop. Everything else as [`page`].
pub fn framed_page(html: &'static str, ancestors: &Ancestors) -> Response {
    let html = with_shared_script(html);
    let csp = HeaderValue::from_str(&csp(&html, ancestors))
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

/// The script every page shares (the token from the address's fragment,
/// the event stream read with the token in a header): one copy, for the
/// overlay and the server's pages alike.
const STREAM_JS: &str = include_str!("stream.js");

/// Where a page wants [`STREAM_JS`].
const STREAM_MARK: &str = r#"<script data-shoutcue="stream"></script>"#;

/// `html` with the shared script put in where it asks for it.
fn with_shared_script(html: &'static str) -> std::borrow::Cow<'static, str> {
    if html.contains(STREAM_MARK) {
        std::borrow::Cow::Owned(
            html.replace(STREAM_MARK, &format!("<script>\n{STREAM_JS}</script>")),
        )
    } else {
        std::borrow::Cow::Borrowed(html)
    }
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
    fn a_page_gets_the_shared_script_whole_and_allowed() {
        // The script must not end its own element early (a comment that
        // spelt the closing tag once did, and every page lost its token).
        assert!(!STREAM_JS.to_ascii_lowercase().contains("</script"));
        let html = "<p>x</p><script data-shoutcue=\"stream\"></script><script>go()</script>";
        let page = with_shared_script(html);
        assert!(page.contains("function shoutcueEvents") && !page.contains(STREAM_MARK));
        // Both scripts are allowed by their hashes, and nothing else.
        let csp = csp(&page, &Ancestors::default());
        assert_eq!(hashes(&page, "script").len(), 2);
        for h in hashes(&page, "script") {
            assert!(csp.contains(&h), "{csp}");
        }
    }

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

    #[test]
    fn only_origins_reach_the_frame_ancestors_directive() {
        let ok = Ancestors::new(&[
            "https://apps.mypurecloud.com",
            "https://*.twil.io",
            "http://localhost:8080",
        ])
        .unwrap();
        let csp = csp("<p></p>", &ok);
        assert!(
            csp.ends_with(
                "frame-ancestors https://apps.mypurecloud.com https://*.twil.io http://localhost:8080"
            ),
            "{csp}"
        );
        for bad in [
            "*",
            "https://a.example; script-src *",
            "https://a.example/path",
            "https://a.example 'unsafe-inline'",
            "ftp://a.example",
            "https://",
            "https://a.example:",
            "https://a.example:123456",
            "'self'",
            "https://*",
        ] {
            let e = Ancestors::new(&[bad]).unwrap_err();
            assert_eq!(e.got, bad);
        }
        assert!(csp_none_by_default());
        assert!(ok.allows("https://apps.mypurecloud.com"));
        assert!(ok.allows("https://flex.twil.io") && ok.allows("https://a.b.twil.io"));
        for no in [
            "https://twil.io",
            "https://eviltwil.io",
            "http://flex.twil.io",
            "https://apps.mypurecloud.com.evil",
            "null",
            "",
        ] {
            assert!(!ok.allows(no), "{no}");
        }
    }

    fn csp_none_by_default() -> bool {
        page_csp("<p></p>").ends_with("frame-ancestors 'none'")
    }
}

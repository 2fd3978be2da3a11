//! What shoutcue's local web pages trust, written once for the agent's
//! overlay (`shoutcue live` / `replay --serve`) and the telephony server's
//! console and agent pages (`shoutcue serve --http`).
//!
//! Listening on loopback is not enough on its own: any web page the agent
//! visits can rebind its own name to 127.0.0.1 and then read a loopback
//! page as if it were its own (DNS rebinding), and on a shared desktop
//! (terminal servers, VDI) every local user can reach every other user's
//! loopback ports. So every route here is guarded three ways:
//!
//! * [`loopback_host_only`]: a loopback listener answers only requests whose
//!   `Host` is `localhost`, `127.0.0.1` or `[::1]`; a rebound name is refused.
//! * [`require_token`]: a random per-session [`Token`] (in the URL the
//!   command prints) on every route, so another local user who cannot read
//!   that URL cannot read the page.
//! * [`same_origin_posts`]: a browser's cross-site POST (it carries an
//!   `Origin` naming the other site) is refused.
//!
//! [`security_headers`] adds what every response carries (no sniffing, no
//! referrer, no caching, a policy that allows nothing), and [`page`] serves
//! a page under a Content-Security-Policy that lets only its own inline
//! script and style run, and no other site frame it.
//!
//! [`serve`] runs the router with what `axum::serve` lacks: a header-read
//! timeout, so half-open connections do not pile up, a cap on open
//! connections, and a [`PendingBudget`] for the ones that have not yet
//! sent a request, per source address, and each connection read no
//! faster than [`Limits::max_read_bytes_per_s`] ([`Throttled`]). docs/SECURITY.md says what each page trusts and why.
#![deny(missing_docs)]

mod guard;
mod headers;
mod pending;
mod serve;
mod throttle;
mod tls;
mod token;

pub use guard::{
    is_loopback_host, loopback_host_only, require_token, same_origin_posts, token_in, TOKEN_HEADER,
};
pub use headers::{framed_page, page, page_csp, security_headers, AncestorError, Ancestors};
pub use pending::{PendingBudget, PendingRefusal, PendingSlot};
pub use serve::{serve, serve_tls, Limits};
pub use throttle::Throttled;
pub use tls::{Tls, TlsError};
pub use token::{Token, TokenError};

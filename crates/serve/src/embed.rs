//! The agent's cue view for one call, to be framed by the agent's own
//! desktop (a softphone, a CRM panel): `/embed?call=ID&agent=A&exp=T&sig=S`.
//!
//! The call is named by the id its platform uses (the AudioHook
//! `conversationId`, the Twilio `callSid`, the AudioSocket UUID, the
//! FreeSWITCH fork's `callId`), so whatever started the call can build the
//! link. A call id alone never opens it: the link is signed with the pages'
//! secret over the call, the agent and an expiry, so it cannot be altered
//! or reused after it lapses, and it opens that one call only. The agent's
//! private nudges reach the view only when the platform named the same
//! agent for the call, so a link handed to the wrong desk shows the public
//! cues and nothing of another agent's voice.
//!
//! Why a signature and not a stored token: the dialplan or script that
//! starts the call makes the link (`shoutcue serve --embed-link`) without
//! asking the server, and the server keeps no list that could grow or be
//! lost in a restart.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::Pages;

/// Longest validity a link may claim, s: a link that lives longer than a
/// working day is a password, not a link.
pub const MAX_TTL_S: u64 = 24 * 3600;

/// A link to one call's cue view, for one agent, until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedLink {
    /// The platform's call id.
    pub call: String,
    /// The agent the link was made for.
    pub agent: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a link was refused. Said to the client in these words: none of
/// them tells a guesser anything it did not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    /// A part of the link is absent.
    #[error("link incomplete: no {0}")]
    Missing(&'static str),
    /// `exp` is not a number.
    #[error("link's expiry is not a number of seconds")]
    BadExpiry,
    /// The link lapsed.
    #[error("link expired {ago} s ago: ask for a new one")]
    Expired {
        /// Seconds since it lapsed.
        ago: u64,
    },
    /// The signature does not match the call, agent and expiry given.
    #[error("link altered or not made by this server")]
    BadSignature,
}

/// The query of an embed request, every part optional so that a missing
/// one is refused in words, not by the extractor.
#[derive(Debug, Default, serde::Deserialize)]
pub struct EmbedQuery {
    /// The platform's call id.
    #[serde(default)]
    pub call: Option<String>,
    /// The agent.
    #[serde(default)]
    pub agent: Option<String>,
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub exp: Option<String>,
    /// The signature.
    #[serde(default)]
    pub sig: Option<String>,
}

/// What is signed: each field length-prefixed, so no call id or agent id
/// can shift text into its neighbour.
fn label(l: &EmbedLink) -> String {
    format!(
        "embed:{}:{}:{}:{}:{}",
        l.call.len(),
        l.call,
        l.agent.len(),
        l.agent,
        l.exp
    )
}

/// Now, Unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The link's query string (`call=..&agent=..&exp=..&sig=..`).
pub fn signed_query(pages: &Pages, link: &EmbedLink) -> String {
    format!(
        "call={}&agent={}&exp={}&sig={}",
        encode(&link.call),
        encode(&link.agent),
        link.exp,
        pages.sign(&label(link)).as_str()
    )
}

/// The link `q` names, if it is whole, this server's, and not expired at
/// `now` (Unix seconds). The signature is compared in constant time.
pub fn verify(pages: &Pages, q: &EmbedQuery, now: u64) -> Result<EmbedLink, LinkRefused> {
    let call = q
        .call
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or(LinkRefused::Missing("call"))?;
    let agent = q
        .agent
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or(LinkRefused::Missing("agent"))?;
    let exp = q.exp.as_deref().ok_or(LinkRefused::Missing("exp"))?;
    let exp: u64 = exp.parse().map_err(|_| LinkRefused::BadExpiry)?;
    let sig = q.sig.as_deref().ok_or(LinkRefused::Missing("sig"))?;
    let link = EmbedLink { call, agent, exp };
    // The signature first: an expiry is only news about a genuine link.
    if !pages.sign(&label(&link)).matches(sig) {
        return Err(LinkRefused::BadSignature);
    }
    if exp <= now {
        return Err(LinkRefused::Expired { ago: now - exp });
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Pages {
        Pages::new(Some("0123456789abcdef-test-secret")).unwrap()
    }

    fn query(s: &str) -> EmbedQuery {
        let mut q = EmbedQuery::default();
        for kv in s.split('&') {
            let (k, v) = kv.split_once('=').unwrap();
            let v = percent_decode(v);
            match k {
                "call" => q.call = Some(v),
                "agent" => q.agent = Some(v),
                "exp" => q.exp = Some(v),
                "sig" => q.sig = Some(v),
                _ => {}
            }
        }
        q
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_link_opens_its_own_call_until_it_lapses_and_nothing_else() {
        let p = pages();
        let link = EmbedLink {
            call: "conv/42 &x".into(),
            agent: "agent-5".into(),
            exp: 1_000,
        };
        let q = signed_query(&p, &link);
        assert_eq!(verify(&p, &query(&q), 999), Ok(link.clone()));
        assert_eq!(
            verify(&p, &query(&q), 1_030),
            Err(LinkRefused::Expired { ago: 30 })
        );
        // Each part altered, one at a time.
        for (from, to) in [
            ("call=conv", "call=conw"),
            ("agent=agent-5", "agent=agent-6"),
            ("exp=1000", "exp=9000"),
        ] {
            let altered = q.replacen(from, to, 1);
            assert_ne!(altered, q);
            assert_eq!(
                verify(&p, &query(&altered), 999),
                Err(LinkRefused::BadSignature),
                "{altered}"
            );
        }
        // Another server's secret.
        let other = Pages::new(Some("another-secret-0123456789")).unwrap();
        assert_eq!(
            verify(&other, &query(&q), 999),
            Err(LinkRefused::BadSignature)
        );
        // A call id alone, and a link without its signature.
        assert_eq!(
            verify(&p, &query("call=conv"), 999),
            Err(LinkRefused::Missing("agent"))
        );
        let unsigned = q.split("&sig=").next().unwrap().to_string();
        assert_eq!(
            verify(&p, &query(&unsigned), 999),
            Err(LinkRefused::Missing("sig"))
        );
        assert_eq!(
            verify(&p, &query(&q.replacen("exp=1000", "exp=soon", 1)), 999),
            Err(LinkRefused::BadExpiry)
        );
    }

    #[test]
    fn ids_cannot_shift_text_into_each_other() {
        let a = EmbedLink {
            call: "a:1".into(),
            agent: "b".into(),
            exp: 5,
        };
        let b = EmbedLink {
            call: "a".into(),
            agent: "1:b".into(),
            exp: 5,
        };
        assert_ne!(label(&a), label(&b));
    }
}

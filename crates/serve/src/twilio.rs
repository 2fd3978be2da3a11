//! Twilio Media Streams over WebSocket: JSON messages `connected`, `start`
//! (call and stream ids, tracks, custom parameters), `media` (base64 mu-law
//! at 8 kHz, 20 ms a chunk, `inbound` = the customer, `outbound` = the
//! agent, with a millisecond timestamp), `mark`, `dtmf` and `stop`.
//!
//! The two tracks arrive as separate messages, so they are kept in step
//! ([`Lockstep`]); a gap in a track's timestamps is filled with silence so
//! the call's clock stays true. The agent is named by the custom parameter
//! `agent_id` (`<Parameter name="agent_id" value="..."/>` in TwiML).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine as _;
use futures_util::SinkExt;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::call::{CallMeta, CallSession, EndReason, Lockstep, Protocol, Slot};
use crate::Shared;

/// Serves Media Streams on any path of `listener` until aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/", any(upgrade))
        .route("/{*path}", any(upgrade))
        .with_state(shared.clone());
    let tls = shared.tls.clone();
    shoutcue_web::serve_tls(listener, app, crate::stream_limits(&shared), tls).await;
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = crate::refuse_browser(&shared, &headers, "twilio") {
        return refused;
    }
    if let Some(cfg) = shared.cfg.twilio.as_ref() {
        if let (Some(token), Some(base)) = (cfg.auth_token.as_deref(), cfg.public_url.as_deref()) {
            let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
            let signature = headers
                .get("x-twilio-signature")
                // Not ASCII: not base64 either, so `verify` names it malformed.
                .map(|v| v.to_str().unwrap_or(""));
            if let Err(e) = verify(signature, &signed_url(base, target), token) {
                tracing::warn!("Twilio: upgrade refused (401): {e}");
                return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
            }
        }
    }
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| run(socket, shared))
}

/// Why an upgrade's `X-Twilio-Signature` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Twilio-Signature` header.
    #[error("no X-Twilio-Signature header")]
    Missing,
    /// The header is not base64 of a 20-byte HMAC-SHA1.
    #[error("X-Twilio-Signature is not base64 of an HMAC-SHA1 (expected 20 bytes, got {got})")]
    Malformed {
        /// Bytes decoded (0 when it is not base64 at all).
        got: usize,
    },
    /// The signature does not match the URL under the auth token.
    #[error("X-Twilio-Signature does not verify for {url}")]
    Mismatch {
        /// The URL it was checked against.
        url: String,
    },
}

/// Checks `public_url` (`twilio.public_url`): a `wss://` (or `ws://`,
/// `https://`, `http://`) scheme and a host, nothing after it but an
/// optional trailing `/`, since the request's own path and query follow.
pub fn check_public_url(public_url: &str) -> Result<(), String> {
    let rest = ["wss://", "ws://", "https://", "http://"]
        .iter()
        .find_map(|s| public_url.strip_prefix(s))
        .ok_or_else(|| format!("expected wss://host, got {public_url:?}"))?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "expected only a scheme and host (the path comes from each request), got {public_url:?}"
        ));
    }
    Ok(())
}

/// The URL Twilio signed: the configured scheme and host, then the
/// request's path and query as received.
pub fn signed_url(public_url: &str, path_and_query: &str) -> String {
    format!("{}{path_and_query}", public_url.trim_end_matches('/'))
}

/// Verifies Twilio's request signature for a WebSocket upgrade: base64
/// HMAC-SHA1, keyed with the account's auth token, over the full URL
/// (an upgrade has no POST parameters to append). As Twilio's own
/// validators do, the URL is also tried with its default port written
/// out or left off, since either form may have been signed. The
/// comparison is constant-time (`Mac::verify_slice`).
pub fn verify(signature: Option<&str>, url: &str, auth_token: &str) -> Result<(), SignatureError> {
    use hmac::{Hmac, Mac};
    let sig = signature.ok_or(SignatureError::Missing)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .map_err(|_| SignatureError::Malformed { got: 0 })?;
    if raw.len() != 20 {
        return Err(SignatureError::Malformed { got: raw.len() });
    }
    for candidate in url_variants(url) {
        let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()) else {
            continue;
        };
        mac.update(candidate.as_bytes());
        if mac.verify_slice(&raw).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch {
        url: url.to_string(),
    })
}

/// `url`, then the same URL with the scheme's default port added (when it
/// has none) or removed (when it has it).
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    for (scheme, port) in [
        ("wss://", 443),
        ("https://", 443),
        ("ws://", 80),
        ("http://", 80),
    ] {
        let Some(rest) = url.strip_prefix(scheme) else {
            continue;
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host, tail) = rest.split_at(end);
        let suffix = format!(":{port}");
        if let Some(bare) = host.strip_suffix(&suffix) {
            out.push(format!("{scheme}{bare}{tail}"));
        } else if !host.contains(':') {
            out.push(format!("{scheme}{host}{suffix}{tail}"));
        }
        break;
    }
    out
}

struct Stream {
    call: CallSession,
    _slot: Slot,
    step: Option<Lockstep>,
    /// Samples received per track (customer, agent), for the timestamp check.
    got: [u64; 2],
    buf: Vec<f32>,
}

async fn run(mut ws: WebSocket, shared: Arc<Shared>) {
    let mut stream: Option<Stream> = None;
    let mut reason = EndReason::Disconnect;
    let mut error: Option<String> = None;
    let mut deadline = crate::call::AudioDeadline::default();
    loop {
        let msg = tokio::select! {
            m = tokio::time::timeout_at(deadline.at(), ws.recv()) => m,
            _ = crate::ended(&shared) => { reason = EndReason::Drained; break; }
        };
        let text = match msg {
            Err(_) => {
                error = Some(deadline.expired());
                break;
            }
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => break,
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(Message::Binary(_)))) => {
                error = Some("binary frame: Media Streams sends JSON text".into());
                reason = EndReason::Error;
                break;
            }
            Ok(Some(Ok(_))) => continue,
        };
        let arrived = std::time::Instant::now();
        let got = |s: &Option<Stream>| s.as_ref().map_or(0, |s| s.got[0] + s.got[1]);
        let before = got(&stream);
        let handled = handle(&shared, &mut stream, text.as_str());
        // Only audio is a frame analysed: start, mark, dtmf and stop
        // messages are neither counted nor timed.
        if got(&stream) > before {
            shared.stats.frame_done(arrived);
            deadline.heard();
        }
        match handled {
            Ok(None) => {}
            Ok(Some(r)) => {
                reason = r;
                break;
            }
            Err(e) => {
                error = Some(e);
                reason = EndReason::Error;
                break;
            }
        }
    }
    if let Some(e) = &error {
        tracing::error!("Twilio: {e}; ending the stream");
    }
    if let Some(mut s) = stream {
        if let Some(st) = s.step.as_mut() {
            st.customer_gone();
            st.agent_gone();
            let call = &mut s.call;
            let padded = st.drain(Instant::now(), |c, a| call.push(c, a));
            call.filled(padded);
        }
        s.call.end(reason);
    }
    let _ = ws.close().await;
}

/// Which party a media message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// `inbound` (or no track named): the customer.
    Inbound,
    /// `outbound`: the agent.
    Outbound,
}

/// One Media Streams message, parsed and checked, before any call state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioMessage {
    /// `connected`: the stream is up.
    Connected,
    /// `start`: the call begins (its media format already checked:
    /// mu-law at 8 kHz).
    Start {
        /// `start.callSid`, else `streamSid`, else `twilio-call`.
        call_id: String,
        /// The custom parameter `agent_id` (or `agentId`), if any.
        agent_id: Option<String>,
        /// Whether the agent's track (`outbound` or `both_tracks`) comes too.
        has_agent: bool,
    },
    /// `media`: one chunk of one track.
    Media {
        /// The track.
        track: Track,
        /// The mu-law bytes, base64-decoded: one sample each.
        payload: Vec<u8>,
        /// The chunk's timestamp, ms from the stream's start, if it parses.
        timestamp_ms: Option<u64>,
    },
    /// `mark`: a playback marker (ignored).
    Mark,
    /// `dtmf`: a key pressed (logged).
    Dtmf {
        /// The digit, as sent.
        digit: Option<String>,
    },
    /// `stop`: the call is over.
    Stop,
}

/// Parses one Media Streams text message. Errors name the problem.
pub fn parse_message(text: &str) -> Result<TwilioMessage, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("message is not JSON: {e}"))?;
    match v["event"].as_str() {
        Some("connected") => Ok(TwilioMessage::Connected),
        Some("mark") => Ok(TwilioMessage::Mark),
        Some("dtmf") => Ok(TwilioMessage::Dtmf {
            digit: v["dtmf"]["digit"].as_str().map(str::to_string),
        }),
        Some("start") => {
            let st = &v["start"];
            let enc = st["mediaFormat"]["encoding"]
                .as_str()
                .unwrap_or("audio/x-mulaw");
            let rate = st["mediaFormat"]["sampleRate"].as_u64().unwrap_or(8000);
            if enc != "audio/x-mulaw" || rate != 8000 {
                return Err(format!(
                    "media format {enc} at {rate} Hz (expected audio/x-mulaw at 8000)"
                ));
            }
            let tracks: Vec<&str> = st["tracks"].as_array().map_or(vec!["inbound"], |t| {
                t.iter().filter_map(Value::as_str).collect()
            });
            let has_agent = tracks
                .iter()
                .any(|t| *t == "outbound" || *t == "both_tracks");
            let call_id = st["callSid"]
                .as_str()
                .or(v["streamSid"].as_str())
                .unwrap_or("twilio-call")
                .to_string();
            let params = &st["customParameters"];
            let agent_id = params["agent_id"]
                .as_str()
                .or(params["agentId"].as_str())
                .map(str::to_string);
            Ok(TwilioMessage::Start {
                call_id,
                agent_id,
                has_agent,
            })
        }
        Some("media") => {
            let m = &v["media"];
            let track = match m["track"].as_str() {
                Some("inbound") | None => Track::Inbound,
                Some("outbound") => Track::Outbound,
                Some(t) => return Err(format!("unknown track {t:?}")),
            };
            let payload = m["payload"].as_str().ok_or("media without payload")?;
            let payload = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .map_err(|e| format!("media payload is not base64: {e}"))?;
            let timestamp_ms = m["timestamp"].as_str().and_then(|t| t.parse::<u64>().ok());
            Ok(TwilioMessage::Media {
                track,
                payload,
                timestamp_ms,
            })
        }
        Some("stop") => Ok(TwilioMessage::Stop),
        Some(other) => Err(format!("unknown event {other:?}")),
        None => Err("message without an event".into()),
    }
}

/// Appends one sample per mu-law byte to `out`, each in [-1, 1].
pub fn push_mulaw(bytes: &[u8], out: &mut Vec<f32>) {
    // One byte a sample, one voice: cannot fail; no agent voice is written.
    let _ = crate::pcm::Layout::MONO_MULAW.append(bytes, out, &mut Vec::new());
}

fn handle(
    shared: &Arc<Shared>,
    stream: &mut Option<Stream>,
    text: &str,
) -> Result<Option<EndReason>, String> {
    match parse_message(text)? {
        TwilioMessage::Connected | TwilioMessage::Mark => Ok(None),
        TwilioMessage::Dtmf { digit } => {
            tracing::debug!("Twilio DTMF {digit:?}");
            Ok(None)
        }
        TwilioMessage::Start {
            call_id,
            agent_id,
            has_agent,
        } => {
            if stream.is_some() {
                return Err("a second start".into());
            }
            let slot = Slot::take(shared, Protocol::Twilio).ok_or_else(|| {
                format!("call {call_id} refused: server at capacity or shutting down")
            })?;
            let meta = CallMeta {
                call_id,
                protocol: Protocol::Twilio,
                agent_id,
            };
            let call =
                CallSession::start(shared, meta, 8000, has_agent).map_err(|e| e.to_string())?;
            *stream = Some(Stream {
                call,
                _slot: slot,
                step: has_agent.then(|| Lockstep::new(8000)),
                got: [0, 0],
                buf: Vec::with_capacity(4096),
            });
            Ok(None)
        }
        TwilioMessage::Media {
            track,
            payload,
            timestamp_ms,
        } => {
            let s = stream.as_mut().ok_or("media before start")?;
            let track = match track {
                Track::Inbound => 0,
                Track::Outbound => 1,
            };
            s.buf.clear();
            // A gap in the timestamps (lost or skipped chunks): silence.
            if let Some(ts) = timestamp_ms {
                let due = ts.saturating_mul(8);
                if due > s.got[track] + 160 {
                    let want = (due - s.got[track]).min(8000 * 60) as usize;
                    let gap = s.call.silence_allowance(want);
                    s.call.filled(gap);
                    s.buf.resize(gap, 0.0);
                    // What was not inserted is skipped: the track's clock
                    // jumps to the platform's, so the next chunk is not
                    // taken for a gap again.
                    s.got[track] += (want - gap) as u64;
                }
            }
            push_mulaw(&payload, &mut s.buf);
            s.got[track] += s.buf.len() as u64;
            let Stream {
                call, step, buf, ..
            } = s;
            match (step.as_mut(), track) {
                (None, 0) => call.push(buf, &[]),
                (None, _) => {} // an agent track on a call that announced none
                (Some(st), t) => {
                    let now = Instant::now();
                    if t == 0 {
                        st.push_customer(buf, now);
                    } else {
                        st.push_agent(buf);
                    }
                    let padded = st.drain(now, |c, a| call.push(c, a));
                    call.filled(padded);
                }
            }
            Ok(None)
        }
        TwilioMessage::Stop => Ok(Some(EndReason::Hangup)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference signatures from Twilio's own Python SDK (twilio 9.13.0,
    // `RequestValidator("12345").compute_signature(url, {})`), not from
    // this code.
    const TOKEN: &str = "12345";
    const PLAIN: (&str, &str) = (
        "wss://voice.example.com/media",
        "jFDHVhI8XO69C49uXR3xmdZPylY=",
    );
    const QUERY: (&str, &str) = (
        "wss://voice.example.com/media?site=lon",
        "cpO4pU5/MpDec1m38GdbFOdTumA=",
    );
    const PORT: (&str, &str) = (
        "wss://voice.example.com:443/media",
        "zT3E7J41/O0MIJ8mFRuffODYWF4=",
    );

    #[test]
    fn twilios_own_signatures_verify_and_anything_else_does_not() {
        for (url, sig) in [PLAIN, QUERY, PORT] {
            assert_eq!(verify(Some(sig), url, TOKEN), Ok(()), "{url}");
            assert!(
                matches!(
                    verify(Some(sig), url, "54321"),
                    Err(SignatureError::Mismatch { .. })
                ),
                "{url} under another token"
            );
        }
        // The signature covers the path and the query.
        assert!(verify(Some(PLAIN.1), QUERY.0, TOKEN).is_err());
        assert!(verify(Some(PLAIN.1), "wss://voice.example.com/other", TOKEN).is_err());
        assert!(verify(Some(PLAIN.1), "wss://evil.example.com/media", TOKEN).is_err());
        // Either form of the default port, as Twilio's validators allow.
        assert_eq!(verify(Some(PORT.1), PLAIN.0, TOKEN), Ok(()));
        assert_eq!(verify(Some(PLAIN.1), PORT.0, TOKEN), Ok(()));
        // Missing and malformed headers are named.
        assert_eq!(verify(None, PLAIN.0, TOKEN), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some("not base64!"), PLAIN.0, TOKEN),
            Err(SignatureError::Malformed { got: 0 })
        );
        assert_eq!(
            verify(Some("AAAA"), PLAIN.0, TOKEN),
            Err(SignatureError::Malformed { got: 3 })
        );
    }

    #[test]
    fn the_public_url_is_a_scheme_and_a_host() {
        assert_eq!(
            signed_url("wss://voice.example.com/", "/media?x=1"),
            "wss://voice.example.com/media?x=1"
        );
        for ok in [
            "wss://voice.example.com",
            "wss://voice.example.com/",
            "ws://127.0.0.1:8080",
        ] {
            assert!(check_public_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "voice.example.com",
            "wss://",
            "wss://host/media",
            "ftp://host",
            "wss://h?x=1",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }
}

//! Genesys Cloud AudioHook Monitor, protocol version 2, over WebSocket.
//!
//! The upgrade request is signed (HTTP Message Signatures, HMAC-SHA256 over
//! `@request-target`, `@authority`, `audiohook-organization-id`,
//! `audiohook-session-id`, `audiohook-correlation-id` and `x-api-key`; key id
//! = the API key, key = the base64 client secret): a request that is not is
//! refused with 401 before any WebSocket exists. Then the client sends
//! `open` with the media it offers; we pick PCMU or L16 at 8 kHz, stereo
//! (`external` = the customer, `internal` = the agent) when offered, else
//! mono `external`, and answer `opened`. Binary frames carry the audio,
//! interleaved per sample. `ping` gets `pong`; `paused`/`resumed` and
//! `discarded` keep the call's clock by inserting the silence the client
//! skipped; `update` gets `updated`; `close` gets `closed` and ends the call;
//! an `error` from the client is logged. Server messages carry `seq` from 1
//! and `clientseq` = the last client `seq`; a client `seq` out of order is a
//! protocol error. At the call limit, or draining, the answer to `open` is
//! `disconnect` (reason `error`, info naming 503).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use futures_util::SinkExt;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use crate::call::{CallMeta, CallSession, EndReason, Protocol, Slot};
use crate::pcm::{Encoding, Layout};
use crate::Shared;

/// The components a signature must cover.
pub const REQUIRED_COMPONENTS: [&str; 6] = [
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
];

/// Clock skew allowed between the client and us when checking `created`/`expires`, s.
pub const MAX_SKEW_S: i64 = 10;
/// Oldest `created` accepted, s before now (plus the skew): a client signs
/// its upgrade as it makes it; the reference client's signatures live 30 s.
pub const MAX_AGE_S: i64 = 60;
/// Longest `expires - created` accepted, s: no signature good for years.
pub const MAX_LIFETIME_S: i64 = 300;
/// Nonces remembered at most: past it the oldest are forgotten early (and
/// a replay of those is still refused by its age within [`MAX_AGE_S`]).
const MAX_NONCES: usize = 100_000;

/// Decodes the configured client secret.
pub fn decode_secret(b64: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
}

/// Why an upgrade request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header the protocol requires is missing.
    #[error("missing header {0}")]
    Missing(&'static str),
    /// The API key is not ours.
    #[error("unknown API key")]
    ApiKey,
    /// The signature headers cannot be parsed.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// The signature does not cover every required component.
    #[error("the signature does not cover {0}")]
    Uncovered(&'static str),
    /// The signature is outside its validity window, or has none.
    #[error("the signature has expired, is not yet valid, or has no created/expires")]
    Expired,
    /// This signature was used before (its nonce was seen).
    #[error("the signature was used before (a replayed request)")]
    Replayed,
    /// The HMAC does not match.
    #[error("the signature does not verify")]
    Mismatch,
}

/// One member of a `signature-input` dictionary.
#[derive(Debug, Clone, PartialEq)]
struct SigInput<'a> {
    label: &'a str,
    /// The member's value exactly as sent: the `@signature-params` line.
    raw: &'a str,
    components: Vec<String>,
    params: Vec<(&'a str, String)>,
}

/// Splits a structured-field dictionary at its top-level commas.
fn members(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(s[start..].trim());
    out.retain(|m| !m.is_empty());
    out
}

fn unquote(v: &str) -> Option<String> {
    let inner = v.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

fn parse_input(member: &str) -> Option<SigInput<'_>> {
    let (label, raw) = member.split_once('=')?;
    let rest = raw.strip_prefix('(')?;
    let close = rest.find(')')?;
    let components = rest[..close]
        .split_whitespace()
        .map(unquote)
        .collect::<Option<Vec<_>>>()?;
    let mut params = Vec::new();
    for p in rest[close + 1..].split(';').skip(1) {
        let (k, v) = p.split_once('=')?;
        let v = unquote(v).unwrap_or_else(|| v.to_string());
        params.push((k.trim(), v));
    }
    Some(SigInput {
        label: label.trim(),
        raw: raw.trim(),
        components,
        params,
    })
}

/// What a verified signature carries for the replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signature's nonce, if it has one.
    pub nonce: Option<String>,
    /// Until when the signature is valid, Unix seconds.
    pub expires: i64,
}

/// Checks the upgrade request's signature and API key, and that it is
/// fresh: `created` and `expires` present, `created` at most [`MAX_AGE_S`]
/// old, a lifetime of at most [`MAX_LIFETIME_S`], within [`MAX_SKEW_S`].
pub fn verify(
    headers: &HeaderMap,
    request_target: &str,
    api_key: &str,
    secret: &[u8],
    now_unix: i64,
) -> Result<Signed, AuthError> {
    let header = |name: &'static str| -> Result<&str, AuthError> {
        headers
            .get(name)
            .ok_or(AuthError::Missing(name))?
            .to_str()
            .map_err(|_| AuthError::Malformed(name))
    };
    // Constant time: the key must not be guessable byte by byte.
    if !bool::from(
        header("x-api-key")?
            .trim()
            .as_bytes()
            .ct_eq(api_key.as_bytes()),
    ) {
        return Err(AuthError::ApiKey);
    }
    let inputs = header("signature-input")?;
    let sigs = header("signature")?;
    let input = members(inputs)
        .into_iter()
        .find_map(parse_input)
        .ok_or(AuthError::Malformed("signature-input"))?;
    let sig_b64 = members(sigs)
        .into_iter()
        .find_map(|m| {
            let (l, v) = m.split_once('=')?;
            (l.trim() == input.label).then_some(v.trim())
        })
        .and_then(|v| v.strip_prefix(':')?.strip_suffix(':'))
        .ok_or(AuthError::Malformed("signature"))?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64)
        .map_err(|_| AuthError::Malformed("signature"))?;
    for c in REQUIRED_COMPONENTS {
        if !input.components.iter().any(|x| x == c) {
            return Err(AuthError::Uncovered(c));
        }
    }
    let param = |k: &str| {
        input
            .params
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
    };
    // Constant time, as the X-API-KEY header: the key id is the API key.
    let keyid_ok: bool =
        param("keyid").is_some_and(|k| k.as_bytes().ct_eq(api_key.as_bytes()).into());
    if !keyid_ok {
        return Err(AuthError::ApiKey);
    }
    if param("alg").is_some_and(|a| a != "hmac-sha256") {
        return Err(AuthError::Malformed("signature-input"));
    }
    let int = |k| {
        param(k).map(|v| {
            v.parse::<i64>()
                .map_err(|_| AuthError::Malformed("signature-input"))
        })
    };
    let (Some(created), Some(expires)) = (int("created").transpose()?, int("expires").transpose()?)
    else {
        return Err(AuthError::Expired);
    };
    // Saturating throughout: both are the client's numbers, i64::MAX included.
    if created > now_unix.saturating_add(MAX_SKEW_S)
        || created < now_unix.saturating_sub(MAX_AGE_S + MAX_SKEW_S)
        || expires.saturating_add(MAX_SKEW_S) < now_unix
        || expires.saturating_sub(created) > MAX_LIFETIME_S
    {
        return Err(AuthError::Expired);
    }
    let nonce = param("nonce").map(str::to_string);
    let mut base = String::new();
    for c in &input.components {
        let value = match c.as_str() {
            "@request-target" => request_target.to_string(),
            "@authority" => authority(header("host")?),
            "@method" => "GET".to_string(),
            name if name.starts_with('@') => return Err(AuthError::Malformed("signature-input")),
            name => {
                let vals: Vec<&str> = headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::trim)
                    .collect();
                if vals.is_empty() {
                    return Err(AuthError::Missing("a signed header"));
                }
                vals.join(", ")
            }
        };
        base.push_str(&format!("\"{c}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {}", input.raw));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| AuthError::Mismatch)?;
    mac.update(base.as_bytes());
    mac.verify_slice(&sig).map_err(|_| AuthError::Mismatch)?;
    Ok(Signed { nonce, expires })
}

/// Nonces of the signatures accepted and still valid: a signature is good
/// for one upgrade, so a captured request cannot open a second session.
#[derive(Debug, Default)]
pub struct Nonces {
    seen: std::collections::HashMap<String, i64>,
    order: std::collections::VecDeque<(i64, String)>,
}

impl Nonces {
    /// Records `signed`'s nonce at `now_unix`; refuses one seen before.
    /// A signature without a nonce is refused too: nothing would tell its
    /// replay from it.
    pub fn admit(&mut self, signed: &Signed, now_unix: i64) -> Result<(), AuthError> {
        while let Some((until, _)) = self.order.front() {
            if *until >= now_unix && self.order.len() < MAX_NONCES {
                break;
            }
            if let Some((_, n)) = self.order.pop_front() {
                self.seen.remove(&n);
            }
        }
        let Some(nonce) = signed.nonce.as_ref().filter(|n| !n.is_empty()) else {
            return Err(AuthError::Missing("nonce"));
        };
        if self.seen.contains_key(nonce) {
            return Err(AuthError::Replayed);
        }
        // Kept until the signature could no longer pass the time checks.
        let until = signed
            .expires
            .saturating_add(MAX_SKEW_S)
            .max(now_unix + MAX_AGE_S + MAX_SKEW_S);
        self.seen.insert(nonce.clone(), until);
        self.order.push_back((until, nonce.clone()));
        Ok(())
    }
}

/// The `@authority` of a Host header: lower case, default ports dropped.
fn authority(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    h.strip_suffix(":80")
        .or_else(|| h.strip_suffix(":443"))
        .map_or(h.clone(), str::to_string)
}

/// Serves the AudioHook WebSocket on `listener` until aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let path = shared
        .cfg
        .audiohook
        .as_ref()
        .map_or_else(|| "/api/v1/audiohook/ws".to_string(), |c| c.path.clone());
    let app = Router::new()
        .route(&path, get(upgrade))
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
    let Some(cfg) = shared.cfg.audiohook.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(refused) = crate::refuse_browser(&shared, &headers, "audiohook") {
        return refused;
    }
    let (key, secret) = (
        cfg.api_key.clone().unwrap_or_default(),
        cfg.client_secret
            .as_deref()
            .and_then(decode_secret)
            .unwrap_or_default(),
    );
    let target = uri
        .path_and_query()
        .map_or(uri.path(), |p| p.as_str())
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let checked = verify(&headers, &target, &key, &secret, now).and_then(|signed| {
        shared
            .audiohook_nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(&signed, now)
    });
    if let Err(e) = checked {
        tracing::warn!("AudioHook: upgrade refused (401): {e}");
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    let hv = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let session_id = hv("audiohook-session-id");
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| async move { Session::new(shared, session_id).run(socket).await })
}

/// The media we took from the client's offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// G.711 mu-law, one byte a sample.
    Pcmu,
    /// 16-bit little-endian linear PCM.
    L16,
}

/// A client message's envelope, checked: version `2`, a type, and the
/// `seq` that was due.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMessage {
    /// The message type (`open`, `ping`, `close`, ...), not yet checked.
    pub kind: String,
    /// The client's sequence number.
    pub seq: u64,
    /// The message's `parameters` (`null` when absent).
    pub parameters: Value,
}

/// Parses one client text message whose `seq` must be `expected_seq`.
/// Errors name the problem, as sent in the `disconnect` that follows.
pub fn parse_message(text: &str, expected_seq: u64) -> Result<ClientMessage, String> {
    let mut v: Value =
        serde_json::from_str(text).map_err(|e| format!("message is not JSON: {e}"))?;
    let (Some(kind), Some(seq)) = (v["type"].as_str(), v["seq"].as_u64()) else {
        return Err("message without type or seq".into());
    };
    let kind = kind.to_string();
    if v["version"].as_str() != Some("2") {
        return Err(format!(
            "protocol version {} (expected \"2\")",
            v["version"]
        ));
    }
    if seq != expected_seq {
        return Err(format!("seq {seq} out of order (expected {expected_seq})"));
    }
    let parameters = v.get_mut("parameters").map_or(Value::Null, Value::take);
    Ok(ClientMessage {
        kind,
        seq,
        parameters,
    })
}

/// What an `open` asks for, once we have picked from its offer.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenParams {
    /// The offer we took, echoed back in `opened`.
    pub media: Value,
    /// Its encoding.
    pub format: Format,
    /// Two channels, `external` (the customer) then `internal` (the agent).
    pub stereo: bool,
    /// `conversationId`, if sent (all zeros: a connection probe).
    pub conversation_id: Option<String>,
    /// `participant.id`: the agent, if named.
    pub agent_id: Option<String>,
}

/// Picks from an `open` message's parameters: PCMU or L16 at 8 kHz,
/// `external`+`internal` when offered, else `external` alone.
pub fn parse_open(p: &Value) -> Result<OpenParams, String> {
    let offers = p["media"].as_array().ok_or("open without media")?;
    let pick = |want: &[&str]| {
        offers.iter().find(|m| {
            let fmt_ok = matches!(m["format"].as_str(), Some("PCMU" | "L16"));
            let ch: Vec<&str> = m["channels"]
                .as_array()
                .map_or(Vec::new(), |c| c.iter().filter_map(Value::as_str).collect());
            fmt_ok
                && m["rate"].as_u64() == Some(8000)
                && m["type"].as_str() == Some("audio")
                && ch == want
        })
    };
    let media = pick(&["external", "internal"])
        .or_else(|| pick(&["external"]))
        .cloned()
        .ok_or("no offered media we can analyse (PCMU or L16, 8 kHz, external[+internal])")?;
    let format = if media["format"] == "L16" {
        Format::L16
    } else {
        Format::Pcmu
    };
    let stereo = media["channels"].as_array().is_some_and(|c| c.len() == 2);
    Ok(OpenParams {
        format,
        stereo,
        conversation_id: p["conversationId"].as_str().map(str::to_string),
        agent_id: p["participant"]["id"].as_str().map(str::to_string),
        media,
    })
}

struct Session {
    shared: Arc<Shared>,
    id: String,
    seq: u64,
    clientseq: u64,
    call: Option<CallSession>,
    slot: Option<Slot>,
    format: Format,
    stereo: bool,
    /// A connection probe: opened, no call, audio ignored.
    probe: bool,
    cust: Vec<f32>,
    agent: Vec<f32>,
}

/// What ends the session loop.
enum Next {
    Go,
    End(EndReason),
}

impl Session {
    fn new(shared: Arc<Shared>, id: String) -> Self {
        Self {
            shared,
            id,
            seq: 0,
            clientseq: 0,
            call: None,
            slot: None,
            format: Format::Pcmu,
            stereo: true,
            probe: false,
            cust: Vec::with_capacity(8192),
            agent: Vec::with_capacity(8192),
        }
    }

    fn message(&mut self, kind: &str, parameters: Value) -> Message {
        self.seq += 1;
        Message::Text(
            json!({
                "version": "2", "id": self.id, "type": kind, "seq": self.seq,
                "clientseq": self.clientseq, "parameters": parameters,
            })
            .to_string()
            .into(),
        )
    }

    async fn run(mut self, mut ws: WebSocket) {
        let reason = loop {
            let msg = tokio::select! {
                m = tokio::time::timeout(Duration::from_secs(60), ws.recv()) => m,
                _ = crate::ended(&self.shared) => {
                    let m = self.message("disconnect", json!({"reason": "completed", "info": "server shutting down"}));
                    let _ = ws.send(m).await;
                    break EndReason::Drained;
                }
            };
            let next = match msg {
                Err(_) => {
                    tracing::warn!(session = %self.id, "AudioHook: no message for 60 s (the client pings every few seconds); ending");
                    Next::End(EndReason::Disconnect)
                }
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                    Next::End(EndReason::Disconnect)
                }
                Ok(Some(Ok(Message::Text(t)))) => self.text(&mut ws, t.as_str()).await,
                Ok(Some(Ok(Message::Binary(b)))) => {
                    let arrived = std::time::Instant::now();
                    let next = self.audio(&mut ws, &b).await;
                    self.shared.stats.frame_done(arrived);
                    next
                }
                Ok(Some(Ok(_))) => Next::Go,
            };
            if let Next::End(r) = next {
                break r;
            }
        };
        if let Some(call) = self.call.take() {
            call.end(reason);
        }
        self.slot = None;
        let _ = ws.close().await;
    }

    async fn protocol_error(&mut self, ws: &mut WebSocket, info: String) -> Next {
        tracing::error!(session = %self.id, "AudioHook: {info}; ending the call");
        let m = self.message("disconnect", json!({"reason": "error", "info": info}));
        let _ = ws.send(m).await;
        Next::End(EndReason::Error)
    }

    async fn text(&mut self, ws: &mut WebSocket, text: &str) -> Next {
        let msg = match parse_message(text, self.clientseq + 1) {
            Ok(m) => m,
            Err(e) => return self.protocol_error(ws, e).await,
        };
        self.clientseq = msg.seq;
        let p = &msg.parameters;
        match msg.kind.as_str() {
            "open" => self.open(ws, p).await,
            "ping" => {
                let m = self.message("pong", json!({}));
                send(ws, m).await
            }
            "close" => {
                let m = self.message("closed", json!({}));
                let _ = ws.send(m).await;
                Next::End(EndReason::Hangup)
            }
            "update" => {
                let m = self.message("updated", json!({}));
                send(ws, m).await
            }
            "discarded" | "resumed" => {
                // Audio the client skipped: silence keeps the call's clock.
                let s = duration_s(&p["discarded"]).unwrap_or(0.0);
                self.silence(s);
                Next::Go
            }
            "paused" => Next::Go,
            "error" => {
                tracing::warn!(session = %self.id, "AudioHook client error: {}", p);
                Next::Go
            }
            other => {
                self.protocol_error(ws, format!("unexpected message type {other:?}"))
                    .await
            }
        }
    }

    async fn open(&mut self, ws: &mut WebSocket, p: &Value) -> Next {
        if self.call.is_some() || self.probe {
            return self.protocol_error(ws, "a second open".into()).await;
        }
        let open = match parse_open(p) {
            Ok(o) => o,
            Err(e) => return self.protocol_error(ws, e).await,
        };
        let media = open.media;
        let conversation = open.conversation_id.unwrap_or_else(|| self.id.clone());
        if conversation == "00000000-0000-0000-0000-000000000000" {
            // A connection probe (the protocol's health check): answered, not a call.
            self.probe = true;
            let m = self.message("opened", json!({"media": [media], "startPaused": false}));
            return send(ws, m).await;
        }
        let Some(slot) = Slot::take(&self.shared, Protocol::AudioHook) else {
            let m = self.message(
                "disconnect",
                json!({"reason": "error", "info": "503: server at capacity or shutting down"}),
            );
            let _ = ws.send(m).await;
            return Next::End(EndReason::Error);
        };
        self.format = open.format;
        self.stereo = open.stereo;
        let meta = CallMeta {
            call_id: conversation,
            protocol: Protocol::AudioHook,
            agent_id: open.agent_id,
        };
        match CallSession::start(&self.shared, meta, 8000, self.stereo) {
            Ok(c) => {
                self.call = Some(c);
                self.slot = Some(slot);
            }
            Err(e) => return self.protocol_error(ws, e.to_string()).await,
        }
        let m = self.message("opened", json!({"media": [media], "startPaused": false}));
        send(ws, m).await
    }

    fn silence(&mut self, seconds: f64) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let n = call.silence_allowance((seconds.clamp(0.0, 3600.0) * 8000.0) as usize);
        self.shared.stats.filled(n, 8000);
        let zeros = [0.0f32; 800];
        let mut left = n;
        while left > 0 {
            let k = left.min(zeros.len());
            call.push(&zeros[..k], &zeros[..k]);
            left -= k;
        }
    }

    async fn audio(&mut self, ws: &mut WebSocket, b: &[u8]) -> Next {
        if self.probe {
            return Next::Go;
        }
        if self.call.is_none() {
            return self.protocol_error(ws, "audio before open".into()).await;
        }
        let layout = Layout {
            encoding: match self.format {
                Format::Pcmu => Encoding::Mulaw,
                Format::L16 => Encoding::L16,
            },
            channels: if self.stereo { 2 } else { 1 },
            customer: 0,
        };
        if let Err(e) = layout.split(b, &mut self.cust, &mut self.agent) {
            return self.protocol_error(ws, e.to_string()).await;
        }
        if let Some(call) = self.call.as_mut() {
            call.push(&self.cust, &self.agent);
        }
        Next::Go
    }
}

async fn send(ws: &mut WebSocket, m: Message) -> Next {
    match ws.send(m).await {
        Ok(()) => Next::Go,
        Err(_) => Next::End(EndReason::Disconnect),
    }
}

/// An ISO 8601 duration in seconds, `PT1.25S`.
pub fn duration_s(v: &Value) -> Option<f64> {
    let s = v.as_str()?.strip_prefix("PT")?.strip_suffix('S')?;
    s.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A request signed as the protocol's reference client signs it, built
    /// here from the specification (RFC 9421 over the listed components).
    fn signed(key: &str, secret: &[u8], created: i64) -> HeaderMap {
        signed_with(
            key,
            secret,
            &format!(
                "nonce=\"abc\";alg=\"hmac-sha256\";created={created};expires={}",
                created + 30
            ),
        )
    }

    /// As [`signed`], with the signature parameters after `keyid` as given.
    fn signed_with(key: &str, secret: &[u8], tail: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let put = |h: &mut HeaderMap, k: &'static str, v: &str| {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        };
        put(&mut h, "host", "127.0.0.1:9000");
        put(&mut h, "x-api-key", key);
        put(
            &mut h,
            "audiohook-organization-id",
            "d7934305-0972-4844-938e-9060eef73d05",
        );
        put(
            &mut h,
            "audiohook-session-id",
            "e160e428-53e2-487c-977d-96989bf5c99d",
        );
        put(
            &mut h,
            "audiohook-correlation-id",
            "30b0e395-84d3-4570-ac13-9a62d8f514c0",
        );
        let params = format!(
            "(\"@request-target\" \"@authority\" \"audiohook-organization-id\" \"audiohook-session-id\" \"audiohook-correlation-id\" \"x-api-key\");keyid=\"{key}\";{tail}"
        );
        let base = format!(
            "\"@request-target\": /api/v1/audiohook/ws\n\"@authority\": 127.0.0.1:9000\n\"audiohook-organization-id\": d7934305-0972-4844-938e-9060eef73d05\n\"audiohook-session-id\": e160e428-53e2-487c-977d-96989bf5c99d\n\"audiohook-correlation-id\": 30b0e395-84d3-4570-ac13-9a62d8f514c0\n\"x-api-key\": {key}\n\"@signature-params\": {params}"
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(base.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        put(&mut h, "signature-input", &format!("sig1={params}"));
        put(&mut h, "signature", &format!("sig1=:{sig}:"));
        h
    }

    #[test]
    fn a_good_signature_verifies_and_a_bad_one_does_not() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let now = 1_760_000_000;
        let h = signed("KEY", secret, now);
        assert_eq!(
            verify(&h, "/api/v1/audiohook/ws", "KEY", secret, now),
            Ok(Signed {
                nonce: Some("abc".into()),
                expires: now + 30
            })
        );
        assert_eq!(
            verify(&h, "/api/v1/audiohook/ws", "KEY", b"another secret", now),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify(&h, "/other", "KEY", secret, now),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify(&h, "/api/v1/audiohook/ws", "OTHER", secret, now),
            Err(AuthError::ApiKey)
        );
        assert_eq!(
            verify(&h, "/api/v1/audiohook/ws", "KEY", secret, now + 3600),
            Err(AuthError::Expired)
        );
        let mut tampered = h.clone();
        tampered.insert(
            "audiohook-session-id",
            HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
        );
        assert_eq!(
            verify(&tampered, "/api/v1/audiohook/ws", "KEY", secret, now),
            Err(AuthError::Mismatch)
        );
        let mut unsigned = h.clone();
        unsigned.remove("signature");
        assert_eq!(
            verify(&unsigned, "/api/v1/audiohook/ws", "KEY", secret, now),
            Err(AuthError::Missing("signature"))
        );
    }

    #[test]
    fn a_signature_must_be_fresh_short_lived_and_used_once() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let now = 1_760_000_000;
        let check = |tail: &str| {
            verify(
                &signed_with("KEY", secret, tail),
                "/api/v1/audiohook/ws",
                "KEY",
                secret,
                now,
            )
        };
        // As the reference client signs: accepted.
        let good = check(&format!("nonce=\"n1\";created={now};expires={}", now + 30)).unwrap();
        // No created/expires at all, created in 2001, ten years' validity,
        // an expiry long past: all refused, though each HMAC is right.
        for tail in [
            "nonce=\"n2\"".to_string(),
            format!("nonce=\"n3\";created=1000000000;expires={}", now + 30),
            format!(
                "nonce=\"n4\";created={now};expires={}",
                now + 10 * 365 * 86_400
            ),
            format!("nonce=\"n5\";created={};expires={}", now - 30, now - 20),
        ] {
            assert_eq!(check(&tail), Err(AuthError::Expired), "{tail}");
        }
        // Used once: the same signature again is a replay, whenever.
        let mut n = Nonces::default();
        assert_eq!(n.admit(&good, now), Ok(()));
        assert_eq!(n.admit(&good, now + 20), Err(AuthError::Replayed));
        let other = check(&format!("nonce=\"n6\";created={now};expires={}", now + 30)).unwrap();
        assert_eq!(n.admit(&other, now + 1), Ok(()));
        let no_nonce = check(&format!("created={now};expires={}", now + 30)).unwrap();
        assert_eq!(n.admit(&no_nonce, now), Err(AuthError::Missing("nonce")));
        // Forgotten only once the signature could not pass the time checks.
        assert_eq!(n.admit(&good, now + 200), Ok(()));
    }

    #[test]
    fn a_far_future_expiry_is_no_overflow() {
        // `expires=i64::MAX` once overflowed `expires + MAX_SKEW_S` (a panic
        // in debug builds, "expired" in release); found by the fuzz target.
        let mut h = signed("KEY", b"secret", 1_760_000_000);
        let input = h["signature-input"]
            .to_str()
            .unwrap()
            .replace("expires=1760000030", &format!("expires={}", i64::MAX))
            .replace("created=1760000000", &format!("created={}", i64::MIN));
        h.insert("signature-input", HeaderValue::from_str(&input).unwrap());
        // Refused for its times (a lifetime of 2^64 s) without overflowing.
        assert_eq!(
            verify(&h, "/api/v1/audiohook/ws", "KEY", b"secret", i64::MAX),
            Err(AuthError::Expired)
        );
        assert_eq!(
            verify(&h, "/api/v1/audiohook/ws", "KEY", b"secret", i64::MIN),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn envelopes_and_offers_parse() {
        let m = parse_message(
            r#"{"version":"2","type":"ping","seq":3,"parameters":{"x":1}}"#,
            3,
        )
        .unwrap();
        assert_eq!((m.kind.as_str(), m.seq), ("ping", 3));
        assert_eq!(m.parameters, json!({"x": 1}));
        assert!(parse_message(r#"{"version":"2","type":"ping","seq":4}"#, 3)
            .unwrap_err()
            .contains("out of order"));
        assert!(parse_message(r#"{"version":"1","type":"ping","seq":3}"#, 3).is_err());
        assert!(parse_message(r#"{"type":"ping"}"#, 1).is_err());
        let o = parse_open(&json!({
            "conversationId": "c1", "participant": {"id": "a7"},
            "media": [
                {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000},
                {"type": "audio", "format": "L16", "channels": ["external", "internal"], "rate": 8000},
            ]
        }))
        .unwrap();
        assert_eq!(
            (
                o.format,
                o.stereo,
                o.conversation_id.as_deref(),
                o.agent_id.as_deref()
            ),
            (Format::L16, true, Some("c1"), Some("a7"))
        );
        assert!(parse_open(&json!({"media": [{"type": "audio", "format": "opus", "channels": ["external"], "rate": 8000}]})).is_err());
        assert!(parse_open(&json!({})).is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(duration_s(&json!("PT1.5S")), Some(1.5));
        assert_eq!(duration_s(&json!("PT0S")), Some(0.0));
        assert_eq!(duration_s(&json!("1.5")), None);
        assert_eq!(duration_s(&json!("PT-1S")), None);
    }
}

//! FreeSWITCH `mod_audio_fork` / `mod_audio_stream` over WebSocket: one text
//! frame of metadata (JSON, as the dialplan sets it), then binary frames of
//! 16-bit little-endian linear PCM at 8 or 16 kHz, mono or stereo
//! interleaved. Which stereo channel is the customer depends on the leg the
//! fork sits on, so it is configured (`customer_channel`), and the metadata
//! may override it and the format: `callId` (or `uuid`), `agentId`,
//! `sampleRate`, `channels`, `customerChannel`.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use futures_util::SinkExt;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::call::{CallMeta, CallSession, EndReason, Protocol, Slot};
use crate::pcm::{Encoding, Layout};
use crate::Shared;

/// Serves audio forks on any path of `listener` until aborted.
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
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(refused) = crate::refuse_browser(&shared, &headers, "freeswitch") {
        return refused;
    }
    ws.max_message_size(1 << 20)
        .on_upgrade(move |socket| run(socket, shared))
}

/// The stream's format, from the configuration and the metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    /// The call id.
    pub call_id: String,
    /// The agent, if named.
    pub agent_id: Option<String>,
    /// 8000 or 16000.
    pub rate: u32,
    /// 1 or 2.
    pub channels: u16,
    /// 0 or 1.
    pub customer_channel: u16,
}

/// Reads the metadata frame against the configured defaults.
pub fn metadata(
    text: &str,
    rate: u32,
    channels: u16,
    customer_channel: u16,
    fallback_id: &str,
) -> Result<Format, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("metadata frame is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("metadata frame is not a JSON object".into());
    }
    let s = |k: &str| v[k].as_str().map(str::to_string);
    // A number as sent (not cut to the field's width: 2^32 + 8000 is no 8000).
    let n = |k: &str| v[k].as_u64();
    let rate = n("sampleRate").map_or(u64::from(rate), |r| r);
    let channels = n("channels").map_or(u64::from(channels), |c| c);
    let customer_channel = n("customerChannel").map_or(u64::from(customer_channel), |c| c);
    if !matches!(rate, 8000 | 16000) {
        return Err(format!("sample rate {rate} (expected 8000 or 16000)"));
    }
    if !matches!(channels, 1 | 2) || channels == 2 && customer_channel >= 2 {
        return Err(format!(
            "channels {channels} / customer channel {customer_channel} (expected 1 or 2, and 0 or 1)"
        ));
    }
    Ok(Format {
        call_id: s("callId")
            .or_else(|| s("call_id"))
            .or_else(|| s("uuid"))
            .unwrap_or_else(|| fallback_id.to_string()),
        agent_id: s("agentId").or_else(|| s("agent_id")),
        rate: if rate == 8000 { 8000 } else { 16000 },
        channels: if channels == 1 { 1 } else { 2 },
        // Mono has one channel, the customer's, whatever the default says.
        customer_channel: if channels == 1 {
            0
        } else {
            u16::from(customer_channel == 1)
        },
    })
}

async fn run(mut ws: WebSocket, shared: Arc<Shared>) {
    let Some(cfg) = shared.cfg.freeswitch.clone() else {
        return;
    };
    let mut call: Option<(CallSession, Slot, Format)> = None;
    let (mut cust, mut agent) = (Vec::with_capacity(8192), Vec::with_capacity(8192));
    let mut reason = EndReason::Disconnect;
    let mut error: Option<String> = None;
    let mut n_streams = 0u32;
    let mut deadline = crate::call::AudioDeadline::default();
    loop {
        let msg = tokio::select! {
            m = tokio::time::timeout_at(deadline.at(), ws.recv()) => m,
            _ = crate::ended(&shared) => { reason = EndReason::Drained; break; }
        };
        match msg {
            Err(_) => {
                error = Some(deadline.expired());
                break;
            }
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(Message::Close(_)))) => {
                reason = EndReason::Hangup;
                break;
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                if call.is_some() {
                    // mod_audio_stream may send text events later; they carry no audio.
                    tracing::debug!("FreeSWITCH text frame: {}", t.as_str());
                    continue;
                }
                n_streams += 1;
                let fallback = format!("freeswitch-{}-{n_streams}", std::process::id());
                let f = match metadata(
                    t.as_str(),
                    cfg.rate,
                    cfg.channels,
                    cfg.customer_channel,
                    &fallback,
                ) {
                    Ok(f) => f,
                    Err(e) => {
                        error = Some(e);
                        reason = EndReason::Error;
                        break;
                    }
                };
                let Some(slot) = Slot::take(&shared, Protocol::FreeSwitch) else {
                    error = Some(format!(
                        "call {} refused: server at capacity or shutting down",
                        f.call_id
                    ));
                    reason = EndReason::Error;
                    break;
                };
                // The layout decides whose voice is analysed: say which
                // one this call uses, and where it came from.
                tracing::info!(
                    call = %f.call_id,
                    layout = if f.channels == 2 {
                        if f.customer_channel == 0 { "stereo, customer left (channel 0)" } else { "stereo, customer right (channel 1)" }
                    } else {
                        "mono: the customer alone"
                    },
                    from = if t.as_str().contains("\"channels\"") || t.as_str().contains("\"customerChannel\"") {
                        "metadata"
                    } else {
                        "configuration (freeswitch.channels, freeswitch.customer_channel)"
                    },
                    "FreeSWITCH stream layout"
                );
                let meta = CallMeta {
                    call_id: f.call_id.clone(),
                    protocol: Protocol::FreeSwitch,
                    agent_id: f.agent_id.clone(),
                };
                match CallSession::start(&shared, meta, f.rate, f.channels == 2) {
                    Ok(s) => call = Some((s, slot, f)),
                    Err(e) => {
                        error = Some(e.to_string());
                        reason = EndReason::Error;
                        break;
                    }
                }
            }
            Ok(Some(Ok(Message::Binary(b)))) => {
                let arrived = std::time::Instant::now();
                let Some((session, _, f)) = call.as_mut() else {
                    error = Some("audio before the metadata frame".into());
                    reason = EndReason::Error;
                    break;
                };
                let layout = Layout {
                    encoding: Encoding::L16,
                    channels: usize::from(f.channels),
                    customer: usize::from(f.customer_channel),
                };
                if let Err(e) = layout.split(&b, &mut cust, &mut agent) {
                    error = Some(e.to_string());
                    reason = EndReason::Error;
                    break;
                }
                session.push(&cust, &agent);
                shared.stats.frame_done(arrived);
                deadline.heard();
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    if let Some(e) = &error {
        tracing::error!("FreeSWITCH: {e}; ending the stream");
    }
    if let Some((session, _slot, _)) = call {
        session.end(reason);
    }
    let _ = ws.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_overrides_the_configuration() {
        let f = metadata(r#"{"callId":"abc","agentId":"a7","sampleRate":16000,"channels":2,"customerChannel":1}"#, 8000, 1, 0, "x").unwrap();
        assert_eq!(
            (
                f.call_id.as_str(),
                f.agent_id.as_deref(),
                f.rate,
                f.channels,
                f.customer_channel
            ),
            ("abc", Some("a7"), 16000, 2, 1)
        );
        let f = metadata("{}", 8000, 1, 0, "fallback").unwrap();
        assert_eq!(
            (f.call_id.as_str(), f.rate, f.channels),
            ("fallback", 8000, 1)
        );
        assert!(metadata(r#"{"sampleRate":44100}"#, 8000, 1, 0, "x").is_err());
        assert!(metadata("not json", 8000, 1, 0, "x").is_err());
        assert!(metadata(r#"{"channels":2,"customerChannel":2}"#, 8000, 1, 0, "x").is_err());
    }

    #[test]
    fn numbers_are_not_cut_to_width_and_mono_is_channel_0() {
        // 2^32 + 8000 and 2^16 + 1 once passed as 8000 Hz and mono.
        assert!(metadata(r#"{"sampleRate":4294975296}"#, 8000, 1, 0, "x").is_err());
        assert!(metadata(r#"{"channels":65537}"#, 8000, 1, 0, "x").is_err());
        assert!(metadata(r#"{"channels":2,"customerChannel":65536}"#, 8000, 1, 0, "x").is_err());
        // A stereo default of channel 1 means nothing on a mono stream.
        let f = metadata(r#"{"channels":1}"#, 8000, 2, 1, "x").unwrap();
        assert_eq!((f.channels, f.customer_channel), (1, 0));
        let f = metadata(r#"{"customerChannel":7}"#, 8000, 1, 0, "x").unwrap();
        assert_eq!((f.channels, f.customer_channel), (1, 0));
    }
}

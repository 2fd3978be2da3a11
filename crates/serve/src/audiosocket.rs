//! Asterisk AudioSocket: TCP, Asterisk connects to us. Each frame is a
//! 3-byte header (kind, big-endian u16 payload length) and its payload:
//!
//! | kind | payload |
//! | --- | --- |
//! | `0x00` | hangup (empty) |
//! | `0x01` | the leg's UUID, 16 bytes, sent first |
//! | `0x03` | a DTMF digit (ignored) |
//! | `0x10` | signed linear 16-bit little-endian mono, 8 kHz |
//! | `0x11`-`0x18` | the same at 12, 16, 24, 32, 44.1, 48, 96, 192 kHz |
//! | `0xff` | an error code from Asterisk |
//!
//! Zero-length payloads are invalid (but for hangup), as is an unknown kind.
//!
//! One connection carries one party's audio. Two connections pair into one
//! call by their UUIDs (see [`Pairing`]): with `role-byte`, the
//! legs' UUIDs differ only in the last byte, `00` for the customer's leg and
//! `01` for the agent's; a lone connection, or one with another last byte,
//! is a call of its own, the customer's voice.

use crate::pcm::Layout;
use shoutcue_core::pair::PairPolicy;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::call::{CallMeta, CallSession, EndReason, Lockstep, Protocol, Slot};
use crate::config::Pairing;
use crate::Shared;

/// One parsed frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<'a> {
    /// The far end hung up.
    Hangup,
    /// The leg's UUID.
    Uuid([u8; 16]),
    /// A DTMF digit.
    Dtmf(u8),
    /// Audio at `rate` Hz: 16-bit little-endian samples.
    Audio {
        /// Sample rate.
        rate: u32,
        /// The samples' bytes (even length).
        pcm: &'a [u8],
    },
    /// Asterisk reported an error.
    Error(u8),
}

/// A frame that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A kind the protocol does not define.
    #[error("unknown frame kind 0x{0:02x}")]
    UnknownKind(u8),
    /// A payload that must not be empty was.
    #[error("empty payload in a frame of kind 0x{0:02x}")]
    Empty(u8),
    /// The UUID frame's payload was not 16 bytes.
    #[error("UUID frame of {got} bytes, expected 16")]
    UuidLength {
        /// Bytes received.
        got: usize,
    },
    /// Audio with an odd number of bytes (samples are 16-bit).
    #[error("audio frame of {got} bytes: 16-bit samples need an even count")]
    OddAudio {
        /// Bytes received.
        got: usize,
    },
}

/// The rate of an audio kind, by the protocol's table.
pub fn audio_rate(kind: u8) -> Option<u32> {
    Some(match kind {
        0x10 => 8_000,
        0x11 => 12_000,
        0x12 => 16_000,
        0x13 => 24_000,
        0x14 => 32_000,
        0x15 => 44_100,
        0x16 => 48_000,
        0x17 => 96_000,
        0x18 => 192_000,
        _ => return None,
    })
}

/// Parses one frame from its kind and payload.
pub fn parse(kind: u8, payload: &[u8]) -> Result<Frame<'_>, FrameError> {
    if kind != 0x00 && payload.is_empty() {
        return Err(
            if kind == 0x01 || kind == 0x03 || kind == 0xff || audio_rate(kind).is_some() {
                FrameError::Empty(kind)
            } else {
                FrameError::UnknownKind(kind)
            },
        );
    }
    match kind {
        0x00 => Ok(Frame::Hangup),
        0x01 => {
            let id: [u8; 16] = payload
                .try_into()
                .map_err(|_| FrameError::UuidLength { got: payload.len() })?;
            Ok(Frame::Uuid(id))
        }
        0x03 => Ok(Frame::Dtmf(payload[0])),
        0xff => Ok(Frame::Error(payload[0])),
        k => match audio_rate(k) {
            Some(rate) if payload.len().is_multiple_of(2) => {
                Ok(Frame::Audio { rate, pcm: payload })
            }
            Some(_) => Err(FrameError::OddAudio { got: payload.len() }),
            None => Err(FrameError::UnknownKind(k)),
        },
    }
}

/// A frame header's kind and payload length (big-endian u16).
pub fn header(h: [u8; 3]) -> (u8, usize) {
    (h[0], usize::from(u16::from_be_bytes([h[1], h[2]])))
}

/// Decodes an audio frame's 16-bit little-endian samples into `out`
/// (cleared first): one sample per two bytes, each in [-1, 1]. A trailing
/// odd byte, which [`parse`] never lets through, is ignored.
pub fn decode_pcm16(pcm: &[u8], out: &mut Vec<f32>) {
    out.clear();
    let whole = &pcm[..pcm.len() & !1];
    // Whole samples, one voice: cannot fail; no agent voice is written.
    let _ = Layout::MONO_L16.append(whole, out, &mut Vec::new());
}

/// A UUID as text, `8-4-4-4-12` lower-case hex.
pub fn uuid_text(id: &[u8; 16]) -> String {
    let h: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Which voice a leg carries and the call it belongs to.
fn role(id: &[u8; 16], pairing: Pairing) -> (String, Leg) {
    match (pairing, id[15]) {
        (Pairing::RoleByte, b @ (0x00 | 0x01)) => {
            let mut base = *id;
            base[15] = 0;
            let leg = if b == 0 { Leg::Customer } else { Leg::Agent };
            (uuid_text(&base), leg)
        }
        _ => (uuid_text(id), Leg::Alone),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    Customer,
    Agent,
    Alone,
}

/// A call whose two legs come on two connections.
struct Paired {
    session: Option<CallSession>,
    step: Option<Lockstep>,
    /// A leg that was waited for in vain (customer, agent): not waited for
    /// again until it delivers audio.
    stalled: [bool; 2],
    /// Legs that have joined (customer, agent): a second one of either is
    /// refused, so nobody can mix audio into a running call by its UUID.
    joined: [bool; 2],
    legs: u8,
    reason: EndReason,
    _slot: Option<Slot>,
}

type Calls = Arc<Mutex<HashMap<String, Arc<Mutex<Paired>>>>>;

/// Connections that have not yet sent their UUID frame, at most. Past it a
/// new connection is closed at once: idle sockets cannot take every file
/// descriptor and starve the other listeners and `/healthz` (1,100 of them
/// did, issue 27 item 7). Legs past their UUID are bounded by the call
/// limit instead (a call has at most two).
pub const MAX_HANDSHAKES: usize = 64;
/// Of those, from one source address, at most: half, so one host holding
/// idle sockets leaves the PBX its own (a PBX sends its UUID frame at once,
/// so its connections wait for milliseconds).
pub const MAX_HANDSHAKES_PER_SOURCE: usize = 32;
/// From connect to a whole UUID frame, at most.
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// From the UUID frame to the first audio frame, at most: a leg that holds
/// a call slot must bring audio.
pub const FIRST_AUDIO_TIMEOUT: Duration = Duration::from_secs(10);
/// From a frame's header to the end of its payload, at most (a frame is
/// 20 ms of audio, sent whole).
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections until the task is aborted.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let calls: Calls = Arc::default();
    let handshakes = shoutcue_web::PendingBudget::new(MAX_HANDSHAKES, MAX_HANDSHAKES_PER_SOURCE);
    let mut last_warned: Option<std::time::Instant> = None;
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("AudioSocket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match handshakes.try_take(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                // Closed at once; counted, and said at most once a second.
                drop(sock);
                shared.stats.refused[Protocol::AudioSocket.index()].fetch_add(1, Ordering::Relaxed);
                if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    last_warned = Some(std::time::Instant::now());
                    tracing::warn!(%peer, "AudioSocket: {why} (no UUID frame yet): closing new connections until they send it or time out");
                }
                continue;
            }
        };
        let (shared, calls) = (shared.clone(), calls.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(sock, &shared, &calls, permit).await {
                tracing::warn!(%peer, "AudioSocket: {e}");
            }
        });
    }
}

/// How long a connection may stay silent before it counts as dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads a whole frame's payload within [`FRAME_TIMEOUT`].
async fn read_payload<R: tokio::io::AsyncRead + Unpin>(
    sock: &mut R,
    buf: &mut [u8],
) -> Result<(), String> {
    match tokio::time::timeout(FRAME_TIMEOUT, sock.read_exact(buf)).await {
        Err(_) => Err(format!(
            "a frame's payload did not come whole within {} s",
            FRAME_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("frame cut short: {e}")),
        Ok(Ok(_)) => Ok(()),
    }
}

/// The UUID frame, whole, within [`FIRST_FRAME_TIMEOUT`] of connecting.
async fn read_uuid<R: tokio::io::AsyncRead + Unpin>(sock: &mut R) -> Result<[u8; 16], String> {
    let first = async {
        let mut h = [0u8; 3];
        sock.read_exact(&mut h)
            .await
            .map_err(|e| format!("reading the first frame: {e}"))?;
        let (kind, len) = header(h);
        if kind != 0x01 || len != 16 {
            return Err(format!(
                "expected the UUID frame first (kind 0x01, 16 bytes), got kind 0x{kind:02x} with {len} bytes"
            ));
        }
        let mut id = [0u8; 16];
        sock.read_exact(&mut id)
            .await
            .map_err(|e| format!("reading the first frame: {e}"))?;
        Ok(id)
    };
    tokio::time::timeout(FIRST_FRAME_TIMEOUT, first)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no UUID frame within {} s of connecting",
                FIRST_FRAME_TIMEOUT.as_secs()
            ))
        })
}

async fn connection(
    sock: TcpStream,
    shared: &Arc<Shared>,
    calls: &Calls,
    handshake: shoutcue_web::PendingSlot,
) -> Result<(), String> {
    let _ = sock.set_nodelay(true);
    // Header and payload come out of one read: half the syscalls per
    // 20 ms frame, which is most of what a call costs (docs/PERFORMANCE.md).
    // Read no faster than a few times what a leg needs, so that a flood of
    // frames costs bounded work (docs/SECURITY.md).
    let mut sock = tokio::io::BufReader::with_capacity(
        4096,
        shoutcue_web::Throttled::new(sock, crate::MAX_READ_BYTES_PER_S),
    );
    let pairing = shared
        .cfg
        .audiosocket
        .as_ref()
        .map_or(Pairing::RoleByte, |c| c.pairing);
    // The UUID frame comes first, whole and soon; only then does the
    // connection get its buffers and leave the handshake budget.
    let id = read_uuid(&mut sock).await?;
    drop(handshake);
    // Sized for the frames Asterisk sends (20 ms, at most 16 kHz: 640
    // bytes); a longer frame (the format allows 64 kB) grows them once.
    // Two 64 kB buffers per leg were most of what a call held resident.
    let mut payload = vec![0u8; 640];
    let mut samples: Vec<f32> = Vec::with_capacity(320);
    let (call_id, leg) = role(&id, pairing);
    let call = {
        let mut map = calls.lock().map_err(|_| "call table poisoned")?;
        match map.get(&call_id).filter(|_| leg != Leg::Alone) {
            Some(c) => {
                let c = c.clone();
                let mut p = c.lock().map_err(|_| "call poisoned")?;
                let i = usize::from(leg == Leg::Agent);
                if p.joined[i] {
                    Err(if i == 0 { "customer" } else { "agent" })
                } else {
                    p.joined[i] = true;
                    p.legs += 1;
                    drop(p);
                    Ok(Some(c))
                }
            }
            None => Ok(Slot::take(shared, Protocol::AudioSocket).map(|slot| {
                let c = Arc::new(Mutex::new(Paired {
                    session: None,
                    step: None,
                    stalled: [false; 2],
                    joined: [leg == Leg::Customer, leg == Leg::Agent],
                    legs: 1,
                    reason: EndReason::Disconnect,
                    _slot: Some(slot),
                }));
                if leg != Leg::Alone {
                    map.insert(call_id.clone(), c.clone());
                }
                c
            })),
        }
    };
    let call = match call {
        Ok(c) => c,
        Err(role) => {
            shared.stats.refused[Protocol::AudioSocket.index()].fetch_add(1, Ordering::Relaxed);
            let _ = sock.shutdown().await;
            return Err(format!(
                "call {call_id}: a second {role} leg refused (the call has one: a reused or injected UUID?)"
            ));
        }
    };
    let Some(call) = call else {
        // Refused: closing the socket is AudioSocket's only answer.
        let _ = sock.shutdown().await;
        return Err(format!("call {call_id} refused (limit or draining)"));
    };
    let mut reason = EndReason::Disconnect;
    let mut error = None;
    // Made once, not per frame: it stays pending until the drain ends calls.
    let ended = crate::ended(shared);
    tokio::pin!(ended);
    // Until the first audio frame, the wait for a frame is shorter: a leg
    // that holds a call slot must bring audio.
    let mut heard = false;
    loop {
        let wait = if heard {
            READ_TIMEOUT
        } else {
            FIRST_AUDIO_TIMEOUT
        };
        let header = tokio::select! {
            h = read_header(&mut sock, wait) => h,
            _ = &mut ended => { reason = EndReason::Drained; break; }
        };
        let (kind, len) = match header {
            Ok(h) => h,
            Err(e) if e.is_empty() => break, // clean EOF: the peer went away
            Err(e) => {
                error = Some(e);
                reason = EndReason::Error;
                break;
            }
        };
        if payload.len() < len {
            payload.resize(len, 0);
        }
        if let Err(e) = read_payload(&mut sock, &mut payload[..len]).await {
            error = Some(e);
            break;
        }
        let arrived = std::time::Instant::now();
        match parse(kind, &payload[..len]) {
            Ok(Frame::Audio { rate, pcm }) => {
                heard = true;
                decode_pcm16(pcm, &mut samples);
                let fed = {
                    let mut p = call.lock().map_err(|_| "call poisoned")?;
                    feed(&mut p, shared, &call_id, leg, rate, &samples)
                };
                if let Err(e) = fed {
                    error = Some(e);
                    reason = EndReason::Error;
                    break;
                }
                shared.stats.frame_done(arrived);
                if leg != Leg::Alone {
                    wait_for_partner(&call, leg, rate).await?;
                }
            }
            Ok(Frame::Hangup) => {
                reason = EndReason::Hangup;
                break;
            }
            Ok(Frame::Dtmf(d)) => tracing::debug!(call = %call_id, digit = %char::from(d), "DTMF"),
            Ok(Frame::Uuid(_)) => {
                error = Some("a second UUID frame".into());
                reason = EndReason::Error;
                break;
            }
            Ok(Frame::Error(code)) => {
                error = Some(format!("Asterisk reported error 0x{code:02x}"));
                reason = EndReason::Error;
                break;
            }
            Err(e) => {
                error = Some(e.to_string());
                reason = EndReason::Error;
                break;
            }
        }
    }
    if let Some(e) = &error {
        tracing::error!(call = %call_id, "AudioSocket: {e}; ending this leg");
    }
    // This leg is over: the other voice (if any) goes on with silence here.
    let finished = {
        let mut p = call.lock().map_err(|_| "call poisoned")?;
        if reason != EndReason::Disconnect || p.reason == EndReason::Disconnect {
            p.reason = reason;
        }
        p.legs = p.legs.saturating_sub(1);
        let Paired {
            session,
            step,
            legs,
            ..
        } = &mut *p;
        if let Some(step) = step {
            match leg {
                Leg::Agent => step.agent_gone(),
                _ => step.customer_gone(),
            }
            if let Some(s) = session {
                let padded = step.drain(Instant::now(), |c, a| s.push(c, a));
                s.filled(padded);
            }
        }
        *legs == 0
    };
    if finished {
        if leg != Leg::Alone {
            if let Ok(mut map) = calls.lock() {
                map.remove(&call_id);
            }
        }
        let mut p = call.lock().map_err(|_| "call poisoned")?;
        let r = p.reason;
        if let Some(s) = p.session.take() {
            s.end(r);
        }
        p._slot = None;
    }
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The most one leg may run ahead of the other before its socket is held
/// back (no more reads), s: well within [`PairPolicy::LEGS`]'s `max_lead_s`,
/// so a leg that is merely read late loses nothing.
const MAX_LEAD_S: f64 = 1.0;

/// Holds this leg back (stops reading its socket) while it is more than
/// [`MAX_LEAD_S`] ahead of its partner. A customer leg ahead goes on once the
/// pairing rule pads the agent's part (its oldest sample has waited the
/// policy's limit); an agent leg ahead, after the same wait, stops waiting
/// for a stalled customer, whose place the pairing rule never fills (its
/// backlog past `max_lead_s` is dropped instead).
async fn wait_for_partner(call: &Mutex<Paired>, leg: Leg, rate: u32) -> Result<(), String> {
    let max = (f64::from(rate) * MAX_LEAD_S) as i64;
    let (me, other) = if leg == Leg::Agent { (1, 0) } else { (0, 1) };
    let ahead = |p: &Paired| {
        p.step
            .as_ref()
            .map_or(0, |s| if me == 0 { s.lead() } else { -s.lead() })
    };
    let start = tokio::time::Instant::now();
    loop {
        {
            let mut p = call.lock().map_err(|_| "call poisoned")?;
            let Paired { session, step, .. } = &mut *p;
            if let (Some(st), Some(s)) = (step.as_mut(), session.as_mut()) {
                let padded = st.drain(Instant::now(), |c, a| s.push(c, a));
                s.filled(padded);
            }
            if ahead(&p) <= max {
                return Ok(());
            }
            if p.stalled[other] || start.elapsed() >= PairPolicy::LEGS.max_wait {
                p.stalled[other] = true;
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Pushes one leg's samples into its call (starting it on the first audio).
fn feed(
    p: &mut Paired,
    shared: &Arc<Shared>,
    call_id: &str,
    leg: Leg,
    rate: u32,
    samples: &[f32],
) -> Result<(), String> {
    if p.session.is_none() {
        let meta = CallMeta {
            call_id: call_id.to_string(),
            protocol: Protocol::AudioSocket,
            agent_id: None,
        };
        let s =
            CallSession::start(shared, meta, rate, leg != Leg::Alone).map_err(|e| e.to_string())?;
        p.session = Some(s);
        // A partner more than 1 s behind (or never coming) is filled with silence.
        p.step = Some(Lockstep::new(rate));
    }
    let Paired {
        session: Some(session),
        step,
        ..
    } = p
    else {
        return Ok(());
    };
    if session.rate() != rate {
        return Err(format!(
            "audio at {rate} Hz, but the call runs at {} Hz (both legs and every frame must share one rate)",
            session.rate()
        ));
    }
    match (leg, step.as_mut()) {
        (Leg::Alone, _) | (_, None) => session.push(samples, &[]),
        (Leg::Customer, Some(st)) => {
            p.stalled[0] = false;
            st.push_customer(samples, Instant::now());
            let padded = st.drain(Instant::now(), |c, a| session.push(c, a));
            session.filled(padded);
        }
        (Leg::Agent, Some(st)) => {
            p.stalled[1] = false;
            st.push_agent(samples);
            let padded = st.drain(Instant::now(), |c, a| session.push(c, a));
            session.filled(padded);
        }
    }
    Ok(())
}

/// Reads a frame header: (kind, payload length). An empty error string is a
/// clean end of stream before a header.
async fn read_header<R: tokio::io::AsyncRead + Unpin>(
    sock: &mut R,
    wait: Duration,
) -> Result<(u8, usize), String> {
    let mut h = [0u8; 3];
    match tokio::time::timeout(wait, sock.read_exact(&mut h)).await {
        Err(_) => Err(format!(
            "no frame for {} s: the connection stalled",
            wait.as_secs()
        )),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(String::new()),
        Ok(Err(e)) => Err(format!("reading a frame header: {e}")),
        Ok(Ok(_)) => Ok(header(h)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_by_the_table() {
        assert_eq!(parse(0x00, &[]), Ok(Frame::Hangup));
        assert_eq!(
            parse(0x10, &[1, 0, 2, 0]),
            Ok(Frame::Audio {
                rate: 8000,
                pcm: &[1, 0, 2, 0]
            })
        );
        assert_eq!(audio_rate(0x15), Some(44_100));
        assert_eq!(audio_rate(0x18), Some(192_000));
        assert_eq!(parse(0x10, &[]), Err(FrameError::Empty(0x10)));
        assert_eq!(
            parse(0x10, &[1, 2, 3]),
            Err(FrameError::OddAudio { got: 3 })
        );
        assert_eq!(parse(0x42, &[1]), Err(FrameError::UnknownKind(0x42)));
        assert_eq!(
            parse(0x01, &[0; 15]),
            Err(FrameError::UuidLength { got: 15 })
        );
        assert_eq!(parse(0xff, &[7]), Ok(Frame::Error(7)));
    }

    #[test]
    fn legs_pair_by_the_last_byte() {
        let mut id = [0xabu8; 16];
        id[15] = 0x00;
        let (c, lc) = role(&id, Pairing::RoleByte);
        id[15] = 0x01;
        let (a, la) = role(&id, Pairing::RoleByte);
        assert_eq!((c.clone(), lc, la), (a, Leg::Customer, Leg::Agent));
        id[15] = 0x07;
        assert_eq!(role(&id, Pairing::RoleByte).1, Leg::Alone);
        id[15] = 0x01;
        assert_eq!(role(&id, Pairing::None).1, Leg::Alone);
        assert_eq!(c, "abababab-abab-abab-abab-ababababab00");
    }
}

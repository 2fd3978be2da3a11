//! Same audio in, same events out: a bundled call streamed through each
//! telephony front door, by clients written here from each protocol's
//! specification, gives the event stream `replay` gives for the file (times
//! within one 10 ms hop); malformed and adversarial input ends only its own
//! call, with a named reason, and never the server.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::ShoutModel;
use shoutcue_core::engine::{replay_call, Pace};
use shoutcue_core::sinks::JsonlSink;
use shoutcue_core::source::{ChannelChoice, WavSource};
use shoutcue_serve::config::{
    AudioHookConfig, AudioSocketConfig, FreeSwitchConfig, Pairing, TwilioConfig,
};
use shoutcue_serve::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "test-api-key";
const SECRET_B64: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(dir: &Path, max_calls: usize) -> Server {
    let cfg = ServeConfig {
        audiohook: Some(AudioHookConfig {
            max_calls: None,
            listen: loopback(),
            path: "/api/v1/audiohook/ws".into(),
            api_key: Some(KEY.into()),
            client_secret: Some(SECRET_B64.into()),
        }),
        audiosocket: Some(AudioSocketConfig {
            max_calls: None,
            listen: loopback(),
            pairing: Pairing::RoleByte,
        }),
        freeswitch: Some(stereo_fork()),
        twilio: Some(TwilioConfig {
            max_calls: None,
            listen: loopback(),
            auth_token: None,
            public_url: None,
        }),
        http: Some(loopback()),
        events_dir: Some(dir.to_path_buf()),
        max_calls,
        drain_grace_s: 1.0,
        ..Default::default()
    };
    server(cfg).await
}

/// A FreeSWITCH listener on loopback for the stereo fixtures (8 kHz, the
/// customer right).
fn stereo_fork() -> FreeSwitchConfig {
    FreeSwitchConfig {
        channels: 2,
        customer_channel: 1,
        ..FreeSwitchConfig::new(loopback())
    }
}

/// Why a server with `cfg` does not start (it must not).
async fn refused_at_start(cfg: ServeConfig) -> String {
    match Server::start(
        cfg,
        ShoutModel::builtin(),
        CoachConfig::default(),
        Script::english(),
    )
    .await
    {
        Ok(_) => panic!("started with a configuration it must refuse"),
        Err(e) => e.to_string(),
    }
}

/// A server with the shipped model, coach and script.
async fn server(cfg: ServeConfig) -> Server {
    Server::start(
        cfg,
        ShoutModel::builtin(),
        CoachConfig::default(),
        Script::english(),
    )
    .await
    .unwrap()
}

/// `replay`'s events for a file: (type, t) per line.
fn replay_events(path: &Path) -> Vec<(String, f64)> {
    let mut src = WavSource::open(path, ChannelChoice::Default).unwrap();
    let mut out = Vec::new();
    let mut sinks = vec![JsonlSink::new(&mut out, Script::english())];
    replay_call(
        "x",
        &mut src,
        &ShoutModel::builtin(),
        CoachConfig::default(),
        &mut sinks,
        Pace::Fast,
        &mut (),
        None,
    )
    .unwrap();
    drop(sinks);
    lines(&String::from_utf8(out).unwrap())
}

fn lines(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] != "call_start")
        .map(|v| {
            (
                v["type"].as_str().unwrap().to_string(),
                v["t"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Waits until the server has no call left, then reads a call's events.
async fn events_of(server: &Server, dir: &Path, call_id: &str) -> (Vec<(String, f64)>, Value) {
    for _ in 0..500 {
        if server.active_calls() == 0 && dir.join(format!("{call_id}.note.json")).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = std::fs::read_to_string(dir.join(format!("{call_id}.jsonl"))).unwrap();
    // Every line names the platform's call, so lines of many calls can meet
    // (a repeated id's file is `ID~2`; its lines say `ID`).
    let id = match call_id.rsplit_once('~') {
        Some((id, n)) if n.bytes().all(|b| b.is_ascii_digit()) => id,
        _ => call_id,
    };
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["call_id"], id, "{l}");
    }
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    (lines(&text), last)
}

fn assert_same(got: &[(String, f64)], want: &[(String, f64)], what: &str) {
    let gt: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    let wt: Vec<&str> = want.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(gt, wt, "{what}: event types differ from replay's");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g.1 - w.1).abs() <= 0.0101,
            "{what}: {} at {} s, replay says {} s",
            g.0,
            g.1,
            w.1
        );
    }
    assert!(
        want.iter().any(|e| e.0 == "cue"),
        "{what}: the fixture should cue"
    );
}

/// Both voices of a stereo 16-bit fixture: (customer, agent).
fn voices(path: &Path) -> (Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let agent = s.iter().step_by(2).copied().collect();
    let cust = s.iter().skip(1).step_by(2).copied().collect();
    (cust, agent)
}

/// The data bytes of a WAV (mu-law fixtures, which hound does not read).
fn wav_data(path: &Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap();
    let mut i = 12;
    while i + 8 <= b.len() {
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into().unwrap()) as usize;
        if &b[i..i + 4] == b"data" {
            return b[i + 8..(i + 8 + len).min(b.len())].to_vec();
        }
        i += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

fn le(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

async fn audiosocket_frame(
    sock: &mut tokio::net::TcpStream,
    kind: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(payload);
    sock.write_all(&f).await
}

/// A call's two AudioSocket legs, connected and introduced: the customer's
/// UUID is `byte` sixteen times but a last `00`, the agent's ends `01`.
async fn two_legs(addr: SocketAddr, byte: u8) -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let mut uuid = [byte; 16];
    let mut legs = Vec::new();
    for role in [0u8, 1] {
        uuid[15] = role;
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        audiosocket_frame(&mut s, 0x01, &uuid).await.unwrap();
        legs.push(s);
    }
    let a = legs.pop().unwrap();
    (legs.pop().unwrap(), a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiosocket_two_legs_give_replays_events() {
    let dir = shoutcue_testkit::TempDir::new("serve-audiosocket");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiosocket.unwrap();
    let fixture = shoutcue_testkit::fixture("continued_shout.wav");
    let (cust, agent) = voices(&fixture);
    let (mut c, mut a) = two_legs(addr, 0x5a).await;
    for (cc, ac) in cust.chunks(160).zip(agent.chunks(160)) {
        audiosocket_frame(&mut c, 0x10, &le(cc)).await.unwrap();
        audiosocket_frame(&mut a, 0x10, &le(ac)).await.unwrap();
    }
    audiosocket_frame(&mut a, 0x00, &[]).await.unwrap();
    audiosocket_frame(&mut c, 0x00, &[]).await.unwrap();
    let (got, last) = events_of(&server, dir.path(), "5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a00").await;
    assert_same(&got, &replay_events(&fixture), "AudioSocket");
    assert_eq!(last["reason"], "hangup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiosocket_garbage_ends_only_its_own_call() {
    let dir = shoutcue_testkit::TempDir::new("serve-audiosocket-bad");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiosocket.unwrap();
    // A good mono call, and beside it one that sends an unknown kind mid-call.
    let mut good = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut id = [7u8; 16];
    audiosocket_frame(&mut good, 0x01, &id).await.unwrap();
    let mut bad = tokio::net::TcpStream::connect(addr).await.unwrap();
    id[0] = 8;
    audiosocket_frame(&mut bad, 0x01, &id).await.unwrap();
    audiosocket_frame(&mut bad, 0x10, &[0u8; 320])
        .await
        .unwrap();
    audiosocket_frame(&mut bad, 0x42, &[1, 2, 3]).await.unwrap();
    // A zero-length audio payload is invalid too, and a header cut short.
    let mut worse = tokio::net::TcpStream::connect(addr).await.unwrap();
    id[0] = 9;
    audiosocket_frame(&mut worse, 0x01, &id).await.unwrap();
    audiosocket_frame(&mut worse, 0x10, &[]).await.unwrap();
    let mut cut = tokio::net::TcpStream::connect(addr).await.unwrap();
    cut.write_all(&[0x01, 0x00]).await.unwrap();
    drop(cut);
    for _ in 0..100 {
        audiosocket_frame(&mut good, 0x10, &[0u8; 320])
            .await
            .unwrap();
    }
    audiosocket_frame(&mut good, 0x00, &[]).await.unwrap();
    let (_, last) = events_of(&server, dir.path(), "07070707-0707-0707-0707-070707070707").await;
    assert_eq!(last["type"], "call_end");
    assert_eq!(last["reason"], "hangup");
    assert!(
        (last["duration"].as_f64().unwrap() - 2.0).abs() < 0.01,
        "{last}"
    );
    let bad_end: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("08070707-0707-0707-0707-070707070707.jsonl"))
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(bad_end["reason"], "error", "{bad_end}");
    assert!(
        dir.join("08070707-0707-0707-0707-070707070707.note.md")
            .exists(),
        "the broken call still gets its note"
    );
    assert_eq!(server.active_calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_tracks_give_replays_events() {
    let dir = shoutcue_testkit::TempDir::new("serve-twilio");
    let server = start(dir.path(), 10).await;
    let url = format!("ws://{}/media", server.bound.twilio.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let fixture = shoutcue_testkit::fixture("mulaw_shout.wav");
    let data = wav_data(&fixture); // interleaved: agent, customer
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    ))
    .await
    .unwrap();
    ws.send(send(json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"streamSid": "MZ1", "callSid": "CA-test-1", "tracks": ["inbound", "outbound"],
                  "customParameters": {"agent_id": "agent-7"},
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})))
        .await
        .unwrap();
    let b64 = |v: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(v);
    let mut media = 0u64;
    for (k, chunk) in data.chunks(320).enumerate() {
        let agent: Vec<u8> = chunk.iter().step_by(2).copied().collect();
        let cust: Vec<u8> = chunk.iter().skip(1).step_by(2).copied().collect();
        let ts = (k * 20).to_string();
        for (track, payload) in [("inbound", cust), ("outbound", agent)] {
            ws.send(send(json!({"event": "media", "streamSid": "MZ1",
                "media": {"track": track, "chunk": k.to_string(), "timestamp": ts, "payload": b64(payload)}})))
                .await
                .unwrap();
            media += 1;
        }
        // Marks and DTMF are no audio: not frames analysed.
        if k % 50 == 0 {
            ws.send(send(
                json!({"event": "mark", "streamSid": "MZ1", "mark": {"name": "m"}}),
            ))
            .await
            .unwrap();
        }
    }
    ws.send(send(
        json!({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA-test-1"}}),
    ))
    .await
    .unwrap();
    let (got, last) = events_of(&server, dir.path(), "CA-test-1").await;
    assert_same(&got, &replay_events(&fixture), "Twilio");
    let frames: u64 = server
        .stats()
        .latency
        .iter()
        .map(|b| b.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    assert_eq!(
        frames, media,
        "frames analysed: one per media message, none for the rest"
    );
    assert_eq!(last["reason"], "hangup");
    let start: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("CA-test-1.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (start["type"].as_str(), start["agent_id"].as_str()),
        (Some("call_start"), Some("agent-7"))
    );
}

/// With an auth token, an upgrade needs Twilio's own signature of the
/// stream URL: signatures here come from Twilio's Python SDK (twilio
/// 9.13.0, `RequestValidator("12345").compute_signature(url, {})`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_upgrades_need_twilios_signature_when_a_token_is_set() {
    let dir = shoutcue_testkit::TempDir::new("serve-twilio-signed");
    let cfg = ServeConfig {
        twilio: Some(TwilioConfig {
            max_calls: None,
            listen: loopback(),
            auth_token: Some("12345".into()),
            public_url: Some("wss://voice.example.com".into()),
        }),
        events_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let server = server(cfg).await;
    let addr = server.bound.twilio.unwrap();
    let request = |path: &str, sig: Option<&str>| {
        let mut r = format!("ws://{addr}{path}").into_client_request().unwrap();
        if let Some(s) = sig {
            r.headers_mut()
                .insert("X-Twilio-Signature", s.parse().unwrap());
        }
        r
    };
    // None, garbage, another URL's signature, the right one on another path.
    for (path, sig) in [
        ("/media", None),
        ("/media", Some("zzzz")),
        ("/media", Some("cpO4pU5/MpDec1m38GdbFOdTumA=")),
        ("/other", Some("jFDHVhI8XO69C49uXR3xmdZPylY=")),
    ] {
        match tokio_tungstenite::connect_async(request(path, sig)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 401, "{path} {sig:?}")
            }
            other => panic!("{path} {sig:?}: expected 401, got {other:?}"),
        }
    }
    assert_eq!(server.active_calls(), 0);
    // Twilio's signature of wss://voice.example.com/media?site=lon.
    let (mut ws, _) = tokio_tungstenite::connect_async(request(
        "/media?site=lon",
        Some("cpO4pU5/MpDec1m38GdbFOdTumA="),
    ))
    .await
    .unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ9",
        "start": {"streamSid": "MZ9", "callSid": "CA-signed", "tracks": ["inbound"],
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})))
        .await
        .unwrap();
    ws.send(send(json!({"event": "stop", "streamSid": "MZ9"})))
        .await
        .unwrap();
    let (_, last) = events_of(&server, dir.path(), "CA-signed").await;
    assert_eq!(last["reason"], "hangup");
    // The refused upgrades left no call behind.
    let calls: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeswitch_stereo_fork_gives_replays_events() {
    let dir = shoutcue_testkit::TempDir::new("serve-freeswitch");
    let server = start(dir.path(), 10).await;
    let url = format!("ws://{}/fork", server.bound.freeswitch.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let fixture = shoutcue_testkit::fixture("continued_shout.wav");
    let mut r = hound::WavReader::open(&fixture).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect(); // agent left, customer right
    ws.send(Message::Text(
        json!({"callId": "fs-call-1", "agentId": "a1"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    for chunk in s.chunks(320) {
        ws.send(Message::Binary(le(chunk).into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    let (got, last) = events_of(&server, dir.path(), "fs-call-1").await;
    assert_same(&got, &replay_events(&fixture), "FreeSWITCH");
    assert_eq!(last["reason"], "hangup");
}

/// An AudioHook upgrade request signed as the specification says.
fn audiohook_request(
    addr: SocketAddr,
    key: &str,
    secret_b64: &str,
    session: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    // Each request its own nonce, as the reference client does: the server
    // accepts a signature once.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nonce = format!(
        "n{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    audiohook_request_signed(addr, key, secret_b64, session, &nonce)
}

/// An upgrade request signed now, with this nonce.
fn audiohook_request_signed(
    addr: SocketAddr,
    key: &str,
    secret_b64: &str,
    session: &str,
    nonce: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let path = "/api/v1/audiohook/ws";
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    let (org, corr) = (
        "d7934305-0972-4844-938e-9060eef73d05",
        "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    );
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let params = format!(
        "(\"@request-target\" \"@authority\" \"audiohook-organization-id\" \"audiohook-session-id\" \"audiohook-correlation-id\" \"x-api-key\");keyid=\"{key}\";nonce=\"{nonce}\";alg=\"hmac-sha256\";created={created};expires={}",
        created + 30
    );
    let base = format!(
        "\"@request-target\": {path}\n\"@authority\": {addr}\n\"audiohook-organization-id\": {org}\n\"audiohook-session-id\": {session}\n\"audiohook-correlation-id\": {corr}\n\"x-api-key\": {key}\n\"@signature-params\": {params}"
    );
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret_b64)
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(base.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let h = req.headers_mut();
    h.insert("x-api-key", key.parse().unwrap());
    h.insert("audiohook-organization-id", org.parse().unwrap());
    h.insert("audiohook-session-id", session.parse().unwrap());
    h.insert("audiohook-correlation-id", corr.parse().unwrap());
    h.insert("signature-input", format!("sig1={params}").parse().unwrap());
    h.insert("signature", format!("sig1=:{sig}:").parse().unwrap());
    req
}

fn client_msg(kind: &str, seq: u64, session: &str, params: Value) -> Message {
    Message::Text(
        json!({"version": "2", "id": session, "type": kind, "seq": seq, "serverseq": seq - 1,
               "position": "PT0S", "parameters": params})
        .to_string()
        .into(),
    )
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiohook_signed_session_gives_replays_events() {
    let dir = shoutcue_testkit::TempDir::new("serve-audiohook");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiohook.unwrap();
    let session = "e160e428-53e2-487c-977d-96989bf5c99d";
    // A wrong secret is refused before any WebSocket exists.
    let bad = audiohook_request(addr, KEY, "d3Jvbmcgc2VjcmV0", session);
    match tokio_tungstenite::connect_async(bad).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a badly signed upgrade must get 401, got {other:?}"),
    }
    let signed = || audiohook_request_signed(addr, KEY, SECRET_B64, session, "once-only");
    let (mut ws, _) = tokio_tungstenite::connect_async(signed()).await.unwrap();
    // The same signed request again (captured and replayed): refused.
    match tokio_tungstenite::connect_async(signed()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a replayed upgrade must get 401, got {other:?}"),
    }
    let media = json!([{"type": "audio", "format": "L16", "channels": ["external", "internal"], "rate": 8000}]);
    ws.send(client_msg("open", 1, session, json!({
        "organizationId": "d7934305-0972-4844-938e-9060eef73d05", "conversationId": "conv-42",
        "participant": {"id": "agent-9", "ani": "+1", "aniName": "", "dnis": "+2"}, "media": media})))
        .await
        .unwrap();
    let opened = next_json(&mut ws).await;
    assert_eq!(
        (
            opened["type"].as_str(),
            opened["seq"].as_u64(),
            opened["clientseq"].as_u64()
        ),
        (Some("opened"), Some(1), Some(1))
    );
    assert_eq!(opened["parameters"]["media"][0]["format"], "L16");
    let fixture = shoutcue_testkit::fixture("continued_shout.wav");
    let (cust, agent) = voices(&fixture);
    let mut seq = 1;
    for (k, (cc, ac)) in cust.chunks(160).zip(agent.chunks(160)).enumerate() {
        // external (customer) first, then internal (agent), per sample.
        let frame: Vec<i16> = cc.iter().zip(ac).flat_map(|(&c, &a)| [c, a]).collect();
        ws.send(Message::Binary(le(&frame).into())).await.unwrap();
        if k % 250 == 125 {
            seq += 1;
            ws.send(client_msg("ping", seq, session, json!({})))
                .await
                .unwrap();
            let pong = next_json(&mut ws).await;
            assert_eq!(
                (pong["type"].as_str(), pong["clientseq"].as_u64()),
                (Some("pong"), Some(seq))
            );
        }
    }
    seq += 1;
    ws.send(client_msg("close", seq, session, json!({"reason": "end"})))
        .await
        .unwrap();
    let closed = next_json(&mut ws).await;
    assert_eq!(closed["type"], "closed");
    let (got, last) = events_of(&server, dir.path(), "conv-42").await;
    assert_same(&got, &replay_events(&fixture), "AudioHook");
    assert_eq!(last["reason"], "hangup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiohook_refuses_past_the_call_limit_and_protocol_errors_end_the_call() {
    let dir = shoutcue_testkit::TempDir::new("serve-audiohook-limit");
    let server = start(dir.path(), 1).await;
    let addr = server.bound.audiohook.unwrap();
    let media =
        json!([{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}]);
    let open = |s: &str, conv: &str| {
        client_msg(
            "open",
            1,
            s,
            json!({"conversationId": conv, "participant": {"id": "p"}, "media": media}),
        )
    };
    let s1 = "00000000-0000-4000-8000-000000000001";
    let (mut one, _) =
        tokio_tungstenite::connect_async(audiohook_request(addr, KEY, SECRET_B64, s1))
            .await
            .unwrap();
    one.send(open(s1, "conv-a")).await.unwrap();
    assert_eq!(next_json(&mut one).await["type"], "opened");
    let s2 = "00000000-0000-4000-8000-000000000002";
    let (mut two, _) =
        tokio_tungstenite::connect_async(audiohook_request(addr, KEY, SECRET_B64, s2))
            .await
            .unwrap();
    two.send(open(s2, "conv-b")).await.unwrap();
    let refused = next_json(&mut two).await;
    assert_eq!(refused["type"], "disconnect", "{refused}");
    assert!(refused["parameters"]["info"]
        .as_str()
        .unwrap()
        .contains("503"));
    // The first call goes on; a message out of sequence ends it as an error.
    one.send(Message::Binary(vec![0xffu8; 1600].into()))
        .await
        .unwrap();
    one.send(client_msg("ping", 5, s1, json!({})))
        .await
        .unwrap();
    let err = next_json(&mut one).await;
    assert_eq!(
        (err["type"].as_str(), err["parameters"]["reason"].as_str()),
        (Some("disconnect"), Some("error"))
    );
    let (_, last) = events_of(&server, dir.path(), "conv-a").await;
    assert_eq!(last["reason"], "error");
    assert!(
        (last["duration"].as_f64().unwrap() - 0.2).abs() < 0.01,
        "{last}"
    );
    assert_eq!(
        server.stats().refused[0].load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_ends_running_calls_with_their_notes() {
    let dir = shoutcue_testkit::TempDir::new("serve-drain");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiosocket.unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    audiosocket_frame(&mut s, 0x01, &[3u8; 16]).await.unwrap();
    for _ in 0..50 {
        audiosocket_frame(&mut s, 0x10, &[0u8; 320]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.active_calls(), 1);
    let t = std::time::Instant::now();
    server.drain().await; // grace 1 s, then the call is ended
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "drain took {:?}",
        t.elapsed()
    );
    let text =
        std::fs::read_to_string(dir.join("03030303-0303-0303-0303-030303030303.jsonl")).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["reason"], "drained", "{last}");
    assert!(dir
        .join("03030303-0303-0303-0303-030303030303.note.json")
        .exists());
    // New calls are refused once draining: the socket is closed on us.
}

/// Reads a Server-Sent Events stream over plain HTTP until a line contains
/// `until` (or 20 s pass); returns everything read.
async fn sse_until(addr: SocketAddr, path: &str, host: &str, until: &str) -> String {
    sse_until_with(addr, path, host, "", until).await
}

/// As [`sse_until`], with `headers` (each ending in CRLF) added to the request.
async fn sse_until_with(
    addr: SocketAddr,
    path: &str,
    host: &str,
    headers: &str,
    until: &str,
) -> String {
    use tokio::io::AsyncReadExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n{headers}\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !got.contains(until) {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_never_sees_private_events_and_the_agent_page_does() {
    let dir = shoutcue_testkit::TempDir::new("serve-pages");
    let server = start(dir.path(), 10).await;
    let http = server.bound.http.unwrap();
    let console_url = server.console_url().unwrap();
    let ctoken = console_url.split("token=").nth(1).unwrap().to_string();
    let agent_url = server.agent_url("agent-5").unwrap();
    let atoken = agent_url.split("token=").nth(1).unwrap().to_string();
    let host = format!("127.0.0.1:{}", http.port());
    let head = |path: String| {
        let host = host.clone();
        async move { sse_until(http, &path, &host, "\r\n\r\n").await }
    };
    // Another site's name for this machine is refused (DNS rebinding).
    let foreign = sse_until(
        http,
        &format!("/console/events?token={ctoken}"),
        "evil.example",
        "\r\n\r\n",
    )
    .await;
    assert!(foreign.starts_with("HTTP/1.1 421"), "{foreign}");
    // No token, a guessed one, the console's token on an agent's events,
    // and another agent's token: all refused.
    for path in [
        "/console/events".to_string(),
        "/console/events?token=guess".to_string(),
        format!("/agent/events?agent=agent-5&token={ctoken}"),
        format!(
            "/agent/events?agent=agent-6&token={}",
            server
                .agent_url("agent-6")
                .unwrap()
                .split("token=")
                .nth(1)
                .unwrap()
        )
        .replace("agent-6&", "agent-5&"),
        "/agent/events?agent=agent-5".to_string(),
    ] {
        let r = head(path.clone()).await;
        assert!(r.starts_with("HTTP/1.1 401"), "{path}: {r}");
    }
    // In the header (where the pages send it): the console's token is not
    // an agent's either.
    let r = sse_until_with(
        http,
        "/agent/events?agent=agent-5",
        &host,
        &format!("X-Shoutcue-Token: {ctoken}\r\n"),
        "\r\n\r\n",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    // The links carry their tokens in the fragment, which no browser sends.
    assert!(console_url.contains("/#token=") && agent_url.contains("?agent=agent-5#token="));
    // The pages themselves are static and hold no data: served without a
    // token (the page reads it from the fragment and sends it in a header).
    let console_head = head("/".to_string()).await;
    assert!(console_head.starts_with("HTTP/1.1 200"), "{console_head}");
    // Its own script and style by hash, no framing, no sniffing, no cache.
    let lower = console_head.to_ascii_lowercase();
    for want in [
        "content-security-policy: default-src 'none'; script-src 'sha256-",
        "frame-ancestors 'none'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
    ] {
        assert!(lower.contains(want), "no {want:?} in:\n{console_head}");
    }
    assert!(head("/agent?agent=agent-5".to_string())
        .await
        .starts_with("HTTP/1.1 200"));
    let console = tokio::spawn({
        let host = host.clone();
        async move {
            sse_until(
                http,
                &format!("/console/events?token={ctoken}"),
                &host,
                "call_end",
            )
            .await
        }
    });
    let agent = tokio::spawn({
        let host = host.clone();
        async move {
            // The token in the header, as the agent's page sends it.
            sse_until_with(
                http,
                "/agent/events?agent=agent-5",
                &host,
                &format!("X-Shoutcue-Token: {atoken}\r\n"),
                "call_end",
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The agent raises their voice in this fixture: private events follow.
    let fixture = shoutcue_testkit::fixture("agent_raised.wav");
    let url = format!("ws://{}/fork", server.bound.freeswitch.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut r = hound::WavReader::open(&fixture).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    ws.send(Message::Text(
        json!({"callId": "pages-1", "agentId": "agent-5"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    for chunk in s.chunks(320) {
        ws.send(Message::Binary(le(chunk).into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    let (console, agent) = (console.await.unwrap(), agent.await.unwrap());
    let replay = replay_events(&fixture);
    assert!(
        agent.contains("\"private\":true"),
        "the agent's own page must get their nudges: {agent}"
    );
    assert!(
        agent.contains("call_end") && console.contains("call_end"),
        "both streams saw the call end"
    );
    assert!(
        !console.contains("\"private\":true") && !console.contains("agent_nudge"),
        "the console must never carry private events: {console}"
    );
    assert!(
        replay.iter().any(|e| e.0 == "agent_nudge"),
        "the fixture must produce a nudge for this test to mean anything"
    );
}

/// Sends `frames` 20 ms frames of `pcm` from `from` at real-time pace.
async fn paced(sock: &mut tokio::net::TcpStream, pcm: &[i16], from: usize, frames: usize) {
    let t0 = tokio::time::Instant::now();
    for k in 0..frames {
        let off = (from + k) * 160 % (pcm.len() - 160);
        audiosocket_frame(sock, 0x10, &le(&pcm[off..off + 160]))
            .await
            .unwrap();
        tokio::time::sleep_until(t0 + Duration::from_millis(20 * (k as u64 + 1))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_counts_as_late_and_a_silent_agent_leg_holds_the_customer_half_a_second() {
    let dir = shoutcue_testkit::TempDir::new("serve-late");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiosocket.unwrap();
    let (cust, agent) = voices(&shoutcue_testkit::fixture("calm_call.wav"));
    let s = server.stats();
    let late = || s.late_frames.load(std::sync::atomic::Ordering::Relaxed);
    let dropped = || s.dropped_frames.load(std::sync::atomic::Ordering::Relaxed);

    // A lone leg at real time, a 400 ms stall, real time again: the block
    // after the stall is late, and only a few (the clock starts again).
    let mut uuid = [0x6bu8; 16];
    uuid[15] = 7;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    audiosocket_frame(&mut c, 0x01, &uuid).await.unwrap();
    paced(&mut c, &cust, 0, 25).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    paced(&mut c, &cust, 25, 25).await;
    audiosocket_frame(&mut c, 0x00, &[]).await.unwrap();
    let _ = events_of(&server, dir.path(), "6b6b6b6b-6b6b-6b6b-6b6b-6b6b6b6b6b07").await;
    let after_stall = late();
    assert!(
        (1..=3).contains(&after_stall),
        "late frames after one stall: {after_stall}"
    );
    assert_eq!(dropped(), 0, "nothing was missing");

    // Two legs; the agent's stops sending after 0.5 s while the customer
    // goes on: after the customer's wait, the agent's missing audio is
    // filled and counted.
    let mut uuid = [0x6cu8; 16];
    uuid[15] = 0;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    audiosocket_frame(&mut c, 0x01, &uuid).await.unwrap();
    uuid[15] = 1;
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    audiosocket_frame(&mut a, 0x01, &uuid).await.unwrap();
    let analysed = || s.samples.load(std::sync::atomic::Ordering::Relaxed);
    let before = analysed();
    let mut most_behind_s = 0.0f64;
    let t0 = tokio::time::Instant::now();
    for k in 0..200usize {
        let off = k * 160;
        audiosocket_frame(&mut c, 0x10, &le(&cust[off..off + 160]))
            .await
            .unwrap();
        if k < 25 {
            audiosocket_frame(&mut a, 0x10, &le(&agent[off..off + 160]))
                .await
                .unwrap();
        }
        tokio::time::sleep_until(t0 + Duration::from_millis(20 * (k as u64 + 1))).await;
        // How far the analysis of the customer's audio is behind what was sent.
        let behind = ((k + 1) * 160) as f64 - (analysed() - before) as f64;
        most_behind_s = most_behind_s.max(behind / 8000.0);
    }
    audiosocket_frame(&mut c, 0x00, &[]).await.unwrap();
    audiosocket_frame(&mut a, 0x00, &[]).await.unwrap();
    let _ = events_of(&server, dir.path(), "6c6c6c6c-6c6c-6c6c-6c6c-6c6c6c6c6c00").await;
    // 175 agent frames never came; those filled before the hangup count
    // (at the hangup the rest is the leg's end, not a loss).
    let d = dropped();
    assert!((50..=176).contains(&d), "dropped frames: {d}");
    // The customer's audio waited for the silent agent leg at most
    // PairPolicy::LEGS.max_wait (0.5 s), plus a frame and the scheduling of
    // a busy machine (a 2 s wait, as before the pairing rule, fails here).
    assert!(
        most_behind_s <= 0.8,
        "the customer's analysis fell {most_behind_s:.2} s behind its audio"
    );
    eprintln!(
        "late {} (stall) then {}, dropped {d}, customer analysis at most {most_behind_s:.2} s behind",
        after_stall,
        late()
    );
}

/// A mono AudioSocket call of `frames` 20 ms frames of `pcm` (cycled), with
/// the given UUID, ended by a hangup.
async fn audiosocket_mono_call(addr: SocketAddr, uuid: [u8; 16], pcm: &[i16], frames: usize) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    audiosocket_frame(&mut s, 0x01, &uuid).await.unwrap();
    for chunk in pcm.chunks(160).cycle().take(frames) {
        audiosocket_frame(&mut s, 0x10, &le(chunk)).await.unwrap();
    }
    audiosocket_frame(&mut s, 0x00, &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_call_id_keeps_both_calls() {
    let dir = shoutcue_testkit::TempDir::new("serve-repeat");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiosocket.unwrap();
    let (cust, _) = voices(&shoutcue_testkit::fixture("continued_shout.wav"));
    let id = [0x31u8; 16];
    let stem = "31313131-3131-3131-3131-313131313131";
    audiosocket_mono_call(addr, id, &cust, cust.len() / 160).await;
    let (first, _) = events_of(&server, dir.path(), stem).await;
    assert!(first.iter().any(|(t, _)| t == "cue"), "{first:?}");
    // The same id again (a platform retry, a reused conversation id): a
    // file of its own, and the first call's file and note untouched.
    audiosocket_mono_call(addr, id, &cust, 100).await;
    let again = format!("{stem}~2");
    let (second, _) = events_of(&server, dir.path(), &again).await;
    assert!(dir.join(format!("{again}.note.json")).exists());
    let (first_after, _) = events_of(&server, dir.path(), stem).await;
    assert_eq!(first_after, first, "the first call's file was changed");
    assert!(second.len() < first.len());
}

/// Mounts a `kib` KiB tmpfs at `at` (root only): a disk that really fills.
fn small_disk(at: &Path, kib: u32) -> Option<impl Drop> {
    struct Mounted(std::path::PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    std::fs::create_dir_all(at).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
        .arg(at)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mounted(at.to_path_buf()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "root-tests"),
    ignore = "needs root to mount a small tmpfs as a full disk (cargo test --all-features, as CI)"
)]
async fn a_full_disk_loses_whole_file_lines_and_the_pages_still_get_the_call() {
    let tmp = shoutcue_testkit::TempDir::new("serve-full-disk");
    let disk = tmp.join("disk");
    let _mounted = small_disk(&disk, 64).expect("mount a tmpfs (are we root?)");
    let server = start(&disk, 10).await;
    let http = server.bound.http.unwrap();
    let console_url = server.console_url().unwrap();
    let token = console_url.split("token=").nth(1).unwrap().to_string();
    let host = format!("127.0.0.1:{}", http.port());
    let console = tokio::spawn(async move {
        sse_until(
            http,
            &format!("/console/events?token={token}"),
            &host,
            "call_end",
        )
        .await
    });
    // Fill the disk but for one 4 KiB page (tmpfs allocates by the page):
    // the call's first lines fit, the rest do not.
    {
        let mut f = std::fs::File::create(disk.join("filler")).unwrap();
        let block = vec![b'x'; 4096];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
        let _ = f.set_len(f.metadata().unwrap().len().saturating_sub(4096));
        f.sync_all().unwrap();
    }
    let addr = server.bound.audiosocket.unwrap();
    let (cust, _) = voices(&shoutcue_testkit::fixture("continued_shout.wav"));
    audiosocket_mono_call(addr, [0x41u8; 16], &cust, 3 * cust.len() / 160).await;
    let seen = console.await.unwrap();
    assert!(
        seen.contains("call_end"),
        "the console never saw the call end"
    );
    assert!(seen.contains("\"cue\""), "the console missed the cues");
    let t0 = std::time::Instant::now();
    while server.active_calls() > 0 {
        assert!(t0.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lost = server
        .stats()
        .events_lines_lost
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(lost > 0, "the disk never filled: the test proves nothing");
    let text =
        std::fs::read_to_string(disk.join("41414141-4141-4141-4141-414141414141.jsonl")).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "a torn last line");
    for l in text.lines() {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}"));
    }
    assert!(
        text.lines().count() >= 1,
        "the first lines fit and were kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_leg_with_a_running_calls_uuid_is_refused_and_mixes_nothing_in() {
    use tokio::io::AsyncReadExt;
    let dir = shoutcue_testkit::TempDir::new("serve-audiosocket-inject");
    let server = start(dir.path(), 10).await;
    let addr = server.bound.audiosocket.unwrap();
    let fixture = shoutcue_testkit::fixture("continued_shout.wav");
    let (cust, agent) = voices(&fixture);
    let (mut c, mut a) = two_legs(addr, 0x6b).await;
    let mut uuid = [0x6bu8; 16];
    audiosocket_frame(&mut c, 0x10, &le(&cust[..160]))
        .await
        .unwrap();
    audiosocket_frame(&mut a, 0x10, &le(&agent[..160]))
        .await
        .unwrap();
    // Someone who knows the UUID joins as a second customer (and a second
    // agent), shouting: both refused, the call untouched.
    for role in [0u8, 1] {
        uuid[15] = role;
        let mut evil = tokio::net::TcpStream::connect(addr).await.unwrap();
        audiosocket_frame(&mut evil, 0x01, &uuid).await.unwrap();
        let loud: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 30_000 } else { -30_000 })
            .collect();
        for _ in 0..200 {
            if audiosocket_frame(&mut evil, 0x10, &le(&loud))
                .await
                .is_err()
            {
                break;
            }
        }
        let mut b = [0u8; 16];
        let closed = tokio::time::timeout(Duration::from_secs(5), evil.read(&mut b)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "the server kept a second leg of role {role} open: {closed:?}"
        );
    }
    let refused: u64 = server
        .stats()
        .refused
        .iter()
        .map(|n| n.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    assert_eq!(refused, 2);
    for (cc, ac) in cust[160..].chunks(160).zip(agent[160..].chunks(160)) {
        audiosocket_frame(&mut c, 0x10, &le(cc)).await.unwrap();
        audiosocket_frame(&mut a, 0x10, &le(ac)).await.unwrap();
    }
    audiosocket_frame(&mut a, 0x00, &[]).await.unwrap();
    audiosocket_frame(&mut c, 0x00, &[]).await.unwrap();
    let (got, last) = events_of(&server, dir.path(), "6b6b6b6b-6b6b-6b6b-6b6b-6b6b6b6b6b00").await;
    assert_same(
        &got,
        &replay_events(&fixture),
        "AudioSocket with refused intruders",
    );
    assert_eq!(last["reason"], "hangup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_freeswitch_example_gives_the_cues() {
    // The listener as the config file gives it when it names only the
    // address, and the metadata exactly as the README's uuid_audio_fork line.
    let dir = shoutcue_testkit::TempDir::new("serve-freeswitch-readme");
    let toml = dir.join("serve.toml");
    std::fs::write(&toml, "[freeswitch]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let mut cfg = ServeConfig::from_file(&toml).unwrap();
    cfg.events_dir = Some(dir.path().to_path_buf());
    let server = server(cfg).await;
    let url = format!("ws://{}/", server.bound.freeswitch.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let fixture = shoutcue_testkit::fixture("continued_shout.wav");
    let (cust, agent) = voices(&fixture);
    // A fork on the customer's leg: the customer left, the agent right.
    let mut s = Vec::with_capacity(2 * cust.len());
    for (c, a) in cust.iter().zip(&agent) {
        s.extend_from_slice(&[*c, *a]);
    }
    ws.send(Message::Text(
        r#"{"callId":"4f1c2a","agentId":"1234"}"#.to_string().into(),
    ))
    .await
    .unwrap();
    for chunk in s.chunks(320) {
        ws.send(Message::Binary(le(chunk).into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    let (got, _) = events_of(&server, dir.path(), "4f1c2a").await;
    assert!(got.iter().any(|(t, _)| t == "cue"), "no cue: {got:?}");
    assert_same(
        &got,
        &replay_events(&fixture),
        "the README's FreeSWITCH line",
    );
}

/// Issue 27, item 10: a message that claims a long gap cannot make the
/// server analyse more silence than the time the call has run (plus
/// `SILENCE_SLACK_S`). Before the bound, each Twilio chunk here inserted
/// 60 s of silence and each AudioHook `discarded` 600 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_gap_costs_at_most_the_time_that_passed() {
    let dir = shoutcue_testkit::TempDir::new("serve-gap-amplify");
    let server = start(dir.path(), 10).await;
    let t0 = std::time::Instant::now();
    // Twilio: 20 chunks, each timestamped ~30 years after the one before.
    let url = format!("ws://{}/media", server.bound.twilio.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ9",
        "start": {"streamSid": "MZ9", "callSid": "CA-gap", "tracks": ["inbound"],
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})))
        .await
        .unwrap();
    let payload = base64::engine::general_purpose::STANDARD.encode([0xffu8; 160]);
    for k in 0..20u64 {
        let ts = (k * 1_000_000_000_000).to_string();
        ws.send(send(json!({"event": "media", "streamSid": "MZ9",
            "media": {"track": "inbound", "chunk": k.to_string(), "timestamp": ts, "payload": payload}})))
            .await
            .unwrap();
    }
    ws.send(send(json!({"event": "stop", "streamSid": "MZ9"})))
        .await
        .unwrap();
    let (_, last) = events_of(&server, dir.path(), "CA-gap").await;
    let bound = t0.elapsed().as_secs_f64() + shoutcue_serve::call::SILENCE_SLACK_S + 1.0;
    let d = last["duration"].as_f64().unwrap();
    assert!(
        d <= bound,
        "Twilio: {d:.1} s of call from 20 chunks (bound {bound:.1} s)"
    );

    // AudioHook: three `discarded` of ten minutes each.
    let t0 = std::time::Instant::now();
    let addr = server.bound.audiohook.unwrap();
    let session = "0b7f6c5e-3a41-4d1e-9f0a-5d2c3b4a1e99";
    let req = audiohook_request_signed(addr, KEY, SECRET_B64, session, "gap-nonce");
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let media =
        json!([{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}]);
    ws.send(client_msg(
        "open",
        1,
        session,
        json!({
        "organizationId": "d7934305-0972-4844-938e-9060eef73d05", "conversationId": "conv-gap",
        "participant": {"id": "p", "ani": "+1", "aniName": "", "dnis": "+2"}, "media": media}),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "opened");
    for seq in 2..5 {
        ws.send(client_msg(
            "discarded",
            seq,
            session,
            json!({"start": "PT0S", "discarded": "PT600S"}),
        ))
        .await
        .unwrap();
    }
    ws.send(client_msg("close", 5, session, json!({"reason": "end"})))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "closed");
    let (_, last) = events_of(&server, dir.path(), "conv-gap").await;
    let bound = t0.elapsed().as_secs_f64() + shoutcue_serve::call::SILENCE_SLACK_S + 1.0;
    let d = last["duration"].as_f64().unwrap();
    assert!(
        d <= bound,
        "AudioHook: {d:.1} s of call from three discarded messages (bound {bound:.1} s)"
    );
}

/// The server's running calls once they are `n`, or after `within`.
async fn active_calls_within(server: &Server, n: usize, within: Duration) -> usize {
    let t0 = std::time::Instant::now();
    while server.active_calls() != n && t0.elapsed() < within {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.active_calls()
}

/// Whether the server closes `sock` (EOF or reset) within `within`.
async fn closed_within(sock: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 16];
    matches!(
        tokio::time::timeout(within, sock.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// Issue 27, item 7: idle AudioSocket connections cannot take every file
/// descriptor (past `MAX_HANDSHAKES` not yet introduced, new ones are
/// closed at once), a connection that never sends its UUID is closed after
/// `FIRST_FRAME_TIMEOUT`, and a leg that sends a frame header and then
/// nothing gives its call slot back after `FRAME_TIMEOUT`. Before, each of
/// them stayed open (and held its slot) for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_audiosocket_connections_are_closed_and_free_their_slots() {
    use shoutcue_serve::audiosocket::{FIRST_FRAME_TIMEOUT, FRAME_TIMEOUT, MAX_HANDSHAKES};
    let dir = shoutcue_testkit::TempDir::new("serve-as-idle");
    let server = start(dir.path(), 2).await;
    let addr = server.bound.audiosocket.unwrap();
    // A leg that holds a slot: UUID, then an audio header and no payload.
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    audiosocket_frame(&mut half, 0x01, &[0x42; 16])
        .await
        .unwrap();
    half.write_all(&[0x10, 0x01, 0x40]).await.unwrap();
    assert_eq!(
        active_calls_within(&server, 1, Duration::from_secs(1)).await,
        1
    );
    // Idle sockets up to the handshake budget, then ten more.
    let mut idle = Vec::new();
    for _ in 0..MAX_HANDSHAKES {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for k in 0..10 {
        let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut extra, Duration::from_secs(1)).await,
            "connection {k} past the {MAX_HANDSHAKES} waiting for their UUID was left open"
        );
    }
    // /healthz still answers meanwhile.
    let health = format!("http://{}/healthz", server.bound.http.unwrap());
    let body = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-fsS", "--max-time", "5", &health])
            .output()
    })
    .await
    .unwrap();
    if let Ok(o) = body {
        assert!(
            o.status.success(),
            "/healthz: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The idle ones are closed once their time for a UUID is up.
    let first = &mut idle[0];
    assert!(
        closed_within(first, FIRST_FRAME_TIMEOUT + Duration::from_secs(2)).await,
        "an idle connection outlived FIRST_FRAME_TIMEOUT"
    );
    // The half-sent frame's leg is gone and its slot free.
    assert!(closed_within(&mut half, FRAME_TIMEOUT + Duration::from_secs(2)).await);
    assert_eq!(
        active_calls_within(&server, 0, Duration::from_secs(2)).await,
        0,
        "a half-sent frame held its call slot"
    );
}

/// A TCP connection to `to` from the loopback address `from` (Linux
/// answers on all of 127.0.0.0/8): a second host, as far as the server
/// can tell.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((from, 0)))?;
    sock.connect(to).await
}

/// Issue 27, item 9: sockets held open without a word from one address
/// (slowloris) leave another address its calls and `/healthz`. Before,
/// 270 idle sockets took every page connection (256) and 70 every
/// AudioSocket handshake place (64), so the second host got nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_from_one_address_leave_another_its_calls_and_health() {
    use shoutcue_serve::audiosocket::MAX_HANDSHAKES;
    let dir = shoutcue_testkit::TempDir::new("serve-per-source");
    let server = start(dir.path(), 2).await;
    let (http, asock, fork) = (
        server.bound.http.unwrap(),
        server.bound.audiosocket.unwrap(),
        server.bound.freeswitch.unwrap(),
    );
    let mut held = Vec::new();
    for (to, n) in [
        (http, 270),
        (asock, MAX_HANDSHAKES + 6),
        (fork, 2 * 2 + 64 + 6),
    ] {
        for _ in 0..n {
            if let Ok(s) = connect_from([127, 0, 0, 1], to).await {
                held.push(s);
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = [127, 0, 0, 2];

    let mut s = connect_from(other, http).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let head = String::from_utf8_lossy(&out);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "/healthz from another host: {head:?}"
    );

    let (cust, _) = voices(&shoutcue_testkit::fixture("continued_shout.wav"));
    let mut s = connect_from(other, asock).await.unwrap();
    audiosocket_frame(&mut s, 0x01, &[0x52; 16]).await.unwrap();
    for chunk in cust.chunks(160).take(100) {
        audiosocket_frame(&mut s, 0x10, &le(chunk)).await.unwrap();
    }
    audiosocket_frame(&mut s, 0x00, &[]).await.unwrap();
    let (events, _) = events_of(&server, dir.path(), "52525252-5252-5252-5252-525252525252").await;
    assert!(events.iter().any(|(t, _)| t == "call_end"), "{events:?}");

    let s = connect_from(other, fork).await.unwrap();
    let up = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::client_async(format!("ws://{fork}/fork"), s),
    )
    .await;
    assert!(
        matches!(up, Ok(Ok(_))),
        "a FreeSWITCH fork from another host was not let in: {up:?}"
    );
    drop(held);
}

/// Issue 27, item 9: a media WebSocket that opens a call and then only
/// pings is closed `FIRST_AUDIO_TIMEOUT` after it connected, and its call
/// slot comes back: pings never extend the deadline. Before, each ping
/// reset a 30 s timeout, so such a socket stayed open for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_socket_that_only_pings_is_closed_and_frees_its_slot() {
    use shoutcue_serve::call::FIRST_AUDIO_TIMEOUT;
    let dir = shoutcue_testkit::TempDir::new("serve-ping-only");
    let server = start(dir.path(), 4).await;
    let url = format!("ws://{}/fork", server.bound.freeswitch.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({"callId": "pinger"}).to_string().into(),
    ))
    .await
    .unwrap();
    let t0 = std::time::Instant::now();
    let mut closed = false;
    while t0.elapsed() < FIRST_AUDIO_TIMEOUT + Duration::from_secs(5) {
        if ws.send(Message::Ping(vec![1].into())).await.is_err() {
            closed = true;
            break;
        }
        match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                closed = true;
                break;
            }
            _ => {}
        }
    }
    assert!(
        closed,
        "a socket that only pings was still open after {:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() >= FIRST_AUDIO_TIMEOUT - Duration::from_secs(1));
    assert_eq!(
        active_calls_within(&server, 0, Duration::from_secs(2)).await,
        0,
        "the pinging socket kept its call slot"
    );
}

/// Issue 27, item 13: a browser cannot open a media stream. An upgrade that
/// carries an `Origin` (every browser's does; platforms send none) is
/// refused with 403 on each media WebSocket listener, unless the origin is
/// listed in `media_origins`. Before, `http://evil.example` started a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_origins_cannot_open_media_streams_unless_listed() {
    let dir = shoutcue_testkit::TempDir::new("serve-origin");
    let first = start(dir.path(), 4).await;
    let with_origin = |url: String, origin: &str| {
        let mut r = url.into_client_request().unwrap();
        r.headers_mut().insert("origin", origin.parse().unwrap());
        r
    };
    for (what, url) in [
        (
            "freeswitch",
            format!("ws://{}/fork", first.bound.freeswitch.unwrap()),
        ),
        (
            "twilio",
            format!("ws://{}/media", first.bound.twilio.unwrap()),
        ),
        (
            "audiohook",
            format!(
                "ws://{}/api/v1/audiohook/ws",
                first.bound.audiohook.unwrap()
            ),
        ),
    ] {
        match tokio_tungstenite::connect_async(with_origin(url, "http://evil.example")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status(), 403, "{what}")
            }
            other => panic!("{what}: a browser origin must get 403, got {other:?}"),
        }
    }
    assert_eq!(first.active_calls(), 0);
    first.drain().await;
    // Listed, it may.
    let mut cfg = ServeConfig {
        freeswitch: Some(FreeSwitchConfig::new(loopback())),
        events_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    cfg.media_origins = vec!["https://softphone.example".into()];
    let listed = server(cfg).await;
    let url = format!("ws://{}/fork", listed.bound.freeswitch.unwrap());
    let (mut ws, _) =
        tokio_tungstenite::connect_async(with_origin(url, "https://softphone.example"))
            .await
            .expect("a listed origin is let in");
    ws.close(None).await.ok();
    listed.drain().await;
}

/// The status line of a GET over plain HTTP/1.1, with extra header lines.
async fn status_of(addr: SocketAddr, path: &str, headers: &str) -> String {
    response(addr, path, headers)
        .await
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The whole response (status, headers, body) to a GET over plain HTTP/1.1.
async fn response(addr: SocketAddr, path: &str, headers: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A server with one AudioSocket listener and the pages on loopback.
async fn http_server(ops_token: Option<&str>) -> Server {
    server(ServeConfig {
        ops_token: ops_token.map(str::to_string),
        ..http_server_cfg()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_ops_token_health_and_metrics_answer_only_its_bearer() {
    let token = "ops-token-of-at-least-16";
    let server = http_server(Some(token)).await;
    let addr = server.bound.http.unwrap();
    let good = format!("Authorization: Bearer {token}\r\n");
    for path in ["/healthz", "/metrics"] {
        assert!(
            status_of(addr, path, "").await.contains(" 401 "),
            "{path} without the token"
        );
        assert!(
            status_of(
                addr,
                path,
                "Authorization: Bearer another-token-16-chars\r\n"
            )
            .await
            .contains(" 401 "),
            "{path} with another token"
        );
        assert!(
            status_of(addr, path, &good).await.contains(" 200 "),
            "{path} with the token"
        );
    }
    // Without one (loopback here), as before: open.
    let open = http_server(None).await;
    assert!(status_of(open.bound.http.unwrap(), "/metrics", "")
        .await
        .contains(" 200 "));
    // A token too short to guess-proof is refused at start, by name.
    let e = refused_at_start(ServeConfig {
        ops_token: Some("short".into()),
        ..http_server_cfg()
    })
    .await;
    assert!(e.to_string().contains("ops_token"), "{e}");
}

fn http_server_cfg() -> ServeConfig {
    ServeConfig {
        audiosocket: Some(AudioSocketConfig {
            max_calls: None,
            listen: loopback(),
            pairing: Pairing::RoleByte,
        }),
        http: Some(loopback()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_learns_its_line_from_its_calls_and_judges_new_cold_starts_against_it() {
    let dir = shoutcue_testkit::TempDir::new("serve-line");
    let server = server(ServeConfig {
        line_learning: true,
        events_dir: Some(dir.path().to_path_buf()),
        ..http_server_cfg()
    })
    .await;
    let addr = server.bound.audiosocket.unwrap();
    // Twelve voices of the bundled calls (EmoDB speakers, men and women),
    // each at two line gains: 24 callers.
    let voices = shoutcue_testkit::LINE_VOICES;
    let mut samples = Vec::new();
    let model = ShoutModel::builtin();
    let mut k = 0x20u8;
    for gain in [1.0, 0.5] {
        for (name, ch) in voices {
            let pcm = shoutcue_testkit::fixture_voice(name, ch, gain);
            k += 1;
            audiosocket_mono_call(addr, [k; 16], &pcm, pcm.len() / 160).await;
            // The estimator itself, for comparison: the same voice replayed
            // through a detector without the cold start.
            let mut m = model.clone();
            m.cold = None;
            let mut e =
                shoutcue_core::CallEngine::new(8000, 4096, false, &m, CoachConfig::default())
                    .unwrap();
            let f: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
            let mut none: Vec<JsonlSink<std::io::Sink>> = Vec::new();
            for chunk in f.chunks(4096) {
                e.process(chunk, &[], &mut none, &mut ()).unwrap();
            }
            e.finish(&mut none, &mut ()).unwrap();
            samples.push(e.customer_baseline());
        }
    }
    // Every call with a calm customer voice gives a sample (the estimator
    // says which); wait for the last call's end to be learnt.
    let own = samples.iter().filter(|b| b.own).count();
    assert!(
        own >= 20,
        "{own} of 24 voices with a calm voice of their own"
    );
    let mut metrics = String::new();
    for _ in 0..250 {
        metrics = response(server.bound.http.unwrap(), "/metrics", "").await;
        if metrics.contains(&format!(
            "shoutcue_line_calls{{protocol=\"audiosocket\"}} {own}\n"
        )) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{protocol=\"audiosocket\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics:\n{metrics}"))
    };
    assert_eq!(gauge("shoutcue_line_calls"), own as f64);
    assert_eq!(gauge("shoutcue_line_calibrated"), 1.0);
    let want = shoutcue_core::detector::LineCalibration::from_calls(samples, "test").unwrap();
    let reference = model.cold.as_ref().and_then(|c| c.line_reference).unwrap();
    let (da, dc) = (
        gauge("shoutcue_line_shift_alpha_db"),
        gauge("shoutcue_line_shift_centroid_st"),
    );
    assert!(
        (da - f64::from(want.alpha_db - reference[0])).abs() < 0.01,
        "alpha {da} against {want:?}"
    );
    assert!(
        (dc - f64::from(want.centroid_st - reference[1])).abs() < 0.01,
        "centroid {dc} against {want:?}"
    );
    // Another listener has learnt nothing.
    assert!(
        metrics.contains("shoutcue_line_calibrated{protocol=\"twilio\"} 0"),
        "{metrics}"
    );
    // A caller who opens shouting now: the cold start judges against the line.
    let pcm = shoutcue_testkit::fixture_voice("sustained_shout.wav", 1, 1.0);
    let opening = &pcm[(12.3 * 8000.0) as usize..];
    audiosocket_mono_call(addr, [0xee; 16], opening, opening.len() / 160).await;
    let stem = "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee";
    let _ = events_of(&server, dir.path(), stem).await;
    let text = std::fs::read_to_string(dir.join(format!("{stem}.jsonl"))).unwrap();
    let start = text
        .lines()
        .find(|l| l.contains("\"shout_start\""))
        .unwrap_or_else(|| panic!("no shout_start in {text}"));
    assert!(start.contains("\"baseline\":\"line\""), "{start}");
}

/// Streams `fixture` (stereo, customer on channel 1) as FreeSWITCH call
/// `call` of `agent` (none: the platform names no agent), as fast as the
/// socket takes it.
async fn freeswitch_call(addr: SocketAddr, call: &str, agent: Option<&str>, fixture: &Path) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/fork"))
        .await
        .unwrap();
    let mut r = hound::WavReader::open(fixture).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let meta = match agent {
        Some(a) => json!({"callId": call, "agentId": a}),
        None => json!({"callId": call}),
    };
    ws.send(Message::Text(meta.to_string().into()))
        .await
        .unwrap();
    for chunk in s.chunks(320) {
        ws.send(Message::Binary(le(chunk).into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_embed_link_opens_one_calls_view_and_only_listed_desktops_frame_it() {
    let server = server(ServeConfig {
        freeswitch: Some(stereo_fork()),
        http: Some(loopback()),
        embed_ancestors: vec!["https://desk.example".into()],
        ..Default::default()
    })
    .await;
    let http = server.bound.http.unwrap();
    let fork = server.bound.freeswitch.unwrap();
    let url = server.embed_url("embed-1", "agent-5", 600).unwrap();
    let query = url.split_once('?').unwrap().1.to_string();
    let page = response(http, &format!("/embed?{query}"), "").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let lower = page.to_ascii_lowercase();
    assert!(
        lower.contains("frame-ancestors https://desk.example\r\n"),
        "the listed desktop may frame the view: {page}"
    );
    // Every other page still refuses to be framed.
    assert!(response(http, "/", "")
        .await
        .to_ascii_lowercase()
        .contains("frame-ancestors 'none'"));

    // A call id alone, an altered link, another call's link, an expired one.
    let expired = shoutcue_serve::embed::signed_query(
        server.pages(),
        &shoutcue_serve::embed::EmbedLink {
            call: "embed-1".into(),
            agent: "agent-5".into(),
            exp: shoutcue_serve::embed::now_unix() - 5,
        },
    );
    for (q, why) in [
        ("call=embed-1".to_string(), "no agent"),
        (query.replace("agent=agent-5", "agent=agent-6"), "altered"),
        (query.replace("call=embed-1", "call=other-1"), "altered"),
        (expired, "expired"),
    ] {
        for path in ["/embed", "/embed/events"] {
            let r = response(http, &format!("{path}?{q}"), "").await;
            assert!(r.starts_with("HTTP/1.1 401"), "{path}?{q}: {r}");
            assert!(r.contains(why), "{path}?{q} must say {why}: {r}");
        }
    }

    // The right agent's view gets this call's lines, its nudges among them;
    // another agent's link to the same call gets the public lines only; no
    // view ever gets the other call's.
    let host = format!("127.0.0.1:{}", http.port());
    let view = |q: String| {
        let host = host.clone();
        tokio::spawn(async move {
            sse_until(http, &format!("/embed/events?{q}"), &host, "call_end").await
        })
    };
    let query_of = |url: String| url.split_once('?').unwrap().1.to_string();
    let mine = view(query.clone());
    let other_desk = view(query_of(
        server.embed_url("embed-1", "agent-6", 600).unwrap(),
    ));
    // A call whose platform names no agent (AudioSocket cannot): the link's
    // agent, named by whoever holds the pages' secret, gets the nudges.
    let unnamed = view(query_of(
        server.embed_url("anon-1", "agent-9", 600).unwrap(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fixture = shoutcue_testkit::fixture("agent_raised.wav");
    freeswitch_call(fork, "other-1", Some("agent-5"), &fixture).await;
    freeswitch_call(fork, "embed-1", Some("agent-5"), &fixture).await;
    freeswitch_call(fork, "anon-1", None, &fixture).await;
    let (mine, other_desk) = (mine.await.unwrap(), other_desk.await.unwrap());
    let unnamed = unnamed.await.unwrap();
    assert!(
        unnamed.contains("\"call_id\":\"anon-1\"") && unnamed.contains("agent_nudge"),
        "an unnamed call's link holder gets its nudges: {unnamed}"
    );
    for (name, got) in [("agent-5", &mine), ("agent-6", &other_desk)] {
        assert!(
            got.contains("\"call_id\":\"embed-1\"") && got.contains("call_end"),
            "{name}'s view must follow the call: {got}"
        );
        assert!(
            !got.contains("other-1"),
            "{name}'s view got another call's lines: {got}"
        );
    }
    assert!(
        mine.contains("agent_nudge"),
        "the call's own agent sees their nudges: {mine}"
    );
    assert!(
        !other_desk.contains("agent_nudge") && !other_desk.contains("\"private\":true"),
        "another agent's link must not show this agent's voice: {other_desk}"
    );
}

/// A request over plain HTTP/1.1; the whole response.
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Loopback stand-ins for the desktops' cloud APIs (a mock, as the real
/// ones are clouds): Genesys Cloud's `users/me` and `conversations/{id}`,
/// and Twilio IAM's Flex token validation, answering as their docs say.
async fn desktop_apis() -> SocketAddr {
    use axum::extract::Path as UrlPath;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    fn bearer(h: &HeaderMap) -> String {
        h.get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_string()
    }
    let app = axum::Router::new()
        .route(
            "/api/v2/users/me",
            get(|h: HeaderMap| async move {
                match bearer(&h).as_str() {
                    "gc-agent-7" => axum::Json(json!({"id": "user-7", "name": "Seven"})).into_response(),
                    "gc-agent-8" => axum::Json(json!({"id": "user-8", "name": "Eight"})).into_response(),
                    _ => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        )
        .route(
            "/api/v2/conversations/{id}",
            get(|UrlPath(id): UrlPath<String>, h: HeaderMap| async move {
                if !bearer(&h).starts_with("gc-") {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if id != "conv-1" {
                    return StatusCode::NOT_FOUND.into_response();
                }
                axum::Json(json!({"id": "conv-1", "participants": [
                    {"purpose": "customer", "userId": null},
                    {"purpose": "agent", "userId": "user-7"}
                ]}))
                .into_response()
            }),
        )
        .route(
            "/v1/Accounts/{sid}/Tokens/validate",
            post(|UrlPath(sid): UrlPath<String>, h: HeaderMap, body: String| async move {
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{sid}:flex-auth-token"))
                );
                if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                if v["token"] == "flex-worker-3" {
                    axum::Json(json!({"valid": true, "code": 0, "message": null,
                        "identity": "agent3@example.com", "worker_sid": "WK0003"}))
                    .into_response()
                } else {
                    axum::Json(json!({"valid": false, "code": 20101, "message": "Invalid Access Token"}))
                        .into_response()
                }
            }),
        );
    let l = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktops_token_buys_a_link_only_for_calls_its_agent_is_on() {
    let api = desktop_apis().await;
    let sid = format!("AC{}", "0".repeat(32));
    let server = server(ServeConfig {
        genesys_api: Some(format!("http://{api}")),
        flex_account_sid: Some(sid.clone()),
        flex_auth_token: Some("flex-auth-token".into()),
        flex_api: format!("http://{api}"),
        embed_ancestors: vec!["https://apps.mypurecloud.example".into()],
        ..http_server_cfg()
    })
    .await;
    let http = server.bound.http.unwrap();
    let post = |token: &'static str, body: Value, origin: &'static str| async move {
        let mut h = format!("Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n");
        if !origin.is_empty() {
            h.push_str(&format!("Origin: {origin}\r\n"));
        }
        request(http, "POST", "/embed/link", &h, &body.to_string()).await
    };
    let gc = |call: &str| json!({"platform": "genesys", "call": call});

    // An agent on the conversation gets a link for it, in their own name.
    let r = post("gc-agent-7", gc("conv-1"), "").await;
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let body: Value = serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("/embed?call=conv-1&agent=user-7&exp="),
        "{url}"
    );
    assert!(response(http, url, "").await.starts_with("HTTP/1.1 200"));
    // A bad token, an agent not on it, a conversation that is not theirs,
    // a call id that would walk the API's paths, no token at all.
    for (token, body, want) in [
        ("not-a-token", gc("conv-1"), "401"),
        ("gc-agent-8", gc("conv-1"), "403"),
        ("gc-agent-7", gc("conv-2"), "403"),
        ("gc-agent-7", gc("../users/me"), "400"),
        ("", gc("conv-1"), "401"),
        (
            "gc-agent-7",
            json!({"platform": "avaya", "call": "x"}),
            "400",
        ),
    ] {
        let r = post(token, body.clone(), "").await;
        assert!(
            r.starts_with(&format!("HTTP/1.1 {want}")),
            "{token} {body}: {r}"
        );
    }
    // Flex: validated by Twilio IAM with the account's credentials.
    let flex = json!({"platform": "flex", "call": "CA123"});
    let r = post("flex-worker-3", flex.clone(), "").await;
    assert!(
        r.starts_with("HTTP/1.1 200") && r.contains("agent=WK0003"),
        "{r}"
    );
    let r = post("flex-forged", flex.clone(), "").await;
    assert!(
        r.starts_with("HTTP/1.1 401") && r.contains("Invalid Access Token"),
        "{r}"
    );

    // Browsers: a listed desktop may ask and read the answer; another may not ask.
    let r = post(
        "gc-agent-7",
        gc("conv-1"),
        "https://apps.mypurecloud.example",
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 200")
            && r.to_ascii_lowercase()
                .contains("access-control-allow-origin: https://apps.mypurecloud.example"),
        "{r}"
    );
    let r = post("gc-agent-7", gc("conv-1"), "https://evil.example").await;
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    let pre = request(
        http,
        "OPTIONS",
        "/embed/link",
        "Origin: https://apps.mypurecloud.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n",
        "",
    )
    .await
    .to_ascii_lowercase();
    assert!(
        pre.starts_with("http/1.1 204")
            && pre.contains("access-control-allow-headers: authorization"),
        "{pre}"
    );

    // Without a desktop configured, the route is not there.
    let plain = server_without_desktops().await;
    let r = request(
        plain.bound.http.unwrap(),
        "POST",
        "/embed/link",
        "Authorization: Bearer gc-agent-7\r\n",
        &gc("conv-1").to_string(),
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
}

async fn server_without_desktops() -> Server {
    server(http_server_cfg()).await
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let c =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (c.cert.pem(), c.key_pair.serialize_pem())
}

/// `GET https://addr/path` trusting only `cert_pem`: the status, or the error.
async fn https_status(addr: SocketAddr, path: &str, cert_pem: &str) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    client
        .get(format!("https://{addr}{path}"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_certificate_pages_and_media_streams_speak_tls_and_sighup_takes_a_new_one() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let dir = shoutcue_testkit::TempDir::new("serve-tls");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let (c1, k1) = self_signed();
    std::fs::write(&cert_path, &c1).unwrap();
    std::fs::write(&key_path, &k1).unwrap();
    let events = dir.path().join("events");
    let server = server(ServeConfig {
        freeswitch: Some(stereo_fork()),
        http: Some(loopback()),
        events_dir: Some(events.clone()),
        tls_cert: Some(cert_path.clone()),
        tls_key: Some(key_path.clone()),
        ..Default::default()
    })
    .await;
    let http = server.bound.http.unwrap();
    assert!(server.console_url().unwrap().starts_with("https://"));
    assert_eq!(https_status(http, "/healthz", &c1).await, Ok(200));
    // Plain HTTP gets no page.
    assert!(!response(http, "/healthz", "").await.contains("200 OK"));

    // A FreeSWITCH fork over wss:// gives the call its cues.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(c1.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let client_cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.bound.freeswitch.unwrap())
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_cfg))
        .connect("127.0.0.1".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let url = format!(
        "wss://127.0.0.1:{}/fork",
        server.bound.freeswitch.unwrap().port()
    );
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    let fixture = shoutcue_testkit::fixture("continued_shout.wav");
    let mut r = hound::WavReader::open(&fixture).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    ws.send(Message::Text(json!({"callId": "tls-1"}).to_string().into()))
        .await
        .unwrap();
    for chunk in s.chunks(320) {
        ws.send(Message::Binary(le(chunk).into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    let (got, _) = events_of(&server, &events, "tls-1").await;
    assert!(got.iter().any(|(t, _)| t == "cue"), "{got:?}");

    // SIGHUP: new files are read; new connections get the new certificate.
    let (c2, k2) = self_signed();
    std::fs::write(&cert_path, &c2).unwrap();
    std::fs::write(&key_path, &k2).unwrap();
    assert!(server.reload_tls().unwrap());
    assert_eq!(https_status(http, "/healthz", &c2).await, Ok(200));
    assert!(https_status(http, "/healthz", &c1).await.is_err());
    // A broken key on the next reload: refused, by name, and the server keeps
    // the certificate it has.
    std::fs::write(&key_path, "not a key").unwrap();
    let e = server.reload_tls().unwrap_err().to_string();
    assert!(e.contains("key.pem"), "{e}");
    assert_eq!(https_status(http, "/healthz", &c2).await, Ok(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listeners_own_call_limit_leaves_the_other_listeners_their_slots() {
    use std::sync::atomic::Ordering;
    let server = server(ServeConfig {
        audiosocket: Some(AudioSocketConfig {
            listen: loopback(),
            max_calls: Some(1),
            pairing: Pairing::RoleByte,
        }),
        freeswitch: Some(FreeSwitchConfig {
            max_calls: None,
            ..FreeSwitchConfig::new(loopback())
        }),
        max_calls: 10,
        ..Default::default()
    })
    .await;
    let asock = server.bound.audiosocket.unwrap();
    let pcm = vec![0i16; 160];
    // One AudioSocket call, held open.
    let mut first = tokio::net::TcpStream::connect(asock).await.unwrap();
    audiosocket_frame(&mut first, 0x01, &[0x41; 16])
        .await
        .unwrap();
    audiosocket_frame(&mut first, 0x10, &le(&pcm))
        .await
        .unwrap();
    assert_eq!(
        active_calls_within(&server, 1, Duration::from_secs(5)).await,
        1
    );
    // A second one is refused by the listener's own limit...
    let mut second = tokio::net::TcpStream::connect(asock).await.unwrap();
    audiosocket_frame(&mut second, 0x01, &[0x42; 16])
        .await
        .unwrap();
    let _ = audiosocket_frame(&mut second, 0x10, &le(&pcm)).await;
    assert!(closed_within(&mut second, Duration::from_secs(5)).await);
    assert_eq!(server.stats().refused[1].load(Ordering::Relaxed), 1);
    // ...while the server has room, and another listener's call starts.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/fork", server.bound.freeswitch.unwrap()))
            .await
            .unwrap();
    ws.send(Message::Text(json!({"callId": "fs-1"}).to_string().into()))
        .await
        .unwrap();
    ws.send(Message::Binary(le(&[0i16; 320]).into()))
        .await
        .unwrap();
    assert_eq!(
        active_calls_within(&server, 2, Duration::from_secs(5)).await,
        2
    );
    // The AudioSocket call ends: its listener takes a call again.
    audiosocket_frame(&mut first, 0x00, &[]).await.unwrap();
    assert_eq!(
        active_calls_within(&server, 1, Duration::from_secs(5)).await,
        1
    );
    audiosocket_mono_call(asock, [0x43; 16], &pcm, 5).await;
    assert_eq!(server.stats().refused[1].load(Ordering::Relaxed), 1);
    // A limit of 0 is refused at start, by name.
    let e = refused_at_start(ServeConfig {
        audiosocket: Some(AudioSocketConfig {
            listen: loopback(),
            max_calls: Some(0),
            pairing: Pairing::RoleByte,
        }),
        ..Default::default()
    })
    .await;
    assert!(e.to_string().contains("audiosocket.max_calls"), "{e}");
}

//! AudioHook's outside inputs, chosen by the first byte:
//!
//! * `V`: the upgrade request's signature check. The rest is split at
//!   newlines into `x-api-key`, `signature-input`, `signature`, the request
//!   target and the clock (seconds); the other signed headers are fixed.
//!   The secret is not in any seed, so the fuzzer cannot forge its HMAC:
//!   `verify` must refuse every input, and never panic.
//! * anything else: the rest is one client text message (its `seq` due is
//!   1); an `open` also goes through the media pick. Never a panic, and what
//!   is accepted obeys the protocol.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shoutcue_serve::audiohook::{parse_message, parse_open, verify, Format};

/// The configured API key, which the seeds know.
const KEY: &str = "KEY";
/// The client secret, which no seed knows.
const SECRET: &[u8] = b"fuzzing cannot find this secret's HMAC 7f3a91c2";

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((b'V', rest)) => signature(rest),
        Some((_, rest)) => message(rest),
        None => {}
    }
});

fn signature(data: &[u8]) {
    // The seeds put the fields on the lines after the `V`.
    let data = data.strip_prefix(b"\n").unwrap_or(data);
    let mut fields = data.split(|&b| b == b'\n');
    let mut h = HeaderMap::new();
    let fixed: [(&str, &'static str); 4] = [
        ("host", "127.0.0.1:9000"),
        (
            "audiohook-organization-id",
            "d7934305-0972-4844-938e-9060eef73d05",
        ),
        (
            "audiohook-session-id",
            "e160e428-53e2-487c-977d-96989bf5c99d",
        ),
        (
            "audiohook-correlation-id",
            "30b0e395-84d3-4570-ac13-9a62d8f514c0",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    for name in ["x-api-key", "signature-input", "signature"] {
        let Some(v) = fields.next() else {
            break;
        };
        // Bytes no HTTP parser would deliver as a header value are skipped:
        // the header is then missing, which verify must report.
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    let target = fields
        .next()
        .map_or("/api/v1/audiohook/ws".into(), String::from_utf8_lossy);
    let now = fields
        .next()
        .and_then(|t| std::str::from_utf8(t).ok()?.trim().parse::<i64>().ok())
        .unwrap_or(1_760_000_000);
    let got = verify(&h, &target, KEY, SECRET, now);
    assert!(
        got.is_err(),
        "accepted a signature made without the secret: {h:?}"
    );
}

fn message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = parse_message(text, 1) else {
        return;
    };
    assert_eq!(m.seq, 1);
    let v: Value = serde_json::from_str(text).expect("accepted text is JSON");
    assert_eq!(v["version"].as_str(), Some("2"));
    assert_eq!(v["type"].as_str(), Some(m.kind.as_str()));
    if let Ok(o) = parse_open(&m.parameters) {
        assert_eq!(o.media["rate"].as_u64(), Some(8000));
        assert_eq!(o.media["type"].as_str(), Some("audio"));
        let format = o.media["format"].as_str();
        assert!(matches!(
            (o.format, format),
            (Format::Pcmu, Some("PCMU")) | (Format::L16, Some("L16"))
        ));
        let channels: Vec<&str> = o.media["channels"]
            .as_array()
            .map_or(Vec::new(), |c| c.iter().filter_map(Value::as_str).collect());
        let want: &[&str] = if o.stereo {
            &["external", "internal"]
        } else {
            &["external"]
        };
        assert_eq!(channels, want);
    }
}

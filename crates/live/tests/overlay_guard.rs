//! The overlay's server against what an outside page or local user could
//! send it (the hardening audit's findings): a mark for a cue that never
//! showed, a flood of marks, a missing token, a rebound Host name, and a
//! page that fell behind the call.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use shoutcue_live::overlay::{CueShown, Overlay, OverlayOptions};

fn request(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{head}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

fn post_mark(o: &Overlay, body: &str) -> u16 {
    let a = o.local_addr();
    let head = format!(
        "POST /api/mark HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Shoutcue-Token: {}\r\nOrigin: http://127.0.0.1:{}",
        a.port(),
        o.token(),
        a.port()
    );
    request(a, &head, body).0
}

const CUE: &str = r#"{"v":1,"t":5.5,"type":"cue","step":1,"repeat":1,"recue":false,"text":"I am happy to help you, but do you realise you are shouting at me?","delivery":"awaiting"}"#;

/// Step 1's first cue at `t`, as the feed takes it from the typed event.
fn cue_at(t: f64) -> CueShown {
    CueShown {
        step: 1,
        repeat: 1,
        t,
    }
}

#[test]
fn marks_name_a_shown_cue_once_per_action() {
    let o = Overlay::start(OverlayOptions::loopback(0, "t")).unwrap();
    // Port 0 was asked for; a real one was bound and is in the URL.
    assert_ne!(o.local_addr().port(), 0);
    assert!(o
        .url()
        .contains(&format!(":{}/#token=", o.local_addr().port())));
    // "Step 4 said" before any cue existed: refused, nothing recorded.
    assert_eq!(
        post_mark(&o, r#"{"action":"said","step":4,"cue_t":8.3}"#),
        409
    );
    o.publish_event(5.5, Some(cue_at(5.5)), CUE);
    // A cue that was shown, but another step or time: refused.
    assert_eq!(
        post_mark(&o, r#"{"action":"said","step":2,"cue_t":5.5}"#),
        409
    );
    assert_eq!(
        post_mark(&o, r#"{"action":"said","step":1,"cue_t":7.0}"#),
        409
    );
    assert_eq!(
        post_mark(&o, r#"{"action":"said","step":1,"cue_t":5.5}"#),
        200
    );
    // The same action twice is one mark.
    assert_eq!(
        post_mark(&o, r#"{"action":"said","step":1,"cue_t":5.5}"#),
        409
    );
    assert_eq!(
        post_mark(&o, r#"{"action":"dismiss","step":1,"cue_t":5.5}"#),
        200
    );
    let marks = o.marks();
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert_eq!((marks[0].step, marks[0].cue_t), (1, 5.5));
}

#[test]
fn a_flood_of_marks_is_cut_to_the_rate_limit() {
    let o = Overlay::start(OverlayOptions::loopback(0, "t")).unwrap();
    for i in 0..30 {
        o.publish_event(
            i as f64,
            Some(cue_at(i as f64)),
            &CUE.replace("\"t\":5.5", &format!("\"t\":{i}.0")),
        );
    }
    let mut codes = Vec::new();
    for i in 0..30 {
        codes.push(post_mark(
            &o,
            &format!(r#"{{"action":"said","step":1,"cue_t":{i}.0}}"#),
        ));
    }
    let ok = codes.iter().filter(|&&c| c == 200).count();
    let limited = codes.iter().filter(|&&c| c == 429).count();
    assert_eq!(ok, 10, "{codes:?}");
    assert_eq!(limited, 20, "{codes:?}");
    assert_eq!(o.marks().len(), 10);
}

#[test]
fn every_data_route_needs_the_token_a_loopback_host_and_a_same_origin_post() {
    let o = Overlay::start(OverlayOptions::loopback(0, "t")).unwrap();
    o.publish_event(5.5, Some(cue_at(5.5)), CUE);
    let a = o.local_addr();
    let p = a.port();
    let t = o.token();
    for path in ["/events", "/events?token=guess", "/api/mark"] {
        let (c, _) = request(
            a,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{p}"),
            "",
        );
        assert_eq!(c, 401, "{path} without the token");
    }
    // The page itself holds no data: it is served without a token, which
    // it reads from the address's fragment and sends in a header.
    let (c, page) = request(a, &format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{p}"), "");
    assert_eq!(c, 200);
    assert!(
        !page.contains(t) && !page.contains("I am happy to help"),
        "{page}"
    );
    assert!(o.url().contains("/#token="), "{}", o.url());
    let (c, _) = request(
        a,
        &format!("GET / HTTP/1.1\r\nHost: rebound.example:{p}"),
        "",
    );
    assert_eq!(c, 421, "DNS rebinding");
    let body = r#"{"action":"said","step":1,"cue_t":5.5}"#;
    let (c, _) = request(
        a,
        &format!("POST /api/mark HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\nX-Shoutcue-Token: {t}\r\nOrigin: http://evil.example"),
        body,
    );
    assert_eq!(c, 403, "cross-origin post");
    assert!(o.marks().is_empty());
}

#[test]
fn a_page_that_falls_behind_is_told_to_resync() {
    let o = Overlay::start(OverlayOptions::loopback(0, "t")).unwrap();
    let a = o.local_addr();
    let mut s = TcpStream::connect(a).unwrap();
    write!(
        s,
        "GET /events?token={} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        o.token(),
        a.port()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Not reading: the socket fills and the page falls far behind.
    let pad = "x".repeat(400);
    for i in 0..40_000 {
        o.publish_meter(i as f64, &format!("{{\"i\":{i},\"pad\":\"{pad}\"}}"));
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&seen).contains("event: resync") {
            return;
        }
    }
    panic!("no resync after falling 40,000 messages behind");
}

/// A desktop hotkey marks the cue shown last, as `curl` would send it (no
/// Origin, the token in a header); the same checks as the page's marks.
#[test]
fn a_hotkey_marks_the_latest_cue_without_the_page() {
    let o = Overlay::start(OverlayOptions::loopback(0, "t")).unwrap();
    let a = o.local_addr();
    let post = |token: &str, body: &str| {
        let head = format!(
            "POST /api/mark/latest HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Shoutcue-Token: {token}",
            a.port()
        );
        request(a, &head, body).0
    };
    assert_eq!(post(o.token(), r#"{"action":"said"}"#), 409, "no cue yet");
    o.publish_event(5.5, Some(cue_at(5.5)), CUE);
    o.publish_event(
        9.0,
        Some(CueShown {
            step: 2,
            repeat: 1,
            t: 9.0,
        }),
        r#"{"v":1,"t":9.0,"type":"cue","step":2,"repeat":1,"recue":false,"text":"I am asking you to please stop shouting.","delivery":"awaiting"}"#,
    );
    assert_eq!(post("wrong-token", r#"{"action":"said"}"#), 401);
    assert_eq!(post(o.token(), r#"{"action":"shout"}"#), 400);
    assert_eq!(post(o.token(), r#"{"action":"said"}"#), 200);
    assert_eq!(post(o.token(), r#"{"action":"said"}"#), 409, "marked once");
    let marks = o.marks();
    assert_eq!(marks.len(), 1);
    assert_eq!((marks[0].step, marks[0].cue_t), (2, 9.0), "the latest cue");
    // The printed command is the one that works.
    let cmd = o.hotkey_command();
    assert!(
        cmd.contains(o.token()) && cmd.contains("/api/mark/latest") && cmd.contains(&a.to_string()),
        "{cmd}"
    );
}

//! The fleet console end to end, with real processes: a `nats-server -js`,
//! two `shoutcue serve` nodes publishing to it, and `shoutcue console
//! --nats` reading it back. A call streams to each node over AudioSocket;
//! node A is killed (SIGKILL, no goodbye) mid-call. The console must then
//! end A's call itself (`call_end` reason `disconnect`, `lost_node` A, from
//! the missing heartbeats), while B's call goes on and ends with its own
//! hangup. Ignored, with what it needs, unless `--features outside-tests`
//! (CI runs every feature); then a missing `nats-server` is a failure.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;
use support::{addr_after, audiosocket_call, start, Proc};

/// The broker. The test that needs it runs only when asked
/// (`--features outside-tests`), so a missing one is a failure.
fn nats_bin() -> PathBuf {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .chain(
            std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .map(|d| d.join("nats-server")),
        )
        .find(|p| p.is_file())
        .expect("no nats-server (apt-get install -y nats-server)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node: AudioSocket on a free port, publishing to `nats` as `id`.
fn node(dir: &Path, nats: &str, id: &str) -> (Proc, SocketAddr, mpsc::Receiver<String>) {
    let cfg = dir.join(format!("{id}.toml"));
    std::fs::write(&cfg, "nats_heartbeat_s = 0.3\n").unwrap();
    let (p, line, rx) = start(
        &[
            "serve",
            "--config",
            cfg.to_str().unwrap(),
            "--audiosocket",
            "127.0.0.1:0",
            "--nats",
            nats,
            "--site",
            "fleettest",
            "--node-id",
            id,
        ],
        "audiosocket tcp://",
    );
    let addr = addr_after(&line, "tcp://").parse().unwrap();
    (p, addr, rx)
}

/// Reads the console's Server-Sent Events into a channel of event lines.
fn follow_console(url: &str) -> mpsc::Receiver<Value> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, query) = rest.split_once('/').unwrap();
    let token = query.split("token=").nth(1).unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /console/events?token={token} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(s).lines().map_while(Result::ok) {
            if let Some(d) = l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")) {
                if let Ok(v) = serde_json::from_str::<Value>(d) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The first console line `want` accepts, among those seen or to come.
fn wait_for(
    rx: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    secs: f64,
    want: impl Fn(&Value) -> bool,
) -> Option<Value> {
    if let Some(v) = seen.iter().find(|v| want(v)) {
        return Some(v.clone());
    }
    let t0 = Instant::now();
    while let Some(left) = Duration::from_secs_f64(secs).checked_sub(t0.elapsed()) {
        match rx.recv_timeout(left) {
            Ok(v) => {
                seen.push(v.clone());
                if want(&v) {
                    return Some(v);
                }
            }
            Err(_) => return None,
        }
    }
    None
}

fn is(v: &Value, node: &str, ty: &str) -> bool {
    v["node"] == node && v["event"]["type"] == ty
}

#[test]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
fn the_console_ends_a_dead_nodes_call_and_leaves_the_other_node_alone() {
    let bin = nats_bin();
    let dir = std::env::temp_dir().join(format!("shoutcue-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("js")).unwrap();
    let port = free_port();
    let _nats = Proc(
        Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir.join("js"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("nats://127.0.0.1:{port}");
    let (mut a, a_addr, _a_err) = node(&dir, &url, "node-a");
    let (_b, b_addr, _b_err) = node(&dir, &url, "node-b");
    let (_console, line, _c_err) = start(
        &[
            "console",
            "--nats",
            &url,
            "--site",
            "fleettest",
            "--http",
            "127.0.0.1:0",
            "--node-timeout",
            "1.5",
        ],
        "console http://",
    );
    let console_url = line[line.find("http://").unwrap()..].trim().to_string();
    let events = follow_console(&console_url);
    let mut seen = Vec::new();

    let call_a = audiosocket_call(a_addr, 0xaa, "mono_shout.wav", None);
    let call_b = audiosocket_call(
        b_addr,
        0xbb,
        "mono_shout.wav",
        Some(Duration::from_secs(18)),
    );
    let start_a = wait_for(&events, &mut seen, 15.0, |v| is(v, "node-a", "call_start"))
        .expect("the console never showed node A's call start");
    let a_call = start_a["call_id"].as_str().unwrap().to_string();
    wait_for(&events, &mut seen, 15.0, |v| is(v, "node-b", "call_start"))
        .expect("the console never showed node B's call start");

    // Node A dies mid-call: SIGKILL, no call_end of its own.
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    a.0.kill().unwrap();
    let _ = a.0.wait();
    let end_a = wait_for(&events, &mut seen, 10.0, |v| {
        v["call_id"] == a_call.as_str() && v["event"]["type"] == "call_end"
    })
    .expect("the console never ended the dead node's call");
    let after = killed.elapsed().as_secs_f64();
    eprintln!("the dead node's call ended on the console {after:.2} s after the kill");
    assert_eq!(end_a["event"]["reason"], "disconnect", "{end_a}");
    assert_eq!(end_a["event"]["lost_node"], "node-a", "{end_a}");
    assert!(after < 1.5 + 1.0 + 1.0, "ended {after:.1} s after the kill");
    assert!(end_a["event"]["t"].as_f64().unwrap() > 1.0, "{end_a}");

    // B's call went on and ends with its own hangup.
    let end_b = wait_for(&events, &mut seen, 25.0, |v| is(v, "node-b", "call_end"))
        .expect("node B's call never ended on the console");
    assert_eq!(end_b["event"]["reason"], "hangup", "{end_b}");
    assert!(end_b["event"].get("lost_node").is_none(), "{end_b}");
    // The fixture's shouting (from 11.6 s) cued step 1 on B, after A died.
    assert!(
        seen.iter()
            .any(|v| is(v, "node-b", "cue") && v["event"]["step"] == 1),
        "node B's cue never reached the console: {:?}",
        seen.iter()
            .filter(|v| v["node"] == "node-b")
            .map(|v| v["event"]["type"].clone())
            .collect::<Vec<_>>()
    );
    // Nothing of A after its end; nothing private anywhere.
    let i_end = seen
        .iter()
        .position(|v| v["call_id"] == a_call.as_str() && v["event"]["type"] == "call_end")
        .unwrap();
    assert!(
        seen[i_end + 1..]
            .iter()
            .all(|v| v["call_id"] != a_call.as_str() || v["event"]["type"] == "call_end"),
        "lines of the lost call after its end"
    );
    assert!(seen.iter().all(|v| v["event"]["private"] != true));
    call_b.join().unwrap();
    drop(call_a);
    let _ = std::fs::remove_dir_all(&dir);
}

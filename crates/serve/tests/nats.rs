//! Events on NATS JetStream, against a real `nats-server` this test starts
//! (`-js -sd <tempdir>` on a free loopback port): two nodes' calls reach
//! one stream exactly once each, in each call's order; no private line on a
//! shared subject; a broker killed mid-call and started again (same store,
//! same port) loses no `supervisor_alert`, the calls going on meanwhile; a
//! node that cannot reach NATS at start serves calls and publishes them
//! once it can; a consumer started after the calls ended reads every alert.
//! Ignored, with what they need, unless `--features outside-tests` (CI runs
//! every feature); then a missing `nats-server` is a failure.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::ShoutModel;
use shoutcue_serve::bus::Kind;
use shoutcue_serve::config::FreeSwitchConfig;
use shoutcue_serve::nats::token;
use shoutcue_serve::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// `nats-server`, if installed; `None` (with a note) when a test should skip.
/// The broker. These tests run only when asked (`--features
/// outside-tests`), so a missing one is a failure.
fn nats_bin() -> PathBuf {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .expect("no nats-server on PATH or in /usr/sbin (apt-get install -y nats-server)")
}

/// A `nats-server -js` of this test's own.
struct Nats {
    bin: PathBuf,
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl Nats {
    fn new(bin: PathBuf, store: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            bin,
            port,
            store: store.to_path_buf(),
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it and waits until it takes connections.
    async fn start(&mut self) {
        let child = Command::new(&self.bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t0 = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (SIGKILL: no goodbye to its clients).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn node(dir: &Path, url: &str, site: &str, id: &str) -> Server {
    let cfg = ServeConfig {
        freeswitch: Some(FreeSwitchConfig {
            max_calls: None,
            listen: loopback(),
            rate: 8000,
            channels: 2,
            customer_channel: 1,
        }),
        http: Some(loopback()),
        events_dir: Some(dir.to_path_buf()),
        max_calls: 10,
        drain_grace_s: 1.0,
        nats_url: Some(url.into()),
        site: site.into(),
        node_id: Some(id.into()),
        nats_private: true,
        nats_heartbeat_s: 0.2,
        ..Default::default()
    };
    start(cfg).await
}

/// A server with the shipped model, coach and script.
async fn start(cfg: ServeConfig) -> Server {
    Server::start(
        cfg,
        ShoutModel::builtin(),
        CoachConfig::default(),
        Script::english(),
    )
    .await
    .unwrap()
}

/// Streams a stereo fixture as one FreeSWITCH fork; `speed` times real
/// time (`None`: as fast as the socket takes it).
async fn fork_call(server: &Server, call_id: &str, agent: &str, fixture: &str, speed: Option<f64>) {
    let url = format!("ws://{}/fork", server.bound.freeswitch.unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut r = hound::WavReader::open(shoutcue_testkit::fixture(fixture)).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    ws.send(WsMessage::Text(
        json!({"callId": call_id, "agentId": agent})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let mut tick = speed.map(|x| tokio::time::interval(Duration::from_secs_f64(0.02 / x)));
    for chunk in s.chunks(320) {
        if let Some(t) = &mut tick {
            t.tick().await;
        }
        let b: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        ws.send(WsMessage::Binary(b.into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
}

/// Waits until `call_id` has ended (its note written) and returns its lines.
async fn file_lines(dir: &Path, call_id: &str) -> Vec<String> {
    let stem = shoutcue_serve::events_file::escape_id(call_id);
    let t0 = Instant::now();
    while !dir.join(format!("{stem}.note.json")).exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{call_id} did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::read_to_string(dir.join(format!("{stem}.jsonl")))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn is_private(line: &str) -> bool {
    serde_json::from_str::<Value>(line).unwrap()["private"] == true
}

/// Until the node's queue is empty and its published count still for 500 ms.
async fn settled(server: &Server) {
    let t0 = Instant::now();
    let mut last = u64::MAX;
    loop {
        let p = server
            .nats_stats()
            .unwrap()
            .published
            .load(std::sync::atomic::Ordering::Relaxed);
        if server.nats_queue_depth() == 0 && p == last && server.active_calls() == 0 {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "NATS never caught up"
        );
        last = p;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One stored message: (subject, Shoutcue-Call-Id, payload).
type Stored = (String, String, String);

/// Every message of `stream` on `filter`, read by a new pull consumer.
async fn read_stream(js: &jetstream::Context, stream: &str, filter: &str) -> Vec<Stored> {
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: filter.into(),
            ack_policy: jetstream::consumer::AckPolicy::None,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        let mut n = 0;
        while let Some(m) = batch.next().await {
            let m = m.unwrap();
            n += 1;
            let call = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Shoutcue-Call-Id"))
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push((
                m.subject.to_string(),
                call,
                String::from_utf8(m.payload.to_vec()).unwrap(),
            ));
        }
        if n == 0 {
            return out;
        }
    }
}

fn ty(line: &str) -> String {
    serde_json::from_str::<Value>(line).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `GET path` on `addr`: the body.
async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut b = String::new();
    s.read_to_string(&mut b).await.unwrap();
    assert!(b.starts_with("HTTP/1.1 200"), "{path}: {b}");
    b.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// Parses the OpenMetrics text format strictly enough: every line a
/// comment (`# HELP`/`# TYPE`) or `name{labels} value`, and `# EOF` last;
/// returns the samples.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end:\n{text}");
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line == "# EOF" {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let name = key.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line:?}"
        );
        if let Some(labels) = key.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels.strip_prefix('{').and_then(|l| l.strip_suffix('}'));
                let inner = inner.unwrap_or_else(|| panic!("bad labels in {line:?}"));
                for pair in inner.split(',') {
                    let (k, v) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("bad label in {line:?}"));
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line:?}"
                    );
                    assert!(
                        v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                        "{line:?}"
                    );
                }
            }
        }
        let v: f64 = if value == "+Inf" {
            f64::INFINITY
        } else {
            value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}"))
        };
        assert!(
            out.insert(key.to_string(), v).is_none(),
            "sample twice: {line:?}"
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
async fn two_nodes_publish_each_public_event_once_in_call_order() {
    let bin = nats_bin();
    let dir = shoutcue_testkit::TempDir::new("serve-nats-two");
    let mut nats = Nats::new(bin, &dir.join("js"));
    nats.start().await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let mut live = client.subscribe("shoutcue.t1.>").await.unwrap();
    let (da, db) = (dir.join("a"), dir.join("b"));
    let a = node(&da, &nats.url(), "t1", "node-a").await;
    let b = node(&db, &nats.url(), "t1", "node.b").await;
    // Ids with what a subject token cannot hold, to see them escaped.
    let calls = [
        ("a.call 1", "agent-1", "continued_shout.wav", &a, &da),
        ("a-2", "agent-2", "overtalk.wav", &a, &da),
        ("b>1", "agent-3", "continued_shout.wav", &b, &db),
        ("b-2", "agent.4", "agent_raised.wav", &b, &db),
    ];
    let t0 = Instant::now();
    futures_util::future::join_all(
        calls
            .iter()
            .map(|(id, agent, fx, server, _)| fork_call(server, id, agent, fx, None)),
    )
    .await;
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut private_lines = 0;
    for (id, _, _, _, d) in &calls {
        let lines = file_lines(d, id).await;
        private_lines += lines.iter().filter(|l| is_private(l)).count();
        want.insert(
            id.to_string(),
            lines.into_iter().filter(|l| !is_private(l)).collect(),
        );
    }
    settled(&a).await;
    settled(&b).await;
    let elapsed = t0.elapsed();
    assert!(private_lines > 0, "the fixtures should give private nudges");

    // JetStream: every public line once, in the call's order, on its subject.
    let js = jetstream::new(client.clone());
    let stored = read_stream(&js, "SHOUTCUE_T1", "shoutcue.t1.call.>").await;
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (subject, call, payload) in &stored {
        assert!(
            !is_private(payload),
            "private line stored: {subject} {payload}"
        );
        assert_eq!(
            subject,
            &format!("shoutcue.t1.call.{}.{}", token(call), ty(payload)),
            "subject of {payload}"
        );
        got.entry(call.clone()).or_default().push(payload.clone());
    }
    for (id, lines) in &want {
        let mut g = got.remove(id).unwrap_or_default();
        let notes = g.iter().filter(|l| ty(l) == "incident_note").count();
        assert!(notes <= 1, "{id}: {notes} incident notes");
        g.retain(|l| ty(l) != "incident_note");
        assert_eq!(&g, lines, "{id}: stored lines differ from the call's file");
    }
    assert!(got.is_empty(), "lines of unknown calls: {got:?}");
    let alerts = read_stream(&js, "SHOUTCUE_T1", "shoutcue.t1.alert").await;
    let mut alert_calls: Vec<&str> = alerts.iter().map(|a| a.1.as_str()).collect();
    alert_calls.sort();
    assert_eq!(
        alert_calls,
        ["a.call 1", "b>1"],
        "one alert per shouting call"
    );

    // Live subjects: the same lines once each; private ones only on the
    // agent's subject; heartbeats from both nodes.
    let mut live_calls: BTreeMap<String, usize> = BTreeMap::new();
    let (mut private_seen, mut beats) = (0, BTreeMap::<String, usize>::new());
    // Until no event line for 500 ms (heartbeats go on all the while).
    let mut quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(500) {
        let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), live.next()).await
        else {
            continue;
        };
        let subject = m.subject.to_string();
        let payload = String::from_utf8(m.payload.to_vec()).unwrap();
        if subject.ends_with(".heartbeat") {
            let v: Value = serde_json::from_str(&payload).unwrap();
            assert!(v["active_calls"].is_array(), "{payload}");
            *beats
                .entry(v["node_id"].as_str().unwrap().to_string())
                .or_default() += 1;
            continue;
        }
        quiet = Instant::now();
        let call = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Shoutcue-Call-Id"))
            .map(|v| v.to_string())
            .unwrap();
        if is_private(&payload) {
            let agent = calls.iter().find(|c| c.0 == call).unwrap().1;
            assert_eq!(
                subject,
                format!("shoutcue.t1.agent.{}.private", token(agent))
            );
            private_seen += 1;
        } else {
            assert!(!subject.contains(".agent."), "{subject}: {payload}");
            if subject.contains(".call.") {
                *live_calls.entry(call).or_default() += 1;
            }
        }
    }
    assert_eq!(
        private_seen, private_lines,
        "each private line on its agent's subject once"
    );
    for (id, lines) in &want {
        let n = live_calls.get(id).copied().unwrap_or(0);
        let note = usize::from(
            stored
                .iter()
                .any(|s| &s.1 == id && ty(&s.2) == "incident_note"),
        );
        assert_eq!(n, lines.len() + note, "{id}: live lines");
    }
    assert!(
        beats.contains_key("node-a") && beats.contains_key("node.b"),
        "{beats:?}"
    );

    // /metrics: the Prometheus text format, and the counts add up.
    let m = parse_metrics(&http_get(a.bound.http.unwrap(), "/metrics").await);
    assert_eq!(
        m["shoutcue_calls_started_total{protocol=\"freeswitch\"}"],
        2.0
    );
    assert_eq!(
        m["shoutcue_calls_ended_total{protocol=\"freeswitch\"}"],
        2.0
    );
    assert_eq!(m["shoutcue_active_calls"], 0.0);
    assert_eq!(m["shoutcue_nats_connected"], 1.0);
    assert_eq!(m["shoutcue_nats_queue_depth"], 0.0);
    assert_eq!(m["shoutcue_nats_dropped_total"], 0.0);
    assert_eq!(m["shoutcue_supervisor_alerts_total"], 1.0);
    assert!(m["shoutcue_cues_total{step=\"1\"}"] >= 1.0);
    let published = m["shoutcue_nats_published_total"];
    assert!(published > 0.0);
    let count = m["shoutcue_frame_latency_seconds_count"];
    assert_eq!(
        m["shoutcue_frame_latency_seconds_bucket{le=\"+Inf\"}"],
        count
    );
    assert_eq!(m["shoutcue_frames_analysed_total"], count);
    // Both counters are exported. Late frames depend on this machine's
    // scheduling (a 100 ms hiccup of the sender is one), so only bounded
    // here; tests/protocols.rs counts a stall exactly. Nothing is padded.
    assert!(m["shoutcue_frames_late_total"] <= count);
    assert_eq!(m["shoutcue_frames_dropped_total"], 0.0);
    let buckets: Vec<f64> = m
        .iter()
        .filter(|(k, _)| k.starts_with("shoutcue_frame_latency_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() == 13 && buckets.iter().all(|&v| v <= count));
    assert!(m["shoutcue_frame_latency_seconds_sum"] > 0.0);
    let total: usize = stored.len() + alerts.len();
    eprintln!(
        "two nodes: {total} messages stored for 4 calls, all in {:.2} s from the first frame",
        elapsed.as_secs_f64()
    );
    a.drain().await;
    b.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
async fn alerts_survive_a_broker_restart_and_a_late_start() {
    let bin = nats_bin();
    let dir = shoutcue_testkit::TempDir::new("serve-nats-restart");
    let mut nats = Nats::new(bin, &dir.join("js"));
    let d = dir.join("events");
    // No broker yet: the node serves calls all the same.
    let server = node(&d, &nats.url(), "t2", "node-c").await;
    fork_call(&server, "early", "agent-1", "continued_shout.wav", None).await;
    let early = file_lines(&d, "early").await;
    assert!(early.last().unwrap().contains("\"reason\":\"hangup\""));
    assert!(
        server.nats_queue_depth() > 0,
        "the early call's lines wait for NATS"
    );
    nats.start().await;
    settled(&server).await;

    // A call at 8x real time; the broker is killed one second in and comes
    // back (same port, same store) only after the call has ended.
    let during = async {
        fork_call(
            &server,
            "during",
            "agent-2",
            "continued_shout.wav",
            Some(8.0),
        )
        .await;
    };
    let watcher = async_nats::connect(nats.url()).await.unwrap();
    let mut beats = watcher
        .subscribe("shoutcue.t2.node.node-c.heartbeat")
        .await
        .unwrap();
    let killer = async {
        // The node's heartbeat names the running call (a fleet console
        // ends the calls of a node whose heartbeats stop).
        let t0 = Instant::now();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(2), beats.next())
                .await
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(
                (v["node_id"].as_str(), v["site"].as_str()),
                (Some("node-c"), Some("t2"))
            );
            if v["active_calls"] == json!(["during"]) {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "no heartbeat names the call: {v}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = server
            .nats_stats()
            .unwrap()
            .published
            .load(std::sync::atomic::Ordering::Relaxed);
        nats.kill();
        before
    };
    let (_, published_before_kill) = tokio::join!(during, killer);
    let lines = file_lines(&d, "during").await;
    assert!(
        lines.last().unwrap().contains("\"reason\":\"hangup\""),
        "the call went on without the broker"
    );
    assert!(lines.iter().any(|l| ty(l) == "supervisor_alert"));
    let waiting = server.nats_queue_depth();
    let restarted = Instant::now();
    nats.start().await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    // A consumer started after both calls ended reads both alerts, once each.
    while read_stream(&js, "SHOUTCUE_T2", "shoutcue.t2.alert")
        .await
        .len()
        < 2
    {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "the alerts never reached the stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = restarted.elapsed();
    settled(&server).await;
    let alerts = read_stream(&js, "SHOUTCUE_T2", "shoutcue.t2.alert").await;
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.1.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["during", "early"], "every alert stored once");
    // Every public line of both calls is stored once (a line sent again
    // after the fault is stored once, by its message id), in order.
    let stored = read_stream(&js, "SHOUTCUE_T2", "shoutcue.t2.call.>").await;
    for (id, lines) in [("early", &early), ("during", &lines)] {
        let want: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| !is_private(l))
            .collect();
        let got: Vec<&str> = stored
            .iter()
            .filter(|s| s.1 == id && ty(&s.2) != "incident_note")
            .map(|s| s.2.as_str())
            .collect();
        assert_eq!(
            got, want,
            "{id}: every public line once, in the call's order"
        );
        eprintln!("{id}: {} lines stored, in the call's order", got.len());
    }
    let st = server.nats_stats().unwrap();
    assert!(st.reconnects.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert_eq!(st.dropped.load(std::sync::atomic::Ordering::Relaxed), 0);
    eprintln!(
        "broker restart: {published_before_kill} messages published in all before the kill, {waiting} lines waited; both alerts readable {:.2} s after nats-server was started again; {} retries",
        recovered.as_secs_f64(),
        st.retries.load(std::sync::atomic::Ordering::Relaxed)
    );
    server.drain().await;
}

/// Publishes `n` synthetic lines through the node's hub, line `i` to call
/// `<prefix>-<i % CALLS>` with `t` = `i`, every 50th a `supervisor_alert`;
/// returns the alerts' count.
fn flood(server: &Server, prefix: &str, n: u64) -> usize {
    let ids: Vec<std::sync::Arc<str>> =
        (0..CALLS).map(|c| format!("{prefix}-{c}").into()).collect();
    let mut alerts = 0;
    for i in 0..n {
        let kind = if i % 50 == 49 {
            alerts += 1;
            Kind::SupervisorAlert
        } else {
            Kind::ShoutStart
        };
        let ty = kind.as_str();
        let line = format!("{{\"v\":1,\"t\":{i},\"type\":\"{ty}\",\"speaker\":\"customer\"}}");
        server
            .hub()
            .publish(&ids[(i % CALLS) as usize], &None, kind, false, line);
    }
    alerts
}

/// Calls a flood is spread over.
const CALLS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
async fn a_flood_cut_by_a_broker_kill_keeps_every_alert_once_and_each_call_in_order() {
    let bin = nats_bin();
    let dir = shoutcue_testkit::TempDir::new("serve-nats-flood");
    let mut nats = Nats::new(bin, &dir.join("js"));
    nats.start().await;
    let server = node(&dir.join("events"), &nats.url(), "t3", "node-f").await;
    // Throughput first: lines published and acknowledged per second.
    let t0 = Instant::now();
    flood(&server, "warm", 5_000);
    while server.nats_queue_depth() > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "NATS never caught up"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = 5_000.0 / t0.elapsed().as_secs_f64();
    // Now a flood the broker is killed in the middle of.
    let alerts = flood(&server, "cut", 5_000);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let left = server.nats_queue_depth();
    nats.kill();
    // Down longer than the 3 s the publisher waits for an acknowledgement:
    // what was on its way fails and is sent again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    nats.start().await;
    settled(&server).await;
    let js = jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let t = |s: &Stored| {
        serde_json::from_str::<Value>(&s.2).unwrap()["t"]
            .as_u64()
            .unwrap()
    };
    let stored = read_stream(&js, "SHOUTCUE_T3", "shoutcue.t3.alert").await;
    let mut ts: Vec<u64> = stored
        .iter()
        .filter(|s| s.1.starts_with("cut-"))
        .map(t)
        .collect();
    ts.sort();
    let want: Vec<u64> = (0..5_000).filter(|i| i % 50 == 49).collect();
    assert_eq!(ts.len(), alerts);
    assert_eq!(ts, want, "every alert of the cut flood stored once");
    let st = server.nats_stats().unwrap();
    let dropped = st.dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(dropped, 0, "nothing dropped: the queue had room");
    let lines = read_stream(&js, "SHOUTCUE_T3", "shoutcue.t3.call.>").await;
    for c in 0..CALLS {
        let got: Vec<u64> = lines
            .iter()
            .filter(|s| s.1 == format!("cut-{c}"))
            .map(t)
            .collect();
        let want: Vec<u64> = (0..5_000).filter(|i| i % CALLS == c).collect();
        assert_eq!(got, want, "cut-{c}: every line once, in the call's order");
    }
    eprintln!(
        "flood: {rate:.0} lines/s published with acks (5000 lines over {CALLS} calls, debug build); broker killed with {left} lines not yet taken: all {alerts} alerts stored once, {} of 5000 lines stored, each call in order, {} retries",
        lines.iter().filter(|s| s.1.starts_with("cut-")).count(),
        st.retries.load(std::sync::atomic::Ordering::Relaxed),
    );
    server.drain().await;
}

/// Issue 27, item 5: a node stopped (SIGTERM's drain) while the broker is
/// away spills what NATS had not taken to the events folder, alerts among
/// them, and the next start sends it, every line once. Before, 25 queued
/// lines, an alert among them, were lost with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
async fn a_stop_while_the_broker_is_away_spills_and_the_next_start_sends_it() {
    let bin = nats_bin();
    let dir = shoutcue_testkit::TempDir::new("serve-nats-spill");
    let mut nats = Nats::new(bin, &dir.join("js"));
    let d = dir.join("events");
    // No broker: the lines wait, then the node is stopped.
    let server = node(&d, &nats.url(), "t4", "node-s").await;
    let alerts = flood(&server, "spill", 200);
    assert!(alerts > 0);
    server.drain().await;
    let spill = d.join(shoutcue_serve::nats::SPILL_FILE);
    let spilled = std::fs::read_to_string(&spill).expect("the drain spilled the queue");
    assert_eq!(spilled.lines().count(), 200, "every line, once");
    assert_eq!(spilled.matches("supervisor_alert").count(), alerts);

    // The broker is back; the next start sends the spill before anything.
    nats.start().await;
    let server = node(&d, &nats.url(), "t4", "node-s").await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    let t0 = Instant::now();
    loop {
        let ok = match js.get_stream("SHOUTCUE_T4").await {
            Ok(_) => {
                read_stream(&js, "SHOUTCUE_T4", "shoutcue.t4.alert")
                    .await
                    .len()
                    >= alerts
            }
            Err(_) => false,
        };
        if ok {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the spilled alerts never reached the stream"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settled(&server).await;
    assert!(!spill.exists(), "the spill is removed once queued again");
    let stored = read_stream(&js, "SHOUTCUE_T4", "shoutcue.t4.call.>").await;
    assert_eq!(stored.len(), 200, "every spilled line stored once");
    assert_eq!(
        read_stream(&js, "SHOUTCUE_T4", "shoutcue.t4.alert")
            .await
            .len(),
        alerts
    );
    server.drain().await;
}

/// Issue 27, item 6: a fleet console whose broker restarts goes on showing
/// the site's lines: none twice, none skipped. Before, it logged "consumer
/// not found" and showed nothing new while saying it was connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
async fn the_console_follows_the_stream_again_after_a_broker_restart() {
    let bin = nats_bin();
    let dir = shoutcue_testkit::TempDir::new("serve-nats-console");
    let mut nats = Nats::new(bin, &dir.join("js"));
    nats.start().await;
    let server = node(&dir.join("events"), &nats.url(), "t5", "node-p").await;
    let console = Server::start(
        ServeConfig {
            http: Some(loopback()),
            console_nats: Some(nats.url()),
            site: "t5".into(),
            ..Default::default()
        },
        ShoutModel::builtin(),
        CoachConfig::default(),
        Script::english(),
    )
    .await
    .unwrap();
    let shown = || {
        console
            .fleet_stats()
            .lines
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let wait_for = |n: u64, what: &'static str| async move {
        let t0 = Instant::now();
        while shown() < n {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "{what}: the console shows {} of {n} lines",
                shown()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    flood(&server, "before", 40);
    wait_for(40, "before the restart").await;
    nats.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.start().await;
    flood(&server, "after", 40);
    wait_for(80, "after the restart").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(shown(), 80, "a line shown twice");
    console.drain().await;
    server.drain().await;
}

/// A node that learns its lines, with an AudioSocket listener.
async fn learning_node(dir: &Path, url: &str, id: &str) -> Server {
    let cfg = ServeConfig {
        audiosocket: Some(shoutcue_serve::config::AudioSocketConfig {
            max_calls: None,
            listen: loopback(),
            pairing: shoutcue_serve::config::Pairing::RoleByte,
        }),
        http: Some(loopback()),
        events_dir: Some(dir.to_path_buf()),
        nats_url: Some(url.into()),
        site: "lines".into(),
        node_id: Some(id.into()),
        nats_heartbeat_s: 0.2,
        line_learning: true,
        ..Default::default()
    };
    start(cfg).await
}

/// One mono AudioSocket call: the UUID `[id; 16]`, the voice, a hangup.
async fn audiosocket_call(addr: SocketAddr, id: u8, pcm: &[i16]) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let frame = |kind: u8, payload: &[u8]| {
        let mut f = vec![kind];
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    s.write_all(&frame(0x01, &[id; 16])).await.unwrap();
    for chunk in pcm.chunks(160) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
        s.write_all(&frame(0x10, &bytes)).await.unwrap();
    }
    s.write_all(&frame(0x00, &[])).await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs nats-server, apt-get install nats-server (cargo test --all-features)"
)]
async fn a_sites_nodes_share_their_lines_through_the_key_value_bucket() {
    let bin = nats_bin();
    let dir = shoutcue_testkit::TempDir::new("serve-nats-lines");
    let mut nats = Nats::new(bin, &dir.join("js"));
    nats.start().await;
    let (da, db) = (dir.join("a"), dir.join("b"));
    let a = learning_node(&da, &nats.url(), "node-a").await;
    let b = learning_node(&db, &nats.url(), "node-b").await;
    // Node A hears 24 callers; node B none.
    let mut id = 0x20u8;
    for gain in [1.0, 0.5] {
        for (name, ch) in shoutcue_testkit::LINE_VOICES {
            id += 1;
            let pcm = shoutcue_testkit::fixture_voice(name, ch, gain);
            audiosocket_call(a.bound.audiosocket.unwrap(), id, &pcm).await;
        }
    }
    let gauge = |m: &BTreeMap<String, f64>, name: &str| {
        m.get(&format!("{name}{{protocol=\"audiosocket\"}}"))
            .copied()
            .unwrap_or(-1.0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let (ma, mb) = loop {
        let ma = parse_metrics(&http_get(a.bound.http.unwrap(), "/metrics").await);
        let mb = parse_metrics(&http_get(b.bound.http.unwrap(), "/metrics").await);
        // Settled: B has every sample A has (A's last call is shared at
        // A's next tick).
        let settled = gauge(&mb, "shoutcue_line_calibrated") == 1.0
            && gauge(&mb, "shoutcue_line_calls") == gauge(&ma, "shoutcue_line_calls");
        if settled || Instant::now() > deadline {
            break (ma, mb);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        gauge(&ma, "shoutcue_line_calibrated"),
        1.0,
        "node A learnt its line"
    );
    assert_eq!(
        gauge(&mb, "shoutcue_line_calibrated"),
        1.0,
        "node B took the site's line from node A's calls: {mb:?}"
    );
    assert_eq!(
        gauge(&mb, "shoutcue_line_calls"),
        gauge(&ma, "shoutcue_line_calls")
    );
    for shift in [
        "shoutcue_line_shift_alpha_db",
        "shoutcue_line_shift_centroid_st",
    ] {
        assert!(
            (gauge(&ma, shift) - gauge(&mb, shift)).abs() < 1e-3,
            "{shift}: {ma:?} {mb:?}"
        );
    }
    // Another listener learnt nothing on either node.
    assert_eq!(
        mb.get("shoutcue_line_calibrated{protocol=\"twilio\"}")
            .copied(),
        Some(0.0)
    );
    // The bucket holds node A's samples under its name, nothing of node B's.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let kv = jetstream::new(client)
        .get_key_value("shoutcue-lines-lines")
        .await
        .unwrap();
    assert!(kv.get("audiosocket.node-a").await.unwrap().is_some());
    assert!(kv.get("audiosocket.node-b").await.unwrap().is_none());
}

//! Every call's public events on NATS JetStream, for a fleet of nodes: a
//! site's supervisor console, QA and alerting read one stream instead of
//! each node's files.
//!
//! # Subjects
//!
//! | subject | what | stored |
//! | --- | --- | --- |
//! | `shoutcue.<site>.call.<call>.<type>` | each public schema-v1 line of the call (`type` is its `type`) | yes |
//! | `shoutcue.<site>.alert` | each `supervisor_alert` once more, for those who watch alerts only | yes |
//! | `shoutcue.<site>.agent.<agent>.private` | the agent's own nudges, only with `nats_private` | no |
//! | `shoutcue.<site>.node.<node>.heartbeat` | every `nats_heartbeat_s`: the node's running calls | no |
//!
//! The payload is the schema-v1 line itself (docs/SCHEMA.md), byte for
//! byte as the call's file has it; the hub-only `incident_note` line a call
//! with shouting ends with is published too, as type `incident_note`.
//! Headers carry what the line does not: `Shoutcue-Call-Id` (the call id
//! as the platform gave it), `Shoutcue-Node`, `Shoutcue-Seq` (the node's
//! order over all its lines) and `Nats-Msg-Id` (`<node>.<boot>.<seq>`, so
//! a line sent again after a broker fault is stored once).
//!
//! Call, agent and node ids become one subject token each ([`token`]):
//! ASCII letters, digits, `-` and `_` stay; every other byte (`.`, `*`,
//! `>`, whitespace, non-ASCII...) is written `~XX` (its hex), and `~`
//! itself `~7E`; an empty id is `~`. The mapping is one to one, so two
//! calls never share a subject and the id can be read back.
//!
//! Private events (about the agent's own voice) never go on a shared
//! subject: without `nats_private` they are not published at all; with it,
//! only to that agent's subject, which the stream does not store.
//!
//! # Never in the way of a call
//!
//! The calls hand their lines to an [`Outbox`] (a bounded queue, a lock
//! held for a push) and go on; one task publishes from it. When the queue
//! is full the oldest line that is not a `supervisor_alert` is dropped and
//! counted; alerts stay. A node that cannot reach NATS serves its calls
//! all the same, keeps trying (back-off up to 2 s) and publishes what
//! waited once it is through. Every stored line is published with a
//! JetStream acknowledgement; an alert is sent again until it is
//! acknowledged, another line up to three times while connected. Calls
//! are pipelined, a call's own lines go one after the other, so each
//! call's lines are stored in order even across a broker fault.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::{HeaderMap, ServerAddr};
use tokio::sync::Notify;

use crate::bus::Kind;
use crate::call::Protocol;
use crate::hub::{Forward, HubLine};
use crate::Shared;

/// Whether `s` is one subject token as this module writes them: non-empty,
/// ASCII letters, digits, `-` and `_` only.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An id as one subject token: letters, digits, `-`, `_` kept, every other
/// byte `~XX`; `""` is `~`. One to one.
pub fn token(id: &str) -> String {
    if id.is_empty() {
        return "~".into();
    }
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("~{b:02X}"));
        }
    }
    out
}

/// A `nats_url` fit for logs: any `user:password@` is written `***@`.
pub fn redacted(url: &str) -> String {
    url.split(',')
        .map(|u| {
            let u = u.trim();
            let (scheme, rest) = match u.find("://") {
                Some(i) => u.split_at(i + 3),
                None => ("", u),
            };
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}***{}", &rest[at..]),
                None => u.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The servers of a `nats_url` (several separated by commas).
pub fn server_addrs(url: &str) -> Result<Vec<ServerAddr>, String> {
    let mut out = Vec::new();
    for u in url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        out.push(
            u.parse::<ServerAddr>()
                .map_err(|e| format!("{:?} is not a NATS server address: {e}", redacted(u)))?,
        );
    }
    if out.is_empty() {
        return Err("no server address given".into());
    }
    Ok(out)
}

/// An id as a header value: as it is, or its [`token`] when it holds a
/// control character (a header cannot carry one).
pub fn header_value(id: &str) -> String {
    if id.chars().any(char::is_control) {
        token(id)
    } else {
        id.to_string()
    }
}

/// The stream a site's events are stored in.
pub fn stream_name(site: &str) -> String {
    format!("SHOUTCUE_{}", site.to_ascii_uppercase())
}

/// Counters of the publisher (read by `/metrics`).
#[derive(Debug, Default)]
pub struct NatsStats {
    /// Messages the broker took (acknowledged, or sent for the live-only subjects).
    pub published: AtomicU64,
    /// Lines dropped: the queue was full, or a line failed three times.
    pub dropped: AtomicU64,
    /// Of those, alerts (only past twice the queue's size, all alerts).
    pub dropped_alerts: AtomicU64,
    /// Publishes that failed and were tried again.
    pub retries: AtomicU64,
    /// Connections made after the first.
    pub reconnects: AtomicU64,
    /// Connected now.
    pub connected: AtomicBool,
}

/// One line on its way out.
#[derive(Clone)]
struct Item {
    line: Arc<HubLine>,
    alert: bool,
    /// For a line spilled at an earlier stop and sent again: the boot and
    /// sequence its message id was made of then, so JetStream's dedup
    /// stores it once even if that process had got it through.
    origin: Option<(u128, u64)>,
}

/// The file, in the events folder, that holds what NATS had not taken
/// when the server stopped; read back and sent at the next start.
pub const SPILL_FILE: &str = "nats-spill.jsonl";

/// One spilled line (one JSON object per line of [`SPILL_FILE`]).
#[derive(serde::Serialize, serde::Deserialize)]
struct Spilled {
    boot: String,
    seq: u64,
    call_id: String,
    agent_id: Option<String>,
    private: bool,
    line: String,
}

/// The bounded queue between the calls and the publisher.
pub struct Outbox {
    q: Mutex<VecDeque<Item>>,
    cap: usize,
    private: bool,
    notify: Notify,
    in_flight: AtomicUsize,
    /// The lines the publisher has taken and NATS has not all acknowledged.
    taken: Mutex<Vec<Item>>,
    /// This process's start, in message ids (`NODE.BOOT.SEQ`).
    boot: u128,
    /// The counters.
    pub stats: NatsStats,
}

impl Forward for Outbox {
    fn push(&self, line: &Arc<HubLine>) {
        Outbox::push(self, line);
    }
}

impl Outbox {
    /// A queue of `cap` lines; `private`: whether agents' nudges go out.
    pub fn new(cap: usize, private: bool) -> Arc<Self> {
        Arc::new(Self {
            q: Mutex::new(VecDeque::with_capacity(cap.min(65_536))),
            cap: cap.max(1),
            private,
            notify: Notify::new(),
            in_flight: AtomicUsize::new(0),
            taken: Mutex::new(Vec::new()),
            boot: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            stats: NatsStats::default(),
        })
    }

    /// Writes every line NATS has not taken (those the publisher holds,
    /// then the queue, in order) to [`SPILL_FILE`] in `dir`, appended and
    /// synced; returns (lines, alerts) written. Called at the end of a
    /// drain: a broker that is away then loses nothing.
    pub fn spill(&self, dir: &std::path::Path) -> std::io::Result<(usize, usize)> {
        use std::io::Write as _;
        let mut items: Vec<Item> = self.taken.lock().unwrap_or_else(|e| e.into_inner()).clone();
        items.extend(self.lock().drain(..));
        if items.is_empty() {
            return Ok((0, 0));
        }
        let mut text = String::new();
        for it in &items {
            let (boot, seq) = it.origin.unwrap_or((self.boot, it.line.seq));
            let s = Spilled {
                boot: boot.to_string(),
                seq,
                call_id: it.line.call_id.to_string(),
                agent_id: it.line.agent_id.as_deref().map(str::to_string),
                private: it.line.private,
                line: it.line.line.clone(),
            };
            text.push_str(&serde_json::to_string(&s).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(SPILL_FILE))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        Ok((items.len(), items.iter().filter(|i| i.alert).count()))
    }

    /// Queues the lines a previous stop spilled in `dir` (before anything
    /// of this run), with their old message ids, and removes the file;
    /// returns how many. A line that does not parse is skipped and logged.
    pub fn restore(&self, dir: &std::path::Path) -> std::io::Result<usize> {
        let path = dir.join(SPILL_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for (i, l) in text.lines().enumerate() {
            let s: Spilled = match serde_json::from_str(l) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("nats: {}: line {}: {e}: skipped", path.display(), i + 1);
                    continue;
                }
            };
            let line = Arc::new(HubLine {
                seq: s.seq,
                call_id: Arc::from(s.call_id.as_str()),
                agent_id: s.agent_id.as_deref().map(Arc::from),
                node: None,
                // A line from an earlier run's file: parsed for its type.
                kind: Kind::of_line(&s.line),
                private: s.private,
                line: s.line,
            });
            let alert = !line.private && line.kind == Kind::SupervisorAlert;
            let origin = Some((s.boot.parse().unwrap_or(0), s.seq));
            self.lock().push_back(Item {
                line,
                alert,
                origin,
            });
            n += 1;
        }
        std::fs::remove_file(&path)?;
        self.notify.notify_one();
        Ok(n)
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Item>> {
        // A panic elsewhere while holding it cannot leave the queue torn:
        // every change to it is one call on VecDeque.
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lines waiting now.
    pub fn depth(&self) -> usize {
        self.lock().len()
    }

    /// Lines waiting plus those the publisher holds (messages, when it
    /// is retrying): what NATS has not yet taken.
    pub fn pending(&self) -> usize {
        self.depth() + self.in_flight.load(Ordering::Acquire)
    }

    /// Nothing waits and nothing is on its way.
    pub fn idle(&self) -> bool {
        self.pending() == 0
    }

    /// Queues a line (never blocks on NATS). Private lines go only with
    /// `nats_private`, and only when they name an agent.
    pub fn push(&self, line: &Arc<HubLine>) {
        if line.private && (!self.private || line.agent_id.is_none()) {
            return;
        }
        let alert = !line.private && line.kind == Kind::SupervisorAlert;
        let mut q = self.lock();
        if q.len() >= self.cap {
            if let Some(i) = q.iter().position(|it| !it.alert) {
                q.remove(i);
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            } else if !alert {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            } else if q.len() >= self.cap.saturating_mul(2) {
                q.pop_front();
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                self.stats.dropped_alerts.fetch_add(1, Ordering::Relaxed);
            }
        }
        q.push_back(Item {
            line: line.clone(),
            alert,
            origin: None,
        });
        drop(q);
        self.notify.notify_one();
    }

    /// Up to `n` lines, waiting for the first.
    async fn take(&self, n: usize) -> Vec<Item> {
        loop {
            let notified = self.notify.notified();
            {
                let mut q = self.lock();
                if !q.is_empty() {
                    let k = n.min(q.len());
                    self.in_flight.store(k, Ordering::Release);
                    let items: Vec<Item> = q.drain(..k).collect();
                    *self.taken.lock().unwrap_or_else(|e| e.into_inner()) = items.clone();
                    return items;
                }
            }
            notified.await;
        }
    }
}

/// One message to send.
struct Msg {
    subject: String,
    headers: HeaderMap,
    payload: bytes::Bytes,
    alert: bool,
    /// Stored (JetStream, acknowledged) or live only (core publish).
    stored: bool,
    /// Failures while connected.
    tries: u32,
    /// The call: its messages go one at a time, in order.
    call: Arc<str>,
    /// Sent in the last batch and not acknowledged (else held back behind
    /// an earlier message of its call that was).
    failed: bool,
}

/// What the publisher needs to know.
struct Plan {
    site: String,
    node: String,
    node_token: String,
    boot: u128,
}

impl Outbox {
    /// The publisher got every line it took through.
    fn all_taken(&self) {
        self.in_flight.store(0, Ordering::Release);
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Plan {
    fn messages(&self, it: &Item) -> Vec<Msg> {
        let l = &it.line;
        let mut h = HeaderMap::new();
        h.insert("Shoutcue-Call-Id", header_value(&l.call_id));
        h.insert("Shoutcue-Node", header_value(&self.node));
        h.insert("Shoutcue-Seq", l.seq.to_string().as_str());
        let payload = bytes::Bytes::from(l.line.clone().into_bytes());
        let site = &self.site;
        if l.private {
            let agent = l.agent_id.as_deref().unwrap_or("");
            return vec![Msg {
                subject: format!("shoutcue.{site}.agent.{}.private", token(agent)),
                headers: h,
                payload,
                alert: false,
                stored: false,
                tries: 0,
                call: l.call_id.clone(),
                failed: false,
            }];
        }
        let ty = l.kind.as_str();
        let (boot, seq) = it.origin.unwrap_or((self.boot, l.seq));
        let id = format!("{}.{boot}.{seq}", self.node_token);
        let mut out = Vec::with_capacity(2);
        if it.alert {
            let mut ha = h.clone();
            ha.insert("Nats-Msg-Id", format!("{id}.alert").as_str());
            out.push(Msg {
                subject: format!("shoutcue.{site}.alert"),
                headers: ha,
                payload: payload.clone(),
                alert: true,
                stored: true,
                tries: 0,
                call: l.call_id.clone(),
                failed: false,
            });
        }
        h.insert("Nats-Msg-Id", id.as_str());
        out.insert(
            0,
            Msg {
                subject: format!("shoutcue.{site}.call.{}.{ty}", token(&l.call_id)),
                headers: h,
                payload,
                alert: it.alert,
                stored: true,
                tries: 0,
                call: l.call_id.clone(),
                failed: false,
            },
        );
        out
    }
}

/// Lines taken from the queue at once.
const BATCH: usize = 256;

/// A line that is not an alert is dropped after this many failures while connected.
const MAX_TRIES: u32 = 3;

/// Connects (in the background, for as long as it takes), makes the stream
/// if missing, and publishes the outbox and the heartbeats until aborted.
pub async fn run(shared: Arc<Shared>, outbox: Arc<Outbox>) {
    let cfg = &shared.cfg;
    let Some(url) = cfg.nats_url.as_deref() else {
        return;
    };
    let addrs = match server_addrs(url) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("nats_url: {e}: not publishing");
            return;
        }
    };
    let node = cfg.node_id();
    let plan = Plan {
        site: cfg.site.clone(),
        node_token: token(&node),
        node: node.clone(),
        boot: outbox.boot,
    };
    let first = Arc::new(AtomicBool::new(true));
    let ob = outbox.clone();
    let opts = async_nats::ConnectOptions::new()
        .name(format!("shoutcue {node}"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|n| {
            Duration::from_millis(100u64.saturating_mul(1 << n.min(5))).min(Duration::from_secs(2))
        })
        .event_callback(move |ev| {
            let ob = ob.clone();
            let first = first.clone();
            async move {
                match ev {
                    async_nats::Event::Connected => {
                        ob.stats.connected.store(true, Ordering::Relaxed);
                        if !first.swap(false, Ordering::Relaxed) {
                            ob.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                        }
                        tracing::info!("nats: connected");
                    }
                    async_nats::Event::Disconnected | async_nats::Event::Closed => {
                        ob.stats.connected.store(false, Ordering::Relaxed);
                        tracing::warn!("nats: disconnected; events wait in the queue");
                    }
                    other => tracing::warn!("nats: {other}"),
                }
            }
        });
    let client = match opts.connect(addrs).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "nats {}: cannot connect: {e}: not publishing",
                redacted(url)
            );
            return;
        }
    };
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeats(
        shared.clone(),
        client.clone(),
        node,
    )));
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(3))
        .ack_timeout(Duration::from_secs(3))
        .build(client.clone());
    let _lines = shared.lines.is_some().then(|| {
        AbortOnDrop(tokio::spawn(share_lines(
            shared.clone(),
            client.clone(),
            js.clone(),
        )))
    });
    let stream = jetstream::stream::Config {
        name: stream_name(&cfg.site),
        subjects: vec![
            format!("shoutcue.{}.call.>", cfg.site),
            format!("shoutcue.{}.alert", cfg.site),
        ],
        max_age: Duration::from_secs_f64(cfg.nats_max_age_s),
        max_bytes: i64::try_from(cfg.nats_max_bytes)
            .ok()
            .filter(|&b| b > 0)
            .unwrap_or(-1),
        duplicate_window: Duration::from_secs(120),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    };
    let mut stream_ok = false;
    let mut batch: Vec<Msg> = Vec::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        // The stream first (so consumers can bind before the first call),
        // and again after a failed batch.
        if batch.is_empty() && stream_ok {
            let items = outbox.take(BATCH).await;
            batch = items.iter().flat_map(|it| plan.messages(it)).collect();
        }
        wait_connected(&client).await;
        if !stream_ok {
            match js.get_or_create_stream(stream.clone()).await {
                Ok(mut st) => {
                    stream_ok = true;
                    let covered = match st.info().await {
                        Ok(i) => stream
                            .subjects
                            .iter()
                            .all(|s| i.config.subjects.contains(s)),
                        Err(_) => true,
                    };
                    if covered {
                        tracing::info!(stream = %stream.name, "nats: stream ready");
                    } else {
                        tracing::warn!(
                            stream = %stream.name,
                            want = ?stream.subjects,
                            "nats: the stream exists with other subjects: lines it does not take are retried, then dropped (alerts retried for ever)"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(stream = %stream.name, "nats: cannot make the stream: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let failed = send(&client, &js, std::mem::take(&mut batch), &outbox.stats).await;
        if failed.is_empty() {
            outbox.all_taken();
            backoff = Duration::from_millis(100);
            continue;
        }
        let connected = client.connection_state() == async_nats::connection::State::Connected;
        tracing::warn!(
            failed = failed.len(),
            connected,
            "nats: messages not acknowledged; sending them again"
        );
        for mut m in failed {
            if m.failed {
                outbox.stats.retries.fetch_add(1, Ordering::Relaxed);
                if connected {
                    m.tries += 1;
                }
            }
            m.failed = false;
            if m.alert || m.tries < MAX_TRIES {
                batch.push(m);
            } else {
                outbox.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if batch.is_empty() {
            outbox.all_taken();
        } else {
            outbox.in_flight.store(batch.len(), Ordering::Release);
        }
        // The stream may be gone (a broker that lost its store): make it again.
        stream_ok = false;
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Ends the heartbeats with the publisher.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends a batch and returns what did not get through, each call's in its
/// order. Calls are pipelined (one message of each call per round, all
/// acknowledged together), a call's own messages go one round after the
/// other: a message that fails holds its call's later ones back, so a
/// call's lines are stored in order even across a broker fault.
async fn send(
    client: &async_nats::Client,
    js: &jetstream::Context,
    batch: Vec<Msg>,
    stats: &NatsStats,
) -> Vec<Msg> {
    let mut index: std::collections::HashMap<Arc<str>, usize> = std::collections::HashMap::new();
    let mut calls: Vec<VecDeque<Msg>> = Vec::new();
    for m in batch {
        let i = *index.entry(m.call.clone()).or_insert_with(|| {
            calls.push(VecDeque::new());
            calls.len() - 1
        });
        calls[i].push_back(m);
    }
    let mut failed = Vec::new();
    loop {
        let round: Vec<(usize, Msg)> = calls
            .iter_mut()
            .enumerate()
            .filter_map(|(i, q)| q.pop_front().map(|m| (i, m)))
            .collect();
        if round.is_empty() {
            return failed;
        }
        for (i, mut m, r) in send_round(client, js, round).await {
            match r {
                Ok(()) => {
                    stats.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(subject = %m.subject, "nats: publish failed: {e}");
                    m.failed = true;
                    failed.push(m);
                    failed.extend(calls[i].drain(..));
                }
            }
        }
    }
}

/// Sends one message per call, pipelined; each with its outcome.
async fn send_round(
    client: &async_nats::Client,
    js: &jetstream::Context,
    round: Vec<(usize, Msg)>,
) -> Vec<(usize, Msg, Result<(), String>)> {
    let mut pending = Vec::with_capacity(round.len());
    for (i, m) in round {
        let r = if m.stored {
            js.send_publish(
                m.subject.clone(),
                jetstream::message::PublishMessage::build()
                    .payload(m.payload.clone())
                    .headers(m.headers.clone()),
            )
            .await
            .map(Some)
            .map_err(|e| e.to_string())
        } else {
            client
                .publish_with_headers(m.subject.clone(), m.headers.clone(), m.payload.clone())
                .await
                .map(|_| None)
                .map_err(|e| e.to_string())
        };
        pending.push((i, m, r));
    }
    // All acknowledgements at once: each one's timeout starts when it is
    // awaited, so one by one a dead broker would cost 3 s per message.
    let acks = pending.into_iter().map(|(i, m, r)| async move {
        let r = match r {
            Ok(Some(ack)) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        (i, m, r)
    });
    futures_util::future::join_all(acks).await
}

/// The JetStream key-value bucket where a site's nodes share their line
/// samples (`line_learning`): key `<listener>.<node>`, value this node's
/// recent samples of that listener.
pub fn lines_bucket(site: &str) -> String {
    format!("shoutcue-lines-{site}")
}

/// How long a node's samples stay in the bucket after its last update: a
/// node gone for good stops counting.
const LINES_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// One sample as stored: F0 (st), alpha ratio (dB), centroid (st).
type Stored3 = [f32; 3];

/// Every `nats_heartbeat_s`: puts this node's samples of each listener in
/// the site's bucket (when they changed), reads the other nodes', and hands
/// them to the learner. Off the call path: a slow or absent broker only
/// delays the shared line, never a call.
async fn share_lines(shared: Arc<Shared>, client: async_nats::Client, js: jetstream::Context) {
    let Some(lines) = shared.lines.as_ref() else {
        return;
    };
    let cfg = &shared.cfg;
    let me = token(&cfg.node_id());
    let protocols = Protocol::ALL;
    let mut sent = [0u64; 4];
    let mut store = None;
    let mut tick = heartbeat_interval(cfg.nats_heartbeat_s);
    loop {
        connected_tick(&mut tick, &client).await;
        if store.is_none() {
            match lines_store(&js, &lines_bucket(&cfg.site)).await {
                Ok(s) => store = Some(s),
                Err(e) => {
                    tracing::warn!("nats: line samples bucket: {e}");
                    continue;
                }
            }
        }
        let Some(kv) = &store else { continue };
        for p in protocols {
            let (version, own) = lines.own_samples(p);
            if version != sent[p.index()] {
                let body: Vec<Stored3> = own
                    .iter()
                    .map(|b| [b.f0_st, b.alpha_db, b.centroid_st])
                    .collect();
                match serde_json::to_vec(&body) {
                    Ok(bytes) => match kv.put(format!("{}.{me}", p.as_str()), bytes.into()).await {
                        Ok(_) => sent[p.index()] = version,
                        Err(e) => tracing::debug!("nats: line samples not put: {e}"),
                    },
                    Err(e) => tracing::debug!("nats: line samples: {e}"),
                }
            }
        }
        // Bounded: an empty bucket's key listing can wait for entries that
        // never come; the next tick tries again.
        match tokio::time::timeout(Duration::from_secs(2), remote_samples(kv, &me)).await {
            Ok(Ok(mut remote)) => {
                for p in protocols {
                    lines.set_remote(p, std::mem::take(&mut remote[p.index()]));
                }
            }
            Ok(Err(e)) => tracing::debug!("nats: other nodes' line samples not read: {e}"),
            Err(_) => tracing::debug!("nats: other nodes' line samples: no answer in 2 s"),
        }
    }
}

/// The site's bucket, made as the stream the key-value API makes
/// (`KV_<bucket>` on `$KV.<bucket>.>`, one message per key) and then bound
/// as a store. Made by hand because `create_key_value` cannot read the
/// answer of Debian's nats-server 2.9 (async-nats 0.46: "did not match any
/// variant"), while a stream's creation and the store's use work there.
async fn lines_store(
    js: &jetstream::Context,
    bucket: &str,
) -> Result<jetstream::kv::Store, String> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("shoutcue line_learning: each node's samples per listener".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: LINES_MAX_AGE,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    js.get_key_value(bucket).await.map_err(|e| e.to_string())
}

/// The other nodes' samples in the bucket, per listener (by protocol index).
async fn remote_samples(
    kv: &jetstream::kv::Store,
    me: &str,
) -> Result<[Vec<crate::line::Sample>; 4], String> {
    use futures_util::StreamExt as _;
    let mut keys = kv.keys().await.map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    while let Some(k) = keys.next().await {
        names.push(k.map_err(|e| e.to_string())?);
    }
    let mut out: [Vec<crate::line::Sample>; 4] = Default::default();
    for k in names {
        let Some((listener, node)) = k.split_once('.') else {
            continue;
        };
        let Some(p) = Protocol::ALL.into_iter().find(|p| p.as_str() == listener) else {
            continue;
        };
        if node == me {
            continue;
        }
        let Some(bytes) = kv.get(k.as_str()).await.map_err(|e| e.to_string())? else {
            continue;
        };
        // A value that does not parse (another version, a hand-made key) is
        // skipped, not trusted.
        let Ok(stored) = serde_json::from_slice::<Vec<Stored3>>(&bytes) else {
            tracing::debug!("nats: line samples under {k} do not parse: skipped");
            continue;
        };
        out[p.index()].extend(
            stored
                .into_iter()
                .take(crate::line::KEEP_CALLS)
                .filter(|s| s.iter().all(|x| x.is_finite()))
                .map(|[f0_st, alpha_db, centroid_st]| crate::line::Sample {
                    f0_st,
                    alpha_db,
                    level_db: 0.0,
                    centroid_st,
                    own: true,
                }),
        );
    }
    Ok(out)
}

/// A tick every `seconds` (`nats_heartbeat_s`), late ticks not bunched.
fn heartbeat_interval(seconds: f64) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(seconds));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Waits for the next tick at which the client is connected.
async fn connected_tick(tick: &mut tokio::time::Interval, client: &async_nats::Client) {
    loop {
        tick.tick().await;
        if client.connection_state() == async_nats::connection::State::Connected {
            return;
        }
    }
}

async fn wait_connected(client: &async_nats::Client) {
    while client.connection_state() != async_nats::connection::State::Connected {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every `nats_heartbeat_s`, the node's running calls on
/// `shoutcue.<site>.node.<node>.heartbeat`: a fleet console that hears no
/// heartbeat for a while can end that node's calls (reason `disconnect`).
async fn heartbeats(shared: Arc<Shared>, client: async_nats::Client, node: String) {
    let cfg = &shared.cfg;
    let subject = format!("shoutcue.{}.node.{}.heartbeat", cfg.site, token(&node));
    let mut tick = heartbeat_interval(cfg.nats_heartbeat_s);
    loop {
        connected_tick(&mut tick, &client).await;
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let body = serde_json::json!({
            "v": 1,
            "type": "node_heartbeat",
            "node_id": node,
            "site": cfg.site,
            "unix_time": unix,
            "interval_s": cfg.nats_heartbeat_s,
            "draining": shared.draining.load(Ordering::Relaxed),
            "active_calls": shared.hub.active_call_ids(),
        })
        .to_string();
        if let Err(e) = client.publish(subject.clone(), body.into()).await {
            tracing::debug!("nats: heartbeat not sent: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, ty: &str, private: bool) -> Arc<HubLine> {
        Arc::new(HubLine {
            seq,
            call_id: Arc::from("c"),
            agent_id: Some(Arc::from("a")),
            node: None,
            kind: Kind::of_line(&format!("{{\"type\":\"{ty}\"}}")),
            private,
            line: format!("{{\"v\":1,\"t\":1.0,\"type\":\"{ty}\"}}"),
        })
    }

    #[test]
    fn tokens_are_one_to_one_and_safe() {
        assert_eq!(token("abc-DEF_1"), "abc-DEF_1");
        assert_eq!(token("a.b c*>"), "a~2Eb~20c~2A~3E");
        assert_eq!(token("~"), "~7E");
        assert_eq!(token(""), "~");
        assert_eq!(token("é"), "~C3~A9");
        assert_ne!(token("a.b"), token("a_b"));
        for id in ["a.b", "x y", "*", ">", "\t", "ü.>"] {
            let t = token(id);
            assert!(!t.contains(['.', '*', '>', ' ', '\t']), "{t}");
        }
    }

    #[test]
    fn the_config_file_takes_the_nats_keys() {
        let c: crate::ServeConfig = toml::from_str(
            "nats_url = \"nats://n1:4222,nats://n2:4222\"\nsite = \"paris\"\nnode_id = \"p-3\"\n\
             nats_queue = 500\nnats_private = true\nnats_max_age_s = 3600.0\n\
             nats_max_bytes = 0\nnats_heartbeat_s = 2.0\n[twilio]\nlisten = \"127.0.0.1:0\"\n",
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(
            server_addrs(c.nats_url.as_deref().unwrap()).unwrap().len(),
            2
        );
        assert_eq!((c.site.as_str(), c.node_id().as_str()), ("paris", "p-3"));
        assert_eq!(
            (c.nats_queue, c.nats_private, c.nats_max_bytes),
            (500, true, 0)
        );
        let d: crate::ServeConfig = toml::from_str("[twilio]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        assert_eq!(
            (d.site.as_str(), d.nats_queue, d.nats_private),
            ("default", 10_000, false)
        );
        assert_eq!(stream_name(&c.site), "SHOUTCUE_PARIS");
    }

    #[test]
    fn bad_nats_settings_are_refused_by_name() {
        let ok = crate::ServeConfig {
            twilio: Some(crate::config::TwilioConfig {
                max_calls: None,
                listen: "127.0.0.1:0".parse().unwrap(),
                auth_token: None,
                public_url: None,
            }),
            nats_url: Some("nats://127.0.0.1:4222".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        for (cfg, word) in [
            (
                crate::ServeConfig {
                    site: "a.b".into(),
                    ..ok.clone()
                },
                "site",
            ),
            (
                crate::ServeConfig {
                    site: String::new(),
                    ..ok.clone()
                },
                "site",
            ),
            (
                crate::ServeConfig {
                    nats_url: Some("nats://[oops".into()),
                    ..ok.clone()
                },
                "nats_url",
            ),
            (
                crate::ServeConfig {
                    nats_queue: 0,
                    ..ok.clone()
                },
                "nats_queue",
            ),
            (
                crate::ServeConfig {
                    nats_heartbeat_s: 0.0,
                    ..ok.clone()
                },
                "nats_heartbeat_s",
            ),
        ] {
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(word), "{e}");
        }
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redacted("nats://u:secret@h:4222, nats://h2:4222"),
            "nats://***@h:4222,nats://h2:4222"
        );
        assert_eq!(redacted("h:4222"), "h:4222");
        let e = server_addrs("nats://u:secret@[bad").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_non_alert_and_keeps_alerts() {
        let o = Outbox::new(3, false);
        o.push(&line(1, "cue", false));
        o.push(&line(2, "supervisor_alert", false));
        o.push(&line(3, "calm", false));
        o.push(&line(4, "cue", false));
        let seqs: Vec<u64> = o.lock().iter().map(|i| i.line.seq).collect();
        assert_eq!(seqs, vec![2, 3, 4]);
        o.push(&line(5, "supervisor_alert", false));
        o.push(&line(6, "supervisor_alert", false));
        let seqs: Vec<u64> = o.lock().iter().map(|i| i.line.seq).collect();
        assert_eq!(seqs, vec![2, 5, 6]);
        o.push(&line(7, "cue", false));
        assert_eq!(o.depth(), 3, "a line is dropped when only alerts wait");
        assert_eq!(o.stats.dropped.load(Ordering::Relaxed), 4);
        assert_eq!(o.stats.dropped_alerts.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn private_lines_go_only_when_asked() {
        let o = Outbox::new(10, false);
        o.push(&line(1, "agent_nudge", true));
        assert_eq!(o.depth(), 0);
        let o = Outbox::new(10, true);
        o.push(&line(1, "agent_nudge", true));
        assert_eq!(o.depth(), 1);
        let plan = Plan {
            site: "s".into(),
            node: "n".into(),
            node_token: "n".into(),
            boot: 1,
        };
        let items = o.lock().drain(..).collect::<Vec<_>>();
        let m = plan.messages(&items[0]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].subject, "shoutcue.s.agent.a.private");
        assert!(!m[0].stored);
    }

    #[test]
    fn alerts_go_to_the_call_and_the_alert_subject() {
        let plan = Plan {
            site: "s".into(),
            node: "n".into(),
            node_token: "n".into(),
            boot: 1,
        };
        let it = Item {
            line: line(9, "supervisor_alert", false),
            alert: true,
            origin: None,
        };
        let m = plan.messages(&it);
        let subs: Vec<&str> = m.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(
            subs,
            ["shoutcue.s.call.c.supervisor_alert", "shoutcue.s.alert"]
        );
        assert!(m.iter().all(|m| m.stored && m.alert));
        let ids: Vec<_> = m
            .iter()
            .map(|m| m.headers.get("Nats-Msg-Id").map(|v| v.to_string()))
            .collect();
        assert_eq!(ids[0].as_deref(), Some("n.1.9"));
        assert_eq!(ids[1].as_deref(), Some("n.1.9.alert"));
    }
}

//! The supervisor console for a whole site: every node's calls, read back
//! from NATS instead of from this process's own calls.
//!
//! `shoutcue console --nats URL` (or `serve` with `console_nats`) follows
//! the site's JetStream stream (`shoutcue.<site>.call.>`, from
//! `console_lookback_s` ago, so calls already running when the console
//! starts show up) and the nodes' heartbeats, and feeds what it reads to
//! the console page exactly as a node feeds its own calls. Nothing is
//! published back: the console only reads.
//!
//! A node that dies cannot say its calls ended. The console ends them
//! itself, with a `call_end` of reason `disconnect` and `"lost_node"` set,
//! when
//! - the node has sent no heartbeat for `node_timeout_s` (default three
//!   of the intervals it announces; fifteen seconds for a node not heard
//!   since the console started), or
//! - the node is alive (restarted under the same name, say) but a heartbeat
//!   no longer lists a call the console last heard of more than two
//!   intervals before that heartbeat.
//!
//! After that, the call's own `call_end` and incident note still pass if
//! they arrive (a console that was far behind the stream), every other
//! line of it is dropped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::bus::{self, Kind, LostCallEndLine};
use crate::hub::Hub;
use crate::nats::{redacted, server_addrs, stream_name};
use crate::Shared;

/// Counters of the fleet console (read by `/healthz` and `/metrics`).
#[derive(Debug, Default)]
pub struct FleetStats {
    /// Connected to NATS now.
    pub connected: AtomicBool,
    /// Event lines read from the stream.
    pub lines: AtomicU64,
    /// Heartbeats heard.
    pub heartbeats: AtomicU64,
    /// Nodes heard within their timeout.
    pub nodes_alive: AtomicUsize,
    /// Calls the console ended because their node went silent or dropped them.
    pub calls_lost: AtomicU64,
}

/// A node's heartbeat, as `nats::heartbeats` sends it.
#[derive(Debug, Deserialize)]
pub struct Heartbeat {
    /// The node's name.
    pub node_id: String,
    /// Seconds between its heartbeats.
    #[serde(default)]
    pub interval_s: f64,
    /// The calls it runs now.
    #[serde(default)]
    pub active_calls: Vec<String>,
}

/// Seconds a node never heard from is given before its calls are ended.
const UNHEARD_TIMEOUT_S: f64 = 15.0;

#[derive(Debug)]
struct CallSeen {
    node: String,
    /// The call's time in its last line, s.
    t: f64,
    /// When its last line came.
    at: Instant,
}

#[derive(Debug)]
struct NodeSeen {
    at: Instant,
    interval_s: f64,
}

/// What the console knows of the calls and the nodes: which call runs on
/// which node, and when each was last heard. Pure state (no I/O), so the
/// rules above are tested without a broker.
#[derive(Debug)]
pub struct Tracker {
    calls: HashMap<String, CallSeen>,
    nodes: HashMap<String, NodeSeen>,
    lost: HashSet<String>,
    started: Instant,
    timeout_s: Option<f64>,
}

/// A call the console ended: its node, and the `call_end` line to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    /// The call.
    pub call_id: String,
    /// The node it ran on.
    pub node: String,
    /// The schema-v1 `call_end` line (reason `disconnect`, `lost_node` set).
    pub line: String,
}

impl Tracker {
    /// A tracker started at `now`; `timeout_s` overrides the nodes' own
    /// three intervals.
    pub fn new(now: Instant, timeout_s: Option<f64>) -> Self {
        Self {
            calls: HashMap::new(),
            nodes: HashMap::new(),
            lost: HashSet::new(),
            started: now,
            timeout_s,
        }
    }

    /// One line of `call` from `node`: whether to show it.
    pub fn line(&mut self, node: &str, call: &str, line: &str, now: Instant) -> bool {
        // Another node's line: parsed for its type (the one boundary where
        // a line comes without its kind).
        let kind = Kind::of_line(line);
        if self.lost.contains(call) {
            // Ended here already; its own end and note are still news.
            return matches!(kind, Kind::CallEnd | Kind::IncidentNote);
        }
        if kind == Kind::CallEnd {
            self.calls.remove(call);
            return true;
        }
        if kind == Kind::IncidentNote {
            return true;
        }
        let t = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("t").and_then(serde_json::Value::as_f64));
        let seen = self
            .calls
            .entry(call.to_owned())
            .or_insert_with(|| CallSeen {
                node: node.to_owned(),
                t: 0.0,
                at: now,
            });
        seen.node = node.to_owned();
        seen.at = now;
        if let Some(t) = t.filter(|t| t.is_finite() && *t >= seen.t) {
            seen.t = t;
        }
        true
    }

    /// A heartbeat heard at `now`; the calls it shows to have gone.
    pub fn heartbeat(&mut self, hb: &Heartbeat, now: Instant) -> Vec<Lost> {
        let interval = if hb.interval_s.is_finite() && hb.interval_s > 0.0 {
            hb.interval_s
        } else {
            5.0
        };
        self.nodes.insert(
            hb.node_id.clone(),
            NodeSeen {
                at: now,
                interval_s: interval,
            },
        );
        let listed: HashSet<&str> = hb.active_calls.iter().map(String::as_str).collect();
        let gone: Vec<String> = self
            .calls
            .iter()
            .filter(|(id, c)| {
                c.node == hb.node_id
                    && !listed.contains(id.as_str())
                    && now.saturating_duration_since(c.at).as_secs_f64() > 2.0 * interval
            })
            .map(|(id, _)| id.clone())
            .collect();
        gone.into_iter().filter_map(|id| self.end(&id)).collect()
    }

    /// The calls whose node has been silent too long at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Lost> {
        let gone: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                let (last, limit) = match self.nodes.get(&c.node) {
                    Some(n) => (n.at, self.timeout_s.unwrap_or(3.0 * n.interval_s)),
                    None => (
                        self.started.max(c.at),
                        self.timeout_s.unwrap_or(UNHEARD_TIMEOUT_S),
                    ),
                };
                now.saturating_duration_since(last).as_secs_f64() > limit
            })
            .map(|(id, _)| id.clone())
            .collect();
        gone.into_iter().filter_map(|id| self.end(&id)).collect()
    }

    /// Nodes heard within their timeout at `now`.
    pub fn nodes_alive(&self, now: Instant) -> usize {
        self.nodes
            .values()
            .filter(|n| {
                now.saturating_duration_since(n.at).as_secs_f64()
                    <= self.timeout_s.unwrap_or(3.0 * n.interval_s)
            })
            .count()
    }

    /// Calls running as far as the console knows.
    pub fn running(&self) -> usize {
        self.calls.len()
    }

    fn end(&mut self, id: &str) -> Option<Lost> {
        let c = self.calls.remove(id)?;
        // The call was running when its node was last heard: its time then
        // (a calm call's last line may be minutes old).
        let alive = self
            .nodes
            .get(&c.node)
            .map_or(0.0, |n| n.at.saturating_duration_since(c.at).as_secs_f64());
        let t = ((c.t + alive) * 100.0).round() / 100.0;
        self.lost.insert(id.to_owned());
        // Bounded: a console that runs for months forgets the oldest.
        if self.lost.len() > 100_000 {
            self.lost.clear();
            self.lost.insert(id.to_owned());
        }
        let line = bus::render(&LostCallEndLine {
            v: bus::V,
            t,
            kind: Kind::CallEnd.as_str(),
            duration: t,
            reason: "disconnect",
            lost_node: &c.node,
        });
        Some(Lost {
            call_id: id.to_owned(),
            node: c.node,
            line,
        })
    }
}

/// Follows the site on NATS and feeds `console` until aborted. Never
/// returns on a broker fault: it waits and goes on.
pub(crate) async fn follow(shared: Arc<Shared>, console: Arc<Hub>, url: String) {
    let stats = &shared.fleet;
    let cfg = &shared.cfg;
    let site = cfg.site.clone();
    let addrs = match server_addrs(&url) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("console_nats: {e}: the console shows nothing");
            return;
        }
    };
    // Connections made so far: after a reconnect the consumer is opened
    // again, because a restarted broker may have lost it (its pull then
    // neither ends nor errs: the console would wait for ever).
    let connects = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = connects.clone();
    let opts = async_nats::ConnectOptions::new()
        .name("shoutcue console")
        .event_callback(move |ev| {
            let counter = counter.clone();
            async move {
                if matches!(ev, async_nats::Event::Connected) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|n| {
            Duration::from_millis(100u64.saturating_mul(1 << n.min(5))).min(Duration::from_secs(2))
        });
    let client = match opts.connect(addrs).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("console nats {}: cannot connect: {e}", redacted(&url));
            return;
        }
    };
    tracing::info!(site = %site, "console: following the site on nats {}", redacted(&url));
    let mut heartbeats = loop {
        match client
            .subscribe(format!("shoutcue.{site}.node.*.heartbeat"))
            .await
        {
            Ok(s) => break s,
            Err(e) => {
                tracing::warn!("console: cannot subscribe to heartbeats: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let js = jetstream::new(client.clone());
    let lookback = Duration::from_secs_f64(cfg.console_lookback_s);
    let start = time::OffsetDateTime::now_utc() - lookback;
    let mut messages = open_stream(&js, &site, From::Time(start)).await;
    // The stream position of the last line shown: a consumer opened again
    // goes on from the next one, with no line twice and none skipped.
    let mut last_seq: Option<u64> = None;
    // Errors in a row from the consumer; past REOPEN_AFTER_ERRORS it is
    // opened again (a restarted broker may have lost it: "consumer not
    // found", for ever, while the client says connected).
    let mut errors = 0u32;
    let mut seen_connects = connects.load(Ordering::Relaxed);
    stats.connected.store(true, Ordering::Relaxed);
    let mut tracker = Tracker::new(Instant::now(), cfg.node_timeout_s);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let show = |lost: Vec<Lost>| {
        for l in lost {
            stats.calls_lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(call = %l.call_id, node = %l.node, "console: node lost: call ended as disconnected");
            console.publish_from(
                &l.call_id.as_str().into(),
                &None,
                Some(&l.node),
                Kind::CallEnd,
                l.line,
            );
        }
    };
    loop {
        tokio::select! {
            m = messages.next() => match m {
                Some(Ok(m)) => {
                    errors = 0;
                    if let Ok(info) = m.info() {
                        last_seq = Some(info.stream_sequence);
                    }
                    stats.lines.fetch_add(1, Ordering::Relaxed);
                    let h = m.headers.as_ref();
                    let get = |k: &str| h.and_then(|h| h.get(k)).map(|v| v.to_string());
                    let (Some(call), node) = (get("Shoutcue-Call-Id"), get("Shoutcue-Node").unwrap_or_default()) else {
                        tracing::debug!(subject = %m.subject, "console: a line without a call id: skipped");
                        continue;
                    };
                    let Ok(line) = std::str::from_utf8(&m.payload) else {
                        tracing::warn!(subject = %m.subject, "console: a line that is not UTF-8: skipped");
                        continue;
                    };
                    if tracker.line(&node, &call, line, Instant::now()) {
                        console.publish_from(&call.as_str().into(), &None, Some(&node), Kind::of_line(line), line.to_owned());
                    }
                }
                Some(Err(e)) => {
                    stats.connected.store(false, Ordering::Relaxed);
                    errors += 1;
                    tracing::warn!(errors, "console: stream: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if errors >= REOPEN_AFTER_ERRORS {
                        errors = 0;
                        let from = last_seq.map_or(From::Time(start), |s| From::Seq(s + 1));
                        tracing::warn!("console: opening the stream's consumer again, from {from:?}");
                        messages = open_stream(&js, &site, from).await;
                        stats.connected.store(true, Ordering::Relaxed);
                    }
                }
                None => {
                    // The ordered consumer gave up: open it again after the
                    // last line shown.
                    stats.connected.store(false, Ordering::Relaxed);
                    let from = last_seq.map_or(From::Time(start), |s| From::Seq(s + 1));
                    messages = open_stream(&js, &site, from).await;
                    stats.connected.store(true, Ordering::Relaxed);
                }
            },
            hb = heartbeats.next() => {
                let Some(hb) = hb else { continue };
                match serde_json::from_slice::<Heartbeat>(&hb.payload) {
                    Ok(hb) => {
                        stats.heartbeats.fetch_add(1, Ordering::Relaxed);
                        show(tracker.heartbeat(&hb, Instant::now()));
                    }
                    Err(e) => tracing::warn!(subject = %hb.subject, "console: a heartbeat that does not parse: {e}"),
                }
            }
            _ = tick.tick() => {
                let c = connects.load(Ordering::Relaxed);
                if c > seen_connects.max(1) {
                    let from = last_seq.map_or(From::Time(start), |s| From::Seq(s + 1));
                    tracing::warn!("console: reconnected to nats: following the stream again from {from:?}");
                    messages = open_stream(&js, &site, from).await;
                    errors = 0;
                }
                seen_connects = c;
                let now = Instant::now();
                show(tracker.expire(now));
                stats.nodes_alive.store(tracker.nodes_alive(now), Ordering::Relaxed);
                stats.connected.store(
                    client.connection_state() == async_nats::connection::State::Connected,
                    Ordering::Relaxed,
                );
            }
        }
    }
}

/// Consumer errors in a row after which it is opened again.
const REOPEN_AFTER_ERRORS: u32 = 3;

/// Where a consumer starts.
#[derive(Debug, Clone, Copy)]
enum From {
    /// The first line stored at or after this time.
    Time(time::OffsetDateTime),
    /// This stream sequence.
    Seq(u64),
}

/// An ordered consumer of the site's call lines from `start`, tried every
/// second until the stream is there (no node may have made it yet).
async fn open_stream(
    js: &jetstream::Context,
    site: &str,
    start: From,
) -> jetstream::consumer::pull::Ordered {
    loop {
        match try_open_stream(js, site, start).await {
            Ok(m) => return m,
            Err(e) => {
                tracing::warn!("console: {e}; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn try_open_stream(
    js: &jetstream::Context,
    site: &str,
    start: From,
) -> Result<jetstream::consumer::pull::Ordered, String> {
    let name = stream_name(site);
    let stream = js
        .get_stream(&name)
        .await
        .map_err(|e| format!("stream {name}: {e} (no node has made it yet?)"))?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("shoutcue.{site}.call.>"),
            deliver_policy: match start {
                From::Time(start_time) => {
                    jetstream::consumer::DeliverPolicy::ByStartTime { start_time }
                }
                From::Seq(start_sequence) => {
                    jetstream::consumer::DeliverPolicy::ByStartSequence { start_sequence }
                }
            },
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {name}: cannot follow it: {e}"))?;
    consumer
        .messages()
        .await
        .map_err(|e| format!("stream {name}: cannot read it: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn l(t: f64, ty: &str) -> String {
        format!("{{\"v\":1,\"t\":{t},\"type\":\"{ty}\"}}")
    }

    fn hb(node: &str, calls: &[&str]) -> Heartbeat {
        Heartbeat {
            node_id: node.into(),
            interval_s: 1.0,
            active_calls: calls.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_silent_node_loses_its_calls_and_a_live_one_keeps_them() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let mut k = Tracker::new(t0, None);
        assert!(k.line("a", "c1", &l(0.0, "call_start"), s(0.1)));
        assert!(k.line("b", "c2", &l(0.0, "call_start"), s(0.1)));
        assert!(k.heartbeat(&hb("a", &["c1"]), s(0.5)).is_empty());
        assert!(k.heartbeat(&hb("b", &["c2"]), s(0.5)).is_empty());
        k.line("a", "c1", &l(2.5, "shout_start"), s(2.6));
        // b beats on, a falls silent after 0.5 s: its limit is 3 intervals.
        for i in 1..=4 {
            assert!(k.heartbeat(&hb("b", &["c2"]), s(0.5 + i as f64)).is_empty());
        }
        assert!(
            k.expire(s(3.4)).is_empty(),
            "3 s is the limit, not yet past"
        );
        let lost = k.expire(s(3.6));
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].call_id, "c1");
        assert_eq!(lost[0].node, "a");
        let v: serde_json::Value = serde_json::from_str(&lost[0].line).unwrap();
        assert_eq!(v["type"], "call_end");
        assert_eq!(v["reason"], "disconnect");
        assert_eq!(v["lost_node"], "a");
        assert_eq!(v["t"], 2.5, "a was last heard before its last line");
        assert_eq!(k.running(), 1);
        assert_eq!(k.nodes_alive(s(3.6)), 1);
        // Later lines of the lost call are dropped; its own end still shows.
        assert!(!k.line("a", "c1", &l(3.0, "cue"), s(3.7)));
        assert!(k.line("a", "c1", &l(3.0, "call_end"), s(3.8)));
        assert!(k.expire(s(10.0)).iter().all(|x| x.call_id != "c1"));
    }

    #[test]
    fn a_call_a_live_node_no_longer_lists_is_ended_but_a_new_one_is_not() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let mut k = Tracker::new(t0, None);
        k.line("a", "old", &l(0.0, "call_start"), s(0.0));
        assert!(k.heartbeat(&hb("a", &["old"]), s(1.0)).is_empty());
        // The node restarted: its heartbeat lists only a call just begun,
        // whose first line came a moment ago (it may not be listed yet).
        k.line("a", "new", &l(0.0, "call_start"), s(2.9));
        let lost = k.heartbeat(&hb("a", &[]), s(3.0));
        assert_eq!(
            lost.iter().map(|x| x.call_id.as_str()).collect::<Vec<_>>(),
            ["old"]
        );
        // Its time: its last line's plus the time the node was heard since.
        let v: serde_json::Value = serde_json::from_str(&lost[0].line).unwrap();
        assert_eq!(v["t"], 3.0);
        assert_eq!(k.running(), 1);
    }

    #[test]
    fn a_node_never_heard_gets_the_longer_limit_and_an_override_wins() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let mut k = Tracker::new(t0, None);
        k.line("z", "c", &l(1.0, "call_start"), s(0.0));
        assert!(k.expire(s(14.0)).is_empty());
        assert_eq!(k.expire(s(15.5)).len(), 1);
        let mut k = Tracker::new(t0, Some(2.0));
        k.line("z", "c", &l(1.0, "call_start"), s(0.0));
        assert!(k.expire(s(1.9)).is_empty());
        assert_eq!(k.expire(s(2.1)).len(), 1);
    }

    #[test]
    fn a_call_that_ends_on_its_own_is_not_ended_again() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let mut k = Tracker::new(t0, Some(1.0));
        k.line("a", "c", &l(0.0, "call_start"), s(0.0));
        assert!(k.line("a", "c", &l(4.0, "call_end"), s(0.5)));
        assert!(k.line("a", "c", &l(4.0, "incident_note"), s(0.6)));
        assert!(k.expire(s(30.0)).is_empty());
    }
}

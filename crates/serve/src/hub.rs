//! Where every call's event lines meet the pages: a broadcast the calls
//! publish to (never blocking: a page that falls behind loses its oldest
//! lines and is told to reload), and the console's picture of the calls,
//! kept by a task of its own so no page ever locks anything a call touches.

use std::collections::{BTreeMap, VecDeque};

use crate::bus::Kind;
use crate::events_file::Written;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::broadcast;

/// One event line of one call, as the pages get it.
#[derive(Debug)]
pub struct HubLine {
    /// Order over all calls.
    pub seq: u64,
    /// The call.
    pub call_id: Arc<str>,
    /// The call's agent, if the platform named one.
    pub agent_id: Option<Arc<str>>,
    /// The node the call runs on, when the line came from another node
    /// (a fleet console); `None` for this process's own calls.
    pub node: Option<Arc<str>>,
    /// The line's type, from the event it was rendered from.
    pub kind: Kind,
    /// About the agent's own voice: for that agent's page only.
    pub private: bool,
    /// The schema-v1 JSON line, without its newline.
    pub line: String,
}

/// Where every line goes besides the pages (the NATS outbox), so the hub
/// knows nothing of what lies behind it.
pub trait Forward: Send + Sync {
    /// Takes one line; never blocks.
    fn push(&self, line: &Arc<HubLine>);
}

impl HubLine {
    /// The line as the pages receive it: `{"seq","call_id","agent_id",["node",]"event"}`.
    pub fn to_json(&self) -> String {
        let node = self
            .node
            .as_deref()
            .map(|n| format!("\"node\":{},", serde_json::Value::from(n)))
            .unwrap_or_default();
        format!(
            "{{\"seq\":{},\"call_id\":{},\"agent_id\":{},{node}\"event\":{}}}",
            self.seq,
            serde_json::Value::from(&*self.call_id),
            self.agent_id
                .as_deref()
                .map_or(serde_json::Value::Null, serde_json::Value::from),
            self.line
        )
    }
}

/// Calls ended that the console still shows.
const ENDED_KEPT: usize = 50;

/// The broadcast and the console's state.
pub struct Hub {
    tx: broadcast::Sender<Arc<HubLine>>,
    seq: AtomicU64,
    /// Public lines of the calls running now, and of the last ones ended.
    state: Mutex<ConsoleState>,
    /// Lines bound for NATS, when configured: a queue of its own, so a
    /// lagging publisher never loses an alert the way a broadcast would.
    outbox: OnceLock<Arc<dyn Forward>>,
}

/// What a console that connects now must be shown first.
#[derive(Default)]
struct ConsoleState {
    active: BTreeMap<Arc<str>, Vec<Arc<HubLine>>>,
    ended: VecDeque<Vec<Arc<HubLine>>>,
}

impl Hub {
    /// A hub whose subscribers may fall `capacity` lines behind.
    pub fn new(capacity: usize) -> Arc<Self> {
        let (tx, _) = broadcast::channel(capacity);
        Arc::new(Self {
            tx,
            seq: AtomicU64::new(0),
            state: Mutex::new(ConsoleState::default()),
            outbox: OnceLock::new(),
        })
    }

    /// Publishes one line. Never blocks on a subscriber.
    pub fn publish(
        &self,
        call_id: &Arc<str>,
        agent_id: &Option<Arc<str>>,
        kind: Kind,
        private: bool,
        line: String,
    ) {
        self.publish_line(call_id, agent_id, None, kind, private, line);
    }

    /// Publishes one public line of a call on another node (a fleet
    /// console's feed): shown like a local call's line, with its node.
    pub fn publish_from(
        &self,
        call_id: &Arc<str>,
        agent_id: &Option<Arc<str>>,
        node: Option<&str>,
        kind: Kind,
        line: String,
    ) {
        self.publish_line(call_id, agent_id, node.map(Arc::from), kind, false, line);
    }

    fn publish_line(
        &self,
        call_id: &Arc<str>,
        agent_id: &Option<Arc<str>>,
        node: Option<Arc<str>>,
        kind: Kind,
        private: bool,
        line: String,
    ) {
        let l = Arc::new(HubLine {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            call_id: call_id.clone(),
            agent_id: agent_id.clone(),
            node,
            kind,
            private,
            line,
        });
        if let Some(o) = self.outbox.get() {
            o.push(&l);
        }
        let _ = self.tx.send(l);
    }

    /// Hands every line from now on to `outbox` too (once; later calls do nothing).
    pub fn feed(&self, outbox: Arc<dyn Forward>) {
        let _ = self.outbox.set(outbox);
    }

    /// The ids of the calls running now (as the console sees them).
    pub fn active_call_ids(&self) -> Vec<String> {
        let Ok(s) = self.state.lock() else {
            return Vec::new();
        };
        s.active.keys().map(|k| k.to_string()).collect()
    }

    /// A new subscription to every line from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubLine>> {
        self.tx.subscribe()
    }

    /// The public lines a console must replay first (running calls, then the
    /// last ended ones), oldest first.
    pub fn snapshot(&self) -> Vec<Arc<HubLine>> {
        let Ok(s) = self.state.lock() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<HubLine>> = s.ended.iter().flatten().cloned().collect();
        out.extend(s.active.values().flatten().cloned());
        out.sort_by_key(|l| l.seq);
        out
    }

    /// Keeps the console's state from the broadcast; runs until the hub goes.
    pub async fn keep_state(self: Arc<Self>) {
        let mut rx = self.subscribe();
        loop {
            let l = match rx.recv().await {
                Ok(l) => l,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("console state fell {n} lines behind");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if l.private {
                continue;
            }
            let Ok(mut s) = self.state.lock() else { return };
            // A call's note comes just after its end: file it with that call.
            if l.kind == Kind::IncidentNote && !s.active.contains_key(&l.call_id) {
                if let Some(lines) = s
                    .ended
                    .iter_mut()
                    .rev()
                    .find(|v| v.first().is_some_and(|f| f.call_id == l.call_id))
                {
                    lines.push(l.clone());
                }
                continue;
            }
            let end = l.kind == Kind::CallEnd;
            s.active
                .entry(l.call_id.clone())
                .or_default()
                .push(l.clone());
            if end {
                if let Some(lines) = s.active.remove(&l.call_id) {
                    s.ended.push_back(lines);
                    while s.ended.len() > ENDED_KEPT {
                        s.ended.pop_front();
                    }
                }
            }
        }
    }
}

/// Where a call's rendered lines go: each line whole to the call's file,
/// then to the hub (the pages, and NATS through it).
pub struct Tap {
    /// The call's events file, if the server writes one.
    pub(crate) file: Option<crate::events_file::EventsFile>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) call_id: Arc<str>,
    pub(crate) agent_id: Option<Arc<str>>,
    /// For the count of lines the file lost, and `/healthz`.
    pub(crate) shared: Arc<crate::Shared>,
}

impl Tap {
    /// Passes on one line (without its newline) of `kind`. Never fails. The
    /// file gets each line whole before the pages (and NATS, through the
    /// hub) do, so after a kill it holds every line they saw. A file that
    /// cannot take a line is counted and logged once per outage, and the
    /// pages and NATS still get the line.
    pub fn line(&mut self, kind: Kind, private: bool, line: &[u8]) {
        if let Some(f) = self.file.as_mut() {
            let was_lost = f.lost();
            let stats = &self.shared.stats;
            match f.write_line(line) {
                Written::Ok => {}
                Written::Failed => {
                    stats.events_lines_lost.fetch_add(1, Ordering::Relaxed);
                    if was_lost == 0 {
                        stats.events_failing.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(call = %self.call_id, "events file: a line could not be written (disk full or failing?); the pages and NATS go on, and the file will say how many lines it lost");
                    }
                }
                Written::Resumed => {
                    stats.events_failing.fetch_sub(1, Ordering::Relaxed);
                    tracing::warn!(call = %self.call_id, lost = was_lost, "events file: writing again");
                }
            }
        }
        let line = String::from_utf8_lossy(line).into_owned();
        self.hub
            .publish(&self.call_id, &self.agent_id, kind, private, line);
    }
}

impl Drop for Tap {
    /// A call that ends while its file is failing no longer counts as failing.
    fn drop(&mut self) {
        if self.file.as_ref().is_some_and(|f| f.lost() > 0) {
            self.shared
                .stats
                .events_failing
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

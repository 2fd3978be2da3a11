//! shoutcue-serve: live calls straight from the contact-centre platform.
//!
//! One process, many concurrent calls, each on its own `CallEngine` exactly
//! as `replay` runs it. Each platform's media fork is a listener of its own:
//!
//! | module | platform | transport |
//! | --- | --- | --- |
//! | [`audiohook`] | Genesys Cloud AudioHook Monitor (protocol 2) | WebSocket, signed upgrade |
//! | [`audiosocket`] | Asterisk AudioSocket | TCP, one connection per leg |
//! | [`freeswitch`] | FreeSWITCH `mod_audio_fork` / `mod_audio_stream` | WebSocket, L16 |
//! | [`twilio`] | Twilio Media Streams | WebSocket, JSON with base64 mu-law |
//!
//! No thread per call: every connection is a task on one small tokio
//! runtime, and the analysis of a frame (about 1.4 µs per 10 ms per call)
//! runs inline in its connection's task, so a call's frames are analysed in
//! order and one slow or broken call never holds another. Nothing writes
//! audio anywhere. A malformed frame ends its own call with a named error
//! and an incident note of what was heard.

pub mod audiohook;
pub mod audiosocket;
pub mod bus;
pub mod call;
pub mod config;
pub mod desktop;
pub mod embed;
pub mod events_file;
pub mod fds;
pub mod fleet;
pub mod freeswitch;
mod http;
pub use http::Pages;
pub mod hub;
pub mod line;
pub mod metrics;
pub mod nats;
pub mod pcm;
pub mod twilio;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::ShoutModel;
use tokio::sync::watch;

pub use config::ServeConfig;

/// Counters every part of the server adds to (read by `/healthz`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Calls running now.
    pub active: AtomicUsize,
    /// Calls running now, by protocol (for each listener's own `max_calls`).
    pub active_by: [AtomicUsize; 4],
    /// Calls started, by protocol (see [`call::Protocol`]).
    pub started: [AtomicU64; 4],
    /// Calls ended, by protocol.
    pub ended: [AtomicU64; 4],
    /// Calls refused (at the limit, or draining), by protocol.
    pub refused: [AtomicU64; 4],
    /// Samples analysed (per channel), all calls.
    pub samples: AtomicU64,
    /// Frames analysed, by the time from the frame's arrival (its last byte
    /// read) to its analysis done and events written: counts per bucket of
    /// [`LATENCY_BUCKETS_US`].
    pub latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of those latencies, µs.
    pub latency_sum_us: AtomicU64,
    /// Cues shown, by script step (index 0 is step 1).
    pub cues: [AtomicU64; 4],
    /// Supervisor alerts raised.
    pub alerts: AtomicU64,
    /// Blocks of audio that arrived more than [`call::LATE_AFTER`] behind
    /// their call's clock (a platform or network stall; see [`call::Pace`]).
    pub late_frames: AtomicU64,
    /// 20 ms frames of audio that never came and were filled with silence
    /// to keep the call's clock: a stalled leg padded, or audio the
    /// platform said it discarded (AudioHook `discarded`).
    pub dropped_frames: AtomicU64,
    /// Event lines that could not be written to their call's file (a full
    /// or failing disk); the pages and NATS still had them.
    pub events_lines_lost: AtomicU64,
    /// Calls whose events file is failing now: `/healthz` says "degraded".
    pub events_failing: AtomicUsize,
}

/// Upper bounds of the frame-latency buckets, µs (the last bucket is open).
pub const LATENCY_BUCKETS_US: [u64; 12] = [
    50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 1_000_000,
];

impl Stats {
    /// Counts one frame analysed `arrived` ago.
    pub fn frame_done(&self, arrived: std::time::Instant) {
        let us = arrived.elapsed().as_micros() as u64;
        let i = LATENCY_BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[i].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Counts `samples` at `rate` Hz filled with silence, in 20 ms frames.
    pub fn filled(&self, samples: usize, rate: u32) {
        let per = (rate / 50).max(1) as usize;
        self.dropped_frames
            .fetch_add(samples.div_ceil(per) as u64, Ordering::Relaxed);
    }

    /// Frames analysed so far.
    pub fn frames(&self) -> u64 {
        self.latency.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The bucket bound under which fraction `q` of the frames' latencies
    /// fall, µs (`None` before any frame; `u64::MAX` for the open bucket).
    pub fn latency_quantile_us(&self, q: f64) -> Option<u64> {
        let n = self.frames();
        if n == 0 {
            return None;
        }
        let want = (q.clamp(0.0, 1.0) * n as f64).ceil() as u64;
        let mut acc = 0;
        for (i, c) in self.latency.iter().enumerate() {
            acc += c.load(Ordering::Relaxed);
            if acc >= want.max(1) {
                return Some(LATENCY_BUCKETS_US.get(i).copied().unwrap_or(u64::MAX));
            }
        }
        Some(u64::MAX)
    }
}

/// What every connection task shares.
pub struct Shared {
    /// The configuration as loaded.
    pub cfg: ServeConfig,
    /// The shout model.
    pub model: ShoutModel,
    /// The coach's timing.
    pub coach: CoachConfig,
    /// The script.
    pub script: Script,
    /// Counters.
    pub stats: Stats,
    /// Set on SIGTERM: no new calls.
    pub draining: AtomicBool,
    /// Turns true when the drain grace is over: running calls end now.
    pub ended: watch::Receiver<bool>,
    /// Every call's event lines, for the pages.
    pub hub: Arc<hub::Hub>,
    /// What the supervisor console shows: `hub` itself, or, with
    /// `console_nats`, a hub of its own fed with every node's calls.
    pub console: Arc<hub::Hub>,
    /// The fleet console's counters (zero without `console_nats`).
    pub fleet: fleet::FleetStats,
    /// Where the pages' tokens come from.
    pub pages: http::Pages,
    /// AudioHook signatures accepted and still valid: each opens one session.
    pub audiohook_nonces: std::sync::Mutex<audiohook::Nonces>,
    /// The queue to NATS, when `nats_url` is set.
    pub outbox: Option<Arc<nats::Outbox>>,
    /// Each listener's line, learnt from its calls (`line_learning`).
    pub lines: Option<line::LineLearning>,
    /// The agent desktops that may vouch for their agent (`/embed/link`).
    pub desktops: desktop::Desktops,
    /// TLS for the pages and the WebSocket listeners, when configured.
    pub tls: Option<Arc<shoutcue_web::Tls>>,
    /// `embed_ancestors`, checked once at start: who may frame `/embed`
    /// and ask `/embed/link`.
    pub ancestors: shoutcue_web::Ancestors,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A listener could not bind its address.
    #[error("{what}: cannot listen on {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The runtime or a file could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// The addresses the listeners are bound to (port 0 resolved), in the
/// order: AudioHook, AudioSocket, FreeSWITCH, Twilio, HTTP.
#[derive(Debug, Clone, Default)]
pub struct Bound {
    /// AudioHook WebSocket.
    pub audiohook: Option<SocketAddr>,
    /// AudioSocket TCP.
    pub audiosocket: Option<SocketAddr>,
    /// FreeSWITCH WebSocket.
    pub freeswitch: Option<SocketAddr>,
    /// Twilio WebSocket.
    pub twilio: Option<SocketAddr>,
    /// Pages and `/healthz`.
    pub http: Option<SocketAddr>,
}

/// A running server: its addresses and the way to stop it.
pub struct Server {
    /// Where it listens.
    pub bound: Bound,
    shared: Arc<Shared>,
    end_tx: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Server {
    /// Binds every listener the configuration names and starts serving on
    /// the current tokio runtime.
    pub async fn start(
        cfg: ServeConfig,
        model: ShoutModel,
        coach: CoachConfig,
        script: Script,
    ) -> Result<Server, ServeError> {
        cfg.validate()?;
        let limit = fds::raise_soft_limit()
            .map_err(|e| ServeError::Setup(format!("open-file limit: {e}")))?;
        fds::check_budget(cfg.max_calls, limit).map_err(ServeError::Setup)?;
        if let Some(dir) = &cfg.events_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                ServeError::Setup(format!(
                    "{}: cannot create the events folder: {e}",
                    dir.display()
                ))
            })?;
            // A folder that takes no files would refuse every call; say so now.
            events_file::check_writable(dir).map_err(|e| {
                ServeError::Setup(format!(
                    "{}: the events folder does not take new files: {e}",
                    dir.display()
                ))
            })?;
        }
        let (end_tx, end_rx) = watch::channel(false);
        let pages = http::Pages::new(cfg.pages_secret.as_deref())
            .map_err(|e| ServeError::Setup(format!("pages: {e}")))?;
        let hub = hub::Hub::new(4096);
        let console = if cfg.console_nats.is_some() {
            hub::Hub::new(4096)
        } else {
            hub.clone()
        };
        let lines = cfg
            .line_learning
            .then(|| line::LineLearning::new(model.clone()));
        let desktops = desktop::Desktops::new(
            cfg.genesys_api.clone(),
            match (&cfg.flex_account_sid, &cfg.flex_auth_token) {
                (Some(sid), Some(tok)) => Some(desktop::FlexAccount {
                    sid: sid.clone(),
                    auth_token: tok.clone(),
                    api: cfg.flex_api.clone(),
                }),
                _ => None,
            },
        )
        .map_err(|e| ServeError::Setup(format!("the desktops' API client: {e}")))?;
        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(c), Some(k)) => Some(Arc::new(
                shoutcue_web::Tls::load(c, k)
                    .map_err(|e| ServeError::Setup(format!("TLS: {e}")))?,
            )),
            _ => None,
        };
        let ancestors = shoutcue_web::Ancestors::new(&cfg.embed_ancestors)
            .map_err(|e| ServeError::Setup(format!("embed_ancestors: {e}")))?;
        let shared = Arc::new(Shared {
            ancestors,
            tls,
            desktops,
            lines,
            pages,
            console,
            fleet: fleet::FleetStats::default(),
            cfg: cfg.clone(),
            model,
            coach,
            script,
            stats: Stats::default(),
            draining: AtomicBool::new(false),
            ended: end_rx,
            hub,
            audiohook_nonces: std::sync::Mutex::default(),
            outbox: cfg
                .nats_url
                .as_ref()
                .map(|_| nats::Outbox::new(cfg.nats_queue, cfg.nats_private)),
        });
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(shared.hub.clone().keep_state());
        if let Some(url) = &cfg.console_nats {
            tasks.spawn(shared.console.clone().keep_state());
            tasks.spawn(fleet::follow(
                shared.clone(),
                shared.console.clone(),
                url.clone(),
            ));
        }
        if let Some(o) = &shared.outbox {
            // What the last stop could not publish goes first.
            if let Some(dir) = &cfg.events_dir {
                match o.restore(dir) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        lines = n,
                        "nats: sending again what the last stop spilled to {}",
                        dir.join(nats::SPILL_FILE).display()
                    ),
                    Err(e) => tracing::error!(
                        "nats: cannot read {}: {e}",
                        dir.join(nats::SPILL_FILE).display()
                    ),
                }
            }
            shared.hub.feed(o.clone());
            tasks.spawn(nats::run(shared.clone(), o.clone()));
        }
        let mut bound = Bound::default();
        let bind = |what: &'static str, addr: SocketAddr| async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { what, addr, source })
        };
        if let Some(c) = &cfg.audiohook {
            let l = bind("AudioHook", c.listen).await?;
            bound.audiohook = l.local_addr().ok();
            tasks.spawn(audiohook::serve(l, shared.clone()));
        }
        if let Some(c) = &cfg.audiosocket {
            let l = bind("AudioSocket", c.listen).await?;
            bound.audiosocket = l.local_addr().ok();
            tasks.spawn(audiosocket::serve(l, shared.clone()));
        }
        if let Some(c) = &cfg.freeswitch {
            let l = bind("FreeSWITCH", c.listen).await?;
            bound.freeswitch = l.local_addr().ok();
            tasks.spawn(freeswitch::serve(l, shared.clone()));
        }
        if let Some(c) = &cfg.twilio {
            if c.auth_token.is_none() {
                tracing::warn!(
                    "Twilio listener on {}: no auth token (SHOUTCUE_TWILIO_AUTH_TOKEN), so X-Twilio-Signature is not checked: anyone who can reach it can stream a call",
                    c.listen
                );
            }
            let l = bind("Twilio", c.listen).await?;
            bound.twilio = l.local_addr().ok();
            tasks.spawn(twilio::serve(l, shared.clone()));
        }
        if let Some(addr) = cfg.http {
            let l = bind("HTTP", addr).await?;
            bound.http = l.local_addr().ok();
            tasks.spawn(http::serve(l, shared.clone()));
        }
        Ok(Server {
            bound,
            shared,
            end_tx,
            tasks,
        })
    }

    /// The supervisor console's address, token included (when `--http`).
    pub fn console_url(&self) -> Option<String> {
        let a = self.bound.http?;
        Some(format!(
            "{}/#token={}",
            self.shared.cfg.page_base(a),
            self.shared.pages.console().as_str()
        ))
    }

    /// Agent `id`'s own page address, token included (when `--http`):
    /// for that agent alone, since it shows their private nudges.
    pub fn agent_url(&self, id: &str) -> Option<String> {
        let a = self.bound.http?;
        Some(agent_url(
            &self.shared.cfg.page_base(a),
            &self.shared.pages,
            id,
        ))
    }

    /// Platform call `call`'s cue view for `agent`, valid `ttl_s` seconds.
    pub fn embed_url(&self, call: &str, agent: &str, ttl_s: u64) -> Option<String> {
        let a = self.bound.http?;
        Some(embed_url(
            &self.shared.cfg.page_base(a),
            &self.shared.pages,
            call,
            agent,
            ttl_s,
        ))
    }

    /// The pages' secret and tokens (a test signs links of its own with them).
    pub fn pages(&self) -> &Pages {
        &self.shared.pages
    }

    /// Reads the TLS certificate and key again (SIGHUP): new connections
    /// use them; running calls keep theirs. `Ok(false)` without TLS.
    pub fn reload_tls(&self) -> Result<bool, shoutcue_web::TlsError> {
        match &self.shared.tls {
            Some(t) => t.reload().map(|()| true),
            None => Ok(false),
        }
    }

    /// Calls running now.
    pub fn active_calls(&self) -> usize {
        self.shared.stats.active.load(Ordering::Acquire)
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// The hub every call's lines go through (for embedding and tests:
    /// what is published here reaches the pages and NATS like a call's line).
    pub fn hub(&self) -> &Arc<hub::Hub> {
        &self.shared.hub
    }

    /// What the supervisor console shows (the fleet's calls with
    /// `console_nats`, else this node's).
    pub fn console_hub(&self) -> &Arc<hub::Hub> {
        &self.shared.console
    }

    /// The fleet console's counters (zero without `console_nats`).
    pub fn fleet_stats(&self) -> &fleet::FleetStats {
        &self.shared.fleet
    }

    /// The NATS publisher's counters (when `nats_url` is set).
    pub fn nats_stats(&self) -> Option<&nats::NatsStats> {
        self.shared.outbox.as_deref().map(|o| &o.stats)
    }

    /// Lines NATS has not yet taken: queued or being sent (0 without NATS).
    pub fn nats_queue_depth(&self) -> usize {
        self.shared.outbox.as_ref().map_or(0, |o| o.pending())
    }

    /// Drains: refuses new calls at once, lets running calls finish for up to
    /// `drain_grace_s`, then ends the rest (`call_end` reason `drained`, with
    /// their notes) and stops the listeners.
    pub async fn drain(mut self) {
        self.shared.draining.store(true, Ordering::Relaxed);
        let grace = Duration::from_secs_f64(self.shared.cfg.drain_grace_s);
        tracing::info!(
            active = self.active_calls(),
            grace_s = self.shared.cfg.drain_grace_s,
            "draining: no new calls"
        );
        let deadline = tokio::time::Instant::now() + grace;
        while self.active_calls() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.end_tx.send(true);
        // Give the calls that were cut a moment to write their notes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.active_calls() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // And NATS a moment to take what waits for it.
        if let Some(o) = &self.shared.outbox {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while !o.idle() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !o.idle() {
                // Stop the publisher first, so the queue holds still.
                self.tasks.abort_all();
                while self.tasks.join_next().await.is_some() {}
                match &self.shared.cfg.events_dir {
                    Some(dir) => match o.spill(dir) {
                        Ok((lines, alerts)) => tracing::warn!(
                            lines,
                            alerts,
                            "drained: NATS had not taken these: spilled to {}, sent at the next start",
                            dir.join(nats::SPILL_FILE).display()
                        ),
                        Err(e) => tracing::error!(
                            waiting = o.pending(),
                            "drained: events left unpublished to NATS, and {} cannot be written: {e}",
                            dir.join(nats::SPILL_FILE).display()
                        ),
                    },
                    None => tracing::warn!(
                        waiting = o.pending(),
                        "drained: events left unpublished to NATS (no events folder to spill them to)"
                    ),
                }
            }
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        tracing::info!(left = self.active_calls(), "drained");
    }
}

/// Agent `id`'s page under `base` (`http://host:port`), with their token.
pub fn agent_url(base: &str, pages: &http::Pages, id: &str) -> String {
    let enc: String = id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!(
        "{base}/agent?agent={enc}#token={}",
        pages.agent(id).as_str()
    )
}

/// The cue view of platform call `call` for `agent` under `base`
/// (`http://host:port`), valid for `ttl_s` seconds from now (at most
/// [`embed::MAX_TTL_S`]).
pub fn embed_url(base: &str, pages: &http::Pages, call: &str, agent: &str, ttl_s: u64) -> String {
    let link = embed::EmbedLink {
        call: call.to_string(),
        agent: agent.to_string(),
        exp: embed::now_unix() + ttl_s.min(embed::MAX_TTL_S),
    };
    format!("{base}/embed?{}", embed::signed_query(pages, &link))
}

/// The WebSocket listeners' limits: a request head within 10 s (a
/// half-open connection does not hold a slot), and room for every call
/// the server takes plus the ones it must refuse politely. Connections
/// still waiting for their upgrade request have their own budget
/// ([`MAX_PENDING`], [`MAX_PENDING_PER_SOURCE`] from one address), so idle
/// sockets cannot take the room of calls.
pub(crate) fn stream_limits(shared: &Shared) -> shoutcue_web::Limits {
    shoutcue_web::Limits {
        header_read_timeout: Duration::from_secs(10),
        max_connections: shared.cfg.max_calls.saturating_mul(2).saturating_add(64),
        max_pending: MAX_PENDING,
        max_pending_per_source: MAX_PENDING_PER_SOURCE,
        max_read_bytes_per_s: MAX_READ_BYTES_PER_S,
    }
}

/// A media connection's bytes are read no faster than this: four times the
/// richest stream (a 16 kHz stereo FreeSWITCH fork, 64 kB/s), so a flood
/// of frames that say nothing (empty continuation frames, pings) costs a
/// bounded amount of work a second (issue 27, item 10).
pub const MAX_READ_BYTES_PER_S: usize = 256 * 1024;

/// A media listener's connections that have not yet sent their first
/// request (WebSocket) or UUID frame (AudioSocket), at most. A platform's
/// connection leaves this state within milliseconds.
pub const MAX_PENDING: usize = 256;
/// Of those, from one source address: a quarter, so three other hosts
/// (a platform's other media servers, a health checker) always get in.
pub const MAX_PENDING_PER_SOURCE: usize = 64;

/// A media listener's answer to an upgrade from a browser: 403, unless its
/// `Origin` is one of `media_origins`. Platforms (Genesys, FreeSWITCH,
/// Twilio) send no `Origin`; a browser always does, so without this any
/// page the agent opens could start a call here, with any agent id, from
/// inside the network (issue 27, item 13).
pub(crate) fn refuse_browser(
    shared: &Shared,
    headers: &axum::http::HeaderMap,
    listener: &str,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let origin = headers.get(axum::http::header::ORIGIN)?;
    let text = origin.to_str().unwrap_or("");
    if shared.cfg.media_origins.iter().any(|o| o == text) {
        return None;
    }
    tracing::warn!(listener, origin = %text, "upgrade from a browser origin refused (403): not in media_origins");
    Some(
        (
            axum::http::StatusCode::FORBIDDEN,
            "browser origins may not open media streams (media_origins)",
        )
            .into_response(),
    )
}

/// Resolves when the drain grace is over (the call must end now).
pub(crate) async fn ended(shared: &Shared) {
    let mut rx = shared.ended.clone();
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            // The server is gone: nothing will ever end us from outside.
            std::future::pending::<()>().await;
        }
    }
}

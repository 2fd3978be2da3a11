//! `/metrics`: the server's counters in the OpenMetrics text format, encoded
//! by `prometheus-client`.
//!
//! The counts themselves stay where they are kept, in the atomics of
//! [`Shared`] (a frame's path adds to them with one relaxed `fetch_add`, no
//! lock), and a [`Collector`] reads them at each scrape. The names are
//! the ones the hand-written text had: counters end in `_total` (the
//! encoder adds it), the latency histogram is
//! `shoutcue_frame_latency_seconds`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::call::Protocol;
use crate::nats::NatsStats;
use crate::Shared;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The counters as a scrape returns them.
pub fn render(shared: &Arc<Shared>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Counts(shared.clone())));
    let mut out = String::with_capacity(8192);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!("/metrics: cannot encode the counters: {e}");
    }
    out
}

/// Reads [`Shared`]'s counts at each scrape.
struct Counts(Arc<Shared>);

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counts")
    }
}

/// One unlabelled value.
fn one(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    metric: &impl EncodeMetric,
) -> std::fmt::Result {
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One value per listener, labelled `protocol`.
fn per_protocol<M: EncodeMetric>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    value: impl Fn(Protocol) -> M,
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, kind)?;
    for p in Protocol::ALL {
        value(p).encode(m.encode_family(&[("protocol", p.as_str())])?)?;
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: u64) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Collector for Counts {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> std::fmt::Result {
        let shared = &*self.0;
        let s = &shared.stats;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let e = &mut e;
        one(
            e,
            "shoutcue_active_calls",
            "Calls running now.",
            &gauge(s.active.load(Ordering::Relaxed) as u64),
        )?;
        one(
            e,
            "shoutcue_max_calls",
            "Most calls at once.",
            &gauge(shared.cfg.max_calls as u64),
        )?;
        one(
            e,
            "shoutcue_draining",
            "1 while draining (no new calls).",
            &gauge(u64::from(shared.draining.load(Ordering::Relaxed))),
        )?;
        for (name, help, a) in [
            ("shoutcue_calls_started", "Calls started.", &s.started),
            ("shoutcue_calls_ended", "Calls ended.", &s.ended),
            (
                "shoutcue_calls_refused",
                "Calls refused (at the limit, or draining).",
                &s.refused,
            ),
        ] {
            per_protocol(e, name, help, MetricType::Counter, |p| {
                counter(load(&a[p.index()]))
            })?;
        }
        for (name, help, v) in [
            (
                "shoutcue_samples_analysed",
                "Samples analysed per channel, all calls.",
                load(&s.samples),
            ),
            (
                "shoutcue_frames_analysed",
                "Frames analysed, all calls.",
                s.frames(),
            ),
            (
                "shoutcue_frames_late",
                "Audio blocks that arrived more than 100 ms behind their call's clock.",
                load(&s.late_frames),
            ),
            (
                "shoutcue_frames_dropped",
                "20 ms frames that never came (a stalled leg, audio the platform discarded), filled with silence.",
                load(&s.dropped_frames),
            ),
            (
                "shoutcue_events_lines_lost",
                "Event lines a call's file could not take (disk full or failing); the pages and NATS still had them.",
                load(&s.events_lines_lost),
            ),
        ] {
            one(e, name, help, &counter(v))?;
        }
        // The buckets as counted (each its own, not cumulative: the encoder
        // adds them up), the last one +Inf.
        let mut buckets = [(0.0f64, 0u64); crate::LATENCY_BUCKETS_US.len() + 1];
        let mut count = 0u64;
        for (i, c) in s.latency.iter().enumerate() {
            let n = load(c);
            count += n;
            let le = crate::LATENCY_BUCKETS_US
                .get(i)
                .map_or(f64::MAX, |&us| us as f64 / 1e6);
            buckets[i] = (le, n);
        }
        e.encode_descriptor(
            "shoutcue_frame_latency_seconds",
            "From a frame's arrival to its analysis done and events written.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            load(&s.latency_sum_us) as f64 / 1e6,
            count,
            &buckets,
            None,
        )?;
        let mut m = e.encode_descriptor(
            "shoutcue_cues",
            "Cues shown, by script step.",
            None,
            MetricType::Counter,
        )?;
        for (i, c) in s.cues.iter().enumerate() {
            let step = (i + 1).to_string();
            counter(load(c)).encode(m.encode_family(&[("step", step.as_str())])?)?;
        }
        one(
            e,
            "shoutcue_supervisor_alerts",
            "Supervisor alerts raised.",
            &counter(load(&s.alerts)),
        )?;
        let ob = shared.outbox.as_deref();
        let n = |f: fn(&NatsStats) -> u64| ob.map_or(0, |o| f(&o.stats));
        one(
            e,
            "shoutcue_nats_enabled",
            "1 when events are published to NATS.",
            &gauge(u64::from(ob.is_some())),
        )?;
        one(
            e,
            "shoutcue_nats_connected",
            "1 while connected to NATS.",
            &gauge(n(|s| u64::from(s.connected.load(Ordering::Relaxed)))),
        )?;
        one(
            e,
            "shoutcue_nats_queue_depth",
            "Event lines NATS has not yet taken (queued or being sent).",
            &gauge(ob.map_or(0, |o| o.pending() as u64)),
        )?;
        for (name, help, f) in [
            (
                "shoutcue_nats_published",
                "Messages NATS took.",
                (|s: &NatsStats| s.published.load(Ordering::Relaxed)) as fn(&NatsStats) -> u64,
            ),
            (
                "shoutcue_nats_dropped",
                "Event lines dropped (queue full, or failed three times).",
                |s| s.dropped.load(Ordering::Relaxed),
            ),
            (
                "shoutcue_nats_dropped_alerts",
                "Supervisor alerts dropped (only past twice the queue, all alerts).",
                |s| s.dropped_alerts.load(Ordering::Relaxed),
            ),
            (
                "shoutcue_nats_retries",
                "Publishes that failed and were tried again.",
                |s| s.retries.load(Ordering::Relaxed),
            ),
            (
                "shoutcue_nats_reconnects",
                "Connections to NATS after the first.",
                |s| s.reconnects.load(Ordering::Relaxed),
            ),
        ] {
            one(e, name, help, &counter(n(f)))?;
        }
        if shared.cfg.console_nats.is_some() {
            let f = &shared.fleet;
            one(
                e,
                "shoutcue_console_nodes_alive",
                "Fleet console: nodes heard within their timeout.",
                &gauge(f.nodes_alive.load(Ordering::Relaxed) as u64),
            )?;
            one(
                e,
                "shoutcue_console_calls_lost",
                "Fleet console: calls ended because their node went silent.",
                &counter(f.calls_lost.load(Ordering::Relaxed)),
            )?;
        }
        if let Some(lines) = &shared.lines {
            per_protocol(
                e,
                "shoutcue_line_calls",
                "Calls whose customer's calm voice is kept for the listener's line (line_learning).",
                MetricType::Gauge,
                |p| gauge(lines.state(p).calls as u64),
            )?;
            per_protocol(
                e,
                "shoutcue_line_calibrated",
                "1 once new calls on the listener are judged against its line.",
                MetricType::Gauge,
                |p| gauge(u64::from(lines.state(p).shift.is_some())),
            )?;
            per_protocol(
                e,
                "shoutcue_line_shift_alpha_db",
                "The line's alpha ratio against the model's training voices, dB (0 until calibrated).",
                MetricType::Gauge,
                |p| ConstGauge::new(f64::from(lines.state(p).shift.unwrap_or_default()[0])),
            )?;
            per_protocol(
                e,
                "shoutcue_line_shift_centroid_st",
                "The line's spectral centroid against the model's training voices, semitones (0 until calibrated).",
                MetricType::Gauge,
                |p| ConstGauge::new(f64::from(lines.state(p).shift.unwrap_or_default()[1])),
            )?;
        }
        Ok(())
    }
}

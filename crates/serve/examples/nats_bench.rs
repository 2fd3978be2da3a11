//! How many events per second one `serve` node can publish to NATS
//! JetStream without slowing its calls' analysis.
//!
//! Starts a server in this process (AudioSocket on a free loopback port,
//! printed as `audiosocket ADDR` on stdout, publishing to NATS_URL), and
//! for SECONDS pushes RATE event lines per second into its hub, spread
//! over 100 synthetic calls, exactly where a call's sink puts its lines
//! (one in a hundred a `supervisor_alert`). Real calls come from
//! `examples/loadgen.rs` against the printed address meanwhile
//! (`tools/bench/nats_load.sh` runs both). At the end it prints one JSON
//! line: lines offered, published, dropped, the deepest queue seen, and the
//! calls' frame latency (arrival to events written) p50/p99 from the
//! server's own histogram.
//!
//!     cargo run --release -p shoutcue-serve --example nats_bench -- NATS_URL RATE SECONDS
#![allow(clippy::unwrap_used)] // a benchmark: it fails loudly, by panicking

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::ShoutModel;
use shoutcue_serve::bus::Kind;
use shoutcue_serve::config::AudioSocketConfig;
use shoutcue_serve::{ServeConfig, Server};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: nats_bench NATS_URL RATE SECONDS");
        std::process::exit(2);
    }
    let (url, rate, secs) = (
        a[1].clone(),
        a[2].parse::<u64>().unwrap(),
        a[3].parse::<f64>().unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let cfg = ServeConfig {
            audiosocket: Some(AudioSocketConfig {
                max_calls: None,
                listen: "127.0.0.1:0".parse().unwrap(),
                pairing: Default::default(),
            }),
            max_calls: 5000,
            drain_grace_s: 1.0,
            nats_url: Some(url),
            site: "bench".into(),
            node_id: Some("bench-node".into()),
            ..Default::default()
        };
        let server = Server::start(
            cfg,
            ShoutModel::builtin(),
            CoachConfig::default(),
            Script::english(),
        )
        .await
        .unwrap();
        println!("audiosocket {}", server.bound.audiosocket.unwrap());
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        // Wait for the stream to be there, as a node in service would be.
        let t0 = Instant::now();
        while server.nats_stats().unwrap().published.load(Ordering::Relaxed) == 0
            && t0.elapsed() < Duration::from_secs(1)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let hub = server.hub().clone();
        let calls: Vec<Arc<str>> = (0..100).map(|i| Arc::from(format!("flood-{i}"))).collect();
        let agent: Option<Arc<str>> = Some(Arc::from("agent-bench"));
        // A typical line's size: a shout_start with its cues.
        let body = r#""speaker":"customer","score":0.9657896,"cues":{"f0_st":5.3545885,"tilt_db":11.075622,"level_db":4.9544244,"clip_frac":0.0,"centroid_st":16.671446},"decided_t":14.43,"baseline":"own""#;
        let start = Instant::now();
        let mut offered = 0u64;
        let mut deepest = 0usize;
        let tick = Duration::from_millis(10);
        let mut k = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            k += 1;
            let due = (rate as f64 * (k as f64 * 0.01)).round() as u64;
            while offered < due {
                let i = offered as usize % calls.len();
                let (kind, line) = if offered % 100 == 99 {
                    (Kind::SupervisorAlert, format!(r#"{{"v":1,"t":{}.0,"type":"supervisor_alert","episodes":5,"shouting_s":16.0,"steps_given":4,"cues_shown":5}}"#, offered))
                } else {
                    (Kind::ShoutStart, format!(r#"{{"v":1,"t":{}.0,"type":"shout_start",{body}}}"#, offered))
                };
                hub.publish(&calls[i], &agent, kind, false, line);
                offered += 1;
            }
            deepest = deepest.max(server.nats_queue_depth());
            tokio::time::sleep_until((start + tick * k as u32).into()).await;
        }
        let flood_s = start.elapsed().as_secs_f64();
        // The real calls began after the address was printed: let them end.
        let t1 = Instant::now();
        while server.active_calls() > 0 && t1.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t1 = Instant::now();
        while server.nats_queue_depth() > 0 && t1.elapsed() < Duration::from_secs(30) {
            deepest = deepest.max(server.nats_queue_depth());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let n = server.nats_stats().unwrap();
        let s = server.stats();
        println!(
            "{{\"rate\":{rate},\"seconds\":{flood_s:.1},\"offered\":{offered},\"published\":{},\"dropped\":{},\"dropped_alerts\":{},\"retries\":{},\"deepest_queue\":{deepest},\"left_in_queue\":{},\"drain_after_s\":{:.2},\"frames\":{},\"frame_p50_us_at_most\":{},\"frame_p99_us_at_most\":{}}}",
            n.published.load(Ordering::Relaxed),
            n.dropped.load(Ordering::Relaxed),
            n.dropped_alerts.load(Ordering::Relaxed),
            n.retries.load(Ordering::Relaxed),
            server.nats_queue_depth(),
            t1.elapsed().as_secs_f64(),
            s.frames(),
            s.latency_quantile_us(0.5).unwrap_or(0),
            s.latency_quantile_us(0.99).unwrap_or(0),
        );
        server.drain().await;
    });
}

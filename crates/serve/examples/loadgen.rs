//! Load generator for `shoutcue serve`: N concurrent AudioSocket calls on
//! loopback at real-time pace, each a bundled call's voices (two legs per
//! call with `--stereo`), 20 ms frames on a fixed schedule.
//!
//! It reports, from the client side, frames sent late (more than one frame,
//! 20 ms, behind schedule: the server did not keep up and TCP pushed back);
//! the server's own frame latency comes from its `/healthz`.
//!
//!     cargo run --release -p shoutcue-serve --example loadgen -- ADDR CALLS SECONDS [--stereo] [--id-base K]
//!
//! Calls are numbered from K + 1 (default 0) in their UUIDs, so that two
//! generators feeding two nodes of one site never share a call id.
#![allow(clippy::unwrap_used)] // a benchmark: it fails loudly, by panicking

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[derive(Default)]
struct Tally {
    frames: AtomicU64,
    late: AtomicU64,
    worst_us: AtomicU64,
    failed: AtomicU64,
}

/// One frame in one write, through a buffer the leg reuses (the client
/// shares the two cores with the server: it must cost little).
async fn frame(
    s: &mut TcpStream,
    f: &mut Vec<u8>,
    kind: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    f.clear();
    f.push(kind);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(payload);
    s.write_all(f).await
}

async fn leg(
    addr: String,
    id: [u8; 16],
    pcm: Arc<Vec<u8>>,
    secs: f64,
    t: Arc<Tally>,
) -> std::io::Result<()> {
    let mut s = TcpStream::connect(&addr).await?;
    s.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(3 + 320);
    frame(&mut s, &mut buf, 0x01, &id).await?;
    let frames = (secs / 0.02) as usize;
    let start = Instant::now();
    let n = pcm.len() / 320;
    for k in 0..frames {
        let due = start + Duration::from_millis(20 * k as u64);
        tokio::time::sleep_until(due.into()).await;
        let off = (k % n) * 320;
        frame(&mut s, &mut buf, 0x10, &pcm[off..off + 320]).await?;
        let late = due.elapsed().as_micros() as u64;
        t.frames.fetch_add(1, Ordering::Relaxed);
        t.worst_us.fetch_max(late, Ordering::Relaxed);
        if late > 20_000 {
            t.late.fetch_add(1, Ordering::Relaxed);
        }
    }
    frame(&mut s, &mut buf, 0x00, &[]).await
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: loadgen ADDR CALLS SECONDS [--stereo]");
        std::process::exit(2);
    }
    let (addr, calls, secs) = (
        a[1].clone(),
        a[2].parse::<usize>().unwrap(),
        a[3].parse::<f64>().unwrap(),
    );
    let stereo = a.iter().any(|x| x == "--stereo");
    let id_base: u64 = a
        .iter()
        .position(|x| x == "--id-base")
        .and_then(|i| a.get(i + 1))
        .map_or(0, |v| v.parse().unwrap());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/continued_shout.wav"
    );
    let mut r = hound::WavReader::open(path).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let bytes = |ch: usize| -> Arc<Vec<u8>> {
        Arc::new(
            s.iter()
                .skip(ch)
                .step_by(2)
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        )
    };
    let (cust, agent) = (bytes(1), bytes(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let t = Arc::new(Tally::default());
    let started = Instant::now();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for c in 0..calls {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(id_base + c as u64 + 1).to_be_bytes());
            id[8] = 0x42;
            let legs: &[(u8, &Arc<Vec<u8>>)] = if stereo {
                &[(0, &cust), (1, &agent)]
            } else {
                &[(7, &cust)]
            };
            for &(role, pcm) in legs {
                id[15] = role;
                let (addr, pcm, t2) = (addr.clone(), pcm.clone(), t.clone());
                set.spawn(async move {
                    if let Err(e) = leg(addr, id, pcm, secs, t2.clone()).await {
                        eprintln!("call leg failed: {e}");
                        t2.failed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            // Spread the call starts: at most 250 a second (a contact
            // centre starts a few a second). One host starting more at once
            // meets the server's per-address handshake share (32 waiting
            // for their UUID, docs/SECURITY.md) on a busy machine.
            tokio::time::sleep(Duration::from_micros(
                (1_000_000 / calls.max(1) as u64).max(4_000),
            ))
            .await;
        }
        while set.join_next().await.is_some() {}
    });
    println!(
        "{{\"calls\":{calls},\"stereo\":{stereo},\"seconds\":{secs},\"frames\":{},\"late_frames\":{},\"worst_send_lateness_ms\":{:.1},\"failed_legs\":{},\"wall_s\":{:.1}}}",
        t.frames.load(Ordering::Relaxed),
        t.late.load(Ordering::Relaxed),
        t.worst_us.load(Ordering::Relaxed) as f64 / 1000.0,
        t.failed.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
}

//! What a running call holds on the heap: a server runs a thousand, so the
//! memory per call is budgeted (docs/PERFORMANCE.md; the goal is 150 kB of
//! resident memory per stereo call, allocator and kernel included). (Its own
//! test file: the tracking allocator is global to the test binary.)
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where
use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::ShoutModel;
use shoutcue_serve::config::{AudioSocketConfig, Pairing};
use shoutcue_serve::{ServeConfig, Server};
use shoutcue_testkit::alloc::live_bytes;
use tokio::io::AsyncWriteExt;

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// One AudioSocket frame: kind, big-endian length, payload.
async fn frame(s: &mut tokio::net::TcpStream, kind: u8, p: &[u8]) {
    let mut b = vec![kind, (p.len() >> 8) as u8, p.len() as u8];
    b.extend_from_slice(p);
    s.write_all(&b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stereo_audiosocket_call_holds_little_heap() {
    let dir = shoutcue_testkit::TempDir::new("serve-mem");
    let cfg = ServeConfig {
        audiosocket: Some(AudioSocketConfig {
            max_calls: None,
            listen: "127.0.0.1:0".parse().unwrap(),
            pairing: Pairing::RoleByte,
        }),
        events_dir: Some(dir.path().to_path_buf()),
        max_calls: 200,
        drain_grace_s: 1.0,
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
    let addr = server.bound.audiosocket.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = live_bytes();
    let n = 40usize;
    let mut socks = Vec::new();
    for c in 0..n {
        for role in [0u8, 1] {
            let mut id = [0x33u8; 16];
            id[0] = c as u8;
            id[15] = role;
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            frame(&mut s, 0x01, &id).await;
            for _ in 0..10 {
                frame(&mut s, 0x10, &[0u8; 320]).await;
            }
            socks.push(s);
        }
    }
    for _ in 0..100 {
        if server.active_calls() == n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.active_calls(), n, "every call started");
    let per_call = (live_bytes() - before) / n;
    eprintln!("heap per running stereo call: {} kB", per_call / 1024);
    // 119 kB measured (145 kB with blocks of 4,096 samples; 272 kB of
    // engine alone before the gating histograms went).
    assert!(per_call <= 135 * 1024, "{per_call} bytes per call");
    drop(socks);
}

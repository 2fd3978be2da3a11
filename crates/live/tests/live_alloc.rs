//! The live path allocates nothing once running: the audio callback body
//! ([`capture_block`]) with f32 and i16 buffers, overruns included, and the
//! analysis step that takes both rings in lockstep, drives the engine and
//! feeds the overlay — all under a global allocator that counts.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use shoutcue_core::detector::Speaker;

use shoutcue_core::source::{ChannelChoice, WavSource};
use shoutcue_live::capture::{
    capture_block, channel_ring, voice_input, ChannelHealth, LiveAnalysis, Pick,
};
use shoutcue_live::overlay::{feed_channel, FEED_CAPACITY};

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// Both voices of a fixture, interleaved as a stereo device delivers them
/// (left = agent, right = customer).
fn stereo_fixture(name: &str) -> (Vec<f32>, u32) {
    let p = shoutcue_testkit::repo_root().join("fixtures").join(name);
    let mut src = WavSource::open(&p, ChannelChoice::Default).expect("fixture opens");
    let rate = src.spec().sample_rate;
    let (mut c, mut a) = (vec![0.0f32; 4096], vec![0.0f32; 4096]);
    let mut out = Vec::new();
    loop {
        let n = src.read(&mut c, &mut a).expect("fixture reads");
        if n == 0 {
            break;
        }
        for i in 0..n {
            out.push(a[i]);
            out.push(c[i]);
        }
    }
    (out, rate)
}

/// The allocation counter is global to this test binary, so the tests take
/// turns: one test's set-up must not be counted in another's window.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn callback_and_analysis_allocate_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (stereo, rate) = stereo_fixture("continued_shout.wav");
    let as_i16: Vec<i16> = stereo
        .iter()
        .map(|s| (s * 32767.0).round() as i16)
        .collect();
    let max_block = rate as usize / 10;
    let engine = shoutcue_testkit::engine(rate, max_block, true);
    let (hc, ha) = (
        Arc::new(ChannelHealth::default()),
        Arc::new(ChannelHealth::default()),
    );
    // One stereo device carrying both voices, as `--channel-map 1,0`.
    let (rc, ic) = channel_ring(rate as usize, Pick::Channel(1), hc.clone());
    let (ra, ia) = channel_ring(rate as usize, Pick::Channel(0), ha.clone());
    let mut routes = [rc, ra];
    let (vc, _uc) = voice_input(Speaker::Customer, ic, hc.clone());
    let (va, _ua) = voice_input(Speaker::Agent, ia, ha.clone());
    let mut analysis = LiveAnalysis::new(engine, rate, max_block, vc, Some(va));
    let (mut feed, _rx) = feed_channel(FEED_CAPACITY);

    // 10 ms callbacks, as PulseAudio delivers them at the requested fragment.
    let frame = 2 * rate as usize / 100;
    let half = stereo.len() / 2 / frame * frame;
    // The call starts at the first step that finds audio; what was queued
    // before is discarded (devices open one after the other), so start it
    // on a warm-up block.
    let warmup = vec![0.0f32; frame];
    capture_block(&warmup, 2, &mut routes, Instant::now());
    analysis.step(&mut feed, Instant::now()).unwrap();
    let warm = (frame / 2) as u64;
    let before = shoutcue_testkit::alloc::thread_allocations();
    for (i, chunk) in stereo[..half].chunks(frame).enumerate() {
        capture_block(chunk, 2, &mut routes, Instant::now());
        if i % 3 == 0 {
            analysis.step(&mut feed, Instant::now()).unwrap();
        }
    }
    for (i, chunk) in as_i16[half..].chunks(frame).enumerate() {
        capture_block(chunk, 2, &mut routes, Instant::now());
        if i % 3 == 0 {
            analysis.step(&mut feed, Instant::now()).unwrap();
        }
    }
    while analysis.step(&mut feed, Instant::now()).unwrap() > 0 {}
    let after = shoutcue_testkit::alloc::thread_allocations();
    assert_eq!(
        after - before,
        0,
        "the callback and analysis step allocated {} times",
        after - before
    );

    // The audio really went through: every frame reached both rings.
    let frames = (stereo.len() / 2) as u64;
    assert_eq!(hc.frames.load(Ordering::Relaxed), frames + warm);
    assert_eq!(ha.frames.load(Ordering::Relaxed), frames + warm);
    assert_eq!(hc.overrun.load(Ordering::Relaxed), 0);
    let t = analysis.call_time();
    assert!(
        (t - frames as f64 / rate as f64).abs() < 1e-9,
        "analysed {t} s of {} s",
        frames as f64 / rate as f64
    );
}

#[test]
fn overrun_is_counted_without_allocating() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let health = Arc::new(ChannelHealth::default());
    let (route, _input) = channel_ring(800, Pick::Mix, health.clone());
    let mut routes = [route];
    let buf = [0.25f32; 2 * 480];
    let before = shoutcue_testkit::alloc::thread_allocations();
    // Nobody reads: 5 callbacks of 480 frames into a ring of 800.
    for _ in 0..5 {
        capture_block(&buf, 2, &mut routes, Instant::now());
    }
    let after = shoutcue_testkit::alloc::thread_allocations();
    assert_eq!(after - before, 0, "a full ring made the callback allocate");
    assert_eq!(health.frames.load(Ordering::Relaxed), 800);
    assert_eq!(health.overrun.load(Ordering::Relaxed), 5 * 480 - 800);
    assert_eq!(health.callbacks.load(Ordering::Relaxed), 5);
}

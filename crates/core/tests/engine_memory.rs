//! What one call's engine holds: a telephony server runs a thousand of
//! them, so its heap per call is budgeted (docs/PERFORMANCE.md). (Its own
//! test file: the tracking allocator is global to the test binary.)
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_core::coach::CoachConfig;
use shoutcue_core::detector::ShoutModel;
use shoutcue_core::engine::CallEngine;
use shoutcue_testkit::alloc::live_bytes;

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// Heap bytes `f` leaves held (what it returns keeps).
fn held<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = live_bytes();
    let out = f();
    let after = live_bytes();
    (out, after.saturating_sub(before))
}

#[test]
fn a_stereo_telephone_calls_engine_holds_little() {
    let model = ShoutModel::builtin();
    let engine =
        |agent| CallEngine::new(8000, 4096, agent, &model, CoachConfig::default()).unwrap();
    let (mono, mono_bytes) = held(|| engine(false));
    let (stereo, stereo_bytes) = held(|| engine(true));
    let (lean, lean_bytes) = held(|| engine(true).without_call_loudness());
    eprintln!(
        "engine at 8 kHz: mono {} kB, stereo {} kB, stereo without the call's loudness {} kB",
        mono_bytes / 1024,
        stereo_bytes / 1024,
        lean_bytes / 1024
    );
    // The agent's channel keeps no integrated loudness (nothing reads it),
    // so it costs less than the customer's; without the customer's, what a
    // telephony server holds per call is within its budget
    // (docs/PERFORMANCE.md: 150 kB a call, the engine the most of it).
    assert!(
        stereo_bytes < 2 * mono_bytes - 80 * 1024,
        "{stereo_bytes} vs {mono_bytes}"
    );
    assert!(lean_bytes <= 112 * 1024, "{lean_bytes} bytes");
    drop((mono, stereo, lean));
}

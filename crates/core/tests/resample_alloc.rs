//! Real-time discipline: after construction, `Resampler::process` /
//! `flush` and `WavSource::read` never touch the heap, and opening a source
//! allocates a fixed amount however long the file is.
//!
//! Its own test binary because a `#[global_allocator]` is per binary.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::Cursor;

use shoutcue_core::resample::Resampler;
use shoutcue_core::source::{ChannelChoice, WavSource};

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// Runs `f` and returns (allocations, bytes) it made on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (out, n) = shoutcue_testkit::alloc::counted(f);
    (out, n.count, n.bytes)
}

/// An 8 kHz mu-law stereo WAV of `frames` frames, as recorders write calls.
fn mulaw_stereo(frames: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..frames * 2).map(|i| (i * 37 % 256) as u8).collect();
    let mut b = Vec::new();
    b.extend(b"RIFF");
    b.extend(((4 + 26 + 8 + data.len()) as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(18u32.to_le_bytes());
    b.extend(7u16.to_le_bytes()); // mu-law
    b.extend(2u16.to_le_bytes());
    b.extend(8000u32.to_le_bytes());
    b.extend(16000u32.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(8u16.to_le_bytes());
    b.extend(0u16.to_le_bytes());
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    b
}

#[test]
fn hot_paths_do_not_allocate() {
    // --- resampler, every rate, odd block sizes, including flush.
    for rate in [8000u32, 11025, 16000, 22050, 44100, 48000] {
        let max_input = 1000;
        let mut r = Resampler::new(rate, max_input).unwrap();
        let mut out = vec![0.0f32; r.max_output()];
        let input: Vec<f32> = (0..max_input).map(|i| (i as f32 * 0.01).sin()).collect();
        let (total, allocs, _) = counted(|| {
            let mut total = 0;
            for round in 0..200 {
                let len = [1, 79, 80, 333, 1000][round % 5];
                total += r.process(&input[..len], &mut out).unwrap();
            }
            total += r.flush(&mut out).unwrap();
            r.reset();
            total
        });
        assert!(total > 0, "{rate} Hz produced nothing");
        assert_eq!(allocs, 0, "{rate} Hz: process/flush/reset allocated");
    }

    // --- source: open costs a bounded amount, independent of length; every
    // read afterwards costs nothing.
    let short = mulaw_stereo(8000);
    let long = mulaw_stereo(8000 * 60);
    let mut open_bytes = Vec::new();
    for bytes in [short, long] {
        let frames = (bytes.len() - 46) / 2;
        let cursor = Cursor::new(bytes);
        let (src, _, opened) =
            counted(|| WavSource::from_reader("calls/alloc.wav", cursor, ChannelChoice::Default));
        let mut src = src.unwrap();
        open_bytes.push(opened);
        let mut c = [0.0f32; 80];
        let mut a = [0.0f32; 80];
        let (read, allocs, _) = counted(|| {
            let mut n = 0;
            loop {
                match src.read(&mut c, &mut a) {
                    Ok(0) | Err(_) => return n,
                    Ok(k) => n += k,
                }
            }
        });
        assert_eq!(read, frames);
        assert_eq!(allocs, 0, "WavSource::read allocated");
    }
    // The counter is live: opening allocates its read buffer.
    assert!(
        open_bytes[0] >= 1024,
        "open allocated only {} bytes",
        open_bytes[0]
    );
    assert_eq!(
        open_bytes[0], open_bytes[1],
        "open must not scale with the file"
    );
    assert!(
        open_bytes[1] < 64 * 1024,
        "open allocated {} bytes",
        open_bytes[1]
    );
}

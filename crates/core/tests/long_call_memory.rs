//! A three-hour call runs in the memory of a ten-minute one: the heap's peak
//! during a replay does not grow with the call's length. (Its own test file:
//! the tracking allocator is global to the test binary.)
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::{Read, Seek, SeekFrom};

use shoutcue_core::coach::CoachConfig;
use shoutcue_core::detector::ShoutModel;
use shoutcue_core::engine::Sink;
use shoutcue_core::engine::{replay_call, Pace};
use shoutcue_core::source::{ChannelChoice, WavSource};

#[global_allocator]
static A: shoutcue_testkit::alloc::Counting = shoutcue_testkit::alloc::Counting;

/// A WAV that is generated as it is read: a header, then `secs` of a voice
/// that talks calmly for 4 s and pauses for 2 s, forever. Nothing of it is
/// ever held in memory, so the only memory in use is shoutcue's own.
struct Endless {
    header: Vec<u8>,
    /// One 6 s cycle of the voice, as little-endian 16-bit bytes.
    cycle: Vec<u8>,
    len: u64,
    pos: u64,
}

impl Endless {
    fn new(secs: u64) -> Self {
        let data = secs * 8000 * 2;
        let mut h = Vec::new();
        h.extend(b"RIFF");
        h.extend(((36 + data) as u32).to_le_bytes());
        h.extend(b"WAVEfmt ");
        h.extend(16u32.to_le_bytes());
        h.extend(1u16.to_le_bytes()); // PCM
        h.extend(1u16.to_le_bytes()); // mono
        h.extend(8000u32.to_le_bytes());
        h.extend(16000u32.to_le_bytes());
        h.extend(2u16.to_le_bytes());
        h.extend(16u16.to_le_bytes());
        h.extend(b"data");
        h.extend((data as u32).to_le_bytes());
        let cycle = (0..6 * 8000)
            .flat_map(|i| {
                let t = i as f64 / 8000.0;
                let v = if t < 4.0 {
                    let f0 = 120.0 * (1.0 + 0.05 * (2.0 * std::f64::consts::PI * 0.5 * t).sin());
                    (1..12)
                        .map(|k| (2.0 * std::f64::consts::PI * f0 * k as f64 * t).sin() / k as f64)
                        .sum::<f64>()
                        * 3000.0
                } else {
                    0.0
                };
                (v as i16).to_le_bytes()
            })
            .collect();
        let len = h.len() as u64 + data;
        Self {
            header: h,
            cycle,
            len,
            pos: 0,
        }
    }

    fn byte(&self, at: u64) -> u8 {
        let hl = self.header.len() as u64;
        if at < hl {
            self.header[at as usize]
        } else {
            self.cycle[((at - hl) % self.cycle.len() as u64) as usize]
        }
    }
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min((self.len - self.pos) as usize);
        for (k, b) in buf[..n].iter_mut().enumerate() {
            *b = self.byte(self.pos + k as u64);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Endless {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => (self.len as i64 + d) as u64,
            SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
        };
        Ok(self.pos)
    }
}

fn peak_heap_for(secs: u64) -> usize {
    let mut src =
        WavSource::from_reader("generated.wav", Endless::new(secs), ChannelChoice::Default)
            .unwrap();
    let model = ShoutModel::builtin();
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    shoutcue_testkit::alloc::reset_peak();
    let base = shoutcue_testkit::alloc::live_bytes();
    let stats = replay_call(
        "generated.wav",
        &mut src,
        &model,
        CoachConfig::default(),
        &mut sinks,
        Pace::Fast,
        &mut (),
        None,
    )
    .unwrap();
    assert!((stats.duration_s - secs as f64).abs() < 0.01);
    shoutcue_testkit::alloc::peak_bytes() - base
}

#[test]
fn a_three_hour_call_runs_in_the_memory_of_a_ten_minute_one() {
    let short = peak_heap_for(600);
    let long = peak_heap_for(3 * 3600);
    println!("peak heap: 10 min {short} bytes, 3 h {long} bytes");
    assert!(
        long <= short + 4096,
        "memory grew with call length: {short} -> {long} bytes"
    );
}

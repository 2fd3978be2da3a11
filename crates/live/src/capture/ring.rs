//! The audio callback's whole job: copy samples into a wait-free ring.
//!
//! [`capture_block`] is a plain function (no cpal types) so tests can call
//! it directly; the device layer calls it from cpal's callback. It never
//! allocates, locks, logs or blocks: a full ring drops the excess and counts
//! it as an overrun, which the analysis thread reports as an event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A device sample the callback can take.
pub trait InputSample: Copy {
    /// The sample as float, full scale ±1.
    fn to_f32(self) -> f32;
}

impl InputSample for f32 {
    fn to_f32(self) -> f32 {
        self
    }
}

impl InputSample for i16 {
    fn to_f32(self) -> f32 {
        f32::from(self) / 32768.0
    }
}

impl InputSample for i32 {
    fn to_f32(self) -> f32 {
        self as f32 / 2_147_483_648.0
    }
}

/// Which of a device's interleaved channels feeds a voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The mean of all channels (a stereo monitor of the call audio).
    Mix,
    /// One channel by index (0 = left), for one stereo device carrying both voices.
    Channel(u16),
}

/// Counters one voice's capture shares with the analysis and device threads.
#[derive(Debug, Default)]
pub struct ChannelHealth {
    /// Frames written into the ring.
    pub frames: AtomicU64,
    /// Frames dropped because the ring was full.
    pub overrun: AtomicU64,
    /// Callbacks seen (the device watchdog checks that it moves).
    pub callbacks: AtomicU64,
    /// The device is gone; the analysis feeds silence for this voice.
    pub lost: AtomicBool,
}

/// When a callback's buffer arrived, and the ring's frame count after it.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// Frames written into the ring once this buffer was in.
    pub frames: u64,
    /// Arrival at the callback.
    pub at: Instant,
}

/// The callback's end of one voice: where its samples go.
pub struct CaptureRoute {
    pick: Pick,
    ring: rtrb::Producer<f32>,
    stamps: rtrb::Producer<Stamp>,
    health: Arc<ChannelHealth>,
    written: u64,
}

/// The analysis thread's end of one voice.
pub struct ChannelInput {
    pub(crate) ring: rtrb::Consumer<f32>,
    pub(crate) stamps: rtrb::Consumer<Stamp>,
    pub(crate) consumed: u64,
}

/// Stamps kept per ring: one per callback, so many seconds' worth.
const STAMPS: usize = 1024;

/// A ring of `capacity` samples for one voice, read from `pick`.
pub fn channel_ring(
    capacity: usize,
    pick: Pick,
    health: Arc<ChannelHealth>,
) -> (CaptureRoute, ChannelInput) {
    let (ring, ring_rx) = rtrb::RingBuffer::new(capacity.max(1));
    let (stamps, stamps_rx) = rtrb::RingBuffer::new(STAMPS);
    (
        CaptureRoute {
            pick,
            ring,
            stamps,
            health,
            written: 0,
        },
        ChannelInput {
            ring: ring_rx,
            stamps: stamps_rx,
            consumed: 0,
        },
    )
}

impl CaptureRoute {
    /// The voice's shared counters.
    pub fn health(&self) -> &Arc<ChannelHealth> {
        &self.health
    }
}

/// The audio callback body: copies one interleaved buffer of `channels`
/// channels into each route's ring. Wait-free; nothing allocates.
pub fn capture_block<S: InputSample>(
    data: &[S],
    channels: usize,
    routes: &mut [CaptureRoute],
    now: Instant,
) {
    let channels = channels.max(1);
    let frames = data.len() / channels;
    for r in routes.iter_mut() {
        r.health.callbacks.fetch_add(1, Ordering::Relaxed);
        let n = frames.min(r.ring.slots());
        if n > 0 {
            if let Ok(chunk) = r.ring.write_chunk_uninit(n) {
                let pick = r.pick;
                let samples = data.chunks_exact(channels).take(n).map(|f| match pick {
                    Pick::Mix => f.iter().map(|s| s.to_f32()).sum::<f32>() / channels as f32,
                    Pick::Channel(c) => f
                        .get(usize::from(c))
                        .map_or(0.0, |s| InputSample::to_f32(*s)),
                });
                chunk.fill_from_iter(samples);
            }
            r.written += n as u64;
            r.health.frames.fetch_add(n as u64, Ordering::Relaxed);
            // A full stamp ring only costs latency figures, never audio.
            let _ = r.stamps.push(Stamp {
                frames: r.written,
                at: now,
            });
        }
        if n < frames {
            r.health
                .overrun
                .fetch_add((frames - n) as u64, Ordering::Relaxed);
        }
    }
}

impl ChannelInput {
    /// Samples waiting.
    pub fn available(&self) -> usize {
        self.ring.slots()
    }

    /// When the oldest unread buffer reached the callback.
    pub(crate) fn oldest_unread_arrival(&mut self) -> Option<Instant> {
        while let Ok(s) = self.stamps.peek() {
            if s.frames <= self.consumed {
                let _ = self.stamps.pop();
            } else {
                return Some(s.at);
            }
        }
        None
    }

    /// Reads exactly `out.len()` samples (the caller checked they are there).
    pub(crate) fn read_into(&mut self, out: &mut [f32]) -> usize {
        let n = out.len().min(self.ring.slots());
        if let Ok(chunk) = self.ring.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            out[..a.len()].copy_from_slice(a);
            out[a.len()..a.len() + b.len()].copy_from_slice(b);
            chunk.commit_all();
        }
        self.consumed += n as u64;
        n
    }

    /// Throws away `n` waiting samples (stale audio of a lost device, or
    /// clock drift between two devices).
    pub(crate) fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.ring.slots());
        if let Ok(chunk) = self.ring.read_chunk(n) {
            chunk.commit_all();
        }
        self.consumed += n as u64;
        n
    }
}

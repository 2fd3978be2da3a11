//! shoutcue: real-time raised-voice cues for call-centre agents.
//!
//! Data flows one way, and each stage is a module that knows nothing of the
//! ones after it:
//!
//! `source` → `resample` → `frames` → `features` → `detector` → `coach` → `sinks`
//!
//! `pipeline` wires the stages together for the command-line tool.
#![deny(missing_docs)]

pub mod coach;
pub mod detector;
pub mod eval;
pub mod features;
pub mod frames;
pub mod live;
pub mod overlay;
pub mod pipeline;
pub mod qa;
pub mod resample;
pub mod sinks;
pub mod source;
pub mod train;

/// The one rate every channel is analysed at, in Hz.
///
/// Telephone audio carries 300-3400 Hz, so everything the model may rely on
/// must live below 4 kHz. 8 kHz is the lowest rate that holds that band: an
/// 8 kHz call is analysed as it is (nothing invented by upsampling), a 48 kHz
/// headset is decimated to the same band, and so one model serves both. It is
/// also the cheapest rate for the per-hop FFTs.
pub const ANALYSIS_RATE: u32 = 8000;
/// Hop between analysis frames, in samples at [`ANALYSIS_RATE`] (10 ms).
pub const HOP: usize = 80;
/// Analysis window, in samples at [`ANALYSIS_RATE`] (40 ms: three periods of 75 Hz, as Praat uses).
pub const WINDOW: usize = 320;

/// Whether the CPU has AVX, for the hot paths that have an AVX build
/// (the feature transforms, the resampler's block): detected at run time, because
/// the binary must run on any x86_64.
pub(crate) fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

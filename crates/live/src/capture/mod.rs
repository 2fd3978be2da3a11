//! Live agent mode: capture from sound devices, analyse in real time, and
//! feed the overlay.
//!
//! Three threads per call, so nothing slow ever sits in the audio path:
//!
//! 1. the device's callback ([`capture_block`]): copies samples into a
//!    wait-free `rtrb` ring, counts overruns; no allocation, lock, log or block;
//! 2. the analysis thread ([`LiveAnalysis`]): takes both voices from their
//!    rings in lockstep, drives the [`CallEngine`](shoutcue_core::engine::CallEngine)
//!    and sends `Copy` events into the overlay feed;
//! 3. the publisher ([`Publisher`](crate::overlay::Publisher)): renders the
//!    events as JSON Lines for stdout and the overlay page.
//!
//! A device that disappears is reported (`device_lost`), fed as silence so
//! the other voice keeps working, and reopened once it is back
//! (`device_back`). The cpal parts (device listing, streams, the retry
//! loop) are behind the `live` Cargo feature; the rest is plain code that
//! tests drive without a sound card.

mod analysis;
#[cfg(feature = "capture")]
mod device;
mod ring;

pub use analysis::{voice_input, LiveAnalysis, LiveStats, VoiceInput, PAIRING};
#[cfg(feature = "capture")]
pub use device::{
    find_pulse_socket, list_input_devices, pulse_socket_candidates, start_capture, CaptureHandle,
    CaptureSetup, DeviceInfo, LiveError, VoiceSource,
};
pub use ring::{
    capture_block, channel_ring, CaptureRoute, ChannelHealth, ChannelInput, InputSample, Pick,
    Stamp,
};

//! Arbitrary text as a coach timing file: parsing must never panic, and a
//! config that parses is in range and builds a coach.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutcue_core::coach::{Coach, CoachConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cfg) = CoachConfig::parse(text, "fuzz.toml") else {
        return;
    };
    for v in [
        cfg.pause_s,
        cfg.delivery_window_s,
        cfg.delivery_min_speech_s,
        cfg.calm_after_s,
        cfg.calm_min_speech_s,
        cfg.overtalk_s,
        cfg.nudge_cooldown_s,
    ] {
        assert!(v.is_finite() && (0.0..=3600.0).contains(&v), "{cfg:?}");
    }
    assert!(cfg.delivery_min_speech_s <= cfg.delivery_window_s);
    assert!(cfg.calm_min_speech_s <= cfg.calm_after_s);
    assert!(cfg.validate("again").is_ok());
    assert!(Coach::new(cfg).is_ok(), "{cfg:?}");
});

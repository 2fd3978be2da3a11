//! Arbitrary bytes as the body of the overlay's `POST /api/mark`: parsing
//! never panics, an accepted mark names a real rung and a time in the call,
//! and every refusal says which.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutcue_live::overlay::{parse_mark, MarkAction, MarkError};

fuzz_target!(|data: &[u8]| {
    match parse_mark(data) {
        Ok(m) => {
            assert!(
                (1..=4).contains(&m.step) && (1..=2).contains(&m.repeat),
                "{m:?}"
            );
            assert!(m.cue_t.is_finite() && m.cue_t >= 0.0, "{m:?}");
            // The same mark, written back, reads the same.
            let action = match m.action {
                MarkAction::Said => "said",
                MarkAction::Dismiss => "dismiss",
            };
            let again = format!(
                r#"{{"action":"{action}","step":{},"repeat":{},"cue_t":{:?}}}"#,
                m.step, m.repeat, m.cue_t
            );
            let back = parse_mark(again.as_bytes()).expect("a written mark parses");
            assert_eq!(
                (back.action, back.step, back.repeat),
                (m.action, m.step, m.repeat)
            );
            assert!((back.cue_t - m.cue_t).abs() <= m.cue_t * 1e-12 + f64::MIN_POSITIVE);
        }
        Err(MarkError::Rung { step, repeat }) => {
            assert!(!((1..=4).contains(&step) && (1..=2).contains(&repeat)));
        }
        Err(MarkError::CueTime { got }) => assert!(!(got.is_finite() && got >= 0.0)),
        Err(e @ MarkError::Body { .. }) => assert!(!e.to_string().is_empty()),
    }
});

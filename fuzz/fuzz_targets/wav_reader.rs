//! Arbitrary bytes as a WAV file: opening and reading to the end must
//! never panic, and whatever is delivered must be finite and in [-1, 1].
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use shoutcue_core::source::{ChannelChoice, WavSource};

fuzz_target!(|data: &[u8]| {
    // Every way of choosing channels, so each role path meets every header.
    let choices = [
        ChannelChoice::Default,
        ChannelChoice::Swapped,
        ChannelChoice::Explicit {
            customer: 2,
            agent: Some(0),
        },
    ];
    for choice in choices {
        let Ok(mut src) = WavSource::from_reader("fuzz.wav", Cursor::new(data.to_vec()), choice)
        else {
            continue;
        };
        let spec = *src.spec();
        assert!((shoutcue_core::source::MIN_RATE..=shoutcue_core::source::MAX_RATE).contains(&spec.sample_rate));
        assert!(spec.channels >= 1);
        let mut customer = [0.0f32; 37];
        let mut agent = [0.0f32; 37];
        let mut total = 0u64;
        loop {
            match src.read(&mut customer, &mut agent) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    assert!(n <= customer.len());
                    total += n as u64;
                    assert!(customer[..n].iter().all(|v| (-1.0..=1.0).contains(v)));
                    if src.has_agent() {
                        assert!(agent[..n].iter().all(|v| (-1.0..=1.0).contains(v)));
                    }
                }
            }
        }
        // Never more frames than the bytes could hold, nor than declared.
        assert!(total <= data.len() as u64);
        if let Some(declared) = spec.declared_frames {
            assert!(total <= declared);
        }
    }
});

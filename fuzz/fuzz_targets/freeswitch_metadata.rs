//! Arbitrary text as FreeSWITCH's metadata frame, against every valid
//! configuration and some invalid ones: never a panic, and any format it
//! accepts is one the audio loop can use.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutcue_serve::freeswitch::metadata;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (rate, channels, customer) in [(8000, 1, 0), (16000, 2, 1), (8000, 2, 0), (44100, 3, 9)] {
        let Ok(f) = metadata(text, rate, channels, customer, "fallback") else {
            continue;
        };
        assert!(matches!(f.rate, 8000 | 16000), "{f:?}");
        assert!(matches!(f.channels, 1 | 2), "{f:?}");
        assert!(f.customer_channel < f.channels, "{f:?}");
        assert!(!f.call_id.is_empty() || text.contains("\"\""), "{f:?}");
    }
});

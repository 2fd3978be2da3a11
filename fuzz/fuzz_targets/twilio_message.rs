//! Arbitrary text as one Twilio Media Streams message: parsing never
//! panics, and a media message decodes to one sample per payload byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutcue_serve::twilio::{parse_message, push_mulaw, TwilioMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_message(text) {
        Ok(TwilioMessage::Media { payload, .. }) => {
            // base64: at most 3 bytes per 4 characters of the message.
            assert!(payload.len() <= text.len() / 4 * 3);
            let mut out = vec![0.5f32; 3];
            push_mulaw(&payload, &mut out);
            assert_eq!(out.len(), 3 + payload.len());
            assert!(out[3..].iter().all(|v| (-1.0..=1.0).contains(v)));
        }
        Ok(TwilioMessage::Start { call_id, .. }) => {
            assert!(!call_id.is_empty() || text.contains("\"\""))
        }
        Ok(_) => {}
        Err(e) => assert!(!e.is_empty()),
    }
});

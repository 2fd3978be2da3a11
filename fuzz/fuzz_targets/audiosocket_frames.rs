//! Arbitrary bytes as an AudioSocket stream, cut into frames as the server
//! reads them (3-byte header: kind, big-endian u16 length; then the
//! payload): parsing never panics, and every frame it accepts is what the
//! protocol's table says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutcue_serve::audiosocket::{
    audio_rate, decode_pcm16, header, parse, uuid_text, Frame, FrameError,
};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut samples = Vec::new();
    while let Some((h, after)) = rest.split_first_chunk::<3>() {
        let (kind, len) = header(*h);
        assert_eq!(len, usize::from(u16::from_be_bytes([h[1], h[2]])));
        let Some(payload) = after.get(..len) else {
            break; // a frame cut short: the server reports the short read
        };
        rest = &after[len..];
        match parse(kind, payload) {
            Ok(Frame::Hangup) => assert_eq!(kind, 0x00),
            Ok(Frame::Uuid(id)) => {
                assert_eq!((kind, len), (0x01, 16));
                assert_eq!(&id[..], payload);
                let text = uuid_text(&id);
                assert_eq!(text.len(), 36);
                let hex: String = text.chars().filter(|c| *c != '-').collect();
                let back: Vec<u8> = (0..16)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                    .collect::<Result<_, _>>()
                    .expect("uuid_text is hex");
                assert_eq!(back, payload);
            }
            Ok(Frame::Dtmf(d)) => assert_eq!((kind, Some(d)), (0x03, payload.first().copied())),
            Ok(Frame::Error(c)) => assert_eq!((kind, Some(c)), (0xff, payload.first().copied())),
            Ok(Frame::Audio { rate, pcm }) => {
                assert_eq!(audio_rate(kind), Some(rate));
                assert_eq!(pcm, payload);
                assert!(!pcm.is_empty() && pcm.len() % 2 == 0);
                decode_pcm16(pcm, &mut samples);
                assert_eq!(samples.len(), len / 2);
                assert!(samples.iter().all(|v| (-1.0..=1.0).contains(v)));
            }
            Err(FrameError::UnknownKind(k)) => {
                assert_eq!(k, kind);
                assert!(audio_rate(k).is_none() && ![0x00, 0x01, 0x03, 0xff].contains(&k));
            }
            Err(FrameError::Empty(k)) => assert!(k == kind && k != 0x00 && payload.is_empty()),
            Err(FrameError::UuidLength { got }) => assert!(kind == 0x01 && got == len && got != 16),
            Err(FrameError::OddAudio { got }) => {
                assert!(audio_rate(kind).is_some() && got == len && got % 2 == 1)
            }
        }
    }
});

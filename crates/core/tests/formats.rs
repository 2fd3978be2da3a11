//! The formats call recorders write besides WAV, read through the same
//! `WavSource` (symphonia underneath), against the WAV they were made from
//! (`testdata/formats/`, made by tools/data/make_formats.py from
//! fixtures/mono_shout.wav): lossless ones must give the same samples,
//! lossy ones the same length and level; what is not read says what it is.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::Cursor;

use shoutcue_core::source::{ChannelChoice, Encoding, SourceErrorKind, WavSource};

fn fx(name: &str) -> std::path::PathBuf {
    shoutcue_testkit::fixture(name)
}

/// Every customer sample of `src`, read in odd-sized blocks.
fn all(mut src: WavSource) -> Vec<f32> {
    let mut out = Vec::new();
    let (mut c, mut a) = (vec![0.0f32; 777], vec![0.0f32; 777]);
    loop {
        let n = src.read(&mut c, &mut a).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&c[..n]);
    }
}

fn wav() -> Vec<f32> {
    all(WavSource::open(fx("mono_shout.wav"), ChannelChoice::Default).unwrap())
}

fn rms_db(x: &[f32]) -> f64 {
    let p = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64;
    10.0 * p.log10()
}

#[test]
fn flac_gives_the_wavs_samples() {
    let src = WavSource::open(
        shoutcue_testkit::format_fixture("mono_shout.flac"),
        ChannelChoice::Default,
    )
    .unwrap();
    assert_eq!(src.spec().sample_rate, 8000);
    assert_eq!(src.spec().channels, 1);
    assert_eq!(src.spec().encoding, Encoding::Decoded { codec: "flac" });
    assert!(!src.has_agent());
    let (got, want) = (all(src), wav());
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "largest difference {worst}");
}

#[test]
fn aiff_and_caf_give_the_wavs_samples() {
    let want = wav();
    let want = &want[11 * 8000..15 * 8000];
    for f in ["excerpt.aiff", "excerpt.caf"] {
        let src =
            WavSource::open(shoutcue_testkit::format_fixture(f), ChannelChoice::Default).unwrap();
        assert!(
            matches!(src.spec().encoding, Encoding::Decoded { .. }),
            "{f}"
        );
        let got = all(src);
        assert_eq!(got.len(), want.len(), "{f}");
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{f}: largest difference {worst}");
    }
}

#[test]
fn sun_au_mu_law_gives_the_wavs_samples_through_g711() {
    // sox wrote the same second (11-12 s) as mu-law: our G.711 table on
    // the WAV's samples must give what the .au holds, to mu-law's step.
    let src = WavSource::open(
        shoutcue_testkit::format_fixture("excerpt.au"),
        ChannelChoice::Default,
    )
    .unwrap();
    assert_eq!(src.spec().encoding, Encoding::MuLaw);
    assert_eq!((src.spec().sample_rate, src.spec().channels), (8000, 1));
    let got = all(src);
    let want = wav();
    let want = &want[11 * 8000..12 * 8000];
    assert_eq!(got.len(), want.len());
    let err: Vec<f32> = got.iter().zip(want).map(|(a, b)| a - b).collect();
    let snr = rms_db(want) - rms_db(&err);
    assert!(snr > 30.0, "SNR {snr:.1} dB");
    // The same bytes from a pipe.
    let bytes = std::fs::read(shoutcue_testkit::format_fixture("excerpt.au")).unwrap();
    let src = WavSource::from_stream("stdin", Cursor::new(bytes), ChannelChoice::Default).unwrap();
    assert_eq!(all(src).len(), want.len());
}

/// A Sun .au header: big-endian offset, size, encoding, rate, channels.
fn au(encoding: u32, rate: u32, channels: u32, data: &[u8], size: u32) -> Vec<u8> {
    let mut b = b".snd".to_vec();
    for v in [24u32, size, encoding, rate, channels] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn sun_au_linear_pcm_and_its_faults() {
    // 16-bit big-endian stereo: agent left, customer right, as for WAV.
    let frames: [(i16, i16); 3] = [(1000, -2000), (-32768, 32767), (0, 16384)];
    let data: Vec<u8> = frames
        .iter()
        .flat_map(|(a, c)| [a.to_be_bytes(), c.to_be_bytes()].concat())
        .collect();
    let mut src = WavSource::from_reader(
        "t.au",
        Cursor::new(au(3, 16000, 2, &data, 12)),
        ChannelChoice::Default,
    )
    .unwrap();
    assert_eq!(src.spec().encoding, Encoding::Pcm16Be);
    let (mut c, mut a) = ([0.0f32; 8], [0.0f32; 8]);
    assert_eq!(src.read(&mut c, &mut a).unwrap(), 3);
    assert_eq!(&c[..3], &[-2000.0 / 32768.0, 32767.0 / 32768.0, 0.5]);
    assert_eq!(&a[..3], &[1000.0 / 32768.0, -1.0, 0.0]);
    // Unknown size (0xFFFFFFFF): read to the end. 8-bit signed.
    let mut src = WavSource::from_reader(
        "t.au",
        Cursor::new(au(2, 8000, 1, &[0x40, 0xC0], u32::MAX)),
        ChannelChoice::Default,
    )
    .unwrap();
    assert_eq!(src.read(&mut c, &mut a).unwrap(), 2);
    assert_eq!(&c[..2], &[0.5, -0.5]);
    // Faults: a cut header, a float encoding, a zero rate; each named.
    let e = WavSource::from_reader(
        "cut.au",
        Cursor::new(b".snd\0\0\0\x18".to_vec()),
        ChannelChoice::Default,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("cut.au") && e.to_string().contains("Sun .au header"),
        "{e}"
    );
    let e = WavSource::from_reader(
        "f.au",
        Cursor::new(au(6, 8000, 1, &[0; 8], 8)),
        ChannelChoice::Default,
    )
    .unwrap_err();
    assert!(e.to_string().contains("float"), "{e}");
    let e = WavSource::from_reader(
        "r.au",
        Cursor::new(au(1, 0, 1, &[0; 8], 8)),
        ChannelChoice::Default,
    )
    .unwrap_err();
    assert!(
        matches!(e.kind, SourceErrorKind::RateOutOfRange { rate: 0 }),
        "{e}"
    );
}

#[test]
fn adpcm_in_wav_follows_the_wav_closely() {
    let want = wav();
    let want = &want[11 * 8000..15 * 8000];
    for f in ["excerpt_ima.wav", "excerpt_ms.wav"] {
        let got = all(
            WavSource::open(shoutcue_testkit::format_fixture(f), ChannelChoice::Default).unwrap(),
        );
        // ADPCM pads its last block.
        assert!(
            got.len() >= want.len() && got.len() < want.len() + 1024,
            "{f}: {} samples",
            got.len()
        );
        let err: Vec<f32> = got.iter().zip(want).map(|(a, b)| a - b).collect();
        let snr = rms_db(want) - rms_db(&err);
        assert!(snr > 15.0, "{f}: SNR {snr:.1} dB");
    }
}

#[test]
fn mp3_and_vorbis_keep_the_calls_length_and_level() {
    let want = wav();
    // MP3 holds whole 1152-sample frames plus the encoder's delay; without
    // a LAME tag (this encoder writes none) nothing says how much to trim,
    // so up to 0.2 s more. Vorbis knows its exact length.
    for (f, codec, slack) in [
        ("mono_shout.mp3", "mp3", 0.2),
        ("mono_shout.ogg", "vorbis", 0.01),
    ] {
        let src =
            WavSource::open(shoutcue_testkit::format_fixture(f), ChannelChoice::Default).unwrap();
        assert_eq!(src.spec().encoding, Encoding::Decoded { codec }, "{f}");
        let got = all(src);
        let secs = (got.len() as f64 - want.len() as f64).abs() / 8000.0;
        assert!(
            secs < slack,
            "{f}: {} samples against {}",
            got.len(),
            want.len()
        );
        let d = rms_db(&got) - rms_db(&want);
        assert!(d.abs() < 1.0, "{f}: level {d:+.2} dB from the WAV's");
    }
}

#[test]
fn a_compressed_stream_on_stdin_is_read_too() {
    let bytes = std::fs::read(shoutcue_testkit::format_fixture("mono_shout.flac")).unwrap();
    let src = WavSource::from_stream("stdin", Cursor::new(bytes), ChannelChoice::Default).unwrap();
    assert_eq!(all(src).len(), wav().len());
}

#[test]
fn a_cut_flac_keeps_what_came_before_the_cut() {
    let bytes = std::fs::read(shoutcue_testkit::format_fixture("mono_shout.flac")).unwrap();
    let cut = bytes[..bytes.len() * 6 / 10].to_vec();
    let dir = shoutcue_testkit::TempDir::new("cut-flac");
    let path = dir.path().join("cut.flac");
    std::fs::write(&path, cut).unwrap();
    let src = WavSource::open(&path, ChannelChoice::Default).unwrap();
    let got = all(src);
    let want = wav();
    assert!(
        got.len() > want.len() / 2 && got.len() < want.len(),
        "{} of {}",
        got.len(),
        want.len()
    );
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-6, "what was read differs: {worst}");
}

#[test]
fn what_is_not_read_says_what_it_is() {
    let e = WavSource::open(
        shoutcue_testkit::format_fixture("excerpt_gsm.wav"),
        ChannelChoice::Default,
    )
    .unwrap_err();
    assert!(
        matches!(e.kind, SourceErrorKind::UnsupportedCodec { tag: 0x31, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("excerpt_gsm.wav") && msg.contains("GSM"),
        "{msg}"
    );
    // Wave64: refused by name.
    let dir = shoutcue_testkit::TempDir::new("w64");
    let path = dir.path().join("call.w64");
    let mut w64 = b"riff".to_vec();
    w64.extend_from_slice(&[0u8; 60]);
    std::fs::write(&path, w64).unwrap();
    let msg = WavSource::open(&path, ChannelChoice::Default)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("call.w64") && msg.contains("Wave64"), "{msg}");
    // Text with an audio name: neither reader takes it, and it is named.
    let dir = shoutcue_testkit::TempDir::new("notes-mp3");
    let path = dir.path().join("notes.mp3");
    std::fs::write(&path, b"just some text, no audio").unwrap();
    let e = WavSource::open(&path, ChannelChoice::Default).unwrap_err();
    assert!(
        e.to_string().contains("not a recording shoutcue can read"),
        "{e}"
    );
}

/// Issue 26: a text file, random bytes and a program, each named `.wav`,
/// gave three different decoder messages ("chunk length exceeds parent",
/// "I/O error: end of stream", "unsupported core (codec)"). Each must say
/// plainly that it is not a recording shoutcue can read, and what it looked
/// like.
#[test]
fn files_that_are_not_audio_say_so_and_what_they_look_like() {
    let dir = shoutcue_testkit::TempDir::new("not-audio");
    // Deterministic "random" bytes (xorshift), so the test cannot flake.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..5000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.extend(random.iter().take(4000));
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "notes.wav",
            b"hello, this is not audio at all\n".repeat(20),
            "text",
        ),
        ("random.wav", random.clone(), "binary data"),
        ("random.mp3", random, "binary data"),
        ("program.wav", elf, "a program"),
    ];
    for (name, bytes, looks) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let msg = WavSource::open(&path, ChannelChoice::Default)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(name) && msg.contains("not a recording shoutcue can read"),
            "{msg}"
        );
        assert!(msg.contains(looks), "{name}: {msg}");
        assert!(
            !msg.contains("I/O error") && !msg.contains("codec"),
            "{name}: {msg}"
        );
    }
}

#[test]
fn garbage_after_a_flac_header_never_panics() {
    let bytes = std::fs::read(shoutcue_testkit::format_fixture("mono_shout.flac")).unwrap();
    let dir = shoutcue_testkit::TempDir::new("scribbled-flac");
    let path = dir.path().join("scribbled.flac");
    for seed in 0..20u64 {
        let mut b = bytes.clone();
        // Scribble over a stretch past the header, differently each time.
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let start = 200 + (seed as usize * 5003) % (b.len() / 2);
        for v in b.iter_mut().skip(start).take(4000) {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = (x >> 33) as u8;
        }
        std::fs::write(&path, b).unwrap();
        if let Ok(mut src) = WavSource::open(&path, ChannelChoice::Default) {
            let (mut c, mut a) = (vec![0.0f32; 4096], vec![0.0f32; 4096]);
            while let Ok(n) = src.read(&mut c, &mut a) {
                if n == 0 {
                    break;
                }
                assert!(c[..n].iter().all(|v| v.is_finite() && v.abs() <= 1.0));
            }
        }
    }
}

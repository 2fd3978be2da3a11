//! WavSource: round-trips for every format, channel roles, streaming, and
//! every malformed-input case the reader must name rather than panic on.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use shoutcue_core::source::{
    ChannelChoice, Encoding, SourceError, SourceErrorKind, SourceWarning, WavSource,
};

// ---------------------------------------------------------------- helpers

/// A unique path in the temp dir, removed when dropped.
struct TempWav(PathBuf);

impl TempWav {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        TempWav(std::env::temp_dir().join(format!(
            "shoutcue-source-{}-{n}-{tag}.wav",
            std::process::id()
        )))
    }
}

impl Drop for TempWav {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Byte-level WAV builder, for formats hound will not write (G.711) and for
/// every kind of malformed header.
#[derive(Clone)]
struct RawWav {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    block_align: Option<u16>,
    /// Wrap in WAVE_FORMAT_EXTENSIBLE with `tag` as sub-format.
    extensible: bool,
    /// Chunks written between `fmt ` and `data`.
    extra_chunks: Vec<([u8; 4], Vec<u8>)>,
    /// Overrides the data chunk's size field.
    data_size: Option<u32>,
    data: Vec<u8>,
}

impl RawWav {
    fn new(tag: u16, channels: u16, rate: u32, bits: u16, data: Vec<u8>) -> Self {
        RawWav {
            tag,
            channels,
            rate,
            bits,
            block_align: None,
            extensible: false,
            extra_chunks: Vec::new(),
            data_size: None,
            data,
        }
    }

    fn fmt_body(&self) -> Vec<u8> {
        let ba = self
            .block_align
            .unwrap_or(self.channels.wrapping_mul(self.bits / 8));
        let mut b = Vec::new();
        b.extend((if self.extensible { 0xFFFEu16 } else { self.tag }).to_le_bytes());
        b.extend(self.channels.to_le_bytes());
        b.extend(self.rate.to_le_bytes());
        b.extend((self.rate.wrapping_mul(u32::from(ba))).to_le_bytes());
        b.extend(ba.to_le_bytes());
        b.extend(self.bits.to_le_bytes());
        if self.extensible {
            b.extend(22u16.to_le_bytes());
            b.extend(self.bits.to_le_bytes());
            b.extend(0u32.to_le_bytes());
            b.extend(self.tag.to_le_bytes());
            b.extend([
                0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
            ]);
        } else if self.tag != 1 {
            b.extend(0u16.to_le_bytes());
        }
        b
    }

    fn bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(b"WAVE");
        push_chunk(&mut body, b"fmt ", &self.fmt_body());
        for (id, c) in &self.extra_chunks {
            push_chunk(&mut body, id, c);
        }
        body.extend(b"data");
        body.extend(
            self.data_size
                .unwrap_or(self.data.len() as u32)
                .to_le_bytes(),
        );
        body.extend(&self.data);
        let mut out = Vec::new();
        out.extend(b"RIFF");
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }
}

fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend(id);
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

const NAME: &str = "calls/x.wav";

fn open_bytes(bytes: Vec<u8>, choice: ChannelChoice) -> Result<WavSource, SourceError> {
    WavSource::from_reader(NAME, Cursor::new(bytes), choice)
}

/// Reads everything in blocks of `block`; returns (customer, agent).
fn read_all(src: &mut WavSource, block: usize) -> Result<(Vec<f32>, Vec<f32>), SourceError> {
    let mut c = vec![0.0; block];
    let mut a = vec![0.0; block];
    let (mut cs, mut ags) = (Vec::new(), Vec::new());
    loop {
        let n = src.read(&mut c, &mut a)?;
        if n == 0 {
            return Ok((cs, ags));
        }
        cs.extend_from_slice(&c[..n]);
        ags.extend_from_slice(&a[..n]);
    }
}

fn open_err(bytes: Vec<u8>, choice: ChannelChoice) -> SourceError {
    match open_bytes(bytes, choice) {
        Ok(s) => panic!("expected an error, opened {:?}", s.spec()),
        Err(e) => {
            assert!(
                e.to_string().starts_with("calls/x.wav: "),
                "message must name the input: {e}"
            );
            e
        }
    }
}

fn pcm16_stereo(frames: usize) -> Vec<u8> {
    let mut d = Vec::new();
    for i in 0..frames {
        d.extend((i as i16).to_le_bytes()); // left
        d.extend((-(i as i16)).to_le_bytes()); // right
    }
    d
}

// ------------------------------------------------------------ round trips

/// Writes a stereo file with hound where left = ramp, right = reversed ramp.
fn hound_roundtrip(bits: u16, float: bool) {
    let tmp = TempWav::new(&format!("rt{bits}{float}"));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16000,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let frames = 3000usize;
    let full = if float {
        1.0
    } else {
        (1i64 << (bits - 1)) as f64
    };
    // A ramp spanning the full code range, both extremes included.
    let value = |i: usize| -> f64 {
        let t = i as f64 / (frames - 1) as f64;
        let lo = -full;
        let hi = if float { 1.0 } else { full - 1.0 };
        (lo + t * (hi - lo)).round()
    };
    let fvalue = |i: usize| -> f32 { (-1.0 + 2.0 * i as f64 / (frames - 1) as f64) as f32 };
    {
        let mut w = hound::WavWriter::create(&tmp.0, spec).unwrap();
        for i in 0..frames {
            let j = frames - 1 - i;
            if float {
                w.write_sample(fvalue(i)).unwrap();
                w.write_sample(fvalue(j)).unwrap();
            } else if bits == 8 {
                w.write_sample(value(i) as i8).unwrap();
                w.write_sample(value(j) as i8).unwrap();
            } else {
                w.write_sample(value(i) as i32).unwrap();
                w.write_sample(value(j) as i32).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    let mut src = WavSource::open(&tmp.0, ChannelChoice::Default).unwrap();
    let expect_enc = if float {
        Encoding::Float32
    } else {
        Encoding::Pcm { bits }
    };
    assert_eq!(src.spec().encoding, expect_enc);
    assert_eq!(src.spec().sample_rate, 16000);
    assert_eq!(src.spec().channels, 2);
    assert_eq!(src.spec().declared_frames, Some(frames as u64));
    assert!(src.has_agent());
    let (cust, agent) = read_all(&mut src, 256).unwrap();
    assert_eq!(cust.len(), frames);
    for i in 0..frames {
        let j = frames - 1 - i;
        let (e_agent, e_cust) = if float {
            (fvalue(i), fvalue(j))
        } else {
            ((value(i) / full) as f32, (value(j) / full) as f32)
        };
        // Exact up to f32 rounding of the scale.
        assert!((agent[i] - e_agent).abs() <= 1e-7, "bits {bits} agent[{i}]");
        assert!(
            (cust[i] - e_cust).abs() <= 1e-7,
            "bits {bits} customer[{i}]"
        );
        assert!((-1.0..=1.0).contains(&cust[i]));
    }
}

#[test]
fn pcm8_roundtrip() {
    hound_roundtrip(8, false);
}

#[test]
fn pcm16_roundtrip() {
    hound_roundtrip(16, false);
}

#[test]
fn pcm24_extensible_roundtrip() {
    hound_roundtrip(24, false);
}

#[test]
fn pcm32_extensible_roundtrip() {
    hound_roundtrip(32, false);
}

#[test]
fn float32_extensible_roundtrip() {
    hound_roundtrip(32, true);
}

#[test]
fn float_non_finite_replaced_and_counted_and_overs_clipped() {
    let vals = [
        0.5f32,
        f32::NAN,
        f32::INFINITY,
        -2.5,
        f32::NEG_INFINITY,
        1.5,
    ];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut src = open_bytes(
        RawWav::new(3, 1, 8000, 32, data).bytes(),
        ChannelChoice::Default,
    )
    .unwrap();
    let (c, _) = read_all(&mut src, 4).unwrap();
    assert_eq!(c, vec![0.5, 0.0, 0.0, -1.0, 0.0, 1.0]);
    assert_eq!(src.non_finite_samples(), 3);
}

#[test]
fn g711_decodes_to_itu_reference_values() {
    // (codec tag, code, 16-bit linear value from ITU-T G.711 tables)
    let mulaw = [
        (0xFFu8, 0i32),
        (0x7F, 0),
        (0x80, 32124),
        (0x00, -32124),
        (0xF0, 120),
        (0xEF, 132),
    ];
    let alaw = [(0xD5u8, 8i32), (0x55, -8), (0xAA, 32256), (0x2A, -32256)];
    for (tag, table) in [(7u16, &mulaw[..]), (6, &alaw[..])] {
        for extensible in [false, true] {
            let data: Vec<u8> = table.iter().map(|&(c, _)| c).collect();
            let mut w = RawWav::new(tag, 1, 8000, 8, data);
            w.extensible = extensible;
            // Real G.711 files carry a `fact` chunk; it must be skipped.
            w.extra_chunks
                .push((*b"fact", (table.len() as u32).to_le_bytes().to_vec()));
            let mut src = open_bytes(w.bytes(), ChannelChoice::Default).unwrap();
            let want = if tag == 7 {
                Encoding::MuLaw
            } else {
                Encoding::ALaw
            };
            assert_eq!(src.spec().encoding, want);
            assert!(!src.has_agent());
            let (c, _) = read_all(&mut src, 64).unwrap();
            let expect: Vec<f32> = table.iter().map(|&(_, v)| v as f32 / 32768.0).collect();
            assert_eq!(c, expect, "tag {tag} extensible {extensible}");
        }
    }
}

#[test]
fn mulaw_8k_stereo_default_roles() {
    // Left (agent) all 0x80 (+max), right (customer) all 0x00 (-max).
    let data: Vec<u8> = (0..100).flat_map(|_| [0x80u8, 0x00]).collect();
    let mut src = open_bytes(
        RawWav::new(7, 2, 8000, 8, data).bytes(),
        ChannelChoice::Default,
    )
    .unwrap();
    let (c, a) = read_all(&mut src, 33).unwrap();
    assert_eq!(c.len(), 100);
    assert!(c.iter().all(|&v| v == -32124.0 / 32768.0));
    assert!(a.iter().all(|&v| v == 32124.0 / 32768.0));
}

// ---------------------------------------------------------- channel roles

#[test]
fn channel_roles_default_swapped_explicit_mono() {
    let stereo = RawWav::new(1, 2, 8000, 16, pcm16_stereo(50)).bytes();
    let left = |i: usize| i as f32 / 32768.0;
    let right = |i: usize| -(i as f32) / 32768.0;

    let cases = [
        (
            ChannelChoice::Default,
            right as fn(usize) -> f32,
            Some(left as fn(usize) -> f32),
        ),
        (ChannelChoice::Swapped, left, Some(right)),
        (
            ChannelChoice::Explicit {
                customer: 0,
                agent: None,
            },
            left,
            None,
        ),
        (
            ChannelChoice::Explicit {
                customer: 1,
                agent: Some(0),
            },
            right,
            Some(left),
        ),
    ];
    for (choice, cust_f, agent_f) in cases {
        let mut src = open_bytes(stereo.clone(), choice).unwrap();
        assert_eq!(src.has_agent(), agent_f.is_some(), "{choice:?}");
        let (c, a) = read_all(&mut src, 7).unwrap();
        for i in 1..50 {
            assert_eq!(c[i], cust_f(i), "{choice:?} customer[{i}]");
            if let Some(f) = agent_f {
                assert_eq!(a[i], f(i), "{choice:?} agent[{i}]");
            }
        }
    }

    // Mono: customer only; the agent slice is ignored (may be empty).
    let mono: Vec<u8> = (0..20i16).flat_map(|i| (i * 100).to_le_bytes()).collect();
    let mut src = open_bytes(
        RawWav::new(1, 1, 8000, 16, mono).bytes(),
        ChannelChoice::Default,
    )
    .unwrap();
    assert!(!src.has_agent());
    let mut c = [0.0f32; 32];
    let n = src.read(&mut c, &mut []).unwrap();
    assert_eq!(n, 20);
    assert_eq!(c[3], 300.0 / 32768.0);
}

#[test]
fn channel_choice_errors() {
    let mono = RawWav::new(1, 1, 8000, 16, vec![0; 20]).bytes();
    let e = open_err(mono, ChannelChoice::Swapped);
    assert!(matches!(
        e.kind,
        SourceErrorKind::ChannelOutOfRange {
            index: 1,
            channels: 1
        }
    ));

    let quad = RawWav::new(1, 4, 8000, 16, vec![0; 80]).bytes();
    let e = open_err(quad.clone(), ChannelChoice::Default);
    assert!(matches!(
        e.kind,
        SourceErrorKind::TooManyChannels { channels: 4 }
    ));
    assert!(e.to_string().contains("pick the customer"), "{e}");
    let e = open_err(
        quad.clone(),
        ChannelChoice::Explicit {
            customer: 4,
            agent: None,
        },
    );
    assert!(matches!(
        e.kind,
        SourceErrorKind::ChannelOutOfRange {
            index: 4,
            channels: 4
        }
    ));
    let e = open_err(
        quad.clone(),
        ChannelChoice::Explicit {
            customer: 2,
            agent: Some(2),
        },
    );
    assert!(matches!(e.kind, SourceErrorKind::SameChannel { index: 2 }));
    // Explicit on a 4-channel file works and picks the right lanes.
    let mut d = Vec::new();
    for i in 0..10i16 {
        for ch in 0..4i16 {
            d.extend((i * 10 + ch).to_le_bytes());
        }
    }
    let mut src = open_bytes(
        RawWav::new(1, 4, 8000, 16, d).bytes(),
        ChannelChoice::Explicit {
            customer: 3,
            agent: Some(1),
        },
    )
    .unwrap();
    let (c, a) = read_all(&mut src, 4).unwrap();
    assert_eq!(c[5], 53.0 / 32768.0);
    assert_eq!(a[5], 51.0 / 32768.0);

    // A stereo read with a short agent buffer is refused, not truncated.
    let mut src = open_bytes(
        RawWav::new(1, 2, 8000, 16, pcm16_stereo(10)).bytes(),
        ChannelChoice::Default,
    )
    .unwrap();
    let e = src.read(&mut [0.0; 8], &mut [0.0; 4]).unwrap_err();
    assert!(matches!(
        e.kind,
        SourceErrorKind::AgentBufferTooShort { needed: 8, got: 4 }
    ));
}

// -------------------------------------------------------------- streaming

#[test]
fn long_file_streams_in_small_blocks() {
    // Two minutes of 8 kHz mu-law stereo on disk; read in 80-frame hops.
    let tmp = TempWav::new("long");
    let frames = 8000 * 120;
    let code = |i: usize, ch: usize| ((i * 7 + ch * 13) % 256) as u8;
    let data: Vec<u8> = (0..frames).flat_map(|i| [code(i, 0), code(i, 1)]).collect();
    std::fs::write(&tmp.0, RawWav::new(7, 2, 8000, 8, data).bytes()).unwrap();

    // Reference decode of every code through a one-sample file.
    let mut table = [0.0f32; 256];
    for (c, slot) in table.iter_mut().enumerate() {
        let mut s = open_bytes(
            RawWav::new(7, 1, 8000, 8, vec![c as u8]).bytes(),
            ChannelChoice::Default,
        )
        .unwrap();
        let mut v = [0.0];
        assert_eq!(s.read(&mut v, &mut []).unwrap(), 1);
        *slot = v[0];
    }

    let mut src = WavSource::open(&tmp.0, ChannelChoice::Default).unwrap();
    assert_eq!(src.spec().declared_frames, Some(frames as u64));
    let mut c = [0.0f32; 80];
    let mut a = [0.0f32; 80];
    let mut pos = 0usize;
    loop {
        let n = src.read(&mut c, &mut a).unwrap();
        if n == 0 {
            break;
        }
        assert_eq!(n, 80, "every hop but the end is full");
        for k in 0..n {
            assert_eq!(a[k], table[usize::from(code(pos + k, 0))]);
            assert_eq!(c[k], table[usize::from(code(pos + k, 1))]);
        }
        pos += n;
    }
    assert_eq!(pos, frames);
    // After the end, reads keep returning 0.
    assert_eq!(src.read(&mut c, &mut a).unwrap(), 0);
}

#[test]
fn block_size_does_not_change_the_samples() {
    let bytes = RawWav::new(1, 2, 8000, 16, pcm16_stereo(5000)).bytes();
    let whole = read_all(
        &mut open_bytes(bytes.clone(), ChannelChoice::Default).unwrap(),
        100_000,
    )
    .unwrap();
    for block in [1, 3, 80, 4097, 9999] {
        let got = read_all(
            &mut open_bytes(bytes.clone(), ChannelChoice::Default).unwrap(),
            block,
        )
        .unwrap();
        assert_eq!(got, whole, "block {block}");
    }
}

// ------------------------------------------------------------- bad input

#[test]
fn not_riff_wave_and_empty() {
    let e = open_err(
        b"JUNK\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
        ChannelChoice::Default,
    );
    assert!(matches!(e.kind, SourceErrorKind::NotRiffWave { .. }));
    assert!(
        e.to_string().contains("not a recording shoutcue can read"),
        "{e}"
    );
    // An Ogg page header with nothing in it: the Ogg reader's own words.
    let e = open_err(
        b"OggS\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
        ChannelChoice::Default,
    );
    assert!(
        matches!(
            e.kind,
            SourceErrorKind::Undecodable { .. }
                | SourceErrorKind::Io(_)
                | SourceErrorKind::NotRiffWave { .. }
        ),
        "{e}"
    );

    let mut avi = RawWav::new(1, 1, 8000, 16, vec![0; 4]).bytes();
    avi[8..12].copy_from_slice(b"AVI ");
    let e = open_err(avi, ChannelChoice::Default);
    assert!(matches!(e.kind, SourceErrorKind::NotRiffWave { .. }));

    let e = open_err(Vec::new(), ChannelChoice::Default);
    assert!(matches!(e.kind, SourceErrorKind::Empty));

    // A real zero-length file on disk names its path.
    let tmp = TempWav::new("empty");
    std::fs::write(&tmp.0, b"").unwrap();
    let e = WavSource::open(&tmp.0, ChannelChoice::Default).unwrap_err();
    assert!(matches!(e.kind, SourceErrorKind::Empty));
    assert!(
        e.to_string().starts_with(&tmp.0.display().to_string()),
        "{e}"
    );

    let missing = std::env::temp_dir().join("shoutcue-definitely-missing.wav");
    let e = WavSource::open(&missing, ChannelChoice::Default).unwrap_err();
    assert!(matches!(e.kind, SourceErrorKind::Io(_)));
    assert!(
        e.to_string().contains("shoutcue-definitely-missing.wav"),
        "{e}"
    );
}

#[test]
fn truncated_header_at_every_cut() {
    let good = RawWav::new(1, 2, 8000, 16, pcm16_stereo(4)).bytes();
    let data_start = good.len() - 16;
    // Every cut inside the header is an error, none panics; cut in the
    // RIFF preamble or in a chunk reads as a truncated header.
    for cut in 1..data_start {
        let e = open_err(good[..cut].to_vec(), ChannelChoice::Default);
        assert!(
            matches!(e.kind, SourceErrorKind::TruncatedHeader { .. })
                || matches!(e.kind, SourceErrorKind::MissingChunk { .. }),
            "cut {cut}: {e}"
        );
    }
    let e = open_err(good[..30].to_vec(), ChannelChoice::Default);
    assert!(e.to_string().contains("truncated header"), "{e}");
}

#[test]
fn truncated_data_delivers_frames_before_the_cut() {
    // 1000 stereo frames declared (4000 bytes), 2000 bytes present.
    let full = RawWav::new(1, 2, 8000, 16, pcm16_stereo(1000)).bytes();
    let cut = full.len() - 2000;
    let mut src = open_bytes(full[..cut].to_vec(), ChannelChoice::Default).unwrap();
    assert_eq!(src.spec().declared_frames, Some(1000));
    let mut c = [0.0f32; 300];
    let mut a = [0.0f32; 300];
    let mut got = Vec::new();
    let err = loop {
        match src.read(&mut c, &mut a) {
            Ok(0) => panic!("a truncated file must report the cut"),
            Ok(n) => got.extend_from_slice(&a[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(got.len(), 500, "every whole frame before the cut");
    assert_eq!(got[499], 499.0 / 32768.0);
    assert!(matches!(
        err.kind,
        SourceErrorKind::Truncated {
            declared: 4000,
            held: 2000
        }
    ));
    assert_eq!(
        err.to_string(),
        "calls/x.wav: truncated: data chunk declares 4000 bytes, file holds 2000"
    );
    // The error is reported once; the stream is then over.
    assert_eq!(src.read(&mut c, &mut a).unwrap(), 0);

    // A cut in the middle of a frame keeps the whole frames before it.
    let mut src = open_bytes(full[..cut + 3].to_vec(), ChannelChoice::Default).unwrap();
    let mut big = vec![0.0f32; 2000];
    let mut big_a = vec![0.0f32; 2000];
    assert_eq!(src.read(&mut big, &mut big_a).unwrap(), 500);
    let e = src.read(&mut big, &mut big_a).unwrap_err();
    assert!(matches!(
        e.kind,
        SourceErrorKind::Truncated { held: 2003, .. }
    ));
}

#[test]
fn data_size_larger_than_file_is_truncation() {
    let mut w = RawWav::new(7, 1, 8000, 8, vec![0xFF; 800]);
    w.data_size = Some(160_000);
    let mut src = open_bytes(w.bytes(), ChannelChoice::Default).unwrap();
    let mut c = [1.0f32; 1000];
    assert_eq!(src.read(&mut c, &mut []).unwrap(), 800);
    let e = src.read(&mut c, &mut []).unwrap_err();
    assert_eq!(
        e.to_string(),
        "calls/x.wav: truncated: data chunk declares 160000 bytes, file holds 800"
    );
}

#[test]
fn streaming_size_reads_to_eof() {
    let mut w = RawWav::new(7, 2, 8000, 8, vec![0x80; 2 * 1234 + 1]);
    w.data_size = Some(0xFFFF_FFFF);
    let mut src = open_bytes(w.bytes(), ChannelChoice::Default).unwrap();
    assert_eq!(src.spec().declared_frames, None);
    // The half frame a killed recorder left at the end is dropped quietly.
    let (c, _) = read_all(&mut src, 100).unwrap();
    assert_eq!(c.len(), 1234);
}

#[test]
fn odd_chunks_and_pad_bytes() {
    let mut w = RawWav::new(1, 2, 8000, 16, pcm16_stereo(10));
    w.extra_chunks.push((*b"LIST", b"INFOabc".to_vec())); // 7 bytes + pad
    w.extra_chunks.push((*b"junk", vec![1])); // 1 byte + pad
    let mut src = open_bytes(w.bytes(), ChannelChoice::Default).unwrap();
    let (c, a) = read_all(&mut src, 64).unwrap();
    assert_eq!(c.len(), 10);
    assert_eq!(a[9], 9.0 / 32768.0);

    // A data size that is not a whole number of frames drops the tail only.
    let mut w = RawWav::new(1, 2, 8000, 16, pcm16_stereo(10));
    w.data_size = Some(39);
    let mut src = open_bytes(w.bytes(), ChannelChoice::Default).unwrap();
    assert_eq!(read_all(&mut src, 64).unwrap().0.len(), 9);

    // A chunk claiming to run past the end of the file.
    let mut b = RawWav::new(1, 1, 8000, 16, vec![0; 4]).bytes();
    let fmt_end = 12 + 8 + 16;
    b.splice(fmt_end..fmt_end, b"LIST\xff\xff\xff\x7f".iter().copied());
    let e = open_err(b, ChannelChoice::Default);
    assert!(
        matches!(e.kind, SourceErrorKind::TruncatedHeader { .. }),
        "{e}"
    );

    // data before fmt, and no data at all.
    let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
    push_chunk(&mut b, b"data", &[0, 0]);
    let e = open_err(b, ChannelChoice::Default);
    assert!(matches!(
        e.kind,
        SourceErrorKind::MissingChunk { chunk: "fmt " }
    ));
    let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
    push_chunk(
        &mut b,
        b"fmt ",
        &RawWav::new(1, 1, 8000, 16, vec![]).fmt_body(),
    );
    let e = open_err(b, ChannelChoice::Default);
    assert!(matches!(
        e.kind,
        SourceErrorKind::MissingChunk { chunk: "data" }
    ));
}

#[test]
fn unsupported_codecs_are_named() {
    // ADPCM (tags 2 and 0x11) is read through symphonia now
    // (tests/formats.rs); these stay refused, by name.
    for (tag, name) in [(0x31u16, "GSM 6.10"), (0x55, "MP3")] {
        let e = open_err(
            RawWav::new(tag, 1, 8000, 4, vec![0; 10]).bytes(),
            ChannelChoice::Default,
        );
        assert!(
            matches!(e.kind, SourceErrorKind::UnsupportedCodec { tag: t, .. } if t == tag),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains(&format!("{tag:#06x}")), "{msg}");
    }
    // The same codec inside WAVE_FORMAT_EXTENSIBLE.
    let mut w = RawWav::new(2, 1, 8000, 8, vec![0; 10]);
    w.extensible = true;
    let e = open_err(w.bytes(), ChannelChoice::Default);
    assert!(matches!(
        e.kind,
        SourceErrorKind::UnsupportedCodec { tag: 2, .. }
    ));
    // 64-bit float is a known codec at an unsupported width.
    let e = open_err(
        RawWav::new(3, 1, 8000, 64, vec![0; 16]).bytes(),
        ChannelChoice::Default,
    );
    assert!(matches!(
        e.kind,
        SourceErrorKind::UnsupportedBits { bits: 64, .. }
    ));
}

#[test]
fn bad_fmt_fields() {
    let e = open_err(
        RawWav::new(1, 0, 8000, 16, vec![0; 10]).bytes(),
        ChannelChoice::Default,
    );
    assert!(matches!(e.kind, SourceErrorKind::ZeroChannels));

    let mut w = RawWav::new(1, 2, 8000, 16, vec![0; 10]);
    w.block_align = Some(2);
    let e = open_err(w.bytes(), ChannelChoice::Default);
    assert!(matches!(
        e.kind,
        SourceErrorKind::BlockAlignMismatch {
            block_align: 2,
            expected: 4,
            ..
        }
    ));
    assert!(e.to_string().contains("block align 2"), "{e}");

    for rate in [0u32, 7999, 192_001, 384_000] {
        let e = open_err(
            RawWav::new(1, 1, rate, 16, vec![0; 10]).bytes(),
            ChannelChoice::Default,
        );
        assert!(matches!(e.kind, SourceErrorKind::RateOutOfRange { rate: r } if r == rate));
        assert!(e.to_string().contains("8000..=192000"), "{e}");
    }
    // Studio archives at 96 and 192 kHz are read (and resampled to 8 kHz).
    for rate in [8000u32, 11025, 48000, 96000, 192_000] {
        assert!(open_bytes(
            RawWav::new(1, 1, rate, 16, vec![0; 10]).bytes(),
            ChannelChoice::Default
        )
        .is_ok());
    }

    // fmt chunk of 14 bytes (WAVEFORMAT without bits) is too short.
    let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
    push_chunk(
        &mut b,
        b"fmt ",
        &[1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0],
    );
    push_chunk(&mut b, b"data", &[0, 0]);
    let e = open_err(b, ChannelChoice::Default);
    assert!(matches!(
        e.kind,
        SourceErrorKind::FmtTooShort {
            needed: 16,
            got: 14
        }
    ));

    // Odd PCM widths (12-bit) are refused by name.
    let e = open_err(
        RawWav::new(1, 1, 8000, 12, vec![0; 10]).bytes(),
        ChannelChoice::Default,
    );
    assert!(matches!(
        e.kind,
        SourceErrorKind::UnsupportedBits { bits: 12, .. }
    ));
}

#[test]
fn silence_dc_and_clipping_are_valid_audio() {
    for v in [0i16, 12345, i16::MAX, i16::MIN] {
        let data: Vec<u8> = (0..400).flat_map(|_| v.to_le_bytes()).collect();
        let mut src = open_bytes(
            RawWav::new(1, 1, 8000, 16, data).bytes(),
            ChannelChoice::Default,
        )
        .unwrap();
        let (c, _) = read_all(&mut src, 128).unwrap();
        assert_eq!(c.len(), 400);
        assert!(c.iter().all(|&s| s == f32::from(v) / 32768.0));
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    // Deterministic mini-fuzz alongside cargo-fuzz: flip bytes of a valid
    // header at every position and read to the end.
    let good = RawWav::new(7, 2, 8000, 8, vec![0x55; 64]).bytes();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for pos in 0..good.len().min(80) {
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = good.clone();
            b[pos] = seed as u8;
            if let Ok(mut src) = open_bytes(b, ChannelChoice::Default) {
                let mut c = [0.0; 17];
                let mut a = [0.0; 17];
                while let Ok(n) = src.read(&mut c, &mut a) {
                    if n == 0 {
                        break;
                    }
                    assert!(c[..n].iter().all(|v| (-1.0..=1.0).contains(v)));
                }
            }
        }
    }
}

// ------------------------------------------------------------- real data

/// Every EmoDB clip (22.05 kHz mono PCM16, 2.0 s, peak-normalised) reads
/// whole, matches hound's decode sample for sample, and resamples to 2.0 s
/// at 8 kHz.
#[test]
#[cfg_attr(
    not(feature = "outside-tests"),
    ignore = "needs EmoDB at ../shared/data/emodb or $SHOUTCUE_EMODB (cargo test --all-features)"
)]
fn emodb_clips_read_and_resample() {
    use shoutcue_core::resample::Resampler;
    let dir = shoutcue_testkit::emodb();
    let labels = std::fs::read_to_string(dir.join("labels.csv")).unwrap();
    let mut clips = 0;
    for line in labels.lines().skip(1) {
        let file = line.split(',').next().unwrap();
        let path = dir.join(file);
        let mut src = WavSource::open(&path, ChannelChoice::Default).unwrap();
        let spec = *src.spec();
        assert_eq!(spec.encoding, Encoding::Pcm { bits: 16 }, "{file}");
        assert_eq!(spec.channels, 1);
        assert!(!src.has_agent());
        let (c, _) = read_all(&mut src, 441).unwrap();
        assert_eq!(c.len() as u64, spec.declared_frames.unwrap(), "{file}");
        let reference: Vec<f32> = hound::WavReader::open(&path)
            .unwrap()
            .samples::<i16>()
            .map(|s| f32::from(s.unwrap()) / 32768.0)
            .collect();
        assert_eq!(c, reference, "{file}");
        let peak = c.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            peak > 0.01,
            "{file}: peak {peak}: speech clip read as silence"
        );

        let mut r = Resampler::new(spec.sample_rate, 441).unwrap();
        let mut out = vec![0.0; r.max_output()];
        let mut n = 0;
        for block in c.chunks(441) {
            n += r.process(block, &mut out).unwrap();
        }
        n += r.flush(&mut out).unwrap();
        let expect = (c.len() as f64 * 8000.0 / f64::from(spec.sample_rate)).round() as usize;
        assert!(n.abs_diff(expect) <= 1, "{file}: {n} vs {expect}");
        clips += 1;
    }
    assert!(clips >= 300, "only {clips} clips listed");
}

// ------------------------------------------- sizes, special files, streams

/// A real fixture, its data size field set to `size`, written to a temp file.
fn fixture_with_data_size(size: u32, tag: &str) -> (TempWav, Vec<u8>) {
    let mut bytes = std::fs::read(shoutcue_testkit::fixture("calm_call.wav")).unwrap();
    let at = shoutcue_testkit::wav_data_size_offset(&bytes);
    bytes[at..at + 4].copy_from_slice(&size.to_le_bytes());
    let tmp = TempWav::new(tag);
    std::fs::write(&tmp.0, &bytes).unwrap();
    (tmp, bytes)
}

#[test]
fn zero_data_size_reads_to_the_end_with_a_warning() {
    let fixture = shoutcue_testkit::fixture("calm_call.wav");
    let mut orig = WavSource::open(&fixture, ChannelChoice::Default).unwrap();
    assert!(orig.warnings().is_empty(), "{:?}", orig.warnings());
    let (want_c, want_a) = read_all(&mut orig, 4096).unwrap();
    assert!(want_c.len() > 8000, "the fixture holds audio");

    let (tmp, bytes) = fixture_with_data_size(0, "zero");
    let mut src = WavSource::open(&tmp.0, ChannelChoice::Default).unwrap();
    let following = (bytes.len() - shoutcue_testkit::wav_data_size_offset(&bytes) - 4) as u64;
    assert_eq!(
        src.warnings(),
        &[SourceWarning::ZeroDataSize {
            following: Some(following)
        }]
    );
    assert!(
        src.warnings()[0].to_string().contains("declares 0 bytes"),
        "{}",
        src.warnings()[0]
    );
    let (c, a) = read_all(&mut src, 4096).unwrap();
    assert_eq!(c.len(), want_c.len(), "every sample, not an empty call");
    assert_eq!(c, want_c);
    assert_eq!(a, want_a);
}

#[test]
fn data_size_smaller_than_what_follows_is_reported() {
    let (tmp, bytes) = fixture_with_data_size(4000, "short");
    let mut src = WavSource::open(&tmp.0, ChannelChoice::Default).unwrap();
    let following = (bytes.len() - shoutcue_testkit::wav_data_size_offset(&bytes) - 4) as u64;
    assert_eq!(
        src.warnings(),
        &[SourceWarning::DataSizeShort {
            declared: 4000,
            following
        }]
    );
    assert!(src.warnings()[0].to_string().contains("not analysed"));
    // What is read is what the header declares (stereo 16-bit: 1000 frames).
    assert_eq!(read_all(&mut src, 4096).unwrap().0.len(), 1000);

    // A chunk after the data (LIST, id3) is normal: no warning.
    let mut b = RawWav::new(1, 2, 8000, 16, pcm16_stereo(10)).bytes();
    push_chunk(&mut b, b"LIST", b"INFOISFT\x05\0\0\0abcd\0");
    let mut src = open_bytes(b, ChannelChoice::Default).unwrap();
    assert!(src.warnings().is_empty(), "{:?}", src.warnings());
    assert_eq!(read_all(&mut src, 64).unwrap().0.len(), 10);
}

#[test]
fn second_fmt_chunk_is_refused() {
    let mut w = RawWav::new(1, 2, 8000, 16, pcm16_stereo(10));
    w.extra_chunks
        .push((*b"fmt ", RawWav::new(7, 1, 16000, 8, vec![]).fmt_body()));
    let e = open_err(w.bytes(), ChannelChoice::Default);
    assert!(
        matches!(
            e.kind,
            SourceErrorKind::DuplicateChunk {
                chunk: "fmt ",
                offset: 36
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("expected exactly one"), "{e}");
}

/// Opens `path` on a thread; fails the test instead of hanging on it.
fn open_within(path: PathBuf, secs: u64) -> Result<WavSource, SourceError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(WavSource::open(&path, ChannelChoice::Default));
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("open hung")
}

#[cfg(unix)]
#[test]
fn fifo_and_devices_are_refused_not_read() {
    let tmp = shoutcue_testkit::TempDir::new("source-fifo");
    let fifo = tmp.join("x.wav");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    let e = open_within(fifo.clone(), 5).unwrap_err();
    assert!(
        matches!(e.kind, SourceErrorKind::NotRegularFile { kind } if kind.contains("FIFO")),
        "{e}"
    );
    assert!(
        e.to_string().starts_with(&fifo.display().to_string()),
        "{e}"
    );

    let e = open_within(PathBuf::from("/dev/zero"), 5).unwrap_err();
    assert!(
        matches!(
            e.kind,
            SourceErrorKind::NotRegularFile {
                kind: "character device"
            }
        ),
        "{e}"
    );
    assert!(!e.to_string().contains("empty"), "{e}");

    let e = open_within(tmp.path().to_path_buf(), 5).unwrap_err();
    assert!(
        matches!(e.kind, SourceErrorKind::NotRegularFile { kind: "folder" }),
        "{e}"
    );
}

/// A reader with no `Seek`, as a pipe is.
struct Pipe(Cursor<Vec<u8>>);

impl std::io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Short reads, as pipes give.
        let n = buf.len().min(1000);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn a_stream_reads_like_the_file() {
    let bytes = std::fs::read(shoutcue_testkit::fixture("calm_call.wav")).unwrap();
    let mut file = open_bytes(bytes.clone(), ChannelChoice::Default).unwrap();
    let want = read_all(&mut file, 4096).unwrap();
    let mut src =
        WavSource::from_stream("stdin", Pipe(Cursor::new(bytes)), ChannelChoice::Default).unwrap();
    assert_eq!(read_all(&mut src, 4096).unwrap(), want);

    // Chunks before the data are skipped by reading them.
    let mut w = RawWav::new(1, 2, 8000, 16, pcm16_stereo(10));
    w.extra_chunks.push((*b"LIST", vec![7; 333]));
    let mut src = WavSource::from_stream(
        "stdin",
        Pipe(Cursor::new(w.bytes())),
        ChannelChoice::Default,
    )
    .unwrap();
    assert_eq!(read_all(&mut src, 3).unwrap().1[9], 9.0 / 32768.0);

    // A stream cut short is truncation, an empty one is empty.
    let cut = w.bytes()[..w.bytes().len() - 8].to_vec();
    let mut src =
        WavSource::from_stream("stdin", Pipe(Cursor::new(cut)), ChannelChoice::Default).unwrap();
    let e = read_all(&mut src, 64).unwrap_err();
    assert!(matches!(e.kind, SourceErrorKind::Truncated { .. }), "{e}");
    let e = WavSource::from_stream("stdin", Pipe(Cursor::new(vec![])), ChannelChoice::Default)
        .unwrap_err();
    assert!(matches!(e.kind, SourceErrorKind::Empty), "{e}");
}

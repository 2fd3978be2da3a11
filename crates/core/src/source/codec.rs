//! Sample decoders: one WAV sample's bytes to an `f32` in [-1, 1].
//!
//! Hand-rolled because hound refuses G.711 and has no per-sample decoder we
//! could call on our own byte buffer; each decoder is a few lines, and the
//! G.711 expansions are the ITU-T reference algorithms (as in Sun's public
//! `g711.c`), evaluated at compile time into 256-entry tables so the hot path
//! is one lookup.

use super::Encoding;

/// Scale from a 16-bit linear code to [-1, 1]; G.711 decoders are defined in
/// that 16-bit domain.
const I16_SCALE: f32 = 1.0 / 32768.0;

/// ITU-T G.711 mu-law expansion of one code to 16-bit linear.
const fn mulaw_to_linear(code: u8) -> i16 {
    const BIAS: i32 = 0x84;
    let u = !code;
    let mut t = (((u & 0x0F) as i32) << 3) + BIAS;
    t <<= ((u & 0x70) >> 4) as i32;
    if u & 0x80 != 0 {
        (BIAS - t) as i16
    } else {
        (t - BIAS) as i16
    }
}

/// ITU-T G.711 A-law expansion of one code to 16-bit linear.
const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = ((a & 0x70) >> 4) as i32;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    if a & 0x80 != 0 {
        t as i16
    } else {
        -t as i16
    }
}

const fn table(alaw: bool) -> [f32; 256] {
    let mut out = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        let v = if alaw {
            alaw_to_linear(i as u8)
        } else {
            mulaw_to_linear(i as u8)
        };
        out[i] = v as f32 * I16_SCALE;
        i += 1;
    }
    out
}

pub(super) static MULAW: [f32; 256] = table(false);
static ALAW: [f32; 256] = table(true);

/// Decodes the sample whose bytes start `bytes[0]`; `bytes` holds at least
/// one sample of `encoding`. Returns the value and whether it was a
/// non-finite float that was replaced by 0.0.
#[inline]
pub(super) fn decode(encoding: Encoding, bytes: &[u8]) -> (f32, bool) {
    match encoding {
        Encoding::Pcm { bits: 8 } => ((f32::from(bytes[0]) - 128.0) / 128.0, false),
        Encoding::Pcm { bits: 16 } => (
            f32::from(i16::from_le_bytes([bytes[0], bytes[1]])) * I16_SCALE,
            false,
        ),
        Encoding::Pcm { bits: 24 } => {
            // Put the 24 bits at the top of an i32 so the shift sign-extends.
            let v = i32::from_le_bytes([0, bytes[0], bytes[1], bytes[2]]) >> 8;
            (v as f32 / 8_388_608.0, false)
        }
        Encoding::Pcm { .. } => {
            // 32 bits: the header parser admits no other width.
            let v = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            ((f64::from(v) / 2_147_483_648.0) as f32, false)
        }
        Encoding::Float32 => {
            let v = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if v.is_finite() {
                // Float files may exceed full scale; clip as a DAC would so the
                // documented [-1, 1] range holds.
                (v.clamp(-1.0, 1.0), false)
            } else {
                (0.0, true)
            }
        }
        Encoding::MuLaw => (MULAW[usize::from(bytes[0])], false),
        Encoding::ALaw => (ALAW[usize::from(bytes[0])], false),
        Encoding::Pcm16Be => (
            f32::from(i16::from_be_bytes([bytes[0], bytes[1]])) * I16_SCALE,
            false,
        ),
        Encoding::Pcm8Signed => (f32::from(bytes[0] as i8) / 128.0, false),
        // Never reaches this decoder: symphonia decodes those (the reader
        // takes the `decoded` path before any block is read).
        Encoding::Decoded { .. } => (0.0, false),
    }
}

/// Decodes one channel of `frames` interleaved frames (`block_align` bytes
/// each, the sample at byte `offset` of each frame) into `out`; returns how
/// many samples were non-finite (and set to 0). The encoding is matched once
/// per block, not per sample, so each loop below compiles to a tight,
/// branch-free conversion.
pub(super) fn decode_channel(
    encoding: Encoding,
    bytes: &[u8],
    block_align: usize,
    offset: usize,
    out: &mut [f32],
) -> u64 {
    let frames = bytes.chunks_exact(block_align).zip(out.iter_mut());
    match encoding {
        // Mono and stereo 16-bit, the common calls: a frame size known to the
        // compiler lets it drop the per-sample index checks.
        Encoding::Pcm { bits: 16 } if block_align == 2 && offset == 0 => {
            pcm16::<2>(bytes, 0, out);
            0
        }
        Encoding::Pcm { bits: 16 } if block_align == 4 && offset <= 2 => {
            pcm16::<4>(bytes, offset, out);
            0
        }
        Encoding::Pcm { bits: 16 } => {
            for (f, o) in frames {
                *o = f32::from(i16::from_le_bytes([f[offset], f[offset + 1]])) * I16_SCALE;
            }
            0
        }
        Encoding::MuLaw => {
            for (f, o) in frames {
                *o = MULAW[usize::from(f[offset])];
            }
            0
        }
        Encoding::ALaw => {
            for (f, o) in frames {
                *o = ALAW[usize::from(f[offset])];
            }
            0
        }
        other => {
            let mut bad = 0;
            for (f, o) in frames {
                let (v, b) = decode(other, &f[offset..]);
                *o = v;
                bad += u64::from(b);
            }
            bad
        }
    }
}

/// 16-bit PCM of `ALIGN`-byte frames, the sample at byte `offset` (≤ ALIGN - 2).
fn pcm16<const ALIGN: usize>(bytes: &[u8], offset: usize, out: &mut [f32]) {
    let offset = offset.min(ALIGN - 2);
    for (f, o) in bytes.chunks_exact(ALIGN).zip(out.iter_mut()) {
        let f: &[u8; ALIGN] = f.try_into().expect("chunks_exact gives ALIGN bytes");
        *o = f32::from(i16::from_le_bytes([f[offset], f[offset + 1]])) * I16_SCALE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_reference_points() {
        assert_eq!(mulaw_to_linear(0xFF), 0);
        assert_eq!(mulaw_to_linear(0x7F), 0);
        assert_eq!(mulaw_to_linear(0x80), 32124);
        assert_eq!(mulaw_to_linear(0x00), -32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn g711_is_monotonic_within_each_sign() {
        // mu-law: codes 0x80..=0xFF run from +32124 down to 0.
        for c in 0x80u8..0xFF {
            assert!(mulaw_to_linear(c) > mulaw_to_linear(c + 1), "mu-law {c:#x}");
        }
    }

    #[test]
    fn pcm16_fast_paths_match_the_sample_decoder() {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for (align, offset) in [(2usize, 0usize), (4, 0), (4, 2), (6, 2)] {
            let frames = bytes.len() / align;
            let mut fast = vec![0.0; frames];
            decode_channel(Encoding::Pcm { bits: 16 }, &bytes, align, offset, &mut fast);
            for (i, v) in fast.iter().enumerate() {
                let (want, _) = decode(Encoding::Pcm { bits: 16 }, &bytes[i * align + offset..]);
                assert_eq!(*v, want, "align {align} offset {offset} frame {i}");
            }
        }
    }
}

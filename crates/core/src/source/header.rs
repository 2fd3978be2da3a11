//! RIFF/WAVE header walk: finds `fmt ` and `data`, validates the format;
//! and the Sun `.au`/`.snd` header (telephony's other plain format: G.711
//! or linear PCM after a 24-byte big-endian header).
//!
//! Hand-rolled rather than hound's header reader because recorded calls
//! need what hound rejects or mishandles: G.711 format tags, odd-sized
//! chunks with their pad byte, `nAvgBytesPerSec` fields that recorders get
//! wrong, and the 0xFFFFFFFF data size of streaming recorders.

use std::io::{Read, Seek, SeekFrom};

use super::{Encoding, SourceErrorKind, MAX_RATE, MIN_RATE};

/// Data-chunk size that streaming recorders write when the length is unknown.
pub(super) const STREAMING_SIZE: u32 = 0xFFFF_FFFF;

/// The tail of every KSDATAFORMAT_SUBTYPE GUID built from a format tag.
const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// What the header says, positioned at the first data byte.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub sample_rate: u32,
    pub channels: u16,
    pub encoding: Encoding,
    /// Bytes per frame (all channels).
    pub block_align: usize,
    /// Declared data size; `None` when the recorder wrote 0xFFFFFFFF.
    pub data_bytes: Option<u64>,
    /// Offset of the first data byte.
    pub data_start: u64,
}

/// Reads until `buf` is full or EOF; returns the bytes read.
pub(super) fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// A readable name for the format tags a call recorder or phone system
/// might plausibly write, so an error can say which codec it met.
pub(super) fn codec_name(tag: u16) -> &'static str {
    match tag {
        0x0000 => "unknown (tag 0)",
        0x0001 => "PCM",
        0x0002 => "Microsoft ADPCM",
        0x0003 => "IEEE float",
        0x0006 => "G.711 A-law",
        0x0007 => "G.711 mu-law",
        0x0011 => "IMA ADPCM",
        0x0022 => "DSP Group TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0042 => "G.723.1",
        0x0045 => "G.726 ADPCM",
        0x0050 => "MPEG audio",
        0x0055 => "MPEG Layer 3 (MP3)",
        0x0064 => "G.726 ADPCM (APICOM)",
        0x0065 => "G.722 ADPCM",
        0x0161..=0x0163 => "Windows Media Audio",
        0x1600..=0x1601 => "AAC",
        0xF1AC => "FLAC",
        0xFFFE => "WAVE_FORMAT_EXTENSIBLE",
        _ => "unrecognised codec",
    }
}

/// Walks the chunks of a RIFF/WAVE stream of `file_len` bytes and leaves
/// `r` at the first byte of the data chunk.
pub(super) fn parse<R: Read + Seek + ?Sized>(
    r: &mut R,
    file_len: u64,
) -> Result<Header, SourceErrorKind> {
    if file_len == 0 {
        return Err(SourceErrorKind::Empty);
    }
    let mut riff = [0u8; 12];
    let got = read_full(r, &mut riff)?;
    if got == 0 {
        // A stream (stdin) whose length was not known beforehand.
        return Err(SourceErrorKind::Empty);
    }
    if got >= 4 && &riff[..4] == b".snd" {
        return parse_au(r, &riff[..got], file_len);
    }
    let magic_ok = riff[..got.min(4)] == b"RIFF"[..got.min(4)];
    if !magic_ok {
        return Err(SourceErrorKind::NotRiffWave {
            found: riff[..got.min(4)].to_vec(),
        });
    }
    if got < 12 {
        return Err(SourceErrorKind::TruncatedHeader {
            part: "RIFF header".into(),
            needed: 12,
            got: got as u64,
        });
    }
    if &riff[8..12] != b"WAVE" {
        return Err(SourceErrorKind::NotRiffWave {
            found: riff[..12].to_vec(),
        });
    }

    let mut pos: u64 = 12;
    let mut fmt: Option<(u32, u16, Encoding, usize)> = None;
    loop {
        if pos >= file_len {
            return Err(if fmt.is_none() {
                SourceErrorKind::MissingChunk { chunk: "fmt " }
            } else {
                SourceErrorKind::MissingChunk { chunk: "data" }
            });
        }
        let mut ch = [0u8; 8];
        let got = read_full(r, &mut ch)?;
        if got < 8 {
            return Err(SourceErrorKind::TruncatedHeader {
                part: "chunk header".into(),
                needed: 8,
                got: got as u64,
            });
        }
        let id = [ch[0], ch[1], ch[2], ch[3]];
        let size = u32_at(&ch, 4);
        pos += 8;
        match &id {
            b"fmt " => {
                if fmt.is_some() {
                    // Two formats: which one the samples follow is a guess.
                    return Err(SourceErrorKind::DuplicateChunk {
                        chunk: "fmt ",
                        offset: pos - 8,
                    });
                }
                if size < 16 {
                    return Err(SourceErrorKind::FmtTooShort {
                        needed: 16,
                        got: size,
                    });
                }
                let mut body = [0u8; 40];
                let want = (size as usize).min(40);
                let got = read_full(r, &mut body[..want])?;
                if got < want {
                    return Err(SourceErrorKind::TruncatedHeader {
                        part: "fmt chunk".into(),
                        needed: u64::from(size),
                        got: got as u64,
                    });
                }
                if pos + u64::from(size) > file_len {
                    return Err(SourceErrorKind::TruncatedHeader {
                        part: "fmt chunk".into(),
                        needed: u64::from(size),
                        got: file_len - pos,
                    });
                }
                fmt = Some(parse_fmt(&body[..want])?);
                pos += u64::from(size) + u64::from(size & 1);
                r.seek(SeekFrom::Start(pos))?;
            }
            b"data" => {
                let Some((sample_rate, channels, encoding, block_align)) = fmt else {
                    return Err(SourceErrorKind::MissingChunk { chunk: "fmt " });
                };
                return Ok(Header {
                    sample_rate,
                    channels,
                    encoding,
                    block_align,
                    data_bytes: (size != STREAMING_SIZE).then_some(u64::from(size)),
                    data_start: pos,
                });
            }
            _ => {
                // Unknown chunk (LIST, fact, bext, ...): skip it and its pad
                // byte. One running past the end means the data never comes.
                if pos + u64::from(size) > file_len {
                    return Err(SourceErrorKind::TruncatedHeader {
                        part: format!("{:?} chunk", String::from_utf8_lossy(&id)),
                        needed: u64::from(size),
                        got: file_len - pos,
                    });
                }
                pos += u64::from(size) + u64::from(size & 1);
                r.seek(SeekFrom::Start(pos))?;
            }
        }
    }
}

/// The Sun `.au` header, whose first `start.len()` bytes were read: magic,
/// then big-endian data offset, data size (0xFFFFFFFF: to the end),
/// encoding, rate and channels; leaves `r` at the first data byte.
fn parse_au<R: Read + Seek + ?Sized>(
    r: &mut R,
    start: &[u8],
    file_len: u64,
) -> Result<Header, SourceErrorKind> {
    let mut h = [0u8; 24];
    h[..start.len()].copy_from_slice(start);
    let got = start.len() + read_full(r, &mut h[start.len()..])?;
    if got < 24 {
        return Err(SourceErrorKind::TruncatedHeader {
            part: "Sun .au header".into(),
            needed: 24,
            got: got as u64,
        });
    }
    let be = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (offset, size, code, sample_rate, channels) = (be(4), be(8), be(12), be(16), be(20));
    let (encoding, width) = match code {
        1 => (Encoding::MuLaw, 1),
        2 => (Encoding::Pcm8Signed, 1),
        3 => (Encoding::Pcm16Be, 2),
        27 => (Encoding::ALaw, 1),
        other => {
            return Err(SourceErrorKind::UnsupportedCodec {
                tag: u16::try_from(other).unwrap_or(u16::MAX),
                name: match other {
                    4 => "Sun .au 24-bit PCM",
                    5 => "Sun .au 32-bit PCM",
                    6 | 7 => "Sun .au float",
                    23..=26 => "Sun .au G.72x ADPCM",
                    _ => "an unknown Sun .au encoding",
                },
            })
        }
    };
    let channels = u16::try_from(channels).unwrap_or(u16::MAX);
    if channels == 0 {
        return Err(SourceErrorKind::ZeroChannels);
    }
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(SourceErrorKind::RateOutOfRange { rate: sample_rate });
    }
    if offset < 24 || u64::from(offset) > file_len {
        return Err(SourceErrorKind::TruncatedHeader {
            part: "Sun .au header (data offset)".into(),
            needed: u64::from(offset.max(24)),
            got: file_len.min(u64::from(u32::MAX)),
        });
    }
    r.seek(SeekFrom::Start(u64::from(offset)))?;
    Ok(Header {
        sample_rate,
        channels,
        encoding,
        block_align: usize::from(channels) * width,
        data_bytes: (size != STREAMING_SIZE).then_some(u64::from(size)),
        data_start: u64::from(offset),
    })
}

/// Whether the `file_len - start` bytes from `start` on are whole chunks
/// (a `LIST` or `id3 ` after the data is normal), rather than audio past
/// the declared end of the data. Leaves `r` wherever it stopped.
pub(super) fn trailing_chunks_only<R: Read + Seek + ?Sized>(
    r: &mut R,
    mut start: u64,
    file_len: u64,
) -> std::io::Result<bool> {
    // Real files carry a handful; more than this is not a chunk list.
    for _ in 0..64 {
        if start == file_len {
            return Ok(true);
        }
        if file_len.saturating_sub(start) < 8 {
            return Ok(false);
        }
        r.seek(SeekFrom::Start(start))?;
        let mut ch = [0u8; 8];
        if read_full(r, &mut ch)? < 8 {
            return Ok(false);
        }
        if !ch[..4].iter().all(|b| (0x20..=0x7E).contains(b)) {
            return Ok(false);
        }
        let size = u64::from(u32_at(&ch, 4));
        start += 8 + size + (size & 1);
        if start > file_len + (size & 1) {
            return Ok(false);
        }
        start = start.min(file_len);
    }
    Ok(false)
}

/// Validates a `fmt ` body (16..=40 bytes): returns rate, channels,
/// encoding and block align.
fn parse_fmt(b: &[u8]) -> Result<(u32, u16, Encoding, usize), SourceErrorKind> {
    let mut tag = u16_at(b, 0);
    let channels = u16_at(b, 2);
    let sample_rate = u32_at(b, 4);
    let block_align = u16_at(b, 12);
    let bits = u16_at(b, 14);

    if tag == 0xFFFE {
        if b.len() < 40 {
            return Err(SourceErrorKind::FmtTooShort {
                needed: 40,
                got: b.len() as u32,
            });
        }
        let sub = &b[24..40];
        if sub[2..] != GUID_TAIL {
            return Err(SourceErrorKind::UnsupportedCodec {
                tag,
                name: "WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID",
            });
        }
        tag = u16_at(sub, 0);
    }

    let encoding = match tag {
        0x0001 => Encoding::Pcm { bits },
        0x0003 => Encoding::Float32,
        0x0006 => Encoding::ALaw,
        0x0007 => Encoding::MuLaw,
        _ => {
            return Err(SourceErrorKind::UnsupportedCodec {
                tag,
                name: codec_name(tag),
            })
        }
    };
    let bits_ok = match encoding {
        Encoding::Pcm { bits } => matches!(bits, 8 | 16 | 24 | 32),
        Encoding::Float32 => bits == 32,
        Encoding::MuLaw | Encoding::ALaw => bits == 8,
        // The RIFF walk never makes these (.au and symphonia do).
        Encoding::Pcm16Be | Encoding::Pcm8Signed | Encoding::Decoded { .. } => false,
    };
    if !bits_ok {
        return Err(SourceErrorKind::UnsupportedBits {
            codec: codec_name(tag),
            bits,
        });
    }
    if channels == 0 {
        return Err(SourceErrorKind::ZeroChannels);
    }
    if !(MIN_RATE..=MAX_RATE).contains(&sample_rate) {
        return Err(SourceErrorKind::RateOutOfRange { rate: sample_rate });
    }
    let expected = usize::from(channels) * usize::from(bits / 8);
    if usize::from(block_align) != expected {
        return Err(SourceErrorKind::BlockAlignMismatch {
            block_align,
            channels,
            bits,
            expected,
        });
    }
    Ok((sample_rate, channels, encoding, expected))
}

//! Recordings that are not plain WAV: FLAC, MP3, Ogg Vorbis, AIFF/CAF and
//! IMA/MS ADPCM inside WAV, decoded by symphonia (pure Rust, well kept).
//!
//! The hand-written WAV/G.711 path stays for what call recorders mostly
//! write: it is faster and allocation-free per block, which matters for
//! the live and telephony paths. symphonia allocates a packet per read
//! (a few per 100 ms of audio), which a batch review of files can afford.
//!
//! Sun .au is read by our own walk (`header`), as plain as WAV.
//!
//! Left out, and said so in the error: Opus (symphonia 0.5 has no decoder
//! and the pure-Rust ones are young), GSM 6.10 (no maintained pure-Rust
//! decoder), AAC/M4A (patent-encumbered; symphonia has it behind a feature
//! we do not enable).

use std::io::{Read, Seek, SeekFrom};
use std::sync::Mutex;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{ReadSeek, SourceErrorKind};

/// The reader as symphonia wants it (`Sync`: the mutex is never locked,
/// `get_mut` reaches through it, as reads take `&mut self`).
struct Media {
    inner: Mutex<Box<dyn ReadSeek>>,
    seekable: bool,
    len: Option<u64>,
}

impl Read for Media {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.get_mut() {
            Ok(r) => r.read(buf),
            Err(_) => Err(std::io::Error::other("reader poisoned")),
        }
    }
}

impl Seek for Media {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self.inner.get_mut() {
            Ok(r) => r.seek(pos),
            Err(_) => Err(std::io::Error::other("reader poisoned")),
        }
    }
}

impl MediaSource for Media {
    fn is_seekable(&self) -> bool {
        self.seekable
    }
    fn byte_len(&self) -> Option<u64> {
        self.len
    }
}

/// A decoded stream, handing out interleaved f32 frames.
pub(super) struct Decoded {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track: u32,
    /// The last packet's samples, interleaved, and how far they were taken.
    buf: Option<SampleBuffer<f32>>,
    pos: usize,
    /// Packets that did not decode (skipped; the call goes on).
    pub bad_packets: u64,
    pub codec: &'static str,
    pub rate: u32,
    pub channels: u16,
    pub frames: Option<u64>,
    done: bool,
}

/// Runs a step of symphonia's on bytes from outside. Should it panic on
/// malformed data (its code is safe Rust, but a panic is still possible),
/// that is this file's error, not the end of a batch of calls.
fn guarded<T>(f: impl FnOnce() -> Result<T, SourceErrorKind>) -> Result<T, SourceErrorKind> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(SourceErrorKind::Undecodable {
            why: "the decoder stopped on malformed data".into(),
        })
    })
}

/// What a container or codec failure says, for the error.
fn sym(e: SymError, what: &str) -> SourceErrorKind {
    match e {
        SymError::IoError(io) => SourceErrorKind::Io(io),
        SymError::Unsupported(s) => SourceErrorKind::Undecodable {
            why: format!("{what}: unsupported {s}"),
        },
        other => SourceErrorKind::Undecodable {
            why: format!("{what}: {other}"),
        },
    }
}

impl Decoded {
    /// Probes `reader` (from its start) for a container and codec we
    /// decode; `ext` is the file's extension, a hint only.
    pub(super) fn open(
        reader: Box<dyn ReadSeek>,
        seekable: bool,
        len: Option<u64>,
        ext: Option<&str>,
    ) -> Result<Self, SourceErrorKind> {
        guarded(|| Self::open_inner(reader, seekable, len, ext))
    }

    fn open_inner(
        reader: Box<dyn ReadSeek>,
        seekable: bool,
        len: Option<u64>,
        ext: Option<&str>,
    ) -> Result<Self, SourceErrorKind> {
        let media = Media {
            inner: Mutex::new(reader),
            seekable,
            len,
        };
        let mss = MediaSourceStream::new(Box::new(media), Default::default());
        let mut hint = Hint::new();
        if let Some(e) = ext {
            hint.with_extension(e);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                mss,
                // Gapless: MP3's encoder delay and padding are trimmed
                // where the file says how much (a LAME tag).
                &FormatOptions {
                    enable_gapless: true,
                    ..Default::default()
                },
                &MetadataOptions::default(),
            )
            .map_err(|e| match e {
                // Nothing recognised it: the caller names the first bytes.
                SymError::Unsupported(_) => SourceErrorKind::NotRiffWave { found: Vec::new() },
                other => sym(other, "container"),
            })?;
        let format = probed.format;
        let Some(track) = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        else {
            return Err(SourceErrorKind::Undecodable {
                why: "no audio track".into(),
            });
        };
        let params = track.codec_params.clone();
        let codec = symphonia::default::get_codecs()
            .get_codec(params.codec)
            .map_or("unknown codec", |d| d.short_name);
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| sym(e, codec))?;
        let rate = params.sample_rate.unwrap_or(0);
        let channels = params
            .channels
            .map_or(0, |c| u16::try_from(c.count()).unwrap_or(u16::MAX));
        Ok(Self {
            track: track.id,
            format,
            decoder,
            buf: None,
            pos: 0,
            bad_packets: 0,
            codec,
            rate,
            channels,
            frames: params.n_frames,
            done: false,
        })
    }

    /// Samples decoded and not yet taken, interleaved (whole frames).
    pub(super) fn pending(&self) -> &[f32] {
        match &self.buf {
            Some(b) => &b.samples()[self.pos.min(b.len())..],
            None => &[],
        }
    }

    /// Marks `samples` of [`Decoded::pending`] as taken.
    pub(super) fn consume(&mut self, samples: usize) {
        self.pos += samples;
    }

    /// Decodes until samples are pending; `false` at the end. A packet that
    /// does not decode is skipped and counted; a file cut short ends where
    /// it was cut.
    pub(super) fn fill(&mut self) -> Result<bool, SourceErrorKind> {
        let r = guarded(|| self.fill_inner());
        if r.is_err() {
            // Whatever state a failed step left is not read again.
            self.done = true;
            self.buf = None;
        }
        r
    }

    fn fill_inner(&mut self) -> Result<bool, SourceErrorKind> {
        let ch = usize::from(self.channels.max(1));
        loop {
            if !self.pending().is_empty() {
                return Ok(true);
            }
            if self.done {
                return Ok(false);
            }
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    continue;
                }
                Err(SymError::ResetRequired) => {
                    self.done = true;
                    continue;
                }
                Err(SymError::DecodeError(_)) => {
                    self.bad_packets += 1;
                    continue;
                }
                Err(e) => return Err(sym(e, self.codec)),
            };
            if packet.track_id() != self.track {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(audio) => {
                    if audio.frames() == 0 {
                        continue;
                    }
                    let spec = *audio.spec();
                    if spec.channels.count() != ch {
                        return Err(SourceErrorKind::Undecodable {
                            why: format!(
                                "{}: the channel count changed from {ch} to {} mid-stream",
                                self.codec,
                                spec.channels.count()
                            ),
                        });
                    }
                    let need = audio.capacity() as u64;
                    let fits = self
                        .buf
                        .as_ref()
                        .is_some_and(|b| b.capacity() as u64 >= need * ch as u64);
                    if !fits {
                        self.buf = Some(SampleBuffer::new(need, spec));
                    }
                    if let Some(b) = self.buf.as_mut() {
                        b.copy_interleaved_ref(audio);
                    }
                    self.pos = 0;
                }
                Err(SymError::DecodeError(_)) => self.bad_packets += 1,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                }
                Err(e) => return Err(sym(e, self.codec)),
            }
        }
    }
}

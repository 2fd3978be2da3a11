//! Streaming reader of call recordings that hands out the customer and
//! agent channels: WAV by our own walk, and the compressed formats
//! recorders also write (FLAC, MP3, Ogg Vorbis, AIFF/CAF, ADPCM in WAV)
//! through symphonia (see `decoded`).
//!
//! Call recordings are long (hours) and mostly 8 kHz G.711 stereo, so the
//! reader never loads a file whole: [`WavSource::read`] decodes one caller
//! sized block at a time through a fixed buffer sized at open. It reads PCM
//! 8/16/24/32-bit, 32-bit float, mu-law and A-law, plain or inside
//! WAVE_FORMAT_EXTENSIBLE, at 8..=192 kHz.
//!
//! The header walk and decoders are our own (see `header` and `codec` for
//! why hound does not fit); hound is used by the tests to write reference
//! files.

mod codec;
mod decoded;
mod header;

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use header::read_full;

/// Lowest sample rate accepted: narrow-band telephony.
pub const MIN_RATE: u32 = 8000;
/// Highest sample rate accepted: what studio recorders write (96 and 192
/// kHz archives exist); the resampler takes any rate down to 8 kHz.
pub const MAX_RATE: u32 = 192_000;

/// Bytes of file read per internal step; bounds the reader's memory no matter
/// how large a block the caller asks for.
const READ_BUF_BYTES: usize = 16 * 1024;

/// How samples are stored in the file; decides the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Linear PCM, little-endian; 8-bit is unsigned, wider is signed.
    Pcm {
        /// Container width: 8, 16, 24 or 32.
        bits: u16,
    },
    /// IEEE 754 32-bit float, nominal range [-1, 1].
    Float32,
    /// ITU-T G.711 mu-law (format tag 7): US/Japan telephony.
    MuLaw,
    /// ITU-T G.711 A-law (format tag 6): European telephony.
    ALaw,
    /// 16-bit linear PCM, big-endian (Sun `.au`).
    Pcm16Be,
    /// 8-bit linear PCM, signed (Sun `.au`).
    Pcm8Signed,
    /// A compressed format decoded by symphonia (FLAC, MP3, Vorbis, ADPCM,
    /// AIFF/CAF PCM); the name is the codec's short name.
    Decoded {
        /// The codec's short name, e.g. `flac`, `mp3`, `vorbis`.
        codec: &'static str,
    },
}

/// What the file holds, so later stages can size resamplers and report
/// progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSpec {
    /// Frames per second, 8000..=192000.
    pub sample_rate: u32,
    /// Channels in the file (not just the ones we deliver).
    pub channels: u16,
    /// Sample storage.
    pub encoding: Encoding,
    /// Frames the data chunk declares; `None` when a streaming recorder left
    /// the size as 0xFFFFFFFF and the file is read to its end.
    pub declared_frames: Option<u64>,
}

/// Which file channel carries whom, since recorders disagree.
///
/// Stereo default: agent = left (0), customer = right (1). Mono: customer
/// only, no agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelChoice {
    /// Stereo: agent left, customer right. Mono: customer only.
    #[default]
    Default,
    /// Stereo with roles swapped: customer left, agent right.
    Swapped,
    /// Any layout, including files with more than two channels.
    Explicit {
        /// Zero-based index of the customer's channel.
        customer: u16,
        /// Zero-based index of the agent's channel, if recorded.
        agent: Option<u16>,
    },
}

/// What went wrong, without the file name (see [`SourceError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceErrorKind {
    /// The OS refused to open, seek or read.
    Io(std::io::Error),
    /// The file has no bytes at all.
    Empty,
    /// The path is a FIFO, a device, a socket or a folder: reading it could
    /// block forever (a FIFO) or never end (`/dev/zero`).
    NotRegularFile {
        /// What it is instead, e.g. `FIFO (named pipe)`.
        kind: &'static str,
    },
    /// A chunk that must appear once appears again.
    DuplicateChunk {
        /// The chunk id.
        chunk: &'static str,
        /// Byte offset of the second one.
        offset: u64,
    },
    /// Not a recording: the first bytes are not `RIFF....WAVE`, and no
    /// other reader recognises them.
    NotRiffWave {
        /// The first bytes of the file (up to [`MAGIC_LEN`]).
        found: Vec<u8>,
    },
    /// The file ends inside the header.
    TruncatedHeader {
        /// Which part was cut.
        part: String,
        /// Bytes that part needs.
        needed: u64,
        /// Bytes the file holds of it.
        got: u64,
    },
    /// A required chunk never appears before the data.
    MissingChunk {
        /// The chunk id.
        chunk: &'static str,
    },
    /// The `fmt ` chunk is smaller than its format needs.
    FmtTooShort {
        /// Bytes required.
        needed: u32,
        /// Bytes declared.
        got: u32,
    },
    /// A codec we do not decode (ADPCM, GSM, MP3, ...).
    UnsupportedCodec {
        /// WAV format tag (for EXTENSIBLE, the sub-format's tag).
        tag: u16,
        /// Human name of the codec.
        name: &'static str,
    },
    /// A known codec at a sample width we do not decode.
    UnsupportedBits {
        /// Codec name.
        codec: &'static str,
        /// Bits per sample declared.
        bits: u16,
    },
    /// The format declares zero channels.
    ZeroChannels,
    /// Sample rate outside [`MIN_RATE`]..=[`MAX_RATE`].
    RateOutOfRange {
        /// Declared rate in Hz.
        rate: u32,
    },
    /// `nBlockAlign` disagrees with channels x bits / 8.
    BlockAlignMismatch {
        /// Declared block align.
        block_align: u16,
        /// Declared channels.
        channels: u16,
        /// Declared bits per sample.
        bits: u16,
        /// Block align implied by channels and bits.
        expected: usize,
    },
    /// More than two channels and no explicit choice of which is whom.
    TooManyChannels {
        /// Channels in the file.
        channels: u16,
    },
    /// A chosen channel does not exist in the file.
    ChannelOutOfRange {
        /// The requested zero-based index.
        index: u16,
        /// Channels in the file.
        channels: u16,
    },
    /// Customer and agent were given the same channel.
    SameChannel {
        /// The shared index.
        index: u16,
    },
    /// The file ends before the data chunk's declared size.
    Truncated {
        /// Data bytes the chunk declares.
        declared: u64,
        /// Data bytes the file actually holds.
        held: u64,
    },
    /// A container or codec we recognise but cannot decode, or a stream
    /// that breaks inside (symphonia's words).
    Undecodable {
        /// What the decoder said.
        why: String,
    },
    /// `read` got an agent buffer shorter than the customer buffer.
    AgentBufferTooShort {
        /// Frames required (the customer buffer's length).
        needed: usize,
        /// Frames offered.
        got: usize,
    },
}

/// Bytes kept from a file's start to say what it looked like.
pub const MAGIC_LEN: usize = 16;

/// What a file that is not audio looks like, from its first bytes: the
/// words a user recognises ("text", "a program") and the bytes themselves,
/// printable ones as text and the rest in hex.
fn looks_like(head: &[u8]) -> String {
    if let [b'R', b'I', b'F', b'F', _, _, _, _, form @ ..] = head {
        let form = String::from_utf8_lossy(&form[..form.len().min(4)]);
        return format!("it is a RIFF file, but of the kind {form:?}, not WAVE");
    }
    let kind = match head {
        [0x7f, b'E', b'L', b'F', ..] | [b'M', b'Z', ..] => "a program",
        [b'%', b'P', b'D', b'F', ..] => "a PDF document",
        [b'P', b'K', 3, 4, ..] => "a ZIP archive (or an office document)",
        [0x1f, 0x8b, ..] => "a gzip archive",
        [0xff, 0xd8, 0xff, ..] | [0x89, b'P', b'N', b'G', ..] => "an image",
        _ if !head.is_empty()
            && std::str::from_utf8(head).is_ok_and(|t| {
                t.chars()
                    .all(|c| !c.is_control() || c.is_ascii_whitespace())
            }) =>
        {
            "text"
        }
        _ => "binary data of no kind shoutcue knows",
    };
    let shown = if kind == "text" {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        head.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("it looks like {kind} (it starts {shown})")
}

impl fmt::Display for SourceErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SourceErrorKind::*;
        match self {
            Io(e) => write!(f, "I/O error: {e}"),
            Empty => write!(f, "empty file (0 bytes)"),
            NotRegularFile { kind } => write!(
                f,
                "not a regular file: expected a WAV file, got a {kind} (to read a stream from a pipe, give `-` and pipe it to stdin)"
            ),
            DuplicateChunk { chunk, offset } => write!(
                f,
                "a second {chunk:?} chunk at byte {offset}: expected exactly one"
            ),
            NotRiffWave { found } => write!(
                f,
                "not a recording shoutcue can read: {}; shoutcue reads WAV (PCM, float, G.711), FLAC, MP3, Ogg Vorbis, AIFF and CAF (Opus, GSM 6.10 and AAC are not read: convert them to WAV with sox or ffmpeg)",
                looks_like(found)
            ),
            Undecodable { why } => write!(f, "cannot decode: {why}"),
            TruncatedHeader { part, needed, got } => write!(
                f,
                "truncated header: {part} needs {needed} bytes, file holds {got}"
            ),
            MissingChunk { chunk } => write!(f, "no {chunk:?} chunk before the audio data"),
            FmtTooShort { needed, got } => write!(
                f,
                "fmt chunk too short: format needs {needed} bytes, chunk declares {got}"
            ),
            UnsupportedCodec { tag, name } => write!(
                f,
                "unsupported codec {name} (format tag {tag:#06x}): no maintained pure-Rust decoder; convert to PCM, mu-law or A-law (sox in.wav -e signed-integer out.wav)"
            ),
            UnsupportedBits { codec, bits } => {
                write!(f, "unsupported sample width: {codec} at {bits} bits")
            }
            ZeroChannels => write!(f, "format declares 0 channels"),
            RateOutOfRange { rate } => write!(
                f,
                "sample rate {rate} Hz out of range: expected {MIN_RATE}..={MAX_RATE} Hz"
            ),
            BlockAlignMismatch {
                block_align,
                channels,
                bits,
                expected,
            } => write!(
                f,
                "block align {block_align} inconsistent with {channels} channel(s) x {bits} bits: expected {expected}"
            ),
            TooManyChannels { channels } => write!(
                f,
                "file has {channels} channels: pick the customer (and agent) channel explicitly"
            ),
            ChannelOutOfRange { index, channels } => write!(
                f,
                "channel {index} out of range: file has {channels} channel(s) (0..={})",
                channels.saturating_sub(1)
            ),
            SameChannel { index } => {
                write!(f, "customer and agent both set to channel {index}")
            }
            Truncated { declared, held } => write!(
                f,
                "truncated: data chunk declares {declared} bytes, file holds {held}"
            ),
            AgentBufferTooShort { needed, got } => write!(
                f,
                "agent buffer holds {got} frames, customer buffer asks for {needed}"
            ),
        }
    }
}

/// Something odd about a file that is still read; the commands print these
/// on stderr and `qa` notes them in the call's row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceWarning {
    /// The data chunk declares 0 bytes, as a recorder that crashed before
    /// writing the size leaves it; the file was read to its end instead.
    ZeroDataSize {
        /// Bytes after the data chunk's header, when the length is known.
        following: Option<u64>,
    },
    /// The data chunk declares fewer bytes than follow it (and what follows
    /// is not a chunk): the bytes past the declared end are not analysed.
    DataSizeShort {
        /// Data bytes the chunk declares.
        declared: u64,
        /// Bytes after the data chunk's header.
        following: u64,
    },
}

impl fmt::Display for SourceWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceWarning::ZeroDataSize { following: Some(n) } => write!(
                f,
                "data chunk declares 0 bytes (a recorder that stopped before writing the size?): read to the end of the file instead, {n} bytes"
            ),
            SourceWarning::ZeroDataSize { following: None } => write!(
                f,
                "data chunk declares 0 bytes (a recorder that stopped before writing the size?): read to the end of the stream instead"
            ),
            SourceWarning::DataSizeShort {
                declared,
                following,
            } => write!(
                f,
                "data chunk declares {declared} bytes but {following} follow it: the last {} bytes are not analysed",
                following - declared
            ),
        }
    }
}

/// What a path is when it is not a regular file.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_dir() {
        "folder"
    } else {
        "special file"
    }
}

/// A forward-only reader as a `Seek`: seeking ahead skips bytes, so the
/// header walk can skip chunks on a pipe. Seeking back or from the end is
/// refused (the stream's length is unknown).
struct Forward<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for Forward<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> Seek for Forward<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        match target {
            Some(n) if n >= self.pos => {
                let skip = n - self.pos;
                let skipped =
                    std::io::copy(&mut (&mut self.inner).take(skip), &mut std::io::sink())?;
                self.pos += skipped;
                Ok(self.pos)
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a stream cannot seek back or from its end",
            )),
        }
    }
}

/// An input problem, naming the file so a batch run says which call failed.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {kind}")]
pub struct SourceError {
    /// The path or name the input was opened as.
    pub name: String,
    /// What went wrong.
    pub kind: SourceErrorKind,
}

impl From<std::io::Error> for SourceErrorKind {
    fn from(e: std::io::Error) -> Self {
        SourceErrorKind::Io(e)
    }
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// A WAV stream that delivers the customer (and agent) channel as `f32`.
pub struct WavSource {
    name: String,
    reader: Box<dyn ReadSeek>,
    spec: SourceSpec,
    block_align: usize,
    sample_bytes: usize,
    customer: usize,
    agent: Option<usize>,
    /// Declared data bytes; `None` = read to EOF.
    data_bytes: Option<u64>,
    /// Data bytes consumed so far.
    consumed: u64,
    /// Bytes read past the last whole frame (a frame split across reads).
    carry: usize,
    buf: Vec<u8>,
    /// Set once the stream has ended; a pending error is returned once.
    done: bool,
    pending: Option<SourceErrorKind>,
    non_finite: u64,
    warnings: Vec<SourceWarning>,
    /// Set for a compressed recording: decoded by symphonia, not by the
    /// walk and `codec` above.
    decoded: Option<Box<decoded::Decoded>>,
}

impl fmt::Debug for WavSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WavSource")
            .field("name", &self.name)
            .field("spec", &self.spec)
            .field("customer", &self.customer)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

impl WavSource {
    /// Opens a WAV file and reads its header; the audio stays on disk.
    ///
    /// `-` reads a stream from stdin (see [`WavSource::from_stream`]).
    /// Anything but a regular file (a FIFO, `/dev/zero`, a folder) is
    /// refused before it is opened, so a FIFO with no writer cannot hang
    /// the caller.
    pub fn open(path: impl AsRef<Path>, choice: ChannelChoice) -> Result<Self, SourceError> {
        let path = path.as_ref();
        if path == Path::new("-") {
            return Self::from_stream("stdin", std::io::stdin(), choice);
        }
        let name = path.display().to_string();
        let err = |kind| SourceError {
            name: name.clone(),
            kind,
        };
        // stat, not open: opening a FIFO blocks until a writer comes.
        let meta = std::fs::metadata(path).map_err(|e| err(SourceErrorKind::Io(e)))?;
        if !meta.is_file() {
            return Err(err(SourceErrorKind::NotRegularFile {
                kind: file_kind(&meta.file_type()),
            }));
        }
        let ext = path.extension().and_then(|e| e.to_str());
        match File::open(path) {
            Ok(f) => Self::build(&name, Box::new(f), choice, true, ext, true).map_err(err),
            Err(e) => Err(err(SourceErrorKind::Io(e))),
        }
    }

    /// Reads a WAV from a stream that cannot seek (a pipe, stdin): the
    /// header walk skips chunks by reading them, the data is read to the
    /// stream's end or its declared size, and a size larger than the
    /// stream is reported as truncation at the end.
    pub fn from_stream<R: Read + Send + 'static>(
        name: &str,
        mut reader: R,
        choice: ChannelChoice,
    ) -> Result<Self, SourceError> {
        let err = |kind| SourceError {
            name: name.to_string(),
            kind,
        };
        // The first bytes say which reader it is for; they are read, then
        // handed back in front of the rest.
        let mut magic = [0u8; MAGIC_LEN];
        let got = read_full(&mut reader, &mut magic).map_err(|e| err(SourceErrorKind::Io(e)))?;
        let reader = Forward {
            inner: std::io::Cursor::new(magic[..got].to_vec()).chain(reader),
            pos: 0,
        };
        if got >= 4 && !is_riff(&magic[..4]) {
            let head = &magic[..got];
            return Self::build_decoded(name, Box::new(reader), choice, false, None, None, head)
                .map_err(err);
        }
        Self::build(name, Box::new(reader), choice, false, None, true).map_err(err)
    }

    /// For fuzzing and for in-memory tests; `name` is what errors call the
    /// input. WAV only, by our own walk: the compressed formats come from
    /// files and streams ([`WavSource::open`], [`WavSource::from_stream`]),
    /// so the fuzz target that uses this covers our code, not symphonia's.
    pub fn from_reader<R: Read + Seek + Send + 'static>(
        name: &str,
        reader: R,
        choice: ChannelChoice,
    ) -> Result<Self, SourceError> {
        Self::build(name, Box::new(reader), choice, true, None, false).map_err(|kind| SourceError {
            name: name.to_string(),
            kind,
        })
    }

    /// `seekable` for files, whose length is known; not for streams.
    /// `ext`, the file's extension, only hints a compressed format;
    /// `others`: whether what is not WAV goes to symphonia.
    fn build(
        name: &str,
        mut reader: Box<dyn ReadSeek>,
        choice: ChannelChoice,
        seekable: bool,
        ext: Option<&str>,
        others: bool,
    ) -> Result<Self, SourceErrorKind> {
        let file_len = if seekable {
            let len = reader.seek(SeekFrom::End(0))?;
            reader.seek(SeekFrom::Start(0))?;
            Some(len)
        } else {
            None
        };
        if seekable && others {
            let mut magic = [0u8; MAGIC_LEN];
            let got = read_full(&mut reader, &mut magic)?;
            reader.seek(SeekFrom::Start(0))?;
            if got >= 4 && !is_riff(&magic[..4]) {
                let head = &magic[..got];
                return Self::build_decoded(name, reader, choice, true, file_len, ext, head);
            }
        }
        // Unknown length: the walk meets the end by reading it.
        let mut h = match header::parse(&mut reader, file_len.unwrap_or(u64::MAX)) {
            // ADPCM inside WAV: symphonia decodes IMA and Microsoft ADPCM.
            Err(SourceErrorKind::UnsupportedCodec {
                tag: 0x0002 | 0x0011,
                ..
            }) if seekable && others => {
                reader.seek(SeekFrom::Start(0))?;
                return Self::build_decoded(
                    name,
                    reader,
                    choice,
                    true,
                    file_len,
                    Some("wav"),
                    b"RIFF",
                );
            }
            r => r?,
        };
        let following = file_len.map(|len| len.saturating_sub(h.data_start));
        let mut warnings = Vec::new();
        match (h.data_bytes, following) {
            (Some(0), _) => {
                // What a recorder that crashed before writing the size
                // leaves: read it like a streaming recorder's file.
                h.data_bytes = None;
                warnings.push(SourceWarning::ZeroDataSize { following });
            }
            (Some(declared), Some(following)) if declared < following => {
                let after = h.data_start + declared + (declared & 1);
                if let Some(len) = file_len {
                    if !header::trailing_chunks_only(&mut reader, after, len)? {
                        warnings.push(SourceWarning::DataSizeShort {
                            declared,
                            following,
                        });
                    }
                    reader.seek(SeekFrom::Start(h.data_start))?;
                }
            }
            _ => {}
        }

        let channels = h.channels;
        let (customer, agent) = pick(choice, channels)?;

        let sample_bytes = h.block_align / usize::from(channels);
        // Whole frames only, and at least one frame even for very wide files.
        let buf_len = (READ_BUF_BYTES / h.block_align).max(1) * h.block_align;
        Ok(WavSource {
            name: name.to_string(),
            reader,
            spec: SourceSpec {
                sample_rate: h.sample_rate,
                channels,
                encoding: h.encoding,
                declared_frames: h.data_bytes.map(|b| b / h.block_align as u64),
            },
            block_align: h.block_align,
            sample_bytes,
            customer: usize::from(customer),
            agent: agent.map(usize::from),
            data_bytes: h.data_bytes,
            consumed: 0,
            carry: 0,
            buf: vec![0; buf_len],
            done: false,
            pending: None,
            non_finite: 0,
            warnings,
            decoded: None,
        })
    }

    /// A compressed recording, through symphonia. `head` (the first bytes)
    /// names the input when nothing recognises it.
    fn build_decoded(
        name: &str,
        reader: Box<dyn ReadSeek>,
        choice: ChannelChoice,
        seekable: bool,
        len: Option<u64>,
        ext: Option<&str>,
        head: &[u8],
    ) -> Result<Self, SourceErrorKind> {
        // Formats close to WAV that symphonia does not read: say which.
        let not_yet = match head.get(..4) {
            Some(b"riff") => Some("Sony Wave64 (.w64)"),
            _ => None,
        };
        if let Some(what) = not_yet {
            return Err(SourceErrorKind::Undecodable {
                why: format!("{what} is not read yet: convert it to WAV (sox in out.wav)"),
            });
        }
        let d = match decoded::Decoded::open(reader, seekable, len, ext) {
            Ok(d) => d,
            Err(SourceErrorKind::NotRiffWave { .. }) => {
                return Err(SourceErrorKind::NotRiffWave {
                    found: head.to_vec(),
                })
            }
            // The probe scans for sync words anywhere, so text or a program
            // can get as far as a codec, and then fails in the decoder's
            // words. A file that does not start like any recording we read
            // is not one: say that, and what it looked like.
            Err(_) if !starts_like_audio(head) => {
                return Err(SourceErrorKind::NotRiffWave {
                    found: head.to_vec(),
                })
            }
            Err(e) => return Err(e),
        };
        if d.channels == 0 {
            return Err(SourceErrorKind::ZeroChannels);
        }
        if !(MIN_RATE..=MAX_RATE).contains(&d.rate) {
            return Err(SourceErrorKind::RateOutOfRange { rate: d.rate });
        }
        let (customer, agent) = pick(choice, d.channels)?;
        Ok(WavSource {
            name: name.to_string(),
            reader: Box::new(std::io::empty()),
            spec: SourceSpec {
                sample_rate: d.rate,
                channels: d.channels,
                encoding: Encoding::Decoded { codec: d.codec },
                declared_frames: d.frames,
            },
            block_align: 0,
            sample_bytes: 0,
            customer: usize::from(customer),
            agent: agent.map(usize::from),
            data_bytes: None,
            consumed: 0,
            carry: 0,
            buf: Vec::new(),
            done: false,
            pending: None,
            non_finite: 0,
            warnings: Vec::new(),
            decoded: Some(Box::new(d)),
        })
    }

    /// The file's format, for sizing the resampler and reporting.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    /// Whether an agent channel is delivered (false for mono files).
    pub fn has_agent(&self) -> bool {
        self.agent.is_some()
    }

    /// Reads up to `customer.len()` frames, de-interleaved to f32 in [-1, 1], into caller-owned slices
    /// (`agent` must be at least as long when there is an agent channel; ignored otherwise). Ok(0) = end
    /// (or an empty `customer` slice).
    /// Allocation-free after open (only an error, which ends the stream,
    /// allocates its message).
    ///
    /// A truncated file delivers every whole frame before the cut; the read
    /// that finds no frame left before the cut returns
    /// [`SourceErrorKind::Truncated`], and later reads return `Ok(0)`. A
    /// data size that is not a whole number of frames loses only the partial
    /// last frame.
    pub fn read(&mut self, customer: &mut [f32], agent: &mut [f32]) -> Result<usize, SourceError> {
        match self.read_inner(customer, agent) {
            Ok(n) => Ok(n),
            Err(kind) => Err(SourceError {
                name: self.name.clone(),
                kind,
            }),
        }
    }

    fn read_inner(
        &mut self,
        customer: &mut [f32],
        agent: &mut [f32],
    ) -> Result<usize, SourceErrorKind> {
        if self.agent.is_some() && agent.len() < customer.len() {
            return Err(SourceErrorKind::AgentBufferTooShort {
                needed: customer.len(),
                got: agent.len(),
            });
        }
        if let Some(d) = self.decoded.as_mut() {
            return read_decoded(
                d,
                self.customer,
                self.agent,
                customer,
                agent,
                &mut self.non_finite,
            );
        }
        let ba = self.block_align;
        let mut done = 0;
        while done < customer.len() && !self.done {
            // Bytes still due from the data chunk; bounded by our buffer.
            let mut want = (customer.len() - done).saturating_mul(ba) - self.carry;
            want = want.min(self.buf.len() - self.carry);
            if let Some(total) = self.data_bytes {
                let left = total - self.consumed;
                want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
            }
            if want == 0 {
                // Declared data exhausted (any sub-frame tail is dropped).
                self.done = true;
                break;
            }
            let start = self.carry;
            let got = read_full(&mut self.reader, &mut self.buf[start..start + want])?;
            self.consumed += got as u64;
            let have = start + got;
            let frames = have / ba;
            let block = &self.buf[..frames * ba];
            self.non_finite += codec::decode_channel(
                self.spec.encoding,
                block,
                ba,
                self.customer * self.sample_bytes,
                &mut customer[done..done + frames],
            );
            if let Some(a) = self.agent {
                self.non_finite += codec::decode_channel(
                    self.spec.encoding,
                    block,
                    ba,
                    a * self.sample_bytes,
                    &mut agent[done..done + frames],
                );
            }
            done += frames;
            self.carry = have - frames * ba;
            if self.carry > 0 {
                self.buf.copy_within(frames * ba..have, 0);
            }
            if got < want {
                // EOF before the data chunk's end.
                self.done = true;
                if let Some(declared) = self.data_bytes {
                    self.pending = Some(SourceErrorKind::Truncated {
                        declared,
                        held: self.consumed,
                    });
                }
            }
        }
        if done == 0 {
            if let Some(e) = self.pending.take() {
                return Err(e);
            }
        }
        Ok(done)
    }

    /// What is odd about the file but did not stop it being read (a data
    /// size of 0, or smaller than the bytes that follow), found at open.
    pub fn warnings(&self) -> &[SourceWarning] {
        &self.warnings
    }

    /// NaN/Inf float samples are replaced by 0.0 and counted here (documented, sane result).
    pub fn non_finite_samples(&self) -> u64 {
        self.non_finite
    }

    /// Compressed packets that did not decode and were skipped (0 for WAV).
    pub fn bad_packets(&self) -> u64 {
        self.decoded.as_ref().map_or(0, |d| d.bad_packets)
    }
}

/// `RIFF`, `RF64`, `BW64`: the WAV family our own walk reads (or names
/// precisely what it does not); `.snd`, the Sun `.au` header, too.
fn is_riff(magic: &[u8]) -> bool {
    matches!(magic, b"RIFF" | b"RF64" | b"BW64" | b".snd")
}

/// Whether `head` starts the way a format symphonia reads does: FLAC, an
/// ID3 tag or an MPEG audio frame sync (MP3), Ogg, AIFF, CAF, or RIFF.
fn starts_like_audio(head: &[u8]) -> bool {
    match head {
        [b'f', b'L', b'a', b'C', ..]
        | [b'I', b'D', b'3', ..]
        | [b'O', b'g', b'g', b'S', ..]
        | [b'F', b'O', b'R', b'M', ..]
        | [b'c', b'a', b'f', b'f', ..]
        | [b'R', b'I', b'F', b'F', ..] => true,
        [0xff, b, ..] => b & 0xe0 == 0xe0,
        _ => false,
    }
}

/// Which channels `choice` means in a file of `channels`.
fn pick(choice: ChannelChoice, channels: u16) -> Result<(u16, Option<u16>), SourceErrorKind> {
    let (customer, agent) = match choice {
        ChannelChoice::Default | ChannelChoice::Swapped if channels > 2 => {
            return Err(SourceErrorKind::TooManyChannels { channels })
        }
        ChannelChoice::Default if channels == 1 => (0, None),
        ChannelChoice::Default => (1, Some(0)),
        ChannelChoice::Swapped => (0, Some(1)),
        ChannelChoice::Explicit { customer, agent } => (customer, agent),
    };
    for index in std::iter::once(customer).chain(agent) {
        if index >= channels {
            return Err(SourceErrorKind::ChannelOutOfRange { index, channels });
        }
    }
    if agent == Some(customer) {
        return Err(SourceErrorKind::SameChannel { index: customer });
    }
    Ok((customer, agent))
}

/// [`WavSource::read`] for a compressed recording: de-interleaves the
/// decoder's samples into the caller's slices.
fn read_decoded(
    d: &mut decoded::Decoded,
    c_idx: usize,
    a_idx: Option<usize>,
    customer: &mut [f32],
    agent: &mut [f32],
    non_finite: &mut u64,
) -> Result<usize, SourceErrorKind> {
    let ch = usize::from(d.channels.max(1));
    let mut done = 0;
    while done < customer.len() && d.fill()? {
        let p = d.pending();
        let frames = (p.len() / ch).min(customer.len() - done);
        let mut clean = |x: f32| {
            if x.is_finite() {
                x.clamp(-1.0, 1.0)
            } else {
                *non_finite += 1;
                0.0
            }
        };
        for (i, f) in p.chunks_exact(ch).take(frames).enumerate() {
            customer[done + i] = clean(f[c_idx]);
            if let Some(a) = a_idx {
                agent[done + i] = clean(f[a]);
            }
        }
        d.consume(frames * ch);
        done += frames;
    }
    Ok(done)
}

/// One G.711 mu-law byte as a sample in -1..1 (the same table the WAV
/// reader uses), for front doors that receive mu-law off the wire.
#[inline]
pub fn mulaw_to_f32(code: u8) -> f32 {
    codec::MULAW[usize::from(code)]
}

/// One 16-bit linear PCM sample as a sample in -1..1, as the WAV reader scales it.
#[inline]
pub fn pcm16_to_f32(s: i16) -> f32 {
    f32::from(s) * (1.0 / 32768.0)
}

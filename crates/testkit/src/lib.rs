//! Test support shared by every test in the workspace, so each helper exists
//! once: the bundled fixtures and scratch directories, the one policy for
//! data that lives outside the repository, a counting global allocator for
//! the real-time proofs, and a stand-in for the detector that drives the
//! coach ([`coach_sim`]).

pub mod alloc;
pub mod coach_sim;

use std::path::{Path, PathBuf};

/// The repository's root (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A bundled fixture, `fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("fixtures").join(name)
}

/// Twelve voices of the bundled calls (fixture, channel: 0 left, 1 right),
/// EmoDB speakers, men and women, each with a calm stretch of its own: a
/// line's callers for the line-calibration tests.
pub const LINE_VOICES: [(&str, usize); 12] = [
    ("agc_shout.wav", 1),
    ("agent_raised.wav", 0),
    ("agent_raised.wav", 1),
    ("calm_call.wav", 1),
    ("calm_down.wav", 1),
    ("continued_shout.wav", 0),
    ("continued_shout.wav", 1),
    ("mono_shout.wav", 1),
    ("one_exclamation.wav", 1),
    ("overtalk.wav", 0),
    ("overtalk.wav", 1),
    ("sustained_shout.wav", 1),
];

/// One voice of a bundled call as 16-bit samples at its rate: `channel` 0
/// (left) or 1 (right) of a stereo fixture (a mono one has only its one),
/// scaled by `gain`.
///
/// # Panics
/// If the fixture cannot be read: a test fails there.
#[allow(clippy::unwrap_used)] // test support: a missing fixture fails the test here
pub fn fixture_voice(name: &str, channel: usize, gain: f32) -> Vec<i16> {
    use shoutcue_core::source::{ChannelChoice, WavSource};
    let mut src = WavSource::open(fixture(name), ChannelChoice::Default).unwrap();
    let (mut c, mut a) = (vec![0.0f32; 4096], vec![0.0f32; 4096]);
    let mut out = Vec::new();
    loop {
        let n = src.read(&mut c, &mut a).unwrap();
        if n == 0 {
            break;
        }
        // Default: agent left (0), customer right (1).
        let v = if channel == 1 || !src.has_agent() {
            &c
        } else {
            &a
        };
        out.extend(
            v[..n]
                .iter()
                .map(|x| (x * gain * 32767.0).clamp(-32768.0, 32767.0) as i16),
        );
    }
    out
}

/// A recording in another format than WAV, `testdata/formats/NAME`: kept
/// out of `fixtures/`, whose WAVs `train` and `eval` read with labels.
pub fn format_fixture(name: &str) -> PathBuf {
    repo_root().join("testdata").join("formats").join(name)
}

/// A scratch directory of this test process, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory named after `tag` and this process.
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("shoutcue-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        if let Err(e) = std::fs::create_dir_all(&d) {
            panic!("{}: cannot create a test directory: {e}", d.display());
        }
        Self(d)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The full EmoDB corpus (`../shared/data/emodb` beside the repo, or
/// `$SHOUTCUE_EMODB`), for the tests that check against outside truth on
/// every clip.
///
/// The one policy for what lies outside the repository (this corpus,
/// nats-server, Chromium): the tests that need it are `#[ignore]`d with what
/// they need unless the crate's `outside-tests` feature is on (CI turns on
/// every feature), so a fresh clone's `cargo test` lists them as not run;
/// when they do run, a missing corpus is a failure.
pub fn emodb() -> PathBuf {
    let dir = std::env::var_os("SHOUTCUE_EMODB")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data/emodb"));
    assert!(
        dir.join("labels.csv").is_file(),
        "EmoDB is not at {} (labels.csv missing): put shared/ beside the repo or point \
         SHOUTCUE_EMODB at the corpus",
        dir.display()
    );
    dir
}

/// A two-voice (or customer-only) engine with the built-in model and the
/// default coach, for blocks of at most `max_block` samples at `rate`.
pub fn engine(rate: u32, max_block: usize, has_agent: bool) -> shoutcue_core::CallEngine {
    match shoutcue_core::CallEngine::new(
        rate,
        max_block,
        has_agent,
        &shoutcue_core::detector::ShoutModel::builtin(),
        shoutcue_core::coach::CoachConfig::default(),
    ) {
        Ok(e) => e,
        Err(e) => panic!("engine at {rate} Hz: {e}"),
    }
}

/// Offset of the `data` chunk's size field in a WAV file's bytes, for tests
/// that rewrite it (a crashed recorder's 0, a size shorter than the audio).
/// Panics on bytes with no `data` chunk: a test's own fixture is broken.
pub fn wav_data_size_offset(bytes: &[u8]) -> usize {
    let mut pos = 12;
    loop {
        let size = u32::from_le_bytes(
            bytes[pos + 4..pos + 8]
                .try_into()
                .expect("a chunk header is 8 bytes"),
        ) as usize;
        if &bytes[pos..pos + 4] == b"data" {
            return pos + 4;
        }
        pos += 8 + size + (size & 1);
    }
}

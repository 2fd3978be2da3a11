//! Per-hop voice features for one channel: level, loudness, F0 with voicing,
//! spectral shape, clipping and speech activity.
//!
//! One forward FFT of the windowed frame serves both the spectral shape and,
//! through the power spectrum and one inverse FFT, the autocorrelation that
//! pitch needs (Wiener-Khinchin); [`spectrum`] holds both transforms. Everything is sized in [`FeatureExtractor::new`];
//! [`FeatureExtractor::process`] allocates nothing.

pub mod loudness;
pub mod pitch;
mod reduce;
pub mod spectral;
pub mod spectrum;
pub mod vad;

use crate::frames::Frame;
use crate::{ANALYSIS_RATE, HOP, WINDOW};

pub use pitch::PitchConfig;
pub use vad::VadConfig;

/// FFT length: the 320-sample window plus the longest pitch lag (107 at
/// 75 Hz) must fit without circular wrap, so 512.
pub const FFT_LEN: usize = 512;
/// A sample at or above this magnitude counts as clipped. Slightly under
/// full scale, because resampling rounds off the flat tops of clipped
/// waveforms and G.711 peaks at 0.98.
pub const CLIP_LEVEL: f32 = 0.97;
/// Σ over hops of the squared Hann taper at 75 % overlap (sin⁴ overlap-adds to 3/2).
const HANN_SQ_OLA: f64 = 1.5;
/// Level reported for digital silence, dBFS (instead of -inf).
pub const SILENCE_DBFS: f32 = -120.0;

/// The features of one hop of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Features {
    /// Centre of the analysis window, seconds from the start.
    pub t: f64,
    /// RMS level of the 40 ms window, dBFS (sine at full scale: -3 dBFS).
    pub rms_dbfs: f32,
    /// Momentary K-weighted loudness of the 400 ms ending with this hop, LUFS.
    pub loudness_lufs: f32,
    /// Fundamental frequency, Hz; 0 when unvoiced.
    pub f0_hz: f32,
    /// Voicing confidence: the normalised autocorrelation of the best candidate, 0 to 1.
    pub voicing: f32,
    /// Whether the hop is voiced.
    pub voiced: bool,
    /// Energy 1-4 kHz over 50 Hz-1 kHz, dB (higher = flatter tilt).
    pub alpha_ratio_db: f32,
    /// Spectral centroid over 50 Hz-4 kHz, Hz.
    pub centroid_hz: f32,
    /// Fraction of the hop's samples at or above [`CLIP_LEVEL`], 0 to 1.
    pub clip_frac: f32,
    /// Speech activity (with a 100 ms hangover).
    pub speech: bool,
}

impl Features {
    /// CSV header matching [`Features::write_csv`].
    pub const CSV_HEADER: &'static str =
        "t,rms_dbfs,loudness_lufs,f0_hz,voicing,voiced,alpha_ratio_db,centroid_hz,clip_frac,speech";

    /// Writes one CSV row (no allocation beyond the writer's own).
    pub fn write_csv<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        writeln!(
            w,
            "{:.3},{:.2},{:.2},{:.2},{:.3},{},{:.2},{:.1},{:.4},{}",
            self.t,
            self.rms_dbfs,
            self.loudness_lufs,
            self.f0_hz,
            self.voicing,
            self.voiced as u8,
            self.alpha_ratio_db,
            self.centroid_hz,
            self.clip_frac,
            self.speech as u8
        )
    }
}

/// Settings of the feature extractor.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureConfig {
    /// Pitch tracking.
    pub pitch: PitchConfig,
    /// Speech activity.
    pub vad: VadConfig,
}

/// Turns analysis frames of one channel into [`Features`].
pub struct FeatureExtractor {
    fwd: spectrum::PowerSpectrum,
    inv: spectrum::Autocorrelation,
    taper: [f32; WINDOW],
    time: Vec<f32>,
    power: Vec<f32>,
    /// The power spectrum compressed by `exponent`, for the autocorrelation.
    compressed: Vec<f32>,
    acf: Vec<f32>,
    loudness: loudness::LoudnessMeter,
    /// Per-bin K-weighting gains, scaled so that their dot product with the
    /// power spectrum is the hop's K-weighted mean square.
    k_gains: Vec<f32>,
    pitch: pitch::PitchTracker,
    exponent: f32,
    shape: spectral::SpectralShape,
    vad: vad::Vad,
}

impl FeatureExtractor {
    /// Plans the FFTs and sizes every buffer.
    pub fn new(cfg: FeatureConfig) -> Self {
        let mut taper = [0.0f32; WINDOW];
        for (i, w) in taper.iter_mut().enumerate() {
            // Hann, symmetric over the window, as Praat's ac method uses.
            let x = (i as f64 + 0.5) / WINDOW as f64;
            *w = (0.5 - 0.5 * (2.0 * std::f64::consts::PI * x).cos()) as f32;
        }
        let pitch = pitch::PitchTracker::new(
            cfg.pitch,
            ANALYSIS_RATE,
            &taper,
            HOP as f32 / ANALYSIS_RATE as f32,
        );
        Self {
            time: vec![0.0; FFT_LEN],
            power: vec![0.0; FFT_LEN / 2 + 1],
            compressed: vec![0.0; FFT_LEN / 2 + 1],
            // Only the lags pitch reads (109 at 8 kHz, of 512).
            acf: vec![0.0; pitch.lags_needed()],
            fwd: spectrum::PowerSpectrum::new(FFT_LEN),
            inv: spectrum::Autocorrelation::new(FFT_LEN),
            taper,
            loudness: loudness::LoudnessMeter::new(),
            k_gains: loudness::k_weighted_bin_gains(ANALYSIS_RATE, FFT_LEN, HANN_SQ_OLA, HOP),
            pitch,
            exponent: cfg.pitch.spectral_exponent,
            shape: spectral::SpectralShape::new(ANALYSIS_RATE, FFT_LEN),
            vad: vad::Vad::new(cfg.vad),
        }
    }

    /// Starts a new stream (new call), keeping the plans and buffers.
    pub fn reset(&mut self) {
        self.loudness.reset();
        self.pitch.reset();
        self.vad = vad::Vad::new(*self.vad.config());
    }

    /// Gated integrated loudness (BS.1770) of the stream so far, LUFS.
    pub fn integrated_loudness(&self) -> Option<f64> {
        self.loudness.integrated()
    }

    /// Stops keeping the integrated loudness (then `None`), freeing 90 kB.
    pub fn drop_integrated_loudness(&mut self) {
        self.loudness.drop_integrated();
    }

    /// Measures one frame into `out`.
    pub fn process(&mut self, frame: &Frame<'_>, out: &mut Features) {
        let window = frame.window;
        let mean = reduce::sum(window) / WINDOW as f32;
        // time[WINDOW..] is zero padding, written once in `new`.
        let (sq, peak) = reduce::taper(window, mean, &self.taper, &mut self.time[..WINDOW]);
        let ms = sq / WINDOW as f32;
        let rms_dbfs = if ms > 1e-12 {
            10.0 * ms.log10()
        } else {
            SILENCE_DBFS
        };

        // Sizes match by construction, so the transforms cannot fail here.
        let _ = self.fwd.process(&self.time, &mut self.power);
        let shape = self.shape.process(&self.power);
        let k_mean_square = reduce::dot(&self.power, &self.k_gains);
        let pitch = if self.pitch.needs_acf(peak) {
            // The power spectrum, as a spectrum, is the autocorrelation's
            // transform; compressed, it gives the generalised autocorrelation.
            // One loop per case, so that the common square root vectorises.
            let pairs = self.compressed.iter_mut().zip(&self.power);
            if self.exponent == 0.5 {
                pairs.for_each(|(g, p)| *g = p.sqrt());
            } else if self.exponent == 1.0 {
                pairs.for_each(|(g, p)| *g = *p);
            } else {
                let e = self.exponent;
                pairs.for_each(|(g, p)| *g = p.powf(e));
            }
            let _ = self.inv.process(&self.compressed, &mut self.acf);
            self.pitch.decide(&self.acf, peak)
        } else {
            pitch::Pitch::default()
        };

        let clipped = frame.hop.iter().filter(|x| x.abs() >= CLIP_LEVEL).count();
        let loudness = self.loudness.process(k_mean_square as f64);
        let speech = self.vad.process(rms_dbfs, pitch.voiced);

        *out = Features {
            t: frame.index as f64 * HOP as f64 / ANALYSIS_RATE as f64,
            rms_dbfs,
            loudness_lufs: loudness,
            f0_hz: pitch.f0_hz,
            voicing: pitch.voicing,
            voiced: pitch.voiced,
            alpha_ratio_db: shape.alpha_ratio_db,
            centroid_hz: shape.centroid_hz,
            clip_frac: clipped as f32 / frame.hop.len() as f32,
            speech,
        };
    }
}

//! Spectral shape from one frame's power spectrum: alpha ratio and centroid.
//!
//! Shouting flattens the spectral tilt: more energy moves above 1 kHz. The
//! alpha ratio (energy 1-4 kHz over 50 Hz-1 kHz) measures that, and unlike
//! level it survives AGC, which scales both bands alike. The upper edge is
//! 4 kHz so that 8 kHz calls and wideband headsets give the same number.

/// Low band of the alpha ratio, Hz.
pub const LOW_BAND: (f32, f32) = (50.0, 1000.0);
/// High band of the alpha ratio, Hz (4 kHz: the top of the 8 kHz analysis band).
pub const HIGH_BAND: (f32, f32) = (1000.0, 4000.0);

/// Band edges as bin ranges, fixed at construction.
#[derive(Debug, Clone)]
pub struct SpectralShape {
    lo: (usize, usize),
    hi: (usize, usize),
    bin_hz: f32,
    /// Bin numbers lo.0..hi.1 as floats, for the centroid's dot product.
    bin_index: Vec<f32>,
}

/// Shape measures of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shape {
    /// Energy 1-4 kHz over 50 Hz-1 kHz, dB. 0 dB for silence.
    pub alpha_ratio_db: f32,
    /// Power-weighted mean frequency over 50 Hz-4 kHz, Hz. 0 for silence.
    pub centroid_hz: f32,
}

impl SpectralShape {
    /// Bands for an FFT of `fft_len` at `rate` Hz.
    pub fn new(rate: u32, fft_len: usize) -> Self {
        let bin_hz = rate as f32 / fft_len as f32;
        let nyquist_bin = fft_len / 2;
        let bin = |hz: f32| ((hz / bin_hz).round() as usize).min(nyquist_bin);
        let lo = (bin(LOW_BAND.0).max(1), bin(LOW_BAND.1));
        let hi = (bin(HIGH_BAND.0), bin(HIGH_BAND.1).min(nyquist_bin));
        Self {
            lo,
            hi,
            bin_hz,
            bin_index: (lo.0..hi.1).map(|k| k as f32).collect(),
        }
    }

    /// Measures a power spectrum (`|X[k]|²`, bins 0..=N/2).
    pub fn process(&self, power: &[f32]) -> Shape {
        let lo = super::reduce::sum(&power[self.lo.0..self.lo.1]);
        let hi = super::reduce::sum(&power[self.hi.0..self.hi.1]);
        let moment = super::reduce::dot(&power[self.lo.0..self.hi.1], &self.bin_index);
        let total = lo + hi;
        // A floor far below any real signal keeps silence finite (0 dB, 0 Hz).
        const EPS: f32 = 1e-12;
        if total <= EPS {
            return Shape::default();
        }
        Shape {
            alpha_ratio_db: 10.0 * ((hi + EPS) / (lo + EPS)).log10(),
            centroid_hz: moment / total * self.bin_hz,
        }
    }
}

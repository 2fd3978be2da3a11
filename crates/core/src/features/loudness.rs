//! K-weighted loudness after ITU-R BS.1770-4: momentary (400 ms) per hop,
//! and gated integrated loudness over the whole stream.
//!
//! Hand-rolled rather than calling the `ebur128` crate in the hot loop:
//! ebur128 filters every sample through two recursive biquads (a serial
//! dependency chain) and recomputes the momentary window from its sample
//! history on each query, which alone would cost more than our whole
//! per-hop budget. Here the K-weighting is applied as a per-bin gain
//! (the exact magnitude response of BS.1770's two filters) to the power
//! spectrum that the frame's FFT already gives; with a Hann window at 75 %
//! overlap, Parseval makes the weighted spectral energy of each frame equal
//! the K-weighted energy of its hop. Hop energies then sit in a ring, so
//! momentary loudness costs O(1) per hop, and integrated loudness uses a
//! fixed histogram (bounded memory for any call length), as libebur128 does.
//! The tests check both against `ebur128`.

/// Momentary window, in hops (400 ms at 10 ms).
pub const MOMENTARY_HOPS: usize = 40;
/// Gating blocks start every 100 ms (75 % overlap), in hops.
const BLOCK_STEP_HOPS: usize = 10;
/// Histogram of block loudness: -70 LUFS to +5 LUFS in 0.01 LU steps.
const HIST_MIN: f64 = -70.0;
const HIST_STEP: f64 = 0.01;
const HIST_BINS: usize = 7500;
/// Loudness reported for digital silence (instead of -inf).
pub const SILENCE_LUFS: f32 = -120.0;

/// One biquad's coefficients: numerator `b`, denominator `a` (a[0] = 1).
type Biquad = ([f64; 3], [f64; 3]);

/// The two K-weighting filters (high shelf, then high-pass) for a rate.
///
/// Coefficients from the analogue prototypes, as libebur128 derives them, so
/// that any rate (here 8 kHz) gets the same curve as BS.1770's 48 kHz table.
fn k_weighting(rate: f64) -> [Biquad; 2] {
    use std::f64::consts::PI;
    let f0 = 1_681.974_450_955_533;
    let g = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (PI * f0 / rate).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = (
        [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    );
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = (
        [1.0, -2.0, 1.0],
        [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    );
    [shelf, highpass]
}

/// |H(e^jω)|² of a biquad at normalised angular frequency ω.
fn power_response((b, a): &Biquad, w: f64) -> f64 {
    let eval = |c: &[f64; 3]| {
        let re = c[0] + c[1] * w.cos() + c[2] * (2.0 * w).cos();
        let im = -c[1] * w.sin() - c[2] * (2.0 * w).sin();
        re * re + im * im
    };
    eval(b) / eval(a)
}

/// Per-bin weights that turn a frame's power spectrum (`|X[k]|²`, bins
/// 0..=N/2 of an N-point FFT of the tapered frame) into the K-weighted mean
/// square of one hop.
///
/// Parseval gives the frame's energy as (1/N)·Σ over all N bins, i.e. the
/// one-sided bins counted twice except DC and Nyquist. Summed over frames,
/// a taper whose square overlap-adds to `taper_sq_ola` (1.5 for Hann at
/// 75 % overlap) weighs every sample by that constant, so dividing by it and
/// by the hop length leaves the hop's mean square.
pub fn k_weighted_bin_gains(
    rate: u32,
    fft_len: usize,
    taper_sq_ola: f64,
    hop_len: usize,
) -> Vec<f32> {
    let filters = k_weighting(rate as f64);
    let half = fft_len / 2;
    (0..=half)
        .map(|k| {
            let w = 2.0 * std::f64::consts::PI * k as f64 / fft_len as f64;
            let h2: f64 = filters.iter().map(|f| power_response(f, w)).product();
            let sides = if k == 0 || k == half { 1.0 } else { 2.0 };
            (h2 * sides / fft_len as f64 / taper_sq_ola / hop_len as f64) as f32
        })
        .collect()
}

fn energy_to_lufs(mean_square: f64) -> f64 {
    -0.691 + 10.0 * mean_square.log10()
}

/// BS.1770 loudness meter fed one hop's K-weighted mean square at a time.
#[derive(Debug, Clone)]
pub struct LoudnessMeter {
    hop_energy: [f64; MOMENTARY_HOPS],
    ring_pos: usize,
    window_sum: f64,
    hops_seen: u64,
    /// For the integrated loudness, unless dropped: a histogram of
    /// gating-block loudness (absolute gate applied on entry) and the sum of
    /// block energies per bin. 90 kB, most of what a channel holds.
    gating: Option<Gating>,
}

/// The gating histogram: block counts and energy sums per 0.01 LU bin.
#[derive(Debug, Clone)]
struct Gating {
    hist: Box<[u32; HIST_BINS]>,
    energy: Box<[f64; HIST_BINS]>,
}

impl Default for LoudnessMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl LoudnessMeter {
    /// A meter that has heard nothing.
    pub fn new() -> Self {
        Self {
            hop_energy: [0.0; MOMENTARY_HOPS],
            ring_pos: 0,
            window_sum: 0.0,
            hops_seen: 0,
            gating: Some(Gating {
                hist: Box::new([0; HIST_BINS]),
                energy: Box::new([0.0; HIST_BINS]),
            }),
        }
    }

    /// Stops keeping what [`LoudnessMeter::integrated`] needs (it then
    /// says `None`), freeing its memory: for a stream whose integrated
    /// loudness nobody reads. The momentary loudness is unchanged.
    pub fn drop_integrated(&mut self) {
        self.gating = None;
    }

    /// Forgets everything, keeping the allocations.
    pub fn reset(&mut self) {
        self.hop_energy = [0.0; MOMENTARY_HOPS];
        self.ring_pos = 0;
        self.window_sum = 0.0;
        self.hops_seen = 0;
        if let Some(g) = &mut self.gating {
            g.hist.fill(0);
            g.energy.fill(0.0);
        }
    }

    /// Takes one hop's K-weighted mean square and returns the momentary
    /// loudness (LUFS) of the 400 ms that end with it. Silence reads
    /// [`SILENCE_LUFS`].
    pub fn process(&mut self, hop_mean_square: f64) -> f32 {
        let e = hop_mean_square.max(0.0);
        self.window_sum += e - self.hop_energy[self.ring_pos];
        self.hop_energy[self.ring_pos] = e;
        self.ring_pos = (self.ring_pos + 1) % MOMENTARY_HOPS;
        self.hops_seen += 1;
        if self.ring_pos == 0 {
            // Once per window, recompute the sum to stop rounding drift.
            self.window_sum = self.hop_energy.iter().sum();
        }
        // BS.1770 gating blocks are full 400 ms windows, every 100 ms.
        if self.hops_seen >= MOMENTARY_HOPS as u64
            && (self.hops_seen - MOMENTARY_HOPS as u64).is_multiple_of(BLOCK_STEP_HOPS as u64)
        {
            self.add_block(self.window_sum / MOMENTARY_HOPS as f64);
        }
        let window_hops = MOMENTARY_HOPS.min(self.hops_seen as usize);
        let mean = self.window_sum.max(0.0) / window_hops as f64;
        if mean <= 1e-12 {
            SILENCE_LUFS
        } else {
            energy_to_lufs(mean) as f32
        }
    }

    fn add_block(&mut self, mean_square: f64) {
        let Some(g) = &mut self.gating else {
            return;
        };
        if mean_square <= 0.0 {
            return;
        }
        let l = energy_to_lufs(mean_square);
        if l < HIST_MIN {
            return; // below the absolute gate (-70 LUFS)
        }
        let bin = (((l - HIST_MIN) / HIST_STEP) as usize).min(HIST_BINS - 1);
        g.hist[bin] += 1;
        g.energy[bin] += mean_square;
    }

    /// Gated integrated loudness (LUFS) of everything so far: absolute gate at
    /// -70 LUFS, relative gate 10 LU below the absolute-gated mean. `None`
    /// until a 400 ms block rises above the absolute gate, and after
    /// [`LoudnessMeter::drop_integrated`].
    pub fn integrated(&self) -> Option<f64> {
        let g = self.gating.as_ref()?;
        let (mut n, mut e) = (0u64, 0.0f64);
        for (c, s) in g.hist.iter().zip(g.energy.iter()) {
            n += *c as u64;
            e += *s;
        }
        if n == 0 {
            return None;
        }
        let relative_gate = energy_to_lufs(e / n as f64) - 10.0;
        let start =
            ((((relative_gate - HIST_MIN) / HIST_STEP).ceil()).max(0.0) as usize).min(HIST_BINS);
        let (mut n2, mut e2) = (0u64, 0.0f64);
        for i in start..HIST_BINS {
            n2 += g.hist[i] as u64;
            e2 += g.energy[i];
        }
        if n2 == 0 {
            return None;
        }
        Some(energy_to_lufs(e2 / n2 as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_weighting_matches_the_bs1770_table_at_48k() {
        // BS.1770-4 Tables 1 and 2 (48 kHz): the outside truth for the derivation.
        let [shelf, hp] = k_weighting(48000.0);
        let want_b = [
            1.535_124_859_586_97,
            -2.691_696_189_406_38,
            1.198_392_810_852_85,
        ];
        for (i, (got, want)) in shelf.0.iter().zip(want_b).enumerate() {
            assert!((got - want).abs() < 1e-6, "shelf b{i}");
        }
        assert!((shelf.1[1] - -1.690_659_293_182_41).abs() < 1e-6);
        assert!((shelf.1[2] - 0.732_480_774_215_85).abs() < 1e-6);
        assert!((hp.1[1] - -1.990_047_454_833_98).abs() < 1e-6);
        assert!((hp.1[2] - 0.990_072_250_366_21).abs() < 1e-6);
    }

    #[test]
    fn silence_has_no_integrated_loudness() {
        let mut meter = LoudnessMeter::new();
        for _ in 0..200 {
            assert_eq!(meter.process(0.0), SILENCE_LUFS);
        }
        assert_eq!(meter.integrated(), None);
    }

    #[test]
    fn a_steady_signal_reads_its_own_loudness() {
        let mut meter = LoudnessMeter::new();
        let mut m = 0.0;
        for _ in 0..300 {
            m = meter.process(0.01); // mean square 0.01 → -20.691 LUFS
        }
        assert!((m as f64 + 20.691).abs() < 1e-3);
        assert!((meter.integrated().unwrap() + 20.691).abs() < 0.01);
    }
}

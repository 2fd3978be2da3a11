//! The power spectrum of a real frame, and the autocorrelation back from a
//! real, even spectrum: the two transforms of every hop.
//!
//! Hand-rolled around rustfft's half-length complex FFT instead of calling
//! realfft, because we never need the complex spectrum, only its power.
//! realfft's forward pass ends by writing out every complex bin through a
//! twiddle loop that, measured with perf on a QA batch, cost twice the FFT
//! itself (20 % of all time against 10 %); here the same unpacking goes
//! straight to `|X[k]|²`. Going back, the input is real and even (a power
//! spectrum, compressed), so the packing for the half-length inverse is a few
//! real multiplies per bin instead of complex ones. The unit tests check both
//! against realfft. Scaling is realfft's: forward and inverse unnormalised.
//!
//! On CPUs with AVX the packing code runs compiled for AVX (eight-float lanes
//! instead of SSE2's four; detected at run time, the binary runs on any
//! x86_64): on a QA batch the two transforms' own code took ~45 % fewer
//! instructions. The floats are the same either way: Rust neither reorders
//! float arithmetic nor fuses multiply-adds (FMA is not enabled), so wider
//! vectors do the same per-lane operations (checked: features, replay and QA
//! outputs byte-identical with and without).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// A buffer of the wrong length was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what}: expected {expected} values, got {got}")]
pub struct LengthError {
    /// Which buffer.
    pub what: &'static str,
    /// The length the transform was built for.
    pub expected: usize,
    /// The length passed.
    pub got: usize,
}

fn check(what: &'static str, expected: usize, got: usize) -> Result<(), LengthError> {
    if expected == got {
        Ok(())
    } else {
        Err(LengthError {
            what,
            expected,
            got,
        })
    }
}

/// `(cos, sin)` of 2πk/n for k in 0..=n/4, the twiddles both directions share.
fn twiddles(n: usize) -> Vec<(f32, f32)> {
    (0..=n / 4)
        .map(|k| {
            let w = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
            (w.cos() as f32, w.sin() as f32)
        })
        .collect()
}

const LANES: usize = 8;

/// `(|X[k]|², |X[M-k]|²)` from `a = Z[k]`, `b = Z[M-k]` and the twiddle (cos, sin) of 2πk/N.
///
/// E[k] = (Z[k] + conj Z[M-k]) / 2 is the spectrum of the even samples,
/// O[k] = (Z[k] - conj Z[M-k]) / 2i that of the odd ones, and
/// X[k] = E + W^k·O, X[M-k] = conj(E - W^k·O), with W = e^(-2πi/N).
#[inline(always)]
fn unpack(ar: f32, ai: f32, br: f32, bi: f32, c: f32, s: f32) -> (f32, f32) {
    let (er, ei) = (0.5 * (ar + br), 0.5 * (ai - bi));
    let (or, oi) = (0.5 * (ai + bi), -0.5 * (ar - br));
    let (tr, ti) = (c * or + s * oi, c * oi - s * or);
    (
        (er + tr) * (er + tr) + (ei + ti) * (ei + ti),
        (er - tr) * (er - tr) + (ei - ti) * (ei - ti),
    )
}

/// What both transforms hold: a half-length complex FFT, its buffers, and
/// the twiddles that pack or unpack a real signal of twice its length.
struct HalfFft {
    fft: Arc<dyn Fft<f32>>,
    buf: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// Whether to run the AVX build of `process` (see the module notes).
    avx: bool,
}

impl HalfFft {
    /// For a real transform of `len` points (even, at least 4: a fixed size
    /// chosen in code, not input).
    fn new(len: usize, inverse: bool) -> Self {
        assert!(
            len >= 4 && len.is_multiple_of(2),
            "transform length must be even and ≥ 4"
        );
        let mut planner = FftPlanner::new();
        let fft = if inverse {
            planner.plan_fft_inverse(len / 2)
        } else {
            planner.plan_fft_forward(len / 2)
        };
        Self {
            buf: vec![Complex::default(); len / 2],
            scratch: vec![Complex::default(); fft.get_inplace_scratch_len()],
            cos: twiddles(len).iter().map(|t| t.0).collect(),
            sin: twiddles(len).iter().map(|t| t.1).collect(),
            fft,
            avx: crate::simd::has_avx(),
        }
    }
}

/// Power spectrum `|X[k]|²`, k = 0..=N/2, of a real frame of N samples.
pub struct PowerSpectrum {
    t: HalfFft,
}

impl PowerSpectrum {
    /// Plans the half-length FFT for frames of `len` samples.
    ///
    /// # Panics
    /// If `len` is odd or under 4: a fixed size chosen in code, not input.
    pub fn new(len: usize) -> Self {
        Self {
            t: HalfFft::new(len, false),
        }
    }

    /// Frame length N.
    pub fn len(&self) -> usize {
        2 * self.t.buf.len()
    }

    /// Always false: a transform has at least four samples.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the power spectrum of `input` (N samples) into `power` (N/2 + 1).
    pub fn process(&mut self, input: &[f32], power: &mut [f32]) -> Result<(), LengthError> {
        #[cfg(target_arch = "x86_64")]
        if self.t.avx {
            // SAFETY: `avx` is set only when the CPU reports AVX (`new`).
            return unsafe { self.process_avx(input, power) };
        }
        self.process_any(input, power)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn process_avx(&mut self, input: &[f32], power: &mut [f32]) -> Result<(), LengthError> {
        self.process_any(input, power)
    }

    #[inline(always)]
    fn process_any(&mut self, input: &[f32], power: &mut [f32]) -> Result<(), LengthError> {
        let m = self.t.buf.len();
        check("frame", 2 * m, input.len())?;
        check("power spectrum", m + 1, power.len())?;
        // z[n] = x[2n] + i·x[2n+1]
        for (z, x) in self.t.buf.iter_mut().zip(input.chunks_exact(2)) {
            *z = Complex::new(x[0], x[1]);
        }
        self.t
            .fft
            .process_with_scratch(&mut self.t.buf, &mut self.t.scratch);
        let z = &self.t.buf;
        // E[k] = (Z[k] + conj Z[M-k]) / 2 is the spectrum of the even samples,
        // O[k] = (Z[k] - conj Z[M-k]) / 2i that of the odd ones, and
        // X[k] = E + W^k·O, X[M-k] = conj(E - W^k·O), with W = e^(-2πi/N).
        power[0] = (z[0].re + z[0].im).powi(2);
        power[m] = (z[0].re - z[0].im).powi(2);
        // Bins 1..=M/2 and their mirrors, eight at a time in lanes so that the
        // compiler can keep them in SIMD registers; the rest one by one.
        let half = m / 2;
        let mut k = 1;
        while k + LANES <= half + 1 {
            let (mut ar, mut ai, mut br, mut bi) =
                ([0f32; LANES], [0f32; LANES], [0f32; LANES], [0f32; LANES]);
            // Bins k..k+8 forward, and their mirrors M-k-7..=M-k read backward;
            // fixed-size slices, so that no index is checked inside the lanes.
            let (fwd, rev) = (&z[k..k + LANES], &z[m + 1 - k - LANES..=m - k]);
            for l in 0..LANES {
                ar[l] = fwd[l].re;
                ai[l] = fwd[l].im;
                br[l] = rev[LANES - 1 - l].re;
                bi[l] = rev[LANES - 1 - l].im;
            }
            let c = &self.t.cos[k..k + LANES];
            let s = &self.t.sin[k..k + LANES];
            let (mut lo, mut hi) = ([0f32; LANES], [0f32; LANES]);
            for l in 0..LANES {
                (lo[l], hi[l]) = unpack(ar[l], ai[l], br[l], bi[l], c[l], s[l]);
            }
            power[k..k + LANES].copy_from_slice(&lo);
            let mirror = &mut power[m + 1 - k - LANES..=m - k];
            for l in 0..LANES {
                mirror[LANES - 1 - l] = hi[l];
            }
            k += LANES;
        }
        for k in k..=half {
            let (a, b) = (z[k], z[m - k]);
            (power[k], power[m - k]) = unpack(a.re, a.im, b.re, b.im, self.t.cos[k], self.t.sin[k]);
        }
        Ok(())
    }
}

/// The inverse transform of a real, even spectrum `G[k]`, k = 0..=N/2: for a
/// (compressed) power spectrum, the (generalised) autocorrelation, N lags.
pub struct Autocorrelation {
    t: HalfFft,
}

impl Autocorrelation {
    /// Plans the half-length inverse FFT for N = `len` lags.
    ///
    /// # Panics
    /// If `len` is odd or under 4: a fixed size chosen in code, not input.
    pub fn new(len: usize) -> Self {
        Self {
            t: HalfFft::new(len, true),
        }
    }

    /// Writes `x[n] = Σ_k G[k]·e^(2πikn/N)` over all N bins (G even), for
    /// n in 0..`output.len()`: all N lags, or fewer when only the first are
    /// needed (pitch reads about a fifth of them), which saves the copy out.
    pub fn process(&mut self, spectrum: &[f32], output: &mut [f32]) -> Result<(), LengthError> {
        #[cfg(target_arch = "x86_64")]
        if self.t.avx {
            // SAFETY: `avx` is set only when the CPU reports AVX (`new`).
            return unsafe { self.process_avx(spectrum, output) };
        }
        self.process_any(spectrum, output)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn process_avx(
        &mut self,
        spectrum: &[f32],
        output: &mut [f32],
    ) -> Result<(), LengthError> {
        self.process_any(spectrum, output)
    }

    #[inline(always)]
    fn process_any(&mut self, spectrum: &[f32], output: &mut [f32]) -> Result<(), LengthError> {
        let m = self.t.buf.len();
        check("spectrum", m + 1, spectrum.len())?;
        if output.len() > 2 * m {
            check("autocorrelation", 2 * m, output.len())?;
        }
        let g = spectrum;
        // The even samples' spectrum is G[k] + G[k+M] = G[k] + G[M-k] (G even);
        // the odd ones' is (G[k] - G[M-k])·e^(2πik/N). Pack Z = Ev + i·Od.
        // Bin M-k shares Ev; D changes sign, and its twiddle is (−c, s), since
        // 2π(M-k)/N = π − 2πk/N. At k = M/2 both writes agree (D = 0).
        let buf = &mut self.t.buf;
        buf[0] = Complex::new(g[0] + g[m], g[0] - g[m]);
        let quarter = m / 2;
        let mut k = 1;
        while k + LANES <= quarter + 1 {
            let (fwd, rev) = (&g[k..k + LANES], &g[m + 1 - k - LANES..=m - k]);
            let (cos, sin) = (&self.t.cos[k..k + LANES], &self.t.sin[k..k + LANES]);
            // Plain f32 lanes first, interleaved after: built as complex
            // values directly, the arithmetic stayed scalar.
            let (mut p, mut q) = ([0f32; LANES], [0f32; LANES]);
            for l in 0..LANES {
                (p[l], q[l]) = (fwd[l], rev[LANES - 1 - l]);
            }
            let (mut lo_re, mut im, mut hi_re) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
            for l in 0..LANES {
                let (ev, d) = (p[l] + q[l], p[l] - q[l]);
                let (c, s) = (cos[l], sin[l]);
                (lo_re[l], im[l], hi_re[l]) = (ev - d * s, d * c, ev + d * s);
            }
            // Interleaved as plain floats (a shuffle), then stored whole.
            let (mut lo, mut hi) = ([0f32; 2 * LANES], [0f32; 2 * LANES]);
            for l in 0..LANES {
                (lo[2 * l], lo[2 * l + 1]) = (lo_re[l], im[l]);
                let r = LANES - 1 - l;
                (hi[2 * r], hi[2 * r + 1]) = (hi_re[l], im[l]);
            }
            for (z, x) in buf[k..k + LANES].iter_mut().zip(lo.chunks_exact(2)) {
                *z = Complex::new(x[0], x[1]);
            }
            let mirror = &mut buf[m + 1 - k - LANES..=m - k];
            for (z, x) in mirror.iter_mut().zip(hi.chunks_exact(2)) {
                *z = Complex::new(x[0], x[1]);
            }
            k += LANES;
        }
        for k in k..=quarter {
            let (p, q) = (g[k], g[m - k]);
            let (ev, d) = (p + q, p - q);
            let (c, s) = (self.t.cos[k], self.t.sin[k]);
            buf[k] = Complex::new(ev - d * s, d * c);
            buf[m - k] = Complex::new(ev + d * s, d * c);
        }
        self.t
            .fft
            .process_with_scratch(&mut self.t.buf, &mut self.t.scratch);
        let odd_last = self.t.buf.get(output.len() / 2).map_or(0.0, |z| z.re);
        let mut pairs = output.chunks_exact_mut(2);
        for (x, z) in (&mut pairs).zip(&self.t.buf) {
            x[0] = z.re;
            x[1] = z.im;
        }
        if let [x] = pairs.into_remainder() {
            *x = odd_last;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    fn signal(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                (i as f32 * 0.37).sin() * 0.6 + noise * 0.3
            })
            .collect()
    }

    fn close(a: f32, b: f32, scale: f32) -> bool {
        (a - b).abs() <= 2e-5 * scale
    }

    #[test]
    fn power_matches_realfft() {
        for n in [4usize, 8, 64, 512, 480] {
            let x = signal(n, n as u32);
            let mut ours = vec![0.0; n / 2 + 1];
            PowerSpectrum::new(n).process(&x, &mut ours).unwrap();
            let r2c = RealFftPlanner::<f32>::new().plan_fft_forward(n);
            let mut input = x.clone();
            let mut spec = r2c.make_output_vec();
            r2c.process(&mut input, &mut spec).unwrap();
            let scale = spec.iter().map(|c| c.norm_sqr()).fold(0.0, f32::max);
            for (k, (o, c)) in ours.iter().zip(&spec).enumerate() {
                assert!(
                    close(*o, c.norm_sqr(), scale),
                    "n {n} bin {k}: {o} vs {}",
                    c.norm_sqr()
                );
            }
        }
    }

    #[test]
    fn autocorrelation_matches_realfft_inverse() {
        for n in [4usize, 8, 64, 512, 480] {
            let g: Vec<f32> = signal(n / 2 + 1, 7).iter().map(|v| v.abs()).collect();
            let mut ours = vec![0.0; n];
            Autocorrelation::new(n).process(&g, &mut ours).unwrap();
            let c2r = RealFftPlanner::<f32>::new().plan_fft_inverse(n);
            let mut spec: Vec<_> = g.iter().map(|&v| Complex::new(v, 0.0)).collect();
            let mut theirs = c2r.make_output_vec();
            c2r.process(&mut spec, &mut theirs).unwrap();
            let scale = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert!(close(*o, *t, scale), "n {n} lag {i}: {o} vs {t}");
            }
        }
    }

    #[test]
    fn the_first_lags_alone_are_the_same_floats() {
        let g: Vec<f32> = signal(257, 3).iter().map(|v| v.abs()).collect();
        let mut all = vec![0.0; 512];
        let mut inv = Autocorrelation::new(512);
        inv.process(&g, &mut all).unwrap();
        for n in [0usize, 1, 2, 109, 110, 511] {
            let mut first = vec![0.0; n];
            inv.process(&g, &mut first).unwrap();
            assert_eq!(first[..], all[..n], "{n} lags");
        }
    }

    /// The AVX build (where the CPU has it) gives the very floats of the
    /// SSE2 one, both transforms.
    #[test]
    fn avx_and_sse2_builds_agree_bit_for_bit() {
        for seed in 1..20 {
            let x = signal(512, seed);
            let (mut a, mut b) = (vec![0.0; 257], vec![0.0; 257]);
            let mut p = PowerSpectrum::new(512);
            p.process(&x, &mut a).unwrap();
            p.t.avx = false;
            p.process(&x, &mut b).unwrap();
            assert!(a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()));
            let g: Vec<f32> = a.iter().map(|v| v.sqrt()).collect();
            let (mut c, mut d) = (vec![0.0; 512], vec![0.0; 512]);
            let mut inv = Autocorrelation::new(512);
            inv.process(&g, &mut c).unwrap();
            inv.t.avx = false;
            inv.process(&g, &mut d).unwrap();
            assert!(c.iter().zip(&d).all(|(u, v)| u.to_bits() == v.to_bits()));
        }
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        let mut p = PowerSpectrum::new(8);
        let err = p.process(&[0.0; 6], &mut [0.0; 5]).unwrap_err();
        assert_eq!((err.what, err.expected, err.got), ("frame", 8, 6));
        let err = p.process(&[0.0; 8], &mut [0.0; 4]).unwrap_err();
        assert_eq!((err.expected, err.got), (5, 4));
        let mut a = Autocorrelation::new(8);
        let err = a.process(&[0.0; 5], &mut [0.0; 9]).unwrap_err();
        assert_eq!((err.what, err.expected, err.got), ("autocorrelation", 8, 9));
    }
}

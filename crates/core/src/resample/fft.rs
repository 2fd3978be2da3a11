//! rubato 5's synchronous FFT resampler (`rubato::Fft`, one sub-chunk per
//! block, BlackmanHarris² window), re-implemented with the same arithmetic so
//! that its output is bit for bit rubato's (a test checks it against rubato
//! at several rates).
//!
//! Why not call rubato: its block runs a real FFT through realfft, whose
//! forward pass ends by unpacking every complex bin with a scalar twiddle
//! loop; measured with perf on the QA bench that loop alone cost 18 % of a
//! batch of 44.1 kHz calls (10 % at 16 kHz), more than the complex FFT
//! under it. A decimator keeps only the bins below the new Nyquist
//! (320 of 1,765 at 44.1 kHz, 256 of 513 at 16 kHz), so here only those are
//! unpacked, eight at a time in lanes the compiler vectorises, straight into
//! the filter multiply; the inverse's packing is laned the same way. The
//! per-bin formulas and their order of operations are realfft's and
//! num-complex's, so every float comes out the same. The complex FFTs are
//! rustfft's, planned as realfft plans them.

use std::sync::Arc;

use realfft::RealFftPlanner;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

const LANES: usize = 8;

/// realfft's twiddle: e^(-2πi·index/len), computed in f64, rounded to f32.
fn twiddle(index: usize, len: usize) -> Complex<f32> {
    let angle = -2f64 * std::f64::consts::PI / len as f64 * index as f64;
    Complex::new(angle.cos() as f32, angle.sin() as f32)
}

/// rubato's windowed sinc (`make_sincs` with one phase), in f32 as rubato
/// computes it: a periodic Blackman-Harris window (f64, rounded) squared,
/// times sinc at `cutoff`, normalised to unit sum.
fn windowed_sinc(npoints: usize, cutoff: f32) -> Vec<f32> {
    let window = windowfunctions::window::<f64>(
        npoints,
        windowfunctions::WindowFunction::BlackmanHarris,
        windowfunctions::Symmetry::Periodic,
    )
    .map(|v| {
        let w = v as f32;
        w * w
    });
    let sinc = |x: f32| {
        if x == 0.0 {
            1.0
        } else {
            (x * std::f32::consts::PI).sin() / (x * std::f32::consts::PI)
        }
    };
    let mut sum = 0.0f32;
    let mut y: Vec<f32> = window
        .enumerate()
        .map(|(x, w)| {
            let val = w * sinc((x as f32 - (npoints / 2) as f32) * cutoff / 1.0);
            sum += val;
            val
        })
        .collect();
    y.iter_mut().for_each(|v| *v /= sum);
    y
}

/// realfft's forward unpacking for bin `k` in 1..N/2 (N the complex FFT
/// length): `a = Z[k]`, `b = Z[N-k]`, `tw` = half the twiddle of k.
#[inline(always)]
fn r2c_low(a: Complex<f32>, b: Complex<f32>, tw: Complex<f32>) -> Complex<f32> {
    let (half_sum_re, half_diff_im, re, im) = r2c_parts(a, b, tw);
    Complex::new(half_sum_re + re, half_diff_im + im)
}

/// The four terms realfft's unpacking combines for bins k and N-k.
#[inline(always)]
fn r2c_parts(a: Complex<f32>, b: Complex<f32>, tw: Complex<f32>) -> (f32, f32, f32, f32) {
    let (sum, diff) = (a + b, a - b);
    let half_sum_re = 0.5 * sum.re;
    let half_diff_im = 0.5 * diff.im;
    let re = sum.im * tw.re + diff.re * tw.im;
    let im = sum.im * tw.im - diff.re * tw.re;
    (half_sum_re, half_diff_im, re, im)
}

/// [`r2c_low`] then [`mul`] by the filter bin `(fr, fi)`, on plain floats
/// so that lanes of it vectorise.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn r2c_low_mul(
    ar: f32,
    ai: f32,
    br: f32,
    bi: f32,
    wr: f32,
    wi: f32,
    fr: f32,
    fi: f32,
) -> (f32, f32) {
    let (sr, si, dr, di) = (ar + br, ai + bi, ar - br, ai - bi);
    let xr = 0.5 * sr + (si * wr + dr * wi);
    let xi = 0.5 * di + (si * wi - dr * wr);
    (xr * fr - xi * fi, xi * fr + xr * fi)
}

/// The same for the mirrored bin N-k (`a`, `b`, `tw` as for bin k).
#[inline(always)]
fn r2c_high(a: Complex<f32>, b: Complex<f32>, tw: Complex<f32>) -> Complex<f32> {
    let (half_sum_re, half_diff_im, re, im) = r2c_parts(a, b, tw);
    Complex::new(half_sum_re - re, im - half_diff_im)
}

/// num-complex's `*=`, operation for operation.
#[inline(always)]
fn mul(a: Complex<f32>, f: Complex<f32>) -> Complex<f32> {
    Complex::new(a.re * f.re - a.im * f.im, a.im * f.re + a.re * f.im)
}

/// The resampling core: blocks of `n_in` input frames to `n_out` output frames.
pub(super) struct FftResampler {
    n_in: usize,
    n_out: usize,
    fwd: Arc<dyn Fft<f32>>,
    inv: Arc<dyn Fft<f32>>,
    /// realfft's forward twiddles for a 2·n_in real FFT, halved, index k-1 for bin k.
    fwd_tw: Vec<Complex<f32>>,
    /// realfft's inverse twiddles for a 2·n_out real FFT (conjugated), index k-1.
    inv_tw: Vec<Complex<f32>>,
    /// The filter's spectrum, n_in + 1 bins.
    filter: Vec<Complex<f32>>,
    /// `fwd_tw` and `filter` split into real and imaginary parts, for lanes.
    fwd_tw_re: Vec<f32>,
    fwd_tw_im: Vec<f32>,
    filter_re: Vec<f32>,
    filter_im: Vec<f32>,
    /// Input block zero-padded to 2·n_in reals, as n_in complex pairs.
    time_in: Vec<Complex<f32>>,
    /// The complex FFT of `time_in`.
    spec_in: Vec<Complex<f32>>,
    /// Filtered spectrum cut to the output band, n_out + 1 bins.
    spec_out: Vec<Complex<f32>>,
    /// Inverse result: 2·n_out reals as n_out complex pairs.
    time_out: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// The tail of the previous block's convolution (overlap-add).
    overlap: Vec<f32>,
    /// Whether this CPU has AVX (see [`FftResampler::process`]).
    avx: bool,
}

impl FftResampler {
    /// `n_in`, `n_out`: rubato's `fft_size_in` and `fft_size_out`, both even.
    pub(super) fn new(n_in: usize, n_out: usize) -> Self {
        assert!(
            n_in >= 2 && n_out >= 2 && n_in.is_multiple_of(2) && n_out.is_multiple_of(2),
            "block sizes are even by construction (chunk_size)"
        );
        let window = rubato::WindowFunction::BlackmanHarris2;
        let cutoff = if n_in > n_out {
            rubato::calculate_cutoff::<f32>(n_out, window) * n_out as f32 / n_in as f32
        } else {
            rubato::calculate_cutoff::<f32>(n_in, window)
        };
        let sinc = windowed_sinc(n_in, cutoff);
        let mut filter_t = vec![0.0f32; 2 * n_in];
        for (f, s) in filter_t.iter_mut().zip(&sinc) {
            *f = s / (2 * n_in) as f32;
        }
        // The filter's transform once, by realfft itself, as rubato makes it.
        let r2c = RealFftPlanner::<f32>::new().plan_fft_forward(2 * n_in);
        let mut filter = r2c.make_output_vec();
        r2c.process(&mut filter_t, &mut filter)
            .expect("buffers from the plan itself");

        let mut planner = FftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(n_in);
        let inv = planner.plan_fft_inverse(n_out);
        let scratch_len = fwd
            .get_outofplace_scratch_len()
            .max(inv.get_outofplace_scratch_len());
        let fwd_tw: Vec<Complex<f32>> = (1..n_in / 2).map(|k| twiddle(k, 2 * n_in) * 0.5).collect();
        Self {
            n_in,
            n_out,
            fwd_tw_re: fwd_tw.iter().map(|c| c.re).collect(),
            fwd_tw_im: fwd_tw.iter().map(|c| c.im).collect(),
            filter_re: filter.iter().map(|c| c.re).collect(),
            filter_im: filter.iter().map(|c| c.im).collect(),
            fwd_tw,
            inv_tw: (1..n_out / 2)
                .map(|k| twiddle(k, 2 * n_out).conj())
                .collect(),
            filter,
            time_in: vec![Complex::default(); n_in],
            spec_in: vec![Complex::default(); n_in],
            spec_out: vec![Complex::default(); n_out + 1],
            time_out: vec![Complex::default(); n_out],
            scratch: vec![Complex::default(); scratch_len],
            overlap: vec![0.0; n_out],
            avx: crate::simd::has_avx(),
            fwd,
            inv,
        }
    }

    /// Forgets the overlap, as if newly built.
    pub(super) fn reset(&mut self) {
        self.overlap.fill(0.0);
    }

    /// Resamples one block: `input` is n_in frames, `output` n_out frames.
    ///
    /// Compiled for AVX too and run so where the CPU has it, as the
    /// feature transforms are (same floats: see `features::spectrum`).
    pub(super) fn process(&mut self, input: &[f32], output: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx {
            // SAFETY: `avx` is set only when the CPU reports AVX (`new`).
            unsafe { self.process_avx(input, output) };
            return;
        }
        self.process_any(input, output);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn process_avx(&mut self, input: &[f32], output: &mut [f32]) {
        self.process_any(input, output);
    }

    #[inline(always)]
    fn process_any(&mut self, input: &[f32], output: &mut [f32]) {
        let (n, p) = (self.n_in, self.n_out);
        let input = &input[..n];
        let output = &mut output[..p];
        // Real input x[0..n] then n zeros, packed as z[j] = x[2j] + i·x[2j+1].
        let (head, tail) = self.time_in.split_at_mut(n / 2);
        for (z, x) in head.iter_mut().zip(input.chunks_exact(2)) {
            *z = Complex::new(x[0], x[1]);
        }
        tail.fill(Complex::default());
        self.fwd.process_outofplace_with_scratch(
            &mut self.time_in,
            &mut self.spec_in,
            &mut self.scratch,
        );
        self.filter_and_cut();
        self.inverse();
        let t = &self.time_out;
        for (j, (o, ov)) in output
            .chunks_exact_mut(2)
            .zip(self.overlap.chunks_exact(2))
            .enumerate()
        {
            o[0] = t[j].re + ov[0];
            o[1] = t[j].im + ov[1];
        }
        for (ov, z) in self.overlap.chunks_exact_mut(2).zip(&t[p / 2..]) {
            ov[0] = z.re;
            ov[1] = z.im;
        }
    }

    /// realfft's unpacking of the bins the output keeps, times the filter,
    /// into `spec_out` (zero above).
    #[inline(always)]
    fn filter_and_cut(&mut self) {
        let n = self.n_in;
        let keep = if n < self.n_out { n + 1 } else { self.n_out };
        let z = &self.spec_in;
        let (f, tw) = (&self.filter, &self.fwd_tw);
        let out = &mut self.spec_out;
        out[keep..].fill(Complex::default());
        out[0] = mul(Complex::new(z[0].re + z[0].im, 0.0), f[0]);
        // Bins 1..min(keep, n/2): the forward formula, in lanes.
        let low_end = keep.min(n / 2);
        let mut k = 1;
        while k + LANES <= low_end {
            let a = &z[k..k + LANES];
            let b = &z[n + 1 - k - LANES..=n - k];
            // Split into plain f32 lanes first: on interleaved complex
            // values the compiler keeps the arithmetic scalar.
            let (mut ar, mut ai, mut br, mut bi) =
                ([0f32; LANES], [0f32; LANES], [0f32; LANES], [0f32; LANES]);
            for l in 0..LANES {
                ar[l] = a[l].re;
                ai[l] = a[l].im;
                br[l] = b[LANES - 1 - l].re;
                bi[l] = b[LANES - 1 - l].im;
            }
            let (wr, wi) = (
                &self.fwd_tw_re[k - 1..k - 1 + LANES],
                &self.fwd_tw_im[k - 1..k - 1 + LANES],
            );
            let (fr, fi) = (&self.filter_re[k..k + LANES], &self.filter_im[k..k + LANES]);
            let (mut re, mut im) = ([0f32; LANES], [0f32; LANES]);
            for l in 0..LANES {
                (re[l], im[l]) =
                    r2c_low_mul(ar[l], ai[l], br[l], bi[l], wr[l], wi[l], fr[l], fi[l]);
            }
            for (l, o) in out[k..k + LANES].iter_mut().enumerate() {
                *o = Complex::new(re[l], im[l]);
            }
            k += LANES;
        }
        for k in k..low_end {
            out[k] = mul(r2c_low(z[k], z[n - k], tw[k - 1]), f[k]);
        }
        // Upsampling keeps every bin: the middle one and the mirrored half.
        if keep > n / 2 {
            let mid = z[n / 2];
            out[n / 2] = mul(mid.conj(), f[n / 2]);
            for k in n / 2 + 1..keep.min(n) {
                let m = n - k;
                out[k] = mul(r2c_high(z[m], z[k], tw[m - 1]), f[k]);
            }
            if keep > n {
                out[n] = mul(Complex::new(z[0].re - z[0].im, 0.0), f[n]);
            }
        }
    }

    /// realfft's inverse real FFT of `spec_out` into `time_out`.
    #[inline(always)]
    fn inverse(&mut self) {
        let p = self.n_out;
        let s = &mut self.spec_out;
        if s[0].im != 0.0 {
            s[0].im = 0.0;
        }
        if s[p].im != 0.0 {
            s[p].im = 0.0;
        }
        let (first_sum, first_diff) = (s[0] + s[p], s[0] - s[p]);
        s[0] = Complex::new(first_sum.re - first_sum.im, first_diff.re - first_diff.im);
        let half = p / 2;
        let tw = &self.inv_tw;
        let (lo, hi) = s.split_at_mut(half);
        // Pairs (k, p-k) for k in 1..p/2; hi[j] is bin half + j.
        let pack = |a: Complex<f32>, b: Complex<f32>, w: Complex<f32>| {
            let (sum, diff) = (a + b, a - b);
            let re = sum.im * w.re + diff.re * w.im;
            let im = sum.im * w.im - diff.re * w.re;
            (
                Complex::new(sum.re - re, diff.im - im),
                Complex::new(sum.re + re, -im - diff.im),
            )
        };
        let mut k = 1;
        while k + LANES <= half {
            let a = &mut lo[k..k + LANES];
            // Bins p-k-7..=p-k, i.e. hi[p-k-7-half..=p-k-half].
            let b = &mut hi[p - k - LANES + 1 - half..=p - k - half];
            let w = &tw[k - 1..k - 1 + LANES];
            let (mut x, mut y) = ([Complex::default(); LANES], [Complex::default(); LANES]);
            for l in 0..LANES {
                (x[l], y[l]) = pack(a[l], b[LANES - 1 - l], w[l]);
            }
            a.copy_from_slice(&x);
            for l in 0..LANES {
                b[LANES - 1 - l] = y[l];
            }
            k += LANES;
        }
        for k in k..half {
            let (x, y) = pack(lo[k], hi[p - k - half], tw[k - 1]);
            lo[k] = x;
            hi[p - k - half] = y;
        }
        let c = hi[0];
        hi[0] = (c + c).conj();
        self.inv.process_outofplace_with_scratch(
            &mut self.spec_out[..p],
            &mut self.time_out,
            &mut self.scratch,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rubato::audioadapter_buffers::direct::InterleavedSlice;
    use rubato::{FixedSync, Indexing, Resampler as _};

    /// Same blocks through rubato and through [`FftResampler`]: every output
    /// float is identical, full blocks and zero-padded partial ones, for
    /// decimation (n_out < n_in / 2 and above it) and interpolation.
    #[test]
    fn bit_identical_to_rubato() {
        for (rate, chunk) in [
            (16_000usize, 512usize),
            (44_100, 1_764),
            (48_000, 1_536),
            (11_025, 882),
            (22_050, 882),
            (6_000, 240),
        ] {
            let mut theirs =
                rubato::Fft::<f32>::new(rate, 8_000, chunk, 1, FixedSync::Both).unwrap();
            let (n_in, n_out) = (theirs.fft_size_in(), theirs.fft_size_out());
            assert_eq!((n_in, theirs.input_frames_next()), (chunk, chunk));
            let mut ours = FftResampler::new(n_in, n_out);
            // The SSE2 build too, where the CPU would take the AVX one.
            let mut sse2 = FftResampler::new(n_in, n_out);
            sse2.avx = false;
            let mut c = vec![0.0f32; n_out];
            let mut seed = rate as u32;
            let mut block = vec![0.0f32; n_in];
            let (mut a, mut b) = (vec![0.0f32; n_out], vec![0.0f32; n_out]);
            for round in 0..6 {
                for (i, x) in block.iter_mut().enumerate() {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                    *x = 0.5 * (i as f32 * 0.05 * (round + 1) as f32).sin() + 0.4 * noise;
                }
                // The last two rounds: a partial block, then silence.
                let partial = match round {
                    4 => Some(n_in / 3),
                    5 => Some(0),
                    _ => None,
                };
                if let Some(p) = partial {
                    block[p..].fill(0.0);
                }
                let input = InterleavedSlice::new(&block[..], 1, n_in).unwrap();
                let mut out = InterleavedSlice::new_mut(&mut a[..], 1, n_out).unwrap();
                let idx = Indexing {
                    input_offset: 0,
                    output_offset: 0,
                    partial_len: partial,
                    active_channels_mask: None,
                };
                theirs
                    .process_into_buffer(&input, &mut out, Some(&idx))
                    .unwrap();
                ours.process(&block, &mut b);
                sse2.process(&block, &mut c);
                assert!(b.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits()));
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "{rate} Hz round {round} sample {i}: rubato {x}, ours {y}"
                    );
                }
            }
        }
    }
}

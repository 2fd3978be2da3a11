//! F0 and voicing from the normalised autocorrelation (Boersma 1993, the
//! method behind Praat's `To Pitch (ac)`), computed through the FFT.
//!
//! The autocorrelation of the windowed frame is divided by the window's own
//! autocorrelation, which removes the taper's bias against long lags. Peaks
//! are refined by parabolic interpolation. Octave errors are guarded as Praat
//! does, but causally (a live stream cannot wait for a Viterbi pass): a small
//! bonus for higher candidates (octave cost) and a penalty for jumping away
//! from the previous voiced F0 (octave-jump cost). Because autocorrelation
//! sees the period, not the first harmonic, it holds when the fundamental is
//! missing, as on a 300-3400 Hz phone line.

/// Pitch settings. The search range is Praat's `To Pitch (ac)` default;
/// the voicing, silence and octave settings and the spectral exponent were
/// tuned against
/// Praat on the development speakers of EmoDB (03, 08, 10, 13) with
/// `crates/core/examples/pitch_tune.rs`, and checked on the held-out ones (09, 11). They
/// differ from Praat's own numbers because the decision here is causal
/// (frame by frame) where Praat runs a Viterbi pass over the whole file.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PitchConfig {
    /// Lowest F0 searched, Hz.
    pub min_hz: f32,
    /// Highest F0 searched, Hz.
    pub max_hz: f32,
    /// Normalised autocorrelation a frame needs to be voiced.
    pub voicing_threshold: f32,
    /// Frames whose peak is below this fraction of the running peak lean unvoiced.
    pub silence_threshold: f32,
    /// Bonus per octave for higher candidates (against sub-harmonic errors).
    pub octave_cost: f32,
    /// Penalty per octave of jump from the previous voiced F0.
    pub octave_jump_cost: f32,
    /// Hysteresis on the voicing decision: staying in a state is this much easier.
    pub voiced_unvoiced_cost: f32,
    /// Running-peak release: seconds for the reference peak to fall by half.
    pub peak_half_life_s: f32,
    /// Exponent applied to the power spectrum before it is turned into the
    /// autocorrelation: 1 is the plain autocorrelation; below 1 compresses the
    /// spectrum so every harmonic counts more alike (Tolonen & Karjalainen's
    /// generalised autocorrelation). That keeps a phone line's missing
    /// fundamental, with strong even harmonics, from pulling F0 an octave up.
    pub spectral_exponent: f32,
    /// The running peak never falls below this (full scale = 1): a stream's
    /// first quiet frames are judged against typical speech, not against
    /// themselves, as Praat judges them against the whole file's peak.
    pub peak_floor: f32,
}

impl Default for PitchConfig {
    fn default() -> Self {
        Self {
            min_hz: 75.0,
            max_hz: 600.0,
            voicing_threshold: 0.225,
            silence_threshold: 0.08,
            octave_cost: -0.03,
            octave_jump_cost: 0.15,
            voiced_unvoiced_cost: 0.07,
            peak_half_life_s: 10.0,
            peak_floor: 0.1,
            spectral_exponent: 0.5,
        }
    }
}

/// F0 of one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pitch {
    /// Fundamental frequency, Hz; 0 when unvoiced.
    pub f0_hz: f32,
    /// Strength of the best candidate (normalised autocorrelation), 0 to 1.
    pub voicing: f32,
    /// Whether the frame is voiced.
    pub voiced: bool,
}

const MAX_CANDIDATES: usize = 8;

/// Causal pitch tracker over autocorrelation frames.
#[derive(Debug, Clone)]
pub struct PitchTracker {
    cfg: PitchConfig,
    rate: f32,
    lag_min: usize,
    lag_max: usize,
    /// 1 / normalised window autocorrelation, for lags 0..=lag_max+1.
    window_ac_inv: Vec<f32>,
    /// The frame's normalised autocorrelation, lags 0..=lag_max+1: filled in
    /// one pass that vectorises, before the branchy peak scan reads it.
    norm: Vec<f32>,
    prev_f0: f32,
    prev_voiced: bool,
    running_peak: f32,
    peak_decay: f32,
}

impl PitchTracker {
    /// A tracker for frames shaped by `window` (its taper) at `rate` Hz.
    pub fn new(cfg: PitchConfig, rate: u32, window: &[f32], hop_s: f32) -> Self {
        let rate_f = rate as f32;
        let lag_min = (rate_f / cfg.max_hz).floor().max(2.0) as usize;
        let lag_max = ((rate_f / cfg.min_hz).ceil() as usize).min(window.len() / 2);
        let r0: f64 = window.iter().map(|w| (*w as f64) * (*w as f64)).sum();
        let window_ac_inv: Vec<f32> = (0..=lag_max + 1)
            .map(|lag| {
                let r: f64 = window[..window.len() - lag]
                    .iter()
                    .zip(&window[lag..])
                    .map(|(a, b)| (*a as f64) * (*b as f64))
                    .sum();
                (r0 / r) as f32
            })
            .collect();
        Self {
            cfg,
            rate: rate_f,
            lag_min,
            lag_max,
            norm: vec![0.0; window_ac_inv.len()],
            window_ac_inv,
            prev_f0: 0.0,
            prev_voiced: false,
            running_peak: 0.0,
            peak_decay: 0.5f32.powf(hop_s / cfg.peak_half_life_s),
        }
    }

    /// The longest lag the autocorrelation must hold (plus one, for refinement).
    pub fn lags_needed(&self) -> usize {
        self.lag_max + 2
    }

    /// Forgets the previous frame and the running peak.
    pub fn reset(&mut self) {
        self.prev_f0 = 0.0;
        self.prev_voiced = false;
        self.running_peak = 0.0;
    }

    /// Decides one frame from its raw autocorrelation `acf` (lag 0 first, at
    /// least [`Self::lags_needed`] lags) and the frame's absolute peak.
    pub fn process(&mut self, acf: &[f32], local_peak: f32) -> Pitch {
        if !self.needs_acf(local_peak) {
            return Pitch::default();
        }
        self.decide(acf, local_peak)
    }

    /// First half of [`Self::process`]: takes the frame's peak into the
    /// running peak and says whether the frame can be voiced at all. A
    /// candidate's score is at most 1 (strength ≤ 1; the octave cost as
    /// configured only subtracts, and a positive one's bonus is bounded), so a frame quiet enough against the running peak that the
    /// unvoiced candidate scores above 1 is unvoiced whatever its
    /// autocorrelation: the caller can skip the inverse FFT (in a call each
    /// voice is mostly quiet while the other talks). Such frames report
    /// voicing 0.
    pub fn needs_acf(&mut self, local_peak: f32) -> bool {
        self.running_peak = (self.running_peak * self.peak_decay)
            .max(local_peak)
            .max(self.cfg.peak_floor);
        let least_unvoiced = self.unvoiced_score(local_peak) - self.cfg.voiced_unvoiced_cost.abs();
        let best_possible =
            1.0 + self.cfg.octave_cost.max(0.0) * (self.cfg.max_hz / self.cfg.min_hz).log2();
        if least_unvoiced >= best_possible || local_peak < 1e-4 {
            self.prev_voiced = false;
            return false;
        }
        true
    }

    /// Praat's unvoiced candidate: quiet frames (against the running peak)
    /// lean unvoiced.
    fn unvoiced_score(&self, local_peak: f32) -> f32 {
        let vt = self.cfg.voicing_threshold;
        let rel = local_peak / self.running_peak.max(1e-9);
        vt + (2.0 - rel / (self.cfg.silence_threshold / (1.0 + vt))).max(0.0)
    }

    /// Second half of [`Self::process`], after [`Self::needs_acf`] said yes.
    pub fn decide(&mut self, acf: &[f32], local_peak: f32) -> Pitch {
        let r0 = acf[0];
        // Digital silence or near it: no voicing (a documented result, not an error).
        if r0 <= 1e-10 || local_peak < 1e-4 {
            self.prev_voiced = false;
            return Pitch::default();
        }
        let inv_r0 = 1.0 / r0;
        for ((o, a), w) in self.norm.iter_mut().zip(acf).zip(&self.window_ac_inv) {
            *o = a * inv_r0 * w;
        }
        let norm = |lag: usize| self.norm[lag];
        let mut cands = [(0.0f32, 0.0f32); MAX_CANDIDATES]; // (f0, raw strength)
        let mut n = 0;
        let floor = 0.5 * self.cfg.voicing_threshold;
        let mut prev = norm(self.lag_min - 1);
        let mut cur = norm(self.lag_min);
        for lag in self.lag_min..=self.lag_max {
            let next = norm(lag + 1);
            if cur > floor && cur > prev && cur >= next {
                let denom = prev - 2.0 * cur + next;
                let (delta, peak) = if denom < 0.0 {
                    let d = (0.5 * (prev - next) / denom).clamp(-0.5, 0.5);
                    (d, cur - 0.25 * (prev - next) * d)
                } else {
                    (0.0, cur)
                };
                // Interpolation can overshoot 1; fold it back as Praat does.
                let strength = if peak > 1.0 { 1.0 / peak } else { peak };
                let f0 = self.rate / (lag as f32 + delta);
                // Interpolation can carry a peak at the range's edge past it.
                if f0 > self.cfg.max_hz || f0 < self.cfg.min_hz {
                    prev = cur;
                    cur = next;
                    continue;
                }
                if n < MAX_CANDIDATES {
                    cands[n] = (f0, strength);
                    n += 1;
                } else if let Some(weakest) = cands
                    .iter_mut()
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .filter(|w| w.1 < strength)
                {
                    *weakest = (f0, strength);
                }
            }
            prev = cur;
            cur = next;
        }
        let mut best = (0.0f32, f32::NEG_INFINITY, 0.0f32); // (f0, score, strength)
        for &(f0, strength) in &cands[..n] {
            let mut score = strength + self.cfg.octave_cost * (f0 / self.cfg.min_hz).log2();
            if self.prev_voiced {
                score -= self.cfg.octave_jump_cost * (f0 / self.prev_f0).log2().abs();
            }
            if score > best.1 {
                best = (f0, score, strength);
            }
        }
        let unvoiced = self.unvoiced_score(local_peak);
        let hysteresis = if self.prev_voiced {
            -self.cfg.voiced_unvoiced_cost
        } else {
            self.cfg.voiced_unvoiced_cost
        };
        let voiced = n > 0 && best.1 > unvoiced + hysteresis;
        self.prev_voiced = voiced;
        if voiced {
            self.prev_f0 = best.0;
            Pitch {
                f0_hz: best.0,
                voicing: best.2.clamp(0.0, 1.0),
                voiced: true,
            }
        } else {
            Pitch {
                f0_hz: 0.0,
                voicing: best.2.clamp(0.0, 1.0),
                voiced: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The skip in [`PitchTracker::needs_acf`] is exact: whenever it says a
    /// frame cannot be voiced, the full decision on the most voiced-looking
    /// autocorrelations (perfect pulse trains at every period in range,
    /// after a voiced frame and after an unvoiced one) says so too; and it
    /// does skip the quiet frames.
    #[test]
    fn skipped_frames_are_exactly_the_ones_that_cannot_be_voiced() {
        let rate = 8000;
        let window: Vec<f32> = (0..320)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / 320.0).cos())
            .collect();
        let base = PitchTracker::new(PitchConfig::default(), rate, &window, 0.01);
        let mut skipped = 0;
        for prev_voiced in [false, true] {
            for period in base.lag_min..=base.lag_max {
                let acf: Vec<f32> = (0..base.lags_needed() + 1)
                    .map(|lag| if lag % period == 0 { 1.0 } else { 0.0 })
                    .collect();
                for peak in [0.001f32, 0.01, 0.03, 0.05, 0.07, 0.08, 0.1, 0.2, 0.5] {
                    let mut t = base.clone();
                    t.running_peak = 1.0;
                    t.prev_voiced = prev_voiced;
                    t.prev_f0 = rate as f32 / period as f32;
                    let mut full = t.clone();
                    full.running_peak = (full.running_peak * full.peak_decay)
                        .max(peak)
                        .max(full.cfg.peak_floor);
                    let decided = full.decide(&acf, peak);
                    if !t.needs_acf(peak) {
                        skipped += 1;
                        assert!(
                            !decided.voiced,
                            "period {period}, peak {peak}: skipped but voiced"
                        );
                    }
                }
            }
        }
        assert!(skipped > 0, "nothing was skipped");
    }
}

//! A speaker's normal voice: robust medians of F0, alpha ratio and level,
//! learned from their own calm voiced speech and adapted slowly.
//!
//! Medians come from fixed histograms with exponential forgetting, so the
//! memory is bounded for any call length and nothing allocates per hop.
//! Medians are refreshed every few updates rather than on every hop, which
//! keeps the cost per hop to a few additions.

use serde::{Deserialize, Serialize};

/// How the baseline is learned; part of the model file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Voiced calm speech needed before the speaker's own baseline replaces the priors, s.
    pub min_voiced_s: f32,
    /// Voiced calm speech after which old evidence counts half, s (slow adaptation).
    pub half_life_voiced_s: f32,
    /// A hop only teaches the baseline while the shout score is below this.
    pub calm_below: f32,
    /// While only the priors stand, a hop teaches the baseline unless its
    /// score reaches this (clearly raised even against the population):
    /// priors are rough, and a voice that merely differs from them must
    /// still get its own baseline.
    #[serde(default = "default_prior_calm_below")]
    pub prior_calm_below: f32,
    /// Voiced speech after which the baseline is learnt whatever the score,
    /// if it still does not exist, s: a voice far from the priors, or a
    /// customer who shouts from the first word on and for this long (they
    /// were cued in the meantime).
    #[serde(default = "default_prior_max_s")]
    pub prior_max_s: f32,
    /// Population prior for F0 until the baseline exists, Hz.
    pub prior_f0_hz: f32,
    /// Population prior for the alpha ratio, dB.
    pub prior_alpha_db: f32,
    /// Population prior for the voiced level, dBFS.
    pub prior_level_dbfs: f32,
    /// Population prior for the spectral centroid, Hz.
    #[serde(default = "default_prior_centroid")]
    pub prior_centroid_hz: f32,
}

fn default_prior_calm_below() -> f32 {
    0.6
}

fn default_prior_max_s() -> f32 {
    8.0
}

fn default_prior_centroid() -> f32 {
    700.0
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            min_voiced_s: 1.5,
            half_life_voiced_s: 60.0,
            calm_below: 0.3,
            prior_calm_below: 0.6,
            prior_max_s: 8.0,
            prior_f0_hz: 160.0,
            prior_alpha_db: -14.0,
            prior_level_dbfs: -26.0,
            prior_centroid_hz: 700.0,
        }
    }
}

/// F0 in semitones re 100 Hz: the unit in which voices of any register rise alike.
#[inline]
pub fn semitones(f0_hz: f32) -> f32 {
    12.0 * (f0_hz / 100.0).log2()
}

const REFRESH_EVERY: u32 = 25;

/// A forgetting histogram that yields a median.
#[derive(Debug, Clone)]
struct Hist<const N: usize> {
    lo: f32,
    step: f32,
    bins: [f32; N],
    total: f32,
}

impl<const N: usize> Hist<N> {
    fn new(lo: f32, step: f32) -> Self {
        Self {
            lo,
            step,
            bins: [0.0; N],
            total: 0.0,
        }
    }

    #[inline]
    fn add(&mut self, x: f32) {
        let i = ((x - self.lo) / self.step).clamp(0.0, (N - 1) as f32) as usize;
        self.bins[i] += 1.0;
        self.total += 1.0;
    }

    fn decay(&mut self, k: f32) {
        for b in &mut self.bins {
            *b *= k;
        }
        self.total *= k;
    }

    /// Quantile `q` (0..1), linearly interpolated inside the bin.
    fn quantile(&self, q: f32) -> f32 {
        let target = q * self.total;
        let mut acc = 0.0;
        for (i, &b) in self.bins.iter().enumerate() {
            if acc + b >= target && b > 0.0 {
                let frac = (target - acc) / b;
                return self.lo + (i as f32 + frac) * self.step;
            }
            acc += b;
        }
        self.lo + N as f32 * self.step
    }
}

/// Where a speaker's voice normally sits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineValues {
    /// Median F0, semitones re 100 Hz.
    pub f0_st: f32,
    /// Median alpha ratio, dB.
    pub alpha_db: f32,
    /// Median voiced level, dBFS.
    pub level_db: f32,
    /// Median spectral centroid, semitones re 100 Hz.
    pub centroid_st: f32,
    /// Whether these come from the speaker (true) or from the priors (false).
    pub own: bool,
}

/// Learns one speaker's baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    cfg: BaselineConfig,
    f0: Hist<96>,
    alpha: Hist<120>,
    level: Hist<100>,
    centroid: Hist<120>,
    voiced_hops: u32,
    offered_hops: u32,
    since_refresh: u32,
    min_hops: u32,
    prior_max_hops: u32,
    decay: f32,
    values: BaselineValues,
}

impl Baseline {
    /// A baseline that starts at the priors; `hop_s` is the hop length.
    pub fn new(cfg: BaselineConfig, hop_s: f32) -> Self {
        let half_life_hops = cfg.half_life_voiced_s / hop_s;
        Self {
            cfg,
            f0: Hist::new(-12.0, 0.5),
            alpha: Hist::new(-50.0, 0.5),
            level: Hist::new(-100.0, 1.0),
            centroid: Hist::new(0.0, 0.5),
            voiced_hops: 0,
            offered_hops: 0,
            since_refresh: 0,
            min_hops: (cfg.min_voiced_s / hop_s).round() as u32,
            prior_max_hops: (cfg.prior_max_s / hop_s).round() as u32,
            decay: 0.5f32.powf(REFRESH_EVERY as f32 / half_life_hops),
            values: Self::priors(&cfg),
        }
    }

    fn priors(cfg: &BaselineConfig) -> BaselineValues {
        BaselineValues {
            f0_st: semitones(cfg.prior_f0_hz),
            alpha_db: cfg.prior_alpha_db,
            level_db: cfg.prior_level_dbfs,
            centroid_st: semitones(cfg.prior_centroid_hz),
            own: false,
        }
    }

    /// The current baseline.
    pub fn values(&self) -> &BaselineValues {
        &self.values
    }

    /// Teaches one voiced hop, if the speaker is calm (`score` below the gate).
    pub fn learn(
        &mut self,
        f0_st: f32,
        alpha_db: f32,
        level_db: f32,
        centroid_st: f32,
        score: f32,
    ) {
        self.offered_hops = self.offered_hops.saturating_add(1);
        let gate = if self.values.own {
            self.cfg.calm_below
        } else if self.offered_hops > self.prior_max_hops {
            f32::INFINITY
        } else {
            self.cfg.prior_calm_below
        };
        if score >= gate {
            return;
        }
        self.f0.add(f0_st);
        self.alpha.add(alpha_db);
        self.level.add(level_db);
        self.centroid.add(centroid_st);
        self.voiced_hops = self.voiced_hops.saturating_add(1);
        self.since_refresh += 1;
        if self.since_refresh >= REFRESH_EVERY {
            self.since_refresh = 0;
            if self.voiced_hops >= self.min_hops {
                self.values = BaselineValues {
                    f0_st: self.f0.quantile(0.5),
                    alpha_db: self.alpha.quantile(0.5),
                    level_db: self.level.quantile(0.5),
                    centroid_st: self.centroid.quantile(0.5),
                    own: true,
                };
                self.f0.decay(self.decay);
                self.alpha.decay(self.decay);
                self.level.decay(self.decay);
                self.centroid.decay(self.decay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_median_and_ignores_hops_that_are_not_calm() {
        let mut b = Baseline::new(BaselineConfig::default(), 0.01);
        assert!(!b.values().own);
        for i in 0..400 {
            let jitter = (i % 7) as f32 - 3.0;
            b.learn(
                semitones(120.0) + jitter * 0.2,
                -20.0 + jitter,
                -30.0,
                semitones(600.0),
                0.0,
            );
            // Shouting hops do not move the baseline.
            b.learn(semitones(300.0), 0.0, -5.0, semitones(1500.0), 0.9);
        }
        let v = b.values();
        assert!(v.own);
        assert!((v.f0_st - semitones(120.0)).abs() < 0.5, "{v:?}");
        assert!((v.alpha_db + 20.0).abs() < 1.0, "{v:?}");
        assert!((v.level_db + 30.0).abs() < 1.5, "{v:?}");
    }
}

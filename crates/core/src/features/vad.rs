//! Speech activity from level against a tracked noise floor, plus voicing.
//!
//! The coach needs to know when a speaker pauses, so this errs towards
//! ending speech promptly: a short hangover (100 ms) bridges the gaps
//! between syllables without hiding a real pause.

/// Voice-activity settings (defaults suit 10 ms hops).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VadConfig {
    /// Level above the noise floor that counts as speech when voiced, dB.
    pub voiced_margin_db: f32,
    /// Level above the noise floor that counts as speech when unvoiced, dB.
    pub unvoiced_margin_db: f32,
    /// Nothing quieter than this is speech, dBFS.
    pub min_level_dbfs: f32,
    /// How fast the floor may rise while the level stays above it, dB per hop.
    pub floor_rise_db: f32,
    /// Consecutive speech-like hops before speech starts.
    pub onset_hops: u16,
    /// Hops that speech is held after the last speech-like hop.
    pub hangover_hops: u16,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            voiced_margin_db: 9.0,
            unvoiced_margin_db: 15.0,
            min_level_dbfs: -60.0,
            floor_rise_db: 0.02,
            onset_hops: 2,
            hangover_hops: 10,
        }
    }
}

/// Tracks the noise floor and decides speech per hop.
#[derive(Debug, Clone)]
pub struct Vad {
    cfg: VadConfig,
    floor_db: f32,
    run: u16,
    hang: u16,
}

impl Vad {
    /// A detector that has heard nothing yet.
    pub fn new(cfg: VadConfig) -> Self {
        Self {
            cfg,
            floor_db: f32::NAN,
            run: 0,
            hang: 0,
        }
    }

    /// The settings this detector runs with.
    pub fn config(&self) -> &VadConfig {
        &self.cfg
    }

    /// The current noise-floor estimate, dBFS.
    pub fn floor_db(&self) -> f32 {
        self.floor_db
    }

    /// Decides one hop from its level (dBFS) and whether it was voiced.
    pub fn process(&mut self, level_db: f32, voiced: bool) -> bool {
        if self.floor_db.is_nan() {
            // Start at the quietest level that can be speech, not at the first
            // hop's level: a call may open mid-sentence (or mid-shout), and a
            // floor learnt from speech would hide that speech.
            self.floor_db = level_db.min(self.cfg.min_level_dbfs);
        }
        if level_db < self.floor_db {
            // Fall fast (half way per hop) to a quieter level.
            self.floor_db += 0.5 * (level_db - self.floor_db);
        } else if voiced {
            self.floor_db += self.cfg.floor_rise_db;
        } else {
            // Unvoiced sound above the floor is more likely line noise than
            // speech: let the floor catch up five times faster, so a noisy
            // line stops counting as speech within about a second.
            self.floor_db += 5.0 * self.cfg.floor_rise_db;
        }
        let above = level_db - self.floor_db;
        let margin = if voiced {
            self.cfg.voiced_margin_db
        } else {
            self.cfg.unvoiced_margin_db
        };
        let like_speech = level_db > self.cfg.min_level_dbfs && above > margin;
        if like_speech {
            self.run = self.run.saturating_add(1);
            if self.run >= self.cfg.onset_hops {
                self.hang = self.cfg.hangover_hops;
                return true;
            }
        } else {
            self.run = 0;
        }
        if self.hang > 0 {
            self.hang -= 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_starts_after_onset_and_ends_after_hangover() {
        let cfg = VadConfig::default();
        let mut vad = Vad::new(cfg);
        for _ in 0..100 {
            assert!(!vad.process(-70.0, false));
        }
        let mut first = None;
        for i in 0..50 {
            if vad.process(-25.0, true) && first.is_none() {
                first = Some(i);
            }
        }
        assert_eq!(first, Some(cfg.onset_hops as usize - 1));
        let mut off = None;
        for i in 0..50 {
            if !vad.process(-70.0, false) && off.is_none() {
                off = Some(i);
            }
        }
        assert_eq!(off, Some(cfg.hangover_hops as usize));
    }

    #[test]
    fn steady_noise_is_not_speech() {
        let mut vad = Vad::new(VadConfig::default());
        let (mut first_second, mut after) = (0, 0);
        for i in 0..3000 {
            let jitter = ((i * 7919) % 13) as f32 * 0.3; // ±2 dB ripple
            if vad.process(-40.0 + jitter, false) {
                if i < 100 {
                    first_second += 1;
                } else {
                    after += 1;
                }
            }
        }
        // The floor starts low (a call may open mid-sentence), so the first
        // second of a noisy line may pass for speech; after it, none may.
        assert!(
            first_second <= 100 && after == 0,
            "{first_second} + {after} hops of steady noise called speech"
        );
    }
}

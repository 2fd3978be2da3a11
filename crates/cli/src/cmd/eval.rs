//! `shoutcue eval`: scores the model on a folder of labelled calls, with
//! optional gates that fail the run (for CI).

use std::path::Path;

use shoutcue_core::coach::CoachConfig;
use shoutcue_core::detector::ShoutModel;
use shoutcue_core::source::ChannelChoice;
use shoutcue_lab::eval::{run_call, score, Metrics};

use crate::AnyError;

/// Limits `eval` enforces (exit 1 when missed).
pub struct Gates {
    /// Lowest F1 that passes.
    pub min_f1: Option<f64>,
    /// Most false cues per hour that pass.
    pub max_fph: Option<f64>,
    /// Longest median latency per outburst that passes, s.
    pub max_latency_p50: Option<f64>,
    /// Lowest share of calls that open shouting whose opening is found.
    pub min_opening_recall: Option<f64>,
    /// Longest median decision time after the first raised word of a
    /// found opening that passes, s.
    pub max_opening_latency_p50: Option<f64>,
    /// Largest share of calm calls with any cue that passes.
    pub max_calm_calls_cued: Option<f64>,
}

/// Every call under `dir`, replayed and scored.
pub fn eval_dir(
    dir: &Path,
    model: &ShoutModel,
    coach: CoachConfig,
    channels: ChannelChoice,
) -> Result<Metrics, AnyError> {
    let found = shoutcue_lab::dataset::find_recordings(dir, None)?;
    for (p, why) in &found.not_read {
        eprintln!("shoutcue: skipped: {}: {why}", p.display());
    }
    let wavs = found.calls;
    if wavs.is_empty() {
        return Err(format!(
            "{}: no recordings found (.wav, .flac, .mp3, .ogg, .aif, .caf)",
            dir.display()
        )
        .into());
    }
    let mut results = Vec::with_capacity(wavs.len());
    for w in &wavs {
        results.push(run_call(w, model, coach, channels)?);
    }
    Ok(score(&results))
}

/// One line of figures, as `eval` and `train` print them.
pub fn print_metrics(label: &str, m: &Metrics) -> Result<(), AnyError> {
    super::print_line(&format!(
        "{label}: {} calls, {:.2} h | shout spans {} found {} | detections {} correct {} | P {:.3} R {:.3} F1 {:.3} | false cues {} ({:.2}/h) | latency p50 {:.2} s p90 {:.2} s | cue after pause p50 {:.2} s p90 {:.2} s",
        m.calls, m.hours, m.labelled, m.found, m.detected, m.correct, m.precision, m.recall, m.f1,
        m.false_cues, m.false_cues_per_hour, m.latency_p50_s, m.latency_p90_s,
        m.cue_after_pause_p50_s, m.cue_after_pause_p90_s
    ))?;
    // Cold-start figures, where the folder has such calls: openings and
    // what follows them, outbursts after a calm start, calm calls cued.
    let mut cold = Vec::new();
    if m.opening_calls > 0 {
        cold.push(format!(
            "openings found {}/{} ({:.2}), decided {:.2} s after the first raised word (median) | later outbursts found {}/{}",
            m.opening_found, m.opening_calls, m.opening_recall, m.opening_latency_p50_s,
            m.later_found, m.later_outbursts
        ));
    }
    if m.calm_start_outbursts > 0 {
        cold.push(format!(
            "after a calm start {}/{}",
            m.calm_start_found, m.calm_start_outbursts
        ));
    }
    if m.calm_calls > 0 {
        cold.push(format!(
            "calm calls cued {}/{}",
            m.calm_calls_cued, m.calm_calls
        ));
    }
    if !cold.is_empty() {
        super::print_line(&format!("  cold starts: {}", cold.join(" | ")))?;
    }
    Ok(())
}

use std::path::PathBuf;

/// Options of `shoutcue eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// Folder of calls (searched recursively).
    pub dir: PathBuf,
    /// The model and coach timing to score (`--script` is accepted for
    /// symmetry with `qa`; the lines' words do not change the scores).
    #[command(flatten)]
    pub setup: crate::args::SetupArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Which file channel is whose.
    #[command(flatten)]
    pub channels: crate::args::ChannelArgs,
    /// Fail (exit 1) if F1 is below this.
    #[arg(long)]
    min_f1: Option<f64>,
    /// Fail (exit 1) if false cues per hour exceed this.
    #[arg(long)]
    pub max_false_cues_per_hour: Option<f64>,
    /// Fail (exit 1) if the median detection latency (per outburst) exceeds this, s.
    #[arg(long)]
    max_latency_p50: Option<f64>,
    /// Fail (exit 1) if fewer than this share of the calls that open
    /// shouting have their opening found (0-1).
    #[arg(long)]
    min_opening_recall: Option<f64>,
    /// Fail (exit 1) if the median decision time after a found opening's
    /// first raised word exceeds this, s.
    #[arg(long)]
    max_opening_latency_p50: Option<f64>,
    /// Fail (exit 1) if more than this share of the calls without shouting
    /// get a cue (0-1).
    #[arg(long)]
    max_calm_calls_cued: Option<f64>,
}

/// Runs `shoutcue eval`.
pub fn run(a: EvalArgs) -> Result<(), AnyError> {
    let gates = Gates {
        min_f1: a.min_f1,
        max_fph: a.max_false_cues_per_hour,
        max_latency_p50: a.max_latency_p50,
        min_opening_recall: a.min_opening_recall,
        max_opening_latency_p50: a.max_opening_latency_p50,
        max_calm_calls_cued: a.max_calm_calls_cued,
    };
    let setup = a.setup.load()?;
    eval(
        &a.dir,
        &setup.model,
        setup.coach,
        a.channels.choice(),
        a.json,
        gates,
    )
}

/// Scores `dir` and applies the gates.
fn eval(
    dir: &Path,
    model: &ShoutModel,
    coach: CoachConfig,
    channels: ChannelChoice,
    json: bool,
    gates: Gates,
) -> Result<(), AnyError> {
    let m = eval_dir(dir, model, coach, channels)?;
    if json {
        super::print_line(&serde_json::to_string(&m)?)?;
    } else {
        print_metrics(&dir.display().to_string(), &m)?;
    }
    let d = dir.display();
    let mut failures = Vec::new();
    if let Some(min) = gates.min_f1.filter(|&min| m.f1 < min) {
        failures.push(format!("{d}: F1 {:.3} is below the required {min}", m.f1));
    }
    if let Some(max) = gates.max_fph.filter(|&max| m.false_cues_per_hour > max) {
        failures.push(format!(
            "{d}: {:.2} false cues per hour, more than the allowed {max}",
            m.false_cues_per_hour
        ));
    }
    if let Some(max) = gates.max_latency_p50 {
        if m.latency_p50_s.is_nan() {
            failures.push(format!(
                "{d}: no labelled outburst was detected, so there is no latency to check"
            ));
        } else if m.latency_p50_s > max {
            failures.push(format!(
                "{d}: median detection latency {:.2} s, more than the allowed {max} s",
                m.latency_p50_s
            ));
        }
    }
    if let Some(min) = gates.min_opening_recall {
        if m.opening_recall.is_nan() || m.opening_recall < min {
            failures.push(format!(
                "{d}: openings found {}/{} ({:.3}), below the required {min}",
                m.opening_found, m.opening_calls, m.opening_recall
            ));
        }
    }
    if let Some(max) = gates.max_opening_latency_p50 {
        if m.opening_latency_p50_s.is_nan() || m.opening_latency_p50_s > max {
            failures.push(format!(
                "{d}: median opening decision {:.2} s after the first raised word, more than the allowed {max} s (NaN: none found)",
                m.opening_latency_p50_s
            ));
        }
    }
    if let Some(max) = gates.max_calm_calls_cued {
        let share = ratio_or_zero(m.calm_calls_cued, m.calm_calls);
        if share > max || m.calm_calls == 0 {
            failures.push(format!(
                "{d}: {}/{} calm calls cued ({share:.3}), more than the allowed {max} (or no calm calls)",
                m.calm_calls_cued, m.calm_calls
            ));
        }
    }
    match failures.into_iter().next() {
        Some(first) => Err(first.into()),
        None => Ok(()),
    }
}

/// n / d, 0 for an empty denominator.
fn ratio_or_zero(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

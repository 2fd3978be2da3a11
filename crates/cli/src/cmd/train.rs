//! `shoutcue train`: fits the shout model from labelled folders.

use std::path::{Path, PathBuf};

use shoutcue_core::detector::{model::CUE_NAMES, N_CUES};
use shoutcue_lab::dataset::find_wavs;
use shoutcue_lab::train::{f1_by_group, load_call, train};

use super::eval::{eval_dir, print_metrics};
use crate::AnyError;

/// What `train` was asked.
struct TrainOpts<'a> {
    /// Training folders, one group each.
    dirs: &'a [PathBuf],
    /// Where the model goes.
    out: &'a Path,
    /// Held-out folders, scored after fitting.
    heldout: &'a [PathBuf],
    /// Model to start from.
    init: Option<&'a Path>,
    /// Cues the model may weigh (empty: all).
    cues: &'a [String],
    /// Calm calls of other voices, for the cold start.
    calm: &'a [PathBuf],
}

/// Options of `shoutcue train`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Folders of labelled training calls (searched recursively).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the model (required: a default once overwrote the
    /// model built into the next build).
    #[arg(long, value_name = "MODEL.json")]
    pub out: PathBuf,
    /// Allow `--out` to be the model built into shoutcue
    /// (models/shout-v1.json): the next build ships what this writes.
    #[arg(long)]
    pub force: bool,
    /// Held-out folders to evaluate the fitted model on (never fitted to).
    #[arg(long)]
    pub heldout: Vec<PathBuf>,
    /// Model to start from: its cue limits, F0 floor and baseline settings
    /// are kept; its weights, thresholds and priors are refitted. Default:
    /// the built-in one.
    #[arg(long, value_name = "MODEL.json")]
    pub init: Option<PathBuf>,
    /// Folders of calm calls from other voices (any cue on them is false):
    /// the population priors may decide only above every score these
    /// reach in their openings, or not at all; and the F0 floor rises until
    /// they give no detection, plus 1 st (tools/data/make_calm.py).
    #[arg(long, value_name = "DIR")]
    pub calm: Vec<PathBuf>,
    /// Cues the model may weigh, comma-separated (default: all); the
    /// others keep weight 0. For ablations: which cue earns its place.
    #[arg(long, value_delimiter = ',', value_name = "CUE,...")]
    pub cues: Vec<String>,
}

/// Runs `shoutcue train`.
pub fn run(a: TrainArgs) -> Result<(), AnyError> {
    if !a.force && is_shipped_model(&a.out) {
        return Err(format!(
            "{}: this is the model built into shoutcue; the next build would ship what training writes. Write elsewhere, or add --force to replace it on purpose",
            a.out.display()
        )
        .into());
    }
    train_model(TrainOpts {
        dirs: &a.dirs,
        out: &a.out,
        heldout: &a.heldout,
        init: a.init.as_deref(),
        cues: &a.cues,
        calm: &a.calm,
    })
}

/// Whether `out` is the model file compiled into the binary.
fn is_shipped_model(out: &Path) -> bool {
    let shipped = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/shout-v1.json"
    ));
    match (out.canonicalize(), shipped.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        // Not there yet: compare what it would be.
        _ => {
            let abs = |p: &Path| {
                std::path::absolute(p)
                    .ok()
                    .and_then(|a| Some(a.parent()?.canonicalize().ok()?.join(a.file_name()?)))
            };
            abs(out).is_some() && abs(out) == abs(shipped)
        }
    }
}

/// Fits, scores and writes the model, with its provenance.
fn train_model(o: TrainOpts) -> Result<(), AnyError> {
    let mut cues = [o.cues.is_empty(); N_CUES];
    for c in o.cues {
        let i = CUE_NAMES.iter().position(|n| n == c).ok_or_else(|| {
            format!(
                "--cues: no cue named {c:?}; expected some of {}",
                CUE_NAMES.join(",")
            )
        })?;
        cues[i] = true;
    }
    let mut calls = Vec::new();
    for (group, d) in o.dirs.iter().enumerate() {
        for w in find_wavs(d, None)? {
            calls.push(load_call(&w, group)?);
        }
    }
    if calls.is_empty() {
        return Err("no labelled .wav files found to train on".into());
    }
    let mut start = crate::args::load_model(o.init)?;
    // The cold-start part is trained apart (tools/research/train_cold.py,
    // on other data): the fit below neither uses nor changes it.
    let cold_start = start.cold.take();
    let (mut model, report) = train(&start, &calls, &cues);
    let mut cold = None;
    if !o.calm.is_empty() {
        let mut calm = Vec::new();
        for d in o.calm {
            for w in find_wavs(d, None)? {
                calm.push(load_call(&w, usize::MAX)?);
            }
        }
        if calm.is_empty() {
            return Err("--calm: no .wav files found in the calm folders".into());
        }
        let (m, c) = shoutcue_lab::train::with_calm_voices(model, &calm, &calls);
        model = m;
        super::print_line(&format!(
            "cold start: {} calm calls reach {:.3} against the priors; the priors decide above {}",
            c.calls,
            c.max_prior_score,
            match model.prior_on_threshold {
                Some(p) if p >= 1.0 => "nothing (own baseline only)".to_string(),
                Some(p) => format!("{p:.3}"),
                None => format!("{:.3}", model.on_threshold),
            }
        ))?;
        super::print_line(&format!(
            "calm voices: {} detections at the fitted F0 floor; none from {}; the floor is {:.1} st (cap {:.1} st), leaving {} detections",
            c.detections_before,
            c.silent_from_st
                .map_or("any floor up to the cap".to_string(), |f| format!("{f:.1} st")),
            c.f0_floor_st,
            c.f0_cap_st,
            c.detections_after
        ))?;
        cold = Some(c);
    }
    model.cold = cold_start;
    let p = &mut model.provenance;
    p.trained_on = format!(
        "{} calls in {}",
        calls.len(),
        o.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    p.date = super::now_utc()[..10].to_string();
    p.command = std::env::args().collect::<Vec<_>>().join(" ");
    p.metrics.clear();
    for (k, v) in [
        ("train_voiced_hops", report.hops as f64),
        ("train_shout_hops", report.shout_hops as f64),
        ("train_segment_f1", report.f1),
        ("train_segment_precision", report.precision),
        ("train_segment_recall", report.recall),
    ] {
        p.metrics.insert(k.into(), v);
    }
    if let Some(c) = cold {
        p.metrics.insert("calm_calls".into(), c.calls as f64);
        p.metrics
            .insert("calm_max_prior_score".into(), f64::from(c.max_prior_score));
        p.metrics
            .insert("calm_detections_before".into(), c.detections_before as f64);
        p.metrics
            .insert("calm_detections_after".into(), c.detections_after as f64);
        p.metrics
            .insert("calm_f0_cap_st".into(), f64::from(c.f0_cap_st));
        if let Some(f) = c.silent_from_st {
            p.metrics.insert("calm_silent_from_st".into(), f64::from(f));
        }
    }
    super::print_line(&format!(
        "trained on {} calls ({} voiced hops, {} in shout spans): segment P {:.3} R {:.3} F1 {:.3}",
        calls.len(),
        report.hops,
        report.shout_hops,
        report.precision,
        report.recall,
        report.f1
    ))?;
    for (d, f1) in o.dirs.iter().zip(f1_by_group(&model, &calls)) {
        super::print_line(&format!(
            "  training folder {}: segment F1 {f1:.3}",
            d.display()
        ))?;
        model
            .provenance
            .metrics
            .insert(format!("train:{}:f1", d.display()), f1);
    }
    let mut evaluated = Vec::new();
    for d in o.heldout {
        let m = eval_dir(
            d,
            &model,
            shoutcue_core::coach::CoachConfig::default(),
            shoutcue_core::source::ChannelChoice::Default,
        )?;
        print_metrics(&format!("held-out {}", d.display()), &m)?;
        let key = d
            .components()
            .rev()
            .take(2)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("/");
        let metrics = &mut model.provenance.metrics;
        metrics.insert(format!("heldout:{key}:f1"), m.f1);
        metrics.insert(
            format!("heldout:{key}:false_cues_per_hour"),
            m.false_cues_per_hour,
        );
        metrics.insert(format!("heldout:{key}:latency_p50_s"), m.latency_p50_s);
        evaluated.push(d.display().to_string());
    }
    model.provenance.evaluated_on = evaluated.join(", ");
    let text = serde_json::to_string_pretty(&model)?;
    std::fs::write(o.out, text + "\n")
        .map_err(|e| format!("{}: cannot write model: {e}", o.out.display()))?;
    super::print_line(&format!("wrote {}", o.out.display()))?;
    Ok(())
}

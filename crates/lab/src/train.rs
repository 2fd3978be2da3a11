//! Fitting the shout model from labelled recordings.
//!
//! 1. Each call's customer channel is analysed once into per-hop features.
//! 2. The real [`SpeakerDetector`] runs over them, so the baseline learns
//!    exactly as it will in use (gated by the current model's score), and
//!    every voiced hop yields its smoothed cue rises, labelled by whether it
//!    lies inside a `shout` span.
//! 3. A class-balanced, L2-regularised logistic regression is fitted to those
//!    hops by Newton's method; steps 2-3 repeat, since the baseline gating
//!    depends on the model.
//! 4. The segment thresholds (score threshold, minimum voiced time) are
//!    chosen by grid search for segment F1 on the same training calls.
//!
//! The regression is hand-rolled: four inputs and a bias need a 5×5 Newton
//! step, far less code than any ML crate's API, and no extra dependency.

use std::path::{Path, PathBuf};

use crate::dataset::read_shout_labels;
use crate::eval::EvalError;
use shoutcue_core::detector::{SegmentEvent, ShoutModel, SpeakerDetector, N_CUES as N};
use shoutcue_core::engine::analyse_channel;
use shoutcue_core::features::Features;
use shoutcue_core::source::{ChannelChoice, WavSource};
use shoutcue_core::stats::{overlaps, Prf, SpanPairer};
use shoutcue_core::Speaker;

/// One labelled call, analysed.
pub struct TrainCall {
    /// The recording.
    pub file: PathBuf,
    /// Customer features per hop.
    pub hops: Vec<Features>,
    /// Labelled shout spans.
    pub labels: Vec<(f64, f64)>,
    /// Which recording condition (training folder) it came from.
    pub group: usize,
}

/// Analyses a labelled recording's customer channel.
pub fn load_call(wav: &Path, group: usize) -> Result<TrainCall, EvalError> {
    let labels = read_shout_labels(&wav.with_extension("txt"))?;
    let mut src = WavSource::open(wav, ChannelChoice::Default)?;
    let name = wav.display().to_string();
    let mut hops = Vec::new();
    analyse_channel(&name, &mut src, Speaker::Customer, |f| {
        hops.push(*f);
        Ok(())
    })?;
    Ok(TrainCall {
        file: wav.to_path_buf(),
        hops,
        labels,
        group,
    })
}

fn in_span(t: f64, spans: &[(f64, f64)]) -> bool {
    spans.iter().any(|&(s, e)| t >= s && t <= e)
}

/// A voiced hop's smoothed cue rises and whether it lies in a shout span.
type Sample = ([f32; N], bool);
/// Detected segments of one call: (start, end) in seconds.
type Segments = Vec<(f64, f64)>;

/// Voiced hops as (smoothed cue rises, label), plus each call's segments.
fn run_detector(model: &ShoutModel, calls: &[TrainCall]) -> (Vec<Sample>, Vec<Segments>) {
    let hop_s = shoutcue_core::HOP as f32 / shoutcue_core::ANALYSIS_RATE as f32;
    let mut samples = Vec::new();
    let mut segments = Vec::new();
    for call in calls {
        let mut d = SpeakerDetector::new(Speaker::Customer, model, hop_s);
        let mut segs = Vec::new();
        let mut pairs = SpanPairer::default();
        for f in &call.hops {
            let (h, ev) = d.process(f);
            if f.voiced {
                let c = h.cues;
                samples.push((
                    [c.f0_st, c.tilt_db, c.level_db, c.clip_frac, c.centroid_st],
                    in_span(f.t, &call.labels),
                ));
            }
            if let Some(span) = ev.and_then(|e| pairs.push(&e)) {
                segs.push((span.start, span.end));
            }
        }
        let last = d.finish(call.hops.last().map_or(0.0, |f| f.t));
        if let Some(span) = last.and_then(|e| pairs.push(&e)) {
            segs.push((span.start, span.end));
        }
        segments.push(segs);
    }
    (samples, segments)
}

/// The training objective: pooled segment precision, recall and F1 over
/// all training calls.
fn objective(calls: &[TrainCall], segments: &[Segments]) -> (f64, f64, f64) {
    let all: Vec<&TrainCall> = calls.iter().collect();
    segment_f1_of(&all, segments)
}

/// Segment F1 per recording condition (training folder), for the report.
pub fn f1_by_group(model: &ShoutModel, calls: &[TrainCall]) -> Vec<f64> {
    let (_, segments) = run_detector(model, calls);
    let groups = calls.iter().map(|c| c.group).max().map_or(0, |g| g + 1);
    (0..groups)
        .map(|g| {
            let (c, s): (Vec<&TrainCall>, Vec<Segments>) = calls
                .iter()
                .zip(&segments)
                .filter(|(c, _)| c.group == g)
                .map(|(c, s)| (c, s.clone()))
                .unzip();
            segment_f1_of(&c, &s).2
        })
        .collect()
}

/// Segment-level precision, recall and F1 of detections against labels.
fn segment_f1_of(calls: &[&TrainCall], segments: &[Segments]) -> (f64, f64, f64) {
    let (mut labelled, mut found, mut detected, mut correct) = (0, 0, 0, 0);
    for (c, segs) in calls.iter().zip(segments) {
        labelled += c.labels.len();
        detected += segs.len();
        found += c
            .labels
            .iter()
            .filter(|&&l| segs.iter().any(|&s| overlaps(s, l)))
            .count();
        correct += segs
            .iter()
            .filter(|&&s| c.labels.iter().any(|&l| overlaps(s, l)))
            .count();
    }
    let m = Prf::from_counts(correct, detected, found, labelled);
    (m.precision, m.recall, m.f1)
}

/// A cue that never moves in the training calls (clipping: the fixtures
/// leave headroom) cannot be fitted; it keeps the starting model's
/// normalisation and weight rather than a weight fitted to nothing.
fn keep_unseen_cues(
    model: &mut ShoutModel,
    start: &ShoutModel,
    samples: &[Sample],
    cues: &[bool; N],
) {
    for i in (0..N).filter(|&i| cues[i]) {
        let seen = samples.iter().filter(|(x, _)| x[i].abs() > 1e-4).count();
        if seen * 1000 < samples.len() {
            model.mean[i] = start.mean[i];
            model.scale[i] = start.scale[i];
            model.weights[i] = start.weights[i].max(0.0);
        }
    }
}

/// Fits mean/scale/weights/bias on voiced hops (class-balanced logistic
/// regression) with every weight non-negative.
///
/// Every cue is a rise against the speaker's own voice, and a rise is never
/// evidence *against* shouting: a negative weight only means two cues overlap
/// (the alpha ratio and the centroid both measure brightness) and the fit
/// trades one against the other, which holds on the training voices and
/// nowhere else. So a cue whose
/// weight comes out negative is dropped (weight 0) and the rest refitted.
fn fit_logistic(
    samples: &[Sample],
    l2: f64,
    cues: &[bool; N],
) -> ([f32; N], [f32; N], [f32; N], f32) {
    let mut active = *cues;
    loop {
        let (mean, scale, weights, bias) = fit_logistic_on(samples, l2, &active);
        let mut dropped = false;
        for (a, w) in active.iter_mut().zip(weights) {
            if *a && w < 0.0 {
                *a = false;
                dropped = true;
            }
        }
        if !dropped {
            return (mean, scale, weights, bias);
        }
    }
}

/// [`fit_logistic`] with the weights of inactive cues held at 0.
#[allow(clippy::needless_range_loop)]
fn fit_logistic_on(
    samples: &[Sample],
    l2: f64,
    active: &[bool; N],
) -> ([f32; N], [f32; N], [f32; N], f32) {
    let n = samples.len().max(1) as f64;
    let mut mean = [0f64; N];
    for (x, _) in samples {
        for i in 0..N {
            mean[i] += x[i] as f64 / n;
        }
    }
    let mut var = [0f64; N];
    for (x, _) in samples {
        for i in 0..N {
            var[i] += (x[i] as f64 - mean[i]).powi(2) / n;
        }
    }
    let scale: [f64; N] = std::array::from_fn(|i| var[i].sqrt().max(1e-3));
    let pos = samples.iter().filter(|s| s.1).count().max(1) as f64;
    let neg = (samples.len() as f64 - pos).max(1.0);
    let (wp, wn) = (n / (2.0 * pos), n / (2.0 * neg));
    // Parameters: N weights + bias (last), on standardised inputs.
    const P: usize = N + 1;
    let mut beta = [0f64; P];
    for _ in 0..25 {
        let mut grad = [0f64; P];
        let mut hess = [[0f64; P]; P];
        for (x, y) in samples {
            let z: [f64; P] = std::array::from_fn(|i| {
                if i < N {
                    if !active[i] {
                        return 0.0;
                    }
                    (x[i] as f64 - mean[i]) / scale[i]
                } else {
                    1.0
                }
            });
            let eta: f64 = (0..P).map(|i| beta[i] * z[i]).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            let (w, t) = if *y { (wp, 1.0) } else { (wn, 0.0) };
            for i in 0..P {
                grad[i] += w * (p - t) * z[i];
                for j in 0..P {
                    hess[i][j] += w * p * (1.0 - p) * z[i] * z[j];
                }
            }
        }
        for i in 0..N {
            grad[i] += l2 * n * beta[i];
            hess[i][i] += l2 * n;
        }
        // An inactive cue's input is 0, so its row is the ridge alone: its
        // weight stays at 0.
        let step = solve(hess, grad);
        let mut moved = 0.0;
        for i in 0..P {
            beta[i] -= step[i];
            moved += step[i].abs();
        }
        if moved < 1e-6 {
            break;
        }
    }
    (
        mean.map(|v| v as f32),
        scale.map(|v| v as f32),
        std::array::from_fn(|i| beta[i] as f32),
        beta[N] as f32,
    )
}

/// Gaussian elimination with partial pivoting for the small Newton step.
fn solve<const P: usize>(mut a: [[f64; P]; P], mut b: [f64; P]) -> [f64; P] {
    for c in 0..P {
        let p = (c..P)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, p);
        b.swap(c, p);
        let d = a[c][c];
        if d.abs() < 1e-12 {
            continue;
        }
        for r in c + 1..P {
            let f = a[r][c] / d;
            let pivot_row = a[c];
            for (x, p) in a[r][c..].iter_mut().zip(&pivot_row[c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0f64; P];
    for r in (0..P).rev() {
        let s: f64 = (r + 1..P).map(|k| a[r][k] * x[k]).sum();
        x[r] = if a[r][r].abs() < 1e-12 {
            0.0
        } else {
            (b[r] - s) / a[r][r]
        };
    }
    x
}

/// What training reached on its own data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainReport {
    /// Voiced hops used.
    pub hops: usize,
    /// Of which inside shout spans.
    pub shout_hops: usize,
    /// Segment precision on the training calls.
    pub precision: f64,
    /// Segment recall on the training calls.
    pub recall: f64,
    /// Segment F1 on the training calls, pooled.
    pub f1: f64,
}

/// Fits `start`'s weights and thresholds to `calls`; returns the new model.
///
/// `cues` says which cues may carry weight (an ablation: `false` holds that
/// cue's weight at 0).
pub fn train(
    start: &ShoutModel,
    calls: &[TrainCall],
    cues: &[bool; N],
) -> (ShoutModel, TrainReport) {
    // For each cue-smoothing time: fit the weights, then the thresholds.
    // Best segment F1 wins; ties go to the stricter setting (fewer false
    // cues), so every grid runs from strict to lenient.
    /// (objective, model, (P, R, F1), voiced hops, shout hops)
    type Best = (f64, ShoutModel, (f64, f64, f64), usize, usize);
    let mut best: Option<Best> = None;
    for smoothing in [0.2f32, 0.35, 0.5, 0.8] {
        let mut model = start.clone();
        model.smoothing_s = smoothing;
        // Set afresh at the end (`with_prior_threshold`); a start model's
        // value would otherwise shape the fit and clash with the grid's
        // on-thresholds.
        model.prior_on_threshold = None;
        // Likewise the F0 floors: `with_f0_floor` and `with_calm_voices`
        // set them from this fit, and a start model's (the shipped one,
        // say) would otherwise hold back the fit's own detections.
        model.min_f0_rise_st = shoutcue_core::detector::model::NO_F0_FLOOR_ST;
        model.rearm_f0_rise_st = None;
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples = run_detector(&model, calls).0;
            let (mean, scale, weights, bias) = fit_logistic(&samples, 1e-3, cues);
            model.mean = mean;
            model.scale = scale;
            model.weights = weights;
            model.bias = bias;
            keep_unseen_cues(&mut model, start, &samples, cues);
        }
        let shout_hops = samples.iter().filter(|s| s.1).count();
        for on in [0.85f32, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5] {
            for min_on in [0.6f32, 0.5, 0.4, 0.3, 0.25, 0.2] {
                let mut m = model.clone();
                m.on_threshold = on;
                m.off_threshold = (on - 0.25).max(0.1);
                m.min_on_voiced_s = min_on;
                let (_, segs) = run_detector(&m, calls);
                let prf = objective(calls, &segs);
                if best.as_ref().is_none_or(|b| prf.2 > b.0 + 1e-9) {
                    best = Some((prf.2, m, prf, samples.len(), shout_hops));
                }
            }
        }
    }
    let (mut f1, mut model, mut prf, hops, shout_hops) = best.expect("the grids are not empty");
    // Then refine weights, bias and thresholds for segment F1 directly by
    // coordinate search (the hop-level fit is only a proxy for segments).
    // Each move must gain, so the search stops at a local optimum.
    let eval = |m: &ShoutModel| {
        let (_, segs) = run_detector(m, calls);
        objective(calls, &segs)
    };
    for _round in 0..4 {
        let mut improved = false;
        for k in (0..N + 3).filter(|&k| k >= N || cues[k]) {
            for step in [0.5f32, -0.5, 0.25, -0.25] {
                let mut m = model.clone();
                match k {
                    k if k < N => m.weights[k] = (m.weights[k] + step).max(0.0),
                    k if k == N => m.bias += step,
                    k if k == N + 1 => {
                        m.on_threshold = (m.on_threshold + 0.1 * step).clamp(0.3, 0.95);
                        m.off_threshold = (m.on_threshold - 0.25).max(0.1);
                    }
                    _ => m.min_on_voiced_s = (m.min_on_voiced_s + 0.2 * step).clamp(0.1, 1.5),
                }
                let r = eval(&m);
                if r.2 > f1 + 1e-9 {
                    (f1, model, prf) = (r.2, m, r);
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    let model = with_f0_floor(
        with_prior_threshold(with_learnt_priors(model, calls), calls),
        calls,
    );
    (
        model,
        TrainReport {
            hops,
            shout_hops,
            precision: prf.0,
            recall: prf.1,
            f1: prf.2,
        },
    )
}

/// Share of the training calls' true detections whose deciding F0 rise
/// stays at or above the F0 floor [`with_f0_floor`] sets.
const F0_FLOOR_KEEP: f64 = 0.99;

/// Sets `min_f0_rise_st`, the F0 rise a detection needs, from the fitted
/// model's own true detections on the training calls: the rise at the
/// hop that decided each one, at its 1st percentile, rounded down to
/// 0.5 st. Shouting raises the voice's pitch; calm voices that differ from
/// their baseline in brightness, tilt or level (a new line, a prompt
/// voice, radio) do not (docs/EVALUATION.md, "calm voices"). Set after the
/// fit, so the weights and thresholds are those the fit chose.
pub fn with_f0_floor(mut model: ShoutModel, calls: &[TrainCall]) -> ShoutModel {
    let rises = true_detection_rises(&model, calls);
    if let Some(q) = rise_quantile(&rises, 1.0 - F0_FLOOR_KEEP) {
        model.min_f0_rise_st = model.min_f0_rise_st.max((q * 2.0).floor() / 2.0);
    }
    model
}

/// The F0 rise (smoothed, st) at the hop that decided each of the model's
/// true detections on `calls`, sorted.
fn true_detection_rises(model: &ShoutModel, calls: &[TrainCall]) -> Vec<f32> {
    let hop_s = shoutcue_core::HOP as f32 / shoutcue_core::ANALYSIS_RATE as f32;
    let mut rises = Vec::new();
    for call in calls {
        let mut d = SpeakerDetector::new(Speaker::Customer, model, hop_s);
        for f in &call.hops {
            let (_, ev) = d.process(f);
            if let Some(SegmentEvent::ShoutStart { t, cues, .. }) = ev {
                if call.labels.iter().any(|&(a, b)| t >= a - 1.0 && t <= b) {
                    rises.push(cues.f0_st);
                }
            }
        }
    }
    rises.sort_by(|a, b| a.total_cmp(b));
    rises
}

/// The `q` quantile (lower rank) of sorted `v`.
fn rise_quantile(v: &[f32], q: f64) -> Option<f32> {
    (!v.is_empty()).then(|| v[((v.len() - 1) as f64 * q).floor() as usize])
}

/// Shout detections (`shout_start`, customer) the model makes on `calls`.
fn detections(model: &ShoutModel, calls: &[TrainCall]) -> usize {
    run_detector(model, calls).1.iter().map(Vec::len).sum()
}

/// What [`with_calm_voices`] measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColdStart {
    /// Calls of calm voices scored.
    pub calls: usize,
    /// The highest score a calm voice reached against the priors alone.
    pub max_prior_score: f32,
    /// Shout detections on the calm calls with the fitted F0 floor.
    pub detections_before: usize,
    /// The lowest F0 floor (on the 0.5 st grid, from the fitted one up to
    /// the cap) at which the calm calls give no detection; `None` if even
    /// the cap leaves some.
    pub silent_from_st: Option<f32>,
    /// The F0 floor set: `silent_from_st` plus [`F0_CALM_MARGIN_ST`], at
    /// most the cap.
    pub f0_floor_st: f32,
    /// The cap: the F0 rise of the training calls' true detections at
    /// their [`F0_CALM_CAP_QUANTILE`].
    pub f0_cap_st: f32,
    /// Shout detections on the calm calls with the floor set.
    pub detections_after: usize,
}

/// Grid step of the F0 floor, st.
const F0_STEP_ST: f32 = 0.5;
/// How far above the lowest floor that silences every calm development
/// voice the floor is put: room for voices the trainer never heard, which
/// vary more than two voices can show. Two grid steps.
pub const F0_CALM_MARGIN_ST: f32 = 1.0;
/// The floor never rises above the F0 rise at which this share of the
/// training calls' true detections was decided (lower rank): calm voices
/// may cost at most about a tenth of the detections at their deciding hop
/// (most are then decided a little later, once the pitch rises further).
pub const F0_CALM_CAP_QUANTILE: f64 = 0.10;

/// Above this, scores against the priors leave no margin over calm
/// voices: the priors stop deciding at all (`prior_on_threshold` 1.0).
const PRIOR_ON_CEILING: f32 = 0.95;
/// How far above the calmest voices' highest score the priors' threshold
/// goes.
const PRIOR_MARGIN: f32 = 0.03;

/// Raises `prior_on_threshold` above every score that calm voices from
/// other corpora (`calm`: calls in which any cue is false) reach against
/// the population priors in their opening, by [`PRIOR_MARGIN`]. When that
/// leaves no room below [`PRIOR_ON_CEILING`], the priors never decide: a
/// caller is judged only once their own baseline exists, and a call that
/// opens shouting is found later or not at all. That trade is measured in
/// docs/EVALUATION.md.
///
/// Then raises `min_f0_rise_st` until the calm calls give no shout
/// detection at all (on the priors or on their own baseline), plus
/// [`F0_CALM_MARGIN_ST`], but never above the F0 rise at which the
/// training `calls`' true detections were decided at their
/// [`F0_CALM_CAP_QUANTILE`]. Only the calm calls given here choose it, so
/// voices held out from them measure it.
pub fn with_calm_voices(
    mut model: ShoutModel,
    calm: &[TrainCall],
    calls: &[TrainCall],
) -> (ShoutModel, ColdStart) {
    let hop_s = shoutcue_core::HOP as f32 / shoutcue_core::ANALYSIS_RATE as f32;
    let mut priors_only = model.clone();
    priors_only.baseline.min_voiced_s = f32::INFINITY;
    let mut max = 0.0f32;
    for call in calm {
        let mut d = SpeakerDetector::new(Speaker::Customer, &priors_only, hop_s);
        let mut voiced = 0.0f32;
        for f in &call.hops {
            let (h, _) = d.process(f);
            if f.voiced {
                voiced += hop_s;
                max = max.max(h.score);
            }
            // The priors phase lasts at most this long (then any hop teaches).
            if voiced >= model.baseline.prior_max_s {
                break;
            }
        }
    }
    let need = max + PRIOR_MARGIN;
    let current = model.prior_on_threshold.unwrap_or(model.on_threshold);
    if need > current {
        model.prior_on_threshold = Some(if need > PRIOR_ON_CEILING { 1.0 } else { need });
    }
    // Then the F0 floor: once a calm voice has its own baseline, what still
    // cues it is a line or a prompt that differs in brightness, tilt or
    // level with little rise in pitch. Raise the floor until the calm calls
    // give no detection, then by the margin, within the cap.
    let rises = true_detection_rises(&model, calls);
    let cap = rise_quantile(&rises, F0_CALM_CAP_QUANTILE)
        .map(|q| (q / F0_STEP_ST).floor() * F0_STEP_ST)
        .unwrap_or(model.min_f0_rise_st)
        .max(model.min_f0_rise_st);
    let detections_before = detections(&model, calm);
    let mut trial = model.clone();
    let mut silent_from_st = None;
    while trial.min_f0_rise_st <= cap + 1e-3 {
        if detections(&trial, calm) == 0 {
            silent_from_st = Some(trial.min_f0_rise_st);
            break;
        }
        trial.min_f0_rise_st += F0_STEP_ST;
    }
    let fitted = model.min_f0_rise_st;
    model.min_f0_rise_st = match silent_from_st {
        Some(f) if detections_before > 0 => (f + F0_CALM_MARGIN_ST).min(cap),
        Some(_) => model.min_f0_rise_st,
        None => cap,
    };
    // Only a caller's first shout must clear the calm voices' floor: once
    // they have shouted, the fitted floor applies again (the calm calls,
    // never detected at all now, cannot reach that second phase).
    model.rearm_f0_rise_st = (model.min_f0_rise_st > fitted).then_some(fitted);
    let detections_after = detections(&model, calm);
    let f0_floor_st = model.min_f0_rise_st;
    (
        model,
        ColdStart {
            calls: calm.len(),
            max_prior_score: max,
            detections_before,
            silent_from_st,
            f0_floor_st,
            f0_cap_st: cap,
            detections_after,
        },
    )
}

/// The calm opening of a training call, for [`with_prior_threshold`]: voiced
/// hops before the first labelled shout and within this many seconds.
const OPENING_S: f64 = 10.0;
/// Share of calm-opening hops, scored against the priors alone, that stay
/// below `prior_on_threshold`.
const PRIOR_ON_QUANTILE: f64 = 0.99;

/// Sets `prior_on_threshold` from how high calm voices score against the
/// population priors: each training call's calm opening is scored with the
/// priors alone (as if the caller's own baseline never formed), and the
/// threshold is put at the 99th percentile of those scores, never below
/// `on_threshold` and never above 0.95. The priors are the training voices'
/// own medians, so this still underrates how far an unseen voice or line
/// can sit from them; it is a floor, not a guarantee.
fn with_prior_threshold(mut model: ShoutModel, calls: &[TrainCall]) -> ShoutModel {
    let hop_s = shoutcue_core::HOP as f32 / shoutcue_core::ANALYSIS_RATE as f32;
    let mut priors_only = model.clone();
    priors_only.baseline.min_voiced_s = f32::INFINITY;
    priors_only.prior_on_threshold = None;
    let mut scores = Vec::new();
    for call in calls {
        let first_shout = call
            .labels
            .iter()
            .map(|l| l.0)
            .fold(f64::INFINITY, f64::min);
        let mut d = SpeakerDetector::new(Speaker::Customer, &priors_only, hop_s);
        for f in &call.hops {
            let (h, _) = d.process(f);
            if f.t >= first_shout.min(OPENING_S) {
                break;
            }
            if f.voiced {
                scores.push(h.score);
            }
        }
    }
    if scores.is_empty() {
        model.prior_on_threshold = None;
        return model;
    }
    scores.sort_by(|a, b| a.total_cmp(b));
    let q = scores[((scores.len() - 1) as f64 * PRIOR_ON_QUANTILE).round() as usize];
    model.prior_on_threshold = Some(q.clamp(model.on_threshold, 0.95));
    model
}

/// Sets the population priors (used until a speaker's own baseline exists)
/// to the medians of the baselines the training calls' speakers ended with.
fn with_learnt_priors(mut model: ShoutModel, calls: &[TrainCall]) -> ShoutModel {
    let hop_s = shoutcue_core::HOP as f32 / shoutcue_core::ANALYSIS_RATE as f32;
    let mut f0 = Vec::new();
    let mut alpha = Vec::new();
    let mut level = Vec::new();
    let mut centroid = Vec::new();
    for call in calls {
        let mut d = SpeakerDetector::new(Speaker::Customer, &model, hop_s);
        for f in &call.hops {
            d.process(f);
        }
        let b = d.baseline();
        if b.own {
            f0.push(b.f0_st);
            alpha.push(b.alpha_db);
            level.push(b.level_db);
            centroid.push(b.centroid_st);
        }
    }
    let median = |v: &mut Vec<f32>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied()
    };
    let hz = |st: f32| 100.0 * 2f32.powf(st / 12.0);
    let p = &mut model.baseline;
    if let Some(x) = median(&mut f0) {
        p.prior_f0_hz = hz(x);
    }
    if let Some(x) = median(&mut alpha) {
        p.prior_alpha_db = x;
    }
    if let Some(x) = median(&mut level) {
        p.prior_level_dbfs = x;
    }
    if let Some(x) = median(&mut centroid) {
        p.prior_centroid_hz = hz(x);
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded uniform numbers in -0.5..0.5 (an LCG: tests need no crate for it).
    fn uniform(mut seed: u32) -> impl FnMut() -> f32 {
        move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        }
    }

    #[test]
    fn logistic_fit_separates_a_shifted_class() {
        // Class 1 has cue 0 raised by 3 units; cue 1 is noise.
        let mut s = Vec::new();
        let mut rnd = uniform(7);
        for i in 0..2000 {
            let y = i % 4 == 0;
            let x = [rnd() + if y { 3.0 } else { 0.0 }, rnd(), rnd(), 0.0, rnd()];
            s.push((x, y));
        }
        let (mean, scale, w, b) = fit_logistic(&s, 1e-3, &[true; N]);
        assert!(w[0] > 2.0 * w[1].abs(), "weights {w:?}");
        let p = |x: f32| {
            1.0 / (1.0
                + (-(b + w[0] * (x - mean[0]) / scale[0] + w[1] * (0.0 - mean[1]) / scale[1]))
                    .exp())
        };
        assert!(p(3.0) > 0.9 && p(0.0) < 0.1, "{} {}", p(3.0), p(0.0));
    }

    #[test]
    fn overlapping_cues_never_get_a_negative_weight() {
        // Cue 1 is cue 0 plus a little noise (two measures of one thing, like
        // the alpha ratio and the centroid); unconstrained, the fit trades them
        // against each other. Cue 4 falls as cue 0 rises in this data only.
        let mut s = Vec::new();
        let mut rnd = uniform(11);
        for i in 0..4000 {
            let y = i % 3 == 0;
            let a = rnd() * 2.0 + if y { 2.0 } else { 0.0 };
            let b = 1.3 * a + 0.2 * rnd();
            s.push(([a, b, rnd(), 0.0, -0.5 * a + rnd()], y));
        }
        let (_, _, free, _) = fit_logistic_on(&s, 1e-3, &[true; N]);
        assert!(
            free.iter().any(|&x| x < 0.0),
            "the data must provoke one: {free:?}"
        );
        let (_, _, w, _) = fit_logistic(&s, 1e-3, &[true; N]);
        assert!(w.iter().all(|&x| x >= 0.0), "weights {w:?}");
        assert!(w[0] + w[1] > 1.0, "the real cue still carries: {w:?}");
        // An ablated cue keeps weight 0 even where it would help.
        let (_, _, w, _) = fit_logistic(&s, 1e-3, &[false, true, true, true, true]);
        assert_eq!(w[0], 0.0);
        assert!(w[1] > 1.0, "{w:?}");
    }

    #[test]
    fn a_cue_the_training_calls_never_show_keeps_the_starting_weight() {
        let start = ShoutModel::builtin();
        let mut m = start.clone();
        m.weights[0] = 2.5;
        m.weights[3] = -4.0;
        m.scale[3] = 0.001;
        let samples: Vec<Sample> = (0..1000)
            .map(|i| ([i as f32 * 0.01, 0.0, 0.0, 0.0, 0.0], i % 2 == 0))
            .collect();
        keep_unseen_cues(&mut m, &start, &samples, &[true; N]);
        assert_eq!(m.weights[3], start.weights[3].max(0.0));
        assert_eq!(m.scale[3], start.scale[3]);
        // A cue that does move is left as fitted.
        assert_eq!(m.weights[0], 2.5);
    }

    /// A synthetic call: `calm_s` of a steady voice at 120 Hz, then
    /// `raised_s` with F0 up by `rise_st`, brighter and louder, then calm
    /// again; labelled as shouting when `label`.
    fn call(rise_st: f32, label: bool) -> TrainCall {
        let (calm_s, raised_s) = (12.0, 2.5);
        let hop = 0.01;
        let mut hops = Vec::new();
        let mut rnd = uniform(rise_st.to_bits());
        let n = ((2.0 * calm_s + raised_s) / hop) as usize;
        for i in 0..n {
            let t = i as f64 * hop;
            // Speech in 1.2 s phrases with 0.3 s pauses.
            let speech = (t % 1.5) < 1.2;
            let raised = t >= calm_s && t < calm_s + raised_s;
            let (df0, bright, loud) = if raised {
                (rise_st, 12.0, 6.0)
            } else {
                (0.0, 0.0, 0.0)
            };
            let f0 = 120.0 * 2f32.powf((df0 + rnd() * 0.6) / 12.0);
            hops.push(Features {
                t,
                rms_dbfs: if speech { -30.0 + loud + rnd() } else { -70.0 },
                loudness_lufs: -30.0,
                f0_hz: if speech { f0 } else { 0.0 },
                voicing: if speech { 0.9 } else { 0.0 },
                voiced: speech,
                alpha_ratio_db: -20.0 + bright + rnd(),
                centroid_hz: 600.0 * 2f32.powf((bright + rnd()) / 12.0),
                clip_frac: 0.0,
                speech,
            });
        }
        TrainCall {
            file: PathBuf::from(format!("synthetic-{rise_st}.wav")),
            hops,
            labels: if label {
                vec![(calm_s, calm_s + raised_s)]
            } else {
                vec![]
            },
            group: 0,
        }
    }

    /// A model that decides on brightness and level alone, as the fitted
    /// one nearly can, with the F0 floor at 0 st.
    fn bright_model() -> ShoutModel {
        let mut m = ShoutModel::builtin();
        m.min_f0_rise_st = 0.0;
        m.prior_on_threshold = Some(1.0);
        m
    }

    #[test]
    fn a_calm_voice_that_brightens_raises_the_f0_floor_by_the_margin() {
        let m = bright_model();
        // Shouting rises 8 st; a calm voice's new line brightens with 2 st.
        let shouts: Vec<_> = (0..4).map(|k| call(7.0 + k as f32, true)).collect();
        let calm = [call(2.0, false)];
        assert!(
            detections(&m, &calm) > 0,
            "the calm call must provoke a detection"
        );
        let (m2, c) = with_calm_voices(m, &calm, &shouts);
        assert_eq!(c.detections_before, detections(&bright_model(), &calm));
        let silent = c
            .silent_from_st
            .expect("a floor within the cap silences it");
        assert!(silent > 0.0 && silent <= 3.0, "{c:?}");
        assert_eq!(m2.min_f0_rise_st, silent + F0_CALM_MARGIN_ST);
        assert_eq!(
            m2.rearm_f0_rise_st,
            Some(0.0),
            "the fitted floor, after a first shout"
        );
        assert_eq!(c.detections_after, 0);
        assert_eq!(detections(&m2, &calm), 0);
        // The shouting is still found.
        assert_eq!(detections(&m2, &shouts), shouts.len());
    }

    #[test]
    fn a_start_models_f0_floors_are_not_carried_into_the_fit() {
        // Retraining from the shipped model (--init models/shout-v1.json)
        // must not inherit its calm-voice floors: without --calm, this fit
        // sets its own and re-arms nothing.
        let mut start = ShoutModel::builtin();
        start.min_f0_rise_st = 9.5;
        start.rearm_f0_rise_st = Some(3.0);
        let shouts: Vec<_> = (0..4).map(|k| call(6.0 + k as f32, true)).collect();
        let (m, _) = train(&start, &shouts, &[true; N]);
        assert_eq!(m.rearm_f0_rise_st, None);
        assert!(m.min_f0_rise_st < 6.0, "floor {}", m.min_f0_rise_st);
        assert_eq!(detections(&m, &shouts), shouts.len());
    }

    #[test]
    fn the_floor_stops_at_the_cap_when_a_calm_voice_rises_like_shouting() {
        let m = bright_model();
        let shouts: Vec<_> = (0..4).map(|k| call(6.0 + k as f32, true)).collect();
        // A calm voice that rises as far as the shouting: no floor tells
        // them apart, and the floor must not give up the shouting.
        let calm = [call(9.0, false)];
        let (m2, c) = with_calm_voices(m, &calm, &shouts);
        assert_eq!(c.silent_from_st, None, "{c:?}");
        assert_eq!(m2.min_f0_rise_st, c.f0_cap_st);
        assert!(
            c.f0_cap_st < 6.5,
            "the cap sits under the shouts' rises: {c:?}"
        );
        assert!(c.detections_after > 0);
        assert!(detections(&m2, &shouts) >= shouts.len() - 1);
    }
}

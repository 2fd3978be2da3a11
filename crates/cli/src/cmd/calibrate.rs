//! `shoutcue calibrate`: a line's calibration from a folder of its calls,
//! for `--line` (replay, qa, live) and `serve`'s `line_calibration`.

use std::path::PathBuf;

use crate::AnyError;

/// Options of `shoutcue calibrate`.
#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// Folder of this line's recorded calls (at least 20 with a customer
    /// who speaks calmly for a few seconds), searched recursively.
    pub dir: PathBuf,
    /// Where the calibration goes (JSON).
    #[arg(long, value_name = "LINE.json")]
    pub out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Which file channel is whose.
    #[command(flatten)]
    pub channels: crate::args::ChannelArgs,
    /// The model whose cold start is calibrated.
    #[arg(long, value_name = "FILE.json")]
    pub model: Option<PathBuf>,
}

/// Runs `shoutcue calibrate`.
pub fn run(a: CalibrateArgs) -> Result<(), AnyError> {
    if a.out.exists() && !a.force {
        return Err(format!("{}: exists (use --force to overwrite)", a.out.display()).into());
    }
    let model = crate::args::load_model(a.model.as_deref())?;
    let jobs = a
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let c = shoutcue_lab::line::calibrate(&a.dir, &model, a.channels.choice(), jobs)?;
    for (path, why) in &c.failed {
        eprintln!("shoutcue: {}: skipped: {why}", path.display());
    }
    let line = c.line?;
    let text = serde_json::to_string_pretty(&line)? + "\n";
    std::fs::write(&a.out, text).map_err(|e| format!("{}: cannot write: {e}", a.out.display()))?;
    eprintln!(
        "shoutcue: {} calls ({} without a calm customer voice, {} unreadable): the line's calm voices sit at alpha {:.1} dB, centroid {:.1} st; written to {}",
        c.calls,
        c.without_sample,
        c.failed.len(),
        line.alpha_db,
        line.centroid_st,
        a.out.display()
    );
    // The file describes the line whatever the model; whether this model
    // can take it is said now, so it is not first heard of at a call.
    match model.cold.as_ref().map(|cold| line.shift(cold)) {
        Some(Ok([da, dc])) => eprintln!(
            "shoutcue: against the model's training voices: {da:+.1} dB alpha ratio, {dc:+.1} st centroid"
        ),
        Some(Err(e)) => eprintln!("shoutcue: warning: this model will refuse the calibration: {e}"),
        None => eprintln!("shoutcue: warning: this model has no cold start to calibrate"),
    }
    Ok(())
}

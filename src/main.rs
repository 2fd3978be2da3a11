//! The `shoutcue` command-line tool.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use shoutcue::coach::{CoachConfig, Script};
use shoutcue::detector::ShoutModel;
use shoutcue::features::{FeatureConfig, Features};
use shoutcue::pipeline::{replay_call, ChannelFeatures, Pace};
use shoutcue::sinks::{AudacityLabels, CallInfo, IncidentRecorder, JsonlSink, PrettySink, Sink};
use shoutcue::source::{ChannelChoice, WavSource};

/// Real-time raised-voice cues for call-centre agents.
#[derive(Parser)]
#[command(name = "shoutcue", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print per-hop voice features (10 ms hops) of one channel of a WAV.
    Features {
        /// The recording (PCM 8-32 bit, float, G.711 mu-law/A-law WAV).
        file: PathBuf,
        /// Which voice to analyse.
        #[arg(long, value_enum, default_value_t = Role::Customer)]
        channel: Role,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        #[command(flatten)]
        channels: ChannelArgs,
    },
    /// Replay a recorded call: shouting segments and the coach's cues, as
    /// JSON Lines events on stdout (schema v1, see README).
    Replay {
        /// The recording (stereo: agent left, customer right; mono: customer).
        file: PathBuf,
        /// Print a human timeline instead of JSON Lines, in time order (with
        /// --realtime, line by line as decided).
        #[arg(long)]
        pretty: bool,
        /// Write detections and cues as an Audacity label track.
        #[arg(long, value_name = "FILE.txt")]
        labels_out: Option<PathBuf>,
        /// Write the incident note for the line manager as PREFIX.json and PREFIX.md.
        #[arg(long, value_name = "PREFIX")]
        note_out: Option<PathBuf>,
        /// Pace the replay at real time (for demos and the overlay).
        #[arg(long)]
        realtime: bool,
        /// Serve the agent's overlay page on http://127.0.0.1:PORT/ while
        /// replaying (needs --realtime); keeps serving after the call until Ctrl-C.
        #[arg(long, value_name = "PORT", requires = "realtime")]
        serve: Option<u16>,
        /// Append the agent's marks from the overlay ("said", "dismiss") to this JSON Lines file.
        #[arg(long, value_name = "FILE.jsonl", requires = "serve")]
        feedback: Option<PathBuf>,
        #[command(flatten)]
        setup: CoachArgs,
        #[command(flatten)]
        channels: ChannelArgs,
    },
    /// Fit the shout model from folders of WAVs with Audacity label tracks.
    Train {
        /// Folders of labelled training calls (searched recursively).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(long, default_value = "models/shout-v1.json")]
        out: PathBuf,
        /// Held-out folders to evaluate the fitted model on (never fitted to).
        #[arg(long)]
        heldout: Vec<PathBuf>,
        /// Model to start from: its cue limits, F0 floor and baseline settings
        /// are kept; its weights, thresholds and priors are refitted. Default:
        /// the built-in one.
        #[arg(long, value_name = "MODEL.json")]
        init: Option<PathBuf>,
        /// Cues the model may weigh, comma-separated (default: all); the
        /// others keep weight 0. For ablations: which cue earns its place.
        #[arg(long, value_delimiter = ',', value_name = "CUE,...")]
        cues: Vec<String>,
    },
    /// Score the model on a folder of WAVs with Audacity label tracks
    /// (`shout` spans); files without labels count as calls without shouting.
    Eval {
        /// Folder of calls (searched recursively).
        dir: PathBuf,
        /// Shout model (JSON); default: the built-in one.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Fail (exit 1) if F1 is below this.
        #[arg(long)]
        min_f1: Option<f64>,
        /// Fail (exit 1) if false cues per hour exceed this.
        #[arg(long)]
        max_false_cues_per_hour: Option<f64>,
        /// Fail (exit 1) if the median detection latency (per outburst) exceeds this, s.
        #[arg(long)]
        max_latency_p50: Option<f64>,
    },
    /// QA batch review: every call in DIR (recursively) into REPORT_DIR:
    /// per-call events, labels, incident note and timeline plot, plus a
    /// sortable index.html and summary.csv. Exits non-zero if any call failed.
    Qa {
        /// Folder of recordings (*.wav, searched recursively).
        dir: PathBuf,
        /// Where the report goes.
        #[arg(long, value_name = "REPORT_DIR")]
        out: PathBuf,
        /// Redo calls already done (default: skip calls whose outputs are up to date).
        #[arg(long)]
        force: bool,
        /// Worker threads (default: one per core).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Show QA the agent's private events (nudges, the agent's own shouting);
        /// off by default, as the coach promises the agent.
        #[arg(long)]
        include_private: bool,
    },
    /// List the sound input devices (id, name, default config) for `live`.
    Devices,
    /// Live agent mode: analyse the call audio and the headset mic in real
    /// time, print JSON Lines events, and serve the overlay page.
    Live(LiveArgs),
    /// Print the BS.1770 integrated loudness of one channel, as analysed (8 kHz).
    Loudness {
        /// The recording.
        file: PathBuf,
        /// Which voice to measure.
        #[arg(long, value_enum, default_value_t = Role::Customer)]
        channel: Role,
        #[command(flatten)]
        channels: ChannelArgs,
    },
}

/// Model, coach timing and script.
#[derive(Args, Clone)]
struct CoachArgs {
    /// Shout model (JSON); default: the built-in models/shout-v1.json.
    #[arg(long, value_name = "FILE.json")]
    model: Option<PathBuf>,
    /// Coach timing (TOML); default: the documented defaults.
    #[arg(long, value_name = "FILE.toml")]
    coach_config: Option<PathBuf>,
    /// Script lines (TOML, e.g. models/script-de.toml); default: English.
    #[arg(long, value_name = "FILE.toml")]
    script: Option<PathBuf>,
    /// Name to put into the script's {name} placeholder.
    #[arg(long)]
    name: Option<String>,
    /// Wall-clock start of the call, for the incident note (live: the time
    /// the call starts, unless given here).
    #[arg(long)]
    started_at: Option<String>,
}

struct Setup {
    model: ShoutModel,
    coach: CoachConfig,
    script: Script,
}

impl CoachArgs {
    fn load(&self) -> Result<Setup, AnyError> {
        Ok(Setup {
            model: match &self.model {
                Some(p) => ShoutModel::load(p)?,
                None => ShoutModel::builtin(),
            },
            coach: match &self.coach_config {
                Some(p) => CoachConfig::from_file(p)?,
                None => CoachConfig::default(),
            },
            script: match &self.script {
                Some(p) => Script::from_file(p)?,
                None => Script::english(),
            },
        })
    }
}

/// Which file channel carries whom.
#[derive(Args, Clone, Copy)]
struct ChannelArgs {
    /// Stereo files default to agent = left, customer = right; this swaps them.
    #[arg(long)]
    swap_channels: bool,
    /// Pick the customer's channel by index (0 = left); needed for files with more than 2 channels.
    #[arg(long)]
    customer_channel: Option<u16>,
    /// Pick the agent's channel by index; with --customer-channel only.
    #[arg(long, requires = "customer_channel")]
    agent_channel: Option<u16>,
}

impl ChannelArgs {
    fn choice(&self) -> ChannelChoice {
        match (self.customer_channel, self.swap_channels) {
            (Some(customer), _) => ChannelChoice::Explicit {
                customer,
                agent: self.agent_channel,
            },
            (None, true) => ChannelChoice::Swapped,
            (None, false) => ChannelChoice::Default,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Role {
    Customer,
    Agent,
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Jsonl,
}

/// Samples per channel read from the file at a time.
const BLOCK: usize = 4096;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Features {
            file,
            channel,
            format,
            channels,
        } => features(&file, channel, format, channels.choice()),
        Command::Devices => devices(),
        Command::Live(args) => live(&args),
        Command::Loudness {
            file,
            channel,
            channels,
        } => loudness(&file, channel, channels.choice()),
        Command::Train {
            dirs,
            out,
            heldout,
            init,
            cues,
        } => train(&dirs, &out, &heldout, init.as_deref(), &cues),
        Command::Qa {
            dir,
            out,
            force,
            jobs,
            include_private,
        } => qa(shoutcue::qa::QaOptions {
            dir,
            out,
            force,
            jobs,
            include_private,
            progress: true,
        }),
        Command::Eval {
            dir,
            model,
            json,
            min_f1,
            max_false_cues_per_hour,
            max_latency_p50,
        } => eval(
            &dir,
            model.as_deref(),
            json,
            Gates {
                min_f1,
                max_fph: max_false_cues_per_hour,
                max_latency_p50,
            },
        ),
        Command::Replay {
            file,
            pretty,
            labels_out,
            note_out,
            realtime,
            serve,
            feedback,
            setup,
            channels,
        } => replay(
            &file,
            &ReplayOpts {
                pretty,
                labels_out,
                note_out,
                realtime,
                serve,
                feedback,
                setup,
                choice: channels.choice(),
            },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shoutcue: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

/// A reader that closed our stdout early (`| head`) is not an error.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Streams one channel of `file` through the feature pipeline, calling `on`
/// per hop. Hops already computed are delivered before any read error is
/// returned, so nothing processed is lost.
fn analyse_channel(
    file: &Path,
    role: Role,
    choice: ChannelChoice,
    mut on: impl FnMut(&Features) -> std::io::Result<()>,
) -> Result<ChannelFeatures, AnyError> {
    let mut src = WavSource::open(file, choice)?;
    if role == Role::Agent && !src.has_agent() {
        return Err(format!(
            "{}: no agent channel (mono file: it is the customer)",
            file.display()
        )
        .into());
    }
    let warn_non_finite = |src: &WavSource| {
        if src.non_finite_samples() > 0 {
            eprintln!(
                "shoutcue: {}: {} NaN/Inf samples replaced by silence",
                file.display(),
                src.non_finite_samples()
            );
        }
    };
    let mut chain = ChannelFeatures::new(src.spec().sample_rate, BLOCK, FeatureConfig::default())?;
    let mut cust = vec![0.0f32; BLOCK];
    let mut agent = vec![0.0f32; BLOCK];
    let mut io_err = None;
    loop {
        let n = match src.read(&mut cust, &mut agent) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                // Deliver what was read before the fault, then report it.
                chain.finish(|f| {
                    if io_err.is_none() {
                        io_err = on(f).err();
                    }
                })?;
                warn_non_finite(&src);
                return Err(e.into());
            }
        };
        let input = if role == Role::Agent {
            &agent[..n]
        } else {
            &cust[..n]
        };
        chain.process(input, |f| {
            if io_err.is_none() {
                io_err = on(f).err();
            }
        })?;
        if let Some(e) = io_err.take() {
            return Err(e.into());
        }
    }
    chain.finish(|f| {
        if io_err.is_none() {
            io_err = on(f).err();
        }
    })?;
    warn_non_finite(&src);
    if let Some(e) = io_err {
        return Err(e.into());
    }
    Ok(chain)
}

fn features(
    file: &Path,
    role: Role,
    format: Format,
    choice: ChannelChoice,
) -> Result<(), AnyError> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if format == Format::Csv {
        writeln!(out, "{}", Features::CSV_HEADER)?;
    }
    let result = analyse_channel(file, role, choice, |f| match format {
        Format::Csv => f.write_csv(&mut out),
        Format::Jsonl => {
            serde_json::to_writer(&mut out, f)?;
            out.write_all(b"\n")
        }
    });
    out.flush()?;
    result.map(|_| ())
}

fn loudness(file: &Path, role: Role, choice: ChannelChoice) -> Result<(), AnyError> {
    let mut hops = 0u64;
    let chain = analyse_channel(file, role, choice, |_| {
        hops += 1;
        Ok(())
    })?;
    let line = serde_json::json!({
        "file": file.display().to_string(),
        "channel": if role == Role::Agent { "agent" } else { "customer" },
        "integrated_lufs": chain.integrated_loudness(),
        "duration_s": hops as f64 * shoutcue::HOP as f64 / shoutcue::ANALYSIS_RATE as f64,
    });
    println!("{line}");
    Ok(())
}

struct ReplayOpts {
    pretty: bool,
    labels_out: Option<PathBuf>,
    note_out: Option<PathBuf>,
    realtime: bool,
    serve: Option<u16>,
    feedback: Option<PathBuf>,
    setup: CoachArgs,
    choice: ChannelChoice,
}

fn create(path: &Path) -> Result<BufWriter<std::fs::File>, AnyError> {
    std::fs::File::create(path)
        .map(BufWriter::new)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()).into())
}

fn replay(file: &Path, o: &ReplayOpts) -> Result<(), AnyError> {
    let setup = o.setup.load()?;
    let mut src = WavSource::open(file, o.choice)?;
    let name = file.display().to_string();
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let stdout: Box<dyn Write> = Box::new(std::io::LineWriter::new(std::io::stdout()));
    if o.pretty {
        let mut s = PrettySink::new(stdout, setup.script.clone());
        if let Some(n) = &o.setup.name {
            s = s.with_name(n.clone());
        }
        if !o.realtime {
            s = s.time_ordered();
        }
        sinks.push(Box::new(s));
    } else {
        let mut s = JsonlSink::new(stdout, setup.script.clone());
        if let Some(n) = &o.setup.name {
            s = s.with_name(n.clone());
        }
        sinks.push(Box::new(s));
    }
    if let Some(p) = &o.labels_out {
        sinks.push(Box::new(AudacityLabels::new(create(p)?)));
    }
    let recorder = std::rc::Rc::new(std::cell::RefCell::new(IncidentRecorder::new(CallInfo {
        source: name.clone(),
        started_at: o.setup.started_at.clone(),
    })));
    if o.note_out.is_some() {
        sinks.push(Box::new(Shared(recorder.clone())));
    }
    let pace = if o.realtime {
        Pace::RealTime
    } else {
        Pace::Fast
    };
    let mut served = match o.serve {
        Some(port) => Some(ServedReplay::start(port, &name, o, &setup)?),
        None => None,
    };
    if let Some(s) = &served {
        sinks.push(Box::new(StopSink(s.stop.clone())));
    }
    let mut observer = OptFeed(served.as_mut().and_then(|s| s.feed.take()));
    let result = replay_call(
        &name,
        &mut src,
        &setup.model,
        setup.coach,
        &mut sinks,
        pace,
        &mut observer,
    );
    let result = match result {
        Err(shoutcue::pipeline::CallError::Sink { source, .. }) if is_interrupted(&source) => {
            Ok(Default::default())
        }
        r => r,
    };
    if let Some(s) = served {
        let interrupted = s.stop.load(std::sync::atomic::Ordering::Relaxed);
        let duration = match &result {
            Ok(st) if !interrupted => Some(st.duration_s),
            _ => None,
        };
        s.finish(observer.0, duration, o.note_out.as_deref())?;
    } else if let Some(prefix) = &o.note_out {
        // The note is written even when the recording broke off: nothing processed is lost.
        let rec = recorder.borrow();
        rec.note()
            .write_json(create(&prefix.with_extension("json"))?)?;
        rec.note()
            .write_markdown(create(&prefix.with_extension("md"))?)?;
    }
    if src.non_finite_samples() > 0 {
        eprintln!(
            "shoutcue: {name}: {} NaN/Inf samples replaced by silence",
            src.non_finite_samples()
        );
    }
    match result {
        Err(shoutcue::pipeline::CallError::Sink { source, .. }) if is_broken_pipe_sink(&source) => {
            Ok(())
        }
        r => r.map(|_| ()).map_err(Into::into),
    }
}

fn is_broken_pipe_sink(e: &shoutcue::sinks::SinkError) -> bool {
    matches!(e, shoutcue::sinks::SinkError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Lets the incident recorder sit among the sinks and still be read afterwards.
struct Shared<S>(std::rc::Rc<std::cell::RefCell<S>>);

impl<S: Sink> Sink for Shared<S> {
    fn event(&mut self, ev: &shoutcue::sinks::Event) -> Result<(), shoutcue::sinks::SinkError> {
        self.0.borrow_mut().event(ev)
    }
    fn finish(&mut self, t: f64) -> Result<(), shoutcue::sinks::SinkError> {
        self.0.borrow_mut().finish(t)
    }
}

fn eval_dir(dir: &Path, model: &ShoutModel) -> Result<shoutcue::eval::Metrics, AnyError> {
    let wavs = shoutcue::eval::find_wavs(dir)?;
    if wavs.is_empty() {
        return Err(format!("{}: no .wav files found", dir.display()).into());
    }
    let mut results = Vec::with_capacity(wavs.len());
    for w in &wavs {
        results.push(shoutcue::eval::run_call(w, model, CoachConfig::default())?);
    }
    Ok(shoutcue::eval::score(&results))
}

fn print_metrics(label: &str, m: &shoutcue::eval::Metrics) {
    println!(
        "{label}: {} calls, {:.2} h | shout spans {} found {} | detections {} correct {} | P {:.3} R {:.3} F1 {:.3} | false cues {} ({:.2}/h) | latency p50 {:.2} s p90 {:.2} s | cue after pause p50 {:.2} s p90 {:.2} s",
        m.calls, m.hours, m.labelled, m.found, m.detected, m.correct, m.precision, m.recall, m.f1,
        m.false_cues, m.false_cues_per_hour, m.latency_p50_s, m.latency_p90_s,
        m.cue_after_pause_p50_s, m.cue_after_pause_p90_s
    );
}

/// Limits `eval` enforces (exit 1 when missed).
struct Gates {
    min_f1: Option<f64>,
    max_fph: Option<f64>,
    max_latency_p50: Option<f64>,
}

fn eval(dir: &Path, model: Option<&Path>, json: bool, gates: Gates) -> Result<(), AnyError> {
    let Gates {
        min_f1,
        max_fph,
        max_latency_p50,
    } = gates;
    let model = match model {
        Some(p) => ShoutModel::load(p)?,
        None => ShoutModel::builtin(),
    };
    let m = eval_dir(dir, &model)?;
    if json {
        println!("{}", serde_json::to_string(&m)?);
    } else {
        print_metrics(&dir.display().to_string(), &m);
    }
    if let Some(min) = min_f1 {
        if m.f1 < min {
            return Err(format!(
                "{}: F1 {:.3} is below the required {min}",
                dir.display(),
                m.f1
            )
            .into());
        }
    }
    if let Some(max) = max_fph {
        if m.false_cues_per_hour > max {
            return Err(format!(
                "{}: {:.2} false cues per hour, more than the allowed {max}",
                dir.display(),
                m.false_cues_per_hour
            )
            .into());
        }
    }
    if let Some(max) = max_latency_p50 {
        if m.latency_p50_s.is_nan() {
            return Err(format!(
                "{}: no labelled outburst was detected, so there is no latency to check",
                dir.display()
            )
            .into());
        }
        if m.latency_p50_s > max {
            return Err(format!(
                "{}: median detection latency {:.2} s, more than the allowed {max} s",
                dir.display(),
                m.latency_p50_s
            )
            .into());
        }
    }
    Ok(())
}

fn train(
    dirs: &[PathBuf],
    out: &Path,
    heldout: &[PathBuf],
    init: Option<&Path>,
    cue_names: &[String],
) -> Result<(), AnyError> {
    let names = shoutcue::detector::model::CUE_NAMES;
    let mut cues = [cue_names.is_empty(); shoutcue::detector::N_CUES];
    for c in cue_names {
        let i = names.iter().position(|n| n == c).ok_or_else(|| {
            format!(
                "--cues: no cue named {c:?}; expected some of {}",
                names.join(",")
            )
        })?;
        cues[i] = true;
    }
    let mut calls = Vec::new();
    for (group, d) in dirs.iter().enumerate() {
        for w in shoutcue::eval::find_wavs(d)? {
            calls.push(shoutcue::train::load_call(&w, group)?);
        }
    }
    if calls.is_empty() {
        return Err("no labelled .wav files found to train on".into());
    }
    let start = match init {
        Some(p) => ShoutModel::load(p)?,
        None => ShoutModel::builtin(),
    };
    let (mut model, report) = shoutcue::train::train(&start, &calls, &cues);
    let p = &mut model.provenance;
    p.trained_on = format!(
        "{} calls in {}",
        calls.len(),
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    p.date = today_utc();
    p.command = std::env::args().collect::<Vec<_>>().join(" ");
    p.metrics.clear();
    p.metrics
        .insert("train_voiced_hops".into(), report.hops as f64);
    p.metrics
        .insert("train_shout_hops".into(), report.shout_hops as f64);
    p.metrics.insert("train_segment_f1".into(), report.f1);
    p.metrics
        .insert("train_segment_precision".into(), report.precision);
    p.metrics
        .insert("train_segment_recall".into(), report.recall);
    println!(
        "trained on {} calls ({} voiced hops, {} in shout spans): segment P {:.3} R {:.3} F1 {:.3}",
        calls.len(),
        report.hops,
        report.shout_hops,
        report.precision,
        report.recall,
        report.f1
    );
    for (d, f1) in dirs
        .iter()
        .zip(shoutcue::train::f1_by_group(&model, &calls))
    {
        println!("  training folder {}: segment F1 {f1:.3}", d.display());
        model
            .provenance
            .metrics
            .insert(format!("train:{}:f1", d.display()), f1);
    }
    let mut evaluated = Vec::new();
    for d in heldout {
        let m = eval_dir(d, &model)?;
        print_metrics(&format!("held-out {}", d.display()), &m);
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
        model
            .provenance
            .metrics
            .insert(format!("heldout:{key}:f1"), m.f1);
        model.provenance.metrics.insert(
            format!("heldout:{key}:false_cues_per_hour"),
            m.false_cues_per_hour,
        );
        model
            .provenance
            .metrics
            .insert(format!("heldout:{key}:latency_p50_s"), m.latency_p50_s);
        evaluated.push(d.display().to_string());
    }
    model.provenance.evaluated_on = evaluated.join(", ");
    let text = serde_json::to_string_pretty(&model)?;
    std::fs::write(out, text + "\n")
        .map_err(|e| format!("{}: cannot write model: {e}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn qa(opts: shoutcue::qa::QaOptions) -> Result<(), AnyError> {
    let s = shoutcue::qa::run(&opts)?;
    println!(
        "{} calls ({} skipped as up to date), {} failed, {:.1} min of audio ({:.1} min analysed now), wall {:.2} s, {:.0}x real time on {} threads; report: {}",
        s.rows.len(),
        s.skipped,
        s.failed,
        s.total_audio_s / 60.0,
        s.audio_s / 60.0,
        s.wall_s,
        s.times_real_time(),
        s.jobs,
        opts.out.join("index.html").display()
    );
    if s.failed > 0 {
        return Err(format!(
            "{} of {} calls failed (see the error rows)",
            s.failed,
            s.rows.len()
        )
        .into());
    }
    Ok(())
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today_utc() -> String {
    now_utc()[..10].to_string()
}

/// The wall clock now, UTC, to the second (RFC 3339), e.g. `2026-12-01T11:21:26Z`.
fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Ctrl-C (SIGINT/SIGTERM) sets the returned flag instead of killing the
/// process, so a call ends cleanly (`call_end`, note, stats). Set once.
fn stop_on_ctrl_c() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>, AnyError> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || s.store(true, std::sync::atomic::Ordering::Relaxed))
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    Ok(stop)
}

/// Fails the replay's sinks once Ctrl-C was pressed, which is how the
/// replay loop is told to stop; reported as `Interrupted`, not as an error.
struct StopSink(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Sink for StopSink {
    fn event(&mut self, _ev: &shoutcue::sinks::Event) -> Result<(), shoutcue::sinks::SinkError> {
        if self.0.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(shoutcue::sinks::SinkError::Io {
                sink: "replay (stopped by Ctrl-C)",
                source: std::io::ErrorKind::Interrupted.into(),
            });
        }
        Ok(())
    }
    fn finish(&mut self, _t: f64) -> Result<(), shoutcue::sinks::SinkError> {
        Ok(())
    }
}

fn is_interrupted(e: &shoutcue::sinks::SinkError) -> bool {
    matches!(e, shoutcue::sinks::SinkError::Io { source, .. } if source.kind() == std::io::ErrorKind::Interrupted)
}

/// The overlay feed when serving, nothing otherwise.
struct OptFeed(Option<shoutcue::overlay::OverlayFeed>);

impl shoutcue::pipeline::Observer for OptFeed {
    fn hop(&mut self, r: &shoutcue::detector::HopReport, c: &Features, a: Option<&Features>) {
        if let Some(f) = &mut self.0 {
            f.hop(r, c, a);
        }
    }
    fn event(&mut self, decided_at: f64, ev: &shoutcue::sinks::Event) {
        if let Some(f) = &mut self.0 {
            f.event(decided_at, ev);
        }
    }
}

type PublisherThread = std::thread::JoinHandle<std::io::Result<shoutcue::overlay::PublisherReport>>;

/// Overlay server, publisher thread and feed for `replay --realtime --serve`.
struct ServedReplay {
    overlay: std::sync::Arc<shoutcue::overlay::Overlay>,
    feed: Option<shoutcue::overlay::OverlayFeed>,
    publisher: PublisherThread,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl ServedReplay {
    fn start(port: u16, name: &str, o: &ReplayOpts, setup: &Setup) -> Result<Self, AnyError> {
        use shoutcue::overlay::{feed_channel, Overlay, OverlayOptions, Publisher, FEED_CAPACITY};
        let mut opts = OverlayOptions::loopback(port, name);
        opts.feedback = o.feedback.clone();
        let overlay = std::sync::Arc::new(Overlay::start(opts)?);
        eprintln!("shoutcue: overlay at {}", overlay.url());
        let (feed, rx) = feed_channel(FEED_CAPACITY);
        let publisher = Publisher::new(
            setup.script.clone(),
            o.setup.name.clone(),
            CallInfo {
                source: name.to_string(),
                started_at: o.setup.started_at.clone(),
            },
        )
        .with_overlay(overlay.clone());
        let publisher = std::thread::Builder::new()
            .name("shoutcue-publisher".into())
            .spawn(move || publisher.run(rx))?;
        Ok(Self {
            overlay,
            feed: Some(feed),
            publisher,
            stop: stop_on_ctrl_c()?,
        })
    }

    /// Ends the call on the page, keeps serving until Ctrl-C (the agent may
    /// still mark the last cue), then writes the note with the marks.
    fn finish(
        self,
        feed: Option<shoutcue::overlay::OverlayFeed>,
        duration: Option<f64>,
        note_out: Option<&Path>,
    ) -> Result<(), AnyError> {
        if let Some(mut f) = feed {
            if let Some(d) = duration {
                f.end(d);
            }
        }
        let report = self
            .publisher
            .join()
            .map_err(|_| "overlay publisher panicked")??;
        if !self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!(
                "shoutcue: call over; overlay still at {} (Ctrl-C to quit)",
                self.overlay.url()
            );
            while !self.stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        if let Some(prefix) = note_out {
            shoutcue::overlay::write_note(prefix, &report.note, &self.overlay.marks())?;
        }
        Ok(())
    }
}

/// Options of `shoutcue live`.
#[derive(Args)]
struct LiveArgs {
    /// Device carrying the call audio (the customer), e.g. the monitor of
    /// the output the softphone plays to; ids from `shoutcue devices`.
    #[arg(long, value_name = "ID")]
    customer_device: String,
    /// Device carrying the agent's headset microphone (default: none, or
    /// the customer device with --channel-map).
    #[arg(long, value_name = "ID")]
    agent_device: Option<String>,
    /// One stereo device carrying both voices: CUSTOMER,AGENT channel
    /// indices (0 = left), e.g. `1,0`.
    #[arg(long, value_name = "C,A")]
    channel_map: Option<String>,
    /// Overlay page port on 127.0.0.1.
    #[arg(long, default_value_t = 8377)]
    port: u16,
    /// Capture rate, Hz (default: 8000 if the devices offer it, else the customer device's rate).
    #[arg(long, value_name = "HZ")]
    rate: Option<u32>,
    /// Print latency (callback to event sent) p50/p90/p99 and capture health at exit.
    #[arg(long)]
    stats: bool,
    /// End the call after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Write the incident note as PREFIX.json and PREFIX.md at the end of the call.
    #[arg(long, value_name = "PREFIX")]
    note_out: Option<PathBuf>,
    /// Append the agent's marks ("said", "dismiss") to this JSON Lines file.
    #[arg(long, value_name = "FILE.jsonl")]
    feedback: Option<PathBuf>,
    #[command(flatten)]
    setup: CoachArgs,
}

#[cfg(not(feature = "live"))]
fn devices() -> Result<(), AnyError> {
    Err("built without live capture: rebuild with `cargo build --features live`".into())
}

#[cfg(not(feature = "live"))]
fn live(_args: &LiveArgs) -> Result<(), AnyError> {
    devices()
}

#[cfg(feature = "live")]
fn devices() -> Result<(), AnyError> {
    let list = shoutcue::live::list_input_devices()?;
    if list.is_empty() {
        return Err("no input devices found (is PulseAudio or ALSA running?)".into());
    }
    println!("id\tname\tdefault config");
    for d in list {
        println!("{}\t{}\t{}", d.id, d.name, d.default_config);
    }
    Ok(())
}

#[cfg(feature = "live")]
fn live(a: &LiveArgs) -> Result<(), AnyError> {
    use shoutcue::live::{start_capture, CaptureSetup, LiveAnalysis, Pick, VoiceSource};
    use shoutcue::overlay::{
        feed_channel, percentile, Overlay, OverlayOptions, Publisher, FEED_CAPACITY,
    };
    use std::sync::atomic::Ordering;

    let setup = a.setup.load()?;
    let (cust_pick, agent_pick) = match &a.channel_map {
        Some(m) => {
            let bad = || {
                format!("--channel-map {m:?}: expected CUSTOMER,AGENT channel indices such as 1,0")
            };
            let (c, g) = m.split_once(',').ok_or_else(bad)?;
            let c: u16 = c.trim().parse().map_err(|_| bad())?;
            let g: u16 = g.trim().parse().map_err(|_| bad())?;
            (Pick::Channel(c), Some(Pick::Channel(g)))
        }
        None => (Pick::Mix, a.agent_device.as_ref().map(|_| Pick::Mix)),
    };
    let agent = agent_pick.map(|pick| VoiceSource {
        device: a
            .agent_device
            .clone()
            .unwrap_or_else(|| a.customer_device.clone()),
        pick,
    });
    let source = match &agent {
        Some(g) => format!("live: customer {} / agent {}", a.customer_device, g.device),
        None => format!("live: customer {}", a.customer_device),
    };
    let stop = stop_on_ctrl_c()?;
    let (capture, cust_in, agent_in) = start_capture(&CaptureSetup {
        customer: VoiceSource {
            device: a.customer_device.clone(),
            pick: cust_pick,
        },
        agent,
        rate: a.rate,
        ring_s: 4.0,
    })?;
    let rate = capture.rate;
    let max_block = (rate as usize / 10).max(shoutcue::HOP);
    let engine = shoutcue::pipeline::CallEngine::new(
        rate,
        max_block,
        agent_in.is_some(),
        &setup.model,
        setup.coach,
    )?;
    let mut opts = OverlayOptions::loopback(a.port, source.clone());
    opts.feedback = a.feedback.clone();
    let overlay = std::sync::Arc::new(Overlay::start(opts)?);
    eprintln!(
        "shoutcue: capturing at {rate} Hz; overlay at {} (Ctrl-C ends the call)",
        overlay.url()
    );
    let (mut feed, rx) = feed_channel(FEED_CAPACITY);
    let publisher = Publisher::new(
        setup.script.clone(),
        a.setup.name.clone(),
        CallInfo {
            source,
            // A live call starts now: the note gets the wall clock unless told otherwise.
            started_at: Some(a.setup.started_at.clone().unwrap_or_else(now_utc)),
        },
    )
    .with_overlay(overlay.clone())
    .with_output(Box::new(std::io::stdout()));
    let publisher = std::thread::Builder::new()
        .name("shoutcue-publisher".into())
        .spawn(move || publisher.run(rx))?;
    if let Some(d) = a.duration {
        let s = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs_f64(d.max(0.0)));
            s.store(true, Ordering::Relaxed);
        });
    }
    let analysis = LiveAnalysis::new(engine, rate, max_block, cust_in, agent_in);
    let stats = analysis.run(&mut feed, &stop)?;
    drop(capture);
    let report = publisher
        .join()
        .map_err(|_| "overlay publisher panicked")??;
    if let Some(prefix) = &a.note_out {
        shoutcue::overlay::write_note(prefix, &report.note, &overlay.marks())?;
    }
    if a.stats {
        let l = &report.latency_ms;
        let p = |q| percentile(l, q).map_or("n/a".to_string(), |v| format!("{v:.1} ms"));
        eprintln!(
            "shoutcue: {:.1} s analysed; {} events; latency callback→event sent over {} events: p50 {} p90 {} p99 {}; overrun samples customer {} agent {}; device lost customer {} agent {}; clock resync dropped {} agent samples, padded {} agent samples with silence; feed dropped {}",
            stats.duration_s,
            report.events,
            l.len(),
            p(50.0),
            p(90.0),
            p(99.0),
            report.overrun_samples[0],
            report.overrun_samples[1],
            report.device_lost[0],
            report.device_lost[1],
            stats.resync_dropped,
            stats.agent_padded,
            report.feed_dropped
        );
    }
    Ok(())
}

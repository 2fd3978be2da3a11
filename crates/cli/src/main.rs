//! The `shoutcue` command-line tool: the argument definitions and the
//! dispatch. Each subcommand lives in `cmd/`; shared argument types in `args.rs`.

mod args;
mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use args::{ChannelArgs, CoachArgs, Format, Role};

/// Any error a subcommand reports; printed as `shoutcue: MESSAGE`.
pub type AnyError = Box<dyn std::error::Error>;

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
    Live(cmd::live::LiveArgs),
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

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Features {
            file,
            channel,
            format,
            channels,
        } => cmd::features::run(&file, channel, format, channels.choice()),
        Command::Devices => cmd::live::devices(),
        Command::Live(args) => cmd::live::live(&args),
        Command::Loudness {
            file,
            channel,
            channels,
        } => cmd::loudness::run(&file, channel, channels.choice()),
        Command::Train {
            dirs,
            out,
            heldout,
            init,
            cues,
        } => cmd::train::run(cmd::train::TrainOpts {
            dirs: &dirs,
            out: &out,
            heldout: &heldout,
            init: init.as_deref(),
            cues: &cues,
        }),
        Command::Qa {
            dir,
            out,
            force,
            jobs,
            include_private,
        } => cmd::qa::run(shoutcue_lab::qa::QaOptions {
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
        } => cmd::eval::run(
            &dir,
            model.as_deref(),
            json,
            cmd::eval::Gates {
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
        } => cmd::replay::run(
            &file,
            &cmd::replay::ReplayOpts {
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

/// A reader that closed our stdout early (`| head`) is not an error.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

//! The `shoutcue` command-line tool: the subcommands and the dispatch.
//! Each subcommand lives in `cmd/`, with its options; shared argument types
//! are in `args.rs`.

mod args;
mod cmd;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Features(cmd::features::FeaturesArgs),
    /// Replay a recorded call: shouting segments and the coach's cues, as
    /// JSON Lines events on stdout (schema v1, see README).
    Replay(cmd::replay::ReplayArgs),
    /// Fit the shout model from folders of WAVs with Audacity label tracks.
    Train(cmd::train::TrainArgs),
    /// Score the model on a folder of WAVs with Audacity label tracks
    /// (`shout` spans); files without labels count as calls without shouting.
    Eval(cmd::eval::EvalArgs),
    /// QA batch review: every call in DIR (recursively) into REPORT_DIR:
    /// per-call events, labels, incident note and timeline plot, plus a
    /// sortable index.html and summary.csv. Exits non-zero if any call failed.
    Qa(cmd::qa::QaArgs),
    /// Calibrate the cold start to a line: where its callers' calm voices
    /// sit, from a folder of its recorded calls (for --line and serve's
    /// line_calibration).
    Calibrate(cmd::calibrate::CalibrateArgs),
    /// List the sound input devices (id, name, default config) for `live`.
    #[cfg_attr(
        not(feature = "live"),
        command(
            about = "List the sound input devices for `live` (not in this build: rebuild with `cargo build --release --features live`)"
        )
    )]
    Devices,
    /// Live agent mode: analyse the call audio and the headset mic in real
    /// time, print JSON Lines events, and serve the overlay page.
    #[cfg_attr(
        not(feature = "live"),
        command(
            about = "Live agent mode from sound devices (not in this build: rebuild with `cargo build --release --features live`)"
        )
    )]
    Live(cmd::live::LiveArgs),
    /// Print the BS.1770 integrated loudness of one channel, as analysed (8 kHz).
    Loudness(cmd::loudness::LoudnessArgs),
    /// Telephony server: live calls from Genesys AudioHook, Asterisk
    /// AudioSocket, FreeSWITCH audio forks and Twilio Media Streams, one
    /// engine per call; JSON Lines events and incident notes per call.
    Serve(Box<cmd::serve::ServeArgs>),
    /// Supervisor console for a whole site: every `serve` node's calls and
    /// alerts, read from NATS JetStream; a node that stops sending
    /// heartbeats has its calls ended as disconnected.
    Console(cmd::serve::ConsoleArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Features(a) => cmd::features::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Qa(a) => cmd::qa::run(a),
        Command::Calibrate(a) => cmd::calibrate::run(a),
        Command::Devices => cmd::live::devices(),
        Command::Live(a) => cmd::live::live(&a),
        Command::Loudness(a) => cmd::loudness::run(a),
        Command::Serve(a) => cmd::serve::run(*a),
        Command::Console(a) => cmd::serve::console(a),
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

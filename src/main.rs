//! The `shoutcue` command-line tool.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use shoutcue::features::{FeatureConfig, Features};
use shoutcue::pipeline::ChannelFeatures;
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
        Command::Loudness {
            file,
            channel,
            channels,
        } => loudness(&file, channel, channels.choice()),
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

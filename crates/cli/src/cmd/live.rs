//! `shoutcue live` and `shoutcue devices`: the agent's desk, from sound devices.

use std::path::PathBuf;

use clap::Args;

use crate::args::CoachArgs;
use crate::AnyError;

/// Options of `shoutcue live`.
#[derive(Args)]
pub struct LiveArgs {
    /// Device carrying the call audio (the customer), e.g. the monitor of
    /// the output the softphone plays to; ids from `shoutcue devices`.
    #[arg(long, value_name = "ID")]
    pub customer_device: String,
    /// Device carrying the agent's headset microphone (default: none, or
    /// the customer device with --channel-map).
    #[arg(long, value_name = "ID")]
    pub agent_device: Option<String>,
    /// One stereo device carrying both voices: CUSTOMER,AGENT channel
    /// indices (0 = left), e.g. `1,0`.
    #[arg(long, value_name = "C,A", value_parser = parse_channel_map)]
    pub channel_map: Option<ChannelMap>,
    /// Overlay page port on 127.0.0.1.
    #[arg(long, default_value_t = 8377)]
    pub port: u16,
    /// Capture rate, Hz (default: 8000 if the devices offer it, else the customer device's rate).
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(i64::from(MIN_CAPTURE_RATE)..=i64::from(MAX_CAPTURE_RATE)))]
    pub rate: Option<u32>,
    /// Print latency (callback to event sent) p50/p90/p99 and capture health at exit.
    #[arg(long)]
    pub stats: bool,
    /// End the call after this many seconds (default: at Ctrl-C).
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Write the incident note as PREFIX.json and PREFIX.md at the end of the call.
    #[arg(long, value_name = "PREFIX")]
    pub note_out: Option<PathBuf>,
    /// Append the agent's marks ("said", "dismiss") to this JSON Lines file.
    #[arg(long, value_name = "FILE.jsonl")]
    pub feedback: Option<PathBuf>,
    #[command(flatten)]
    pub setup: CoachArgs,
}

/// Lowest `--rate`: narrow-band telephony.
pub const MIN_CAPTURE_RATE: u32 = 8000;
/// Highest `--rate`: what sound cards offer (4 GHz asked for 64 GB of ring).
pub const MAX_CAPTURE_RATE: u32 = 192_000;
/// Highest channel index `--channel-map` takes (devices have far fewer;
/// the device's own count is checked when it is opened).
pub const MAX_CHANNEL_INDEX: u16 = 255;
/// Longest `--duration`: a week, far beyond any call.
pub const MAX_DURATION_S: f64 = 7.0 * 24.0 * 3600.0;

/// `--channel-map CUSTOMER,AGENT`: which channel of one device is whose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelMap {
    /// The customer's channel (0 = left).
    pub customer: u16,
    /// The agent's channel.
    pub agent: u16,
}

/// Parses `--channel-map`: two different indices in 0..=255.
fn parse_channel_map(s: &str) -> Result<ChannelMap, String> {
    let expected = format!(
        "expected CUSTOMER,AGENT: two different channel indices in 0..={MAX_CHANNEL_INDEX}, such as 1,0"
    );
    let (c, a) = s.split_once(',').ok_or_else(|| expected.clone())?;
    let index = |t: &str| {
        t.trim()
            .parse::<u16>()
            .ok()
            .filter(|&i| i <= MAX_CHANNEL_INDEX)
            .ok_or_else(|| expected.clone())
    };
    let (customer, agent) = (index(c)?, index(a)?);
    if customer == agent {
        return Err(format!("{expected}; got channel {customer} for both"));
    }
    Ok(ChannelMap { customer, agent })
}

/// Parses `--duration`: finite seconds, above 0, at most a week.
fn parse_duration(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 && d <= MAX_DURATION_S => Ok(d),
        _ => Err(format!(
            "expected seconds, finite, above 0 and at most {MAX_DURATION_S} (a week)"
        )),
    }
}

#[cfg(not(feature = "live"))]
const NO_LIVE: &str = "built without live capture: rebuild with `cargo build --features live`";

/// Lists the input devices.
#[cfg(not(feature = "live"))]
pub fn devices() -> Result<(), AnyError> {
    Err(NO_LIVE.into())
}

/// Runs a live call.
#[cfg(not(feature = "live"))]
pub fn live(_args: &LiveArgs) -> Result<(), AnyError> {
    Err(NO_LIVE.into())
}

/// Points cpal's PulseAudio client at the server's socket when
/// `PULSE_SERVER` is unset and the socket is where libpulse would look but
/// cpal does not ([`shoutcue_live::capture::pulse_socket_candidates`]).
/// Called first, while this process has one thread: the environment is
/// set before anything else can read it.
#[cfg(feature = "live")]
fn find_pulse() {
    if let Some(p) = shoutcue_live::capture::find_pulse_socket() {
        std::env::set_var("PULSE_SERVER", format!("unix:{}", p.display()));
    }
}

/// Lists the input devices.
#[cfg(feature = "live")]
pub fn devices() -> Result<(), AnyError> {
    find_pulse();
    let list = shoutcue_live::capture::list_input_devices()?;
    if list.is_empty() {
        return Err("no input devices found (is PulseAudio or ALSA running?)".into());
    }
    super::print_line("id\tname\tdefault config")?;
    for d in list {
        super::print_line(&format!("{}\t{}\t{}", d.id, d.name, d.default_config))?;
    }
    Ok(())
}

/// Runs a live call until Ctrl-C or `--duration`.
#[cfg(feature = "live")]
pub fn live(a: &LiveArgs) -> Result<(), AnyError> {
    use shoutcue_core::engine::CallEngine;
    use shoutcue_core::sinks::CallInfo;
    use shoutcue_live::capture::{start_capture, CaptureSetup, LiveAnalysis, Pick, VoiceSource};
    use shoutcue_live::overlay::{percentile, OverlayOptions, Publisher, ServedCall};
    use std::sync::atomic::Ordering;

    find_pulse();
    let setup = a.setup.load()?;
    let (cust_pick, agent_pick) = match a.channel_map {
        Some(m) => (Pick::Channel(m.customer), Some(Pick::Channel(m.agent))),
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
    let stop = super::stop_on_ctrl_c()?;
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
    let max_block = (rate as usize / 10).max(shoutcue_core::HOP);
    let engine = CallEngine::new(
        rate,
        max_block,
        agent_in.is_some(),
        &setup.model,
        setup.coach,
    )?;
    let mut opts = OverlayOptions::loopback(a.port, source.clone());
    opts.feedback = a.feedback.clone();
    let publisher = Publisher::new(
        setup.script.clone(),
        a.setup.name.clone(),
        CallInfo {
            source,
            // A live call starts now: the note gets the wall clock unless told otherwise.
            started_at: Some(a.setup.started_at.clone().unwrap_or_else(super::now_utc)),
        },
    )
    .with_output(Box::new(std::io::stdout()));
    let (served, mut feed) = ServedCall::start(opts, publisher)?;
    eprintln!(
        "shoutcue: capturing at {rate} Hz; overlay at {} (Ctrl-C ends the call)",
        served.overlay().url()
    );
    eprintln!(
        "shoutcue: to mark the cue shown last from a desktop hotkey: {}",
        served.overlay().hotkey_command()
    );
    if let Some(d) = a.duration {
        let s = stop.clone();
        std::thread::spawn(move || {
            // Checked at parse time: finite, positive, at most a week.
            std::thread::sleep(std::time::Duration::from_secs_f64(d));
            s.store(true, Ordering::Relaxed);
        });
    }
    let analysis = LiveAnalysis::new(engine, rate, max_block, cust_in, agent_in);
    let stats = analysis.run(&mut feed, &stop)?;
    drop(capture);
    let (overlay, report) = served.join()?;
    if let Some(prefix) = &a.note_out {
        shoutcue_live::overlay::write_note(prefix, &report.note, &overlay.marks())?;
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

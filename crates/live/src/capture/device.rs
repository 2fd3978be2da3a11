//! Sound devices through cpal (ALSA, and PulseAudio in pure Rust): listing,
//! opening, and a watchdog that reopens a device that went away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{BufferSize, SampleFormat, StreamConfig};

use super::analysis::{voice_input, VoiceInput};
use super::ring::{capture_block, channel_ring, ChannelHealth, ChannelInput, Pick};
use shoutcue_core::detector::Speaker;

/// A device that delivered nothing for this long is taken as lost.
const WATCHDOG: Duration = Duration::from_millis(1000);
/// How often a working device's presence is checked.
const PRESENCE: Duration = Duration::from_millis(500);
/// How often a lost device is looked for again.
const RETRY: Duration = Duration::from_millis(500);

/// Why live capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No input device has this id.
    #[error("no input device {id:?} (run `shoutcue devices` for the list)")]
    NoDevice {
        /// The id asked for.
        id: String,
    },
    /// The device cannot capture at the rate both voices need.
    #[error("device {id:?}: {problem}")]
    Config {
        /// The device.
        id: String,
        /// What does not fit, with what was expected and found.
        problem: String,
    },
    /// cpal failed.
    #[error("audio system: {0}")]
    Audio(String),
}

/// One input device as `shoutcue devices` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Id to pass to `--customer-device` / `--agent-device` (`host:device`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Default capture config, e.g. `2 ch, 44100 Hz, f32`.
    pub default_config: String,
}

/// Every input device of every audio host available here; a host or list
/// that cannot be opened is passed over (the caller reports what it found).
fn input_devices() -> impl Iterator<Item = cpal::Device> {
    cpal::available_hosts()
        .into_iter()
        .filter_map(|h| cpal::host_from_id(h).ok())
        .filter_map(|host| host.input_devices().ok())
        .flatten()
}

/// Every input device of every audio host available here (stderr quiet
/// meanwhile: [`QuietStderr`]).
pub fn list_input_devices() -> Result<Vec<DeviceInfo>, LiveError> {
    let _quiet = QuietStderr::new();
    let mut out = Vec::new();
    for d in input_devices() {
        let Ok(id) = d.id() else { continue };
        let name = d
            .description()
            .map(|x| x.name().to_string())
            .unwrap_or_else(|_| id.id().to_string());
        let default_config = match d.default_input_config() {
            Ok(c) => format!(
                "{} ch, {} Hz, {}",
                c.channels(),
                c.sample_rate(),
                c.sample_format()
            ),
            Err(e) => format!("unavailable ({e})"),
        };
        out.push(DeviceInfo {
            id: id.to_string(),
            name,
            default_config,
        });
    }
    Ok(out)
}

/// Finds an input device by its full id (`pulseaudio:name`) or the part after the host.
///
/// A full id asks its own host only: enumerating ALSA's PCMs makes
/// alsa-lib and its JACK plugin print a dozen lines to stderr, which a
/// PulseAudio device should not cost, and the watchdog looks a lost device
/// up twice a second.
fn find_device(id: &str) -> Option<cpal::Device> {
    if let Ok(did) = id.parse::<cpal::DeviceId>() {
        if let Ok(host) = cpal::host_from_id(did.host()) {
            if let Some(d) = host.device_by_id(&did) {
                return Some(d);
            }
        }
    }
    input_devices().find(|d| {
        d.id()
            .is_ok_and(|did| did.to_string() == id || did.id() == id)
    })
}

/// Where a PulseAudio client finds the server's socket when `PULSE_SERVER`
/// is not set, in the order libpulse itself looks: `$PULSE_RUNTIME_PATH/native`,
/// `$XDG_RUNTIME_DIR/pulse/native`, `/run/user/UID/pulse/native`, the
/// per-machine runtime link in `~/.config/pulse`, and the system-wide
/// server's `/var/run/pulse/native`. `env` reads a variable.
///
/// Why this exists: cpal's pure-Rust PulseAudio client looks only at
/// `$PULSE_SERVER`, `$PULSE_RUNTIME_PATH/pulse/native` (one `pulse` too
/// many) and `$XDG_RUNTIME_DIR`, and stops at the first that is missing, so
/// a server started with its own runtime path (as on a VDI host, or in CI),
/// or a shell without `XDG_RUNTIME_DIR` (sudo, su, cron), lists no
/// PulseAudio device at all.
pub fn pulse_socket_candidates(
    env: &dyn Fn(&str) -> Option<String>,
    uid: u32,
) -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let mut out = Vec::new();
    if let Some(p) = env("PULSE_RUNTIME_PATH") {
        out.push(PathBuf::from(p).join("native"));
    }
    if let Some(p) = env("XDG_RUNTIME_DIR") {
        out.push(PathBuf::from(p).join("pulse/native"));
    }
    out.push(PathBuf::from(format!("/run/user/{uid}/pulse/native")));
    if let Some(home) = env("HOME") {
        let dir = PathBuf::from(home).join(".config/pulse");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut runtime: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with("-runtime"))
                .map(|p| p.join("native"))
                .collect();
            runtime.sort();
            out.extend(runtime);
        }
    }
    out.push(PathBuf::from("/var/run/pulse/native"));
    out
}

/// The first of [`pulse_socket_candidates`] that exists, for the
/// environment of this process, when `PULSE_SERVER` is not set (`None`
/// when it is: the user chose).
pub fn find_pulse_socket() -> Option<std::path::PathBuf> {
    if std::env::var_os("PULSE_SERVER").is_some() {
        return None;
    }
    let uid = nix::unistd::getuid().as_raw();
    pulse_socket_candidates(&|k| std::env::var(k).ok(), uid)
        .into_iter()
        .find(|p| p.exists())
}

/// While it lives, fd 2 goes to `/dev/null`: for listing devices, where
/// alsa-lib and its JACK plugin print a line for every PCM they cannot open
/// (about a dozen on a machine without a sound card) and offer no way to
/// stop them but a variadic C callback, which Rust cannot define on stable.
/// Only for a short, single-threaded moment: anything another thread
/// writes to stderr meanwhile is lost.
struct QuietStderr {
    saved: Option<std::os::fd::OwnedFd>,
}

impl QuietStderr {
    /// Sends stderr to `/dev/null` until dropped (does nothing if it cannot).
    fn new() -> Self {
        use std::os::fd::AsFd;
        let saved = std::io::stderr().as_fd().try_clone_to_owned().ok();
        if saved.is_some() {
            if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                let _ = nix::unistd::dup2_stderr(&null);
            }
        }
        Self { saved }
    }
}

impl Drop for QuietStderr {
    fn drop(&mut self) {
        if let Some(fd) = &self.saved {
            let _ = nix::unistd::dup2_stderr(fd);
        }
    }
}

/// Where one voice comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceSource {
    /// Device id.
    pub device: String,
    /// Which of its channels.
    pub pick: Pick,
}

/// Both voices of a call.
#[derive(Debug, Clone)]
pub struct CaptureSetup {
    /// The call audio (the customer).
    pub customer: VoiceSource,
    /// The headset microphone (the agent), if captured.
    pub agent: Option<VoiceSource>,
    /// Capture rate; default: 8 kHz if every device offers it, else the
    /// customer device's own rate (both voices must share one rate).
    pub rate: Option<u32>,
    /// Ring length per voice, s (slack for a stalled analysis thread).
    pub ring_s: f32,
}

/// Running capture; dropping it stops the device threads.
pub struct CaptureHandle {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The rate both voices are captured at, Hz.
    pub rate: u32,
}

impl Drop for CaptureHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

struct Opened {
    channels: u16,
    format: SampleFormat,
}

fn supports(d: &cpal::Device, rate: u32, channels: u16, format: SampleFormat) -> bool {
    d.supported_input_configs().is_ok_and(|mut it| {
        it.any(|r| {
            r.channels() == channels
                && r.sample_format() == format
                && r.min_sample_rate() <= rate
                && rate <= r.max_sample_rate()
        })
    })
}

/// Picks channel count and sample format for `rate` on device `id`.
fn choose(id: &str, d: &cpal::Device, rate: u32, need_channels: u16) -> Result<Opened, LiveError> {
    let def = d.default_input_config().map_err(|e| LiveError::Config {
        id: id.into(),
        problem: format!("no default input config: {e}"),
    })?;
    // A channel the device does not have would be recorded as silence.
    let most = d
        .supported_input_configs()
        .map_or(def.channels(), |it| {
            it.map(|r| r.channels()).max().unwrap_or(def.channels())
        })
        .max(def.channels());
    if need_channels > most {
        return Err(LiveError::Config {
            id: id.into(),
            problem: format!(
                "channel {} asked for (--channel-map), but the device has {most} channel(s): expected an index in 0..={}",
                need_channels - 1,
                most.saturating_sub(1)
            ),
        });
    }
    let channels = def.channels().max(need_channels);
    for format in [SampleFormat::F32, SampleFormat::I16, SampleFormat::I32] {
        if supports(d, rate, channels, format) {
            return Ok(Opened { channels, format });
        }
    }
    Err(LiveError::Config {
        id: id.into(),
        problem: format!(
            "cannot capture {channels} channels at {rate} Hz as f32, i16 or i32 (default config: {} ch, {} Hz, {}); both voices must share one rate",
            def.channels(),
            def.sample_rate(),
            def.sample_format()
        ),
    })
}

/// A device id, the device, and the voices it carries.
type DeviceGroup = (String, cpal::Device, Vec<(Speaker, Pick)>);

/// One voice of a device, as its watchdog thread holds it.
struct VoiceSlot {
    pick: Pick,
    health: Arc<ChannelHealth>,
    updates: rtrb::Producer<ChannelInput>,
}

/// Opens `d` for its voices with fresh rings; on success the rings' read
/// ends go to the analysis thread (a cpal stream owns its callback, so each
/// new stream needs new rings).
fn open(
    d: &cpal::Device,
    rate: u32,
    ring: usize,
    o: &Opened,
    slots: &mut [VoiceSlot],
    failed: &Arc<AtomicBool>,
) -> Result<cpal::Stream, cpal::Error> {
    let channels = usize::from(o.channels);
    // ~10 ms buffers keep the callback-to-cue latency low; devices that
    // refuse a fixed size get their default.
    let mut last = None;
    for buffer_size in [BufferSize::Fixed((rate / 100).max(1)), BufferSize::Default] {
        let cfg = StreamConfig {
            channels: o.channels,
            sample_rate: rate,
            buffer_size,
        };
        let mut routes = Vec::with_capacity(slots.len());
        let mut inputs = Vec::with_capacity(slots.len());
        for s in slots.iter() {
            let (route, input) = channel_ring(ring, s.pick, s.health.clone());
            routes.push(route);
            inputs.push(input);
        }
        let f = failed.clone();
        let on_err = move |_e: cpal::Error| f.store(true, Ordering::Release);
        let timeout = Some(Duration::from_secs(3));
        let res = match o.format {
            SampleFormat::I16 => d.build_input_stream::<i16, _, _>(
                cfg,
                move |data: &[i16], _: &_| {
                    capture_block(data, channels, &mut routes, Instant::now())
                },
                on_err,
                timeout,
            ),
            SampleFormat::I32 => d.build_input_stream::<i32, _, _>(
                cfg,
                move |data: &[i32], _: &_| {
                    capture_block(data, channels, &mut routes, Instant::now())
                },
                on_err,
                timeout,
            ),
            _ => d.build_input_stream::<f32, _, _>(
                cfg,
                move |data: &[f32], _: &_| {
                    capture_block(data, channels, &mut routes, Instant::now())
                },
                on_err,
                timeout,
            ),
        };
        match res {
            Ok(stream) => {
                for (s, input) in slots.iter_mut().zip(inputs) {
                    // The analysis thread takes it within milliseconds.
                    let mut pending = Some(input);
                    while let Some(i) = pending.take() {
                        if let Err(rtrb::PushError::Full(back)) = s.updates.push(i) {
                            pending = Some(back);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                if let Err(e) = stream.play() {
                    last = Some(cpal::Error::with_message(
                        cpal::ErrorKind::BackendError,
                        format!("cannot start capture: {e}"),
                    ));
                    continue;
                }
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        cpal::Error::with_message(cpal::ErrorKind::BackendError, "no buffer size to try")
    }))
}

/// Opens every device and starts a watchdog thread per device. Returns the
/// handle and the analysis thread's inputs (customer, agent). Fails now if
/// a device is missing or cannot capture at the shared rate.
pub fn start_capture(
    setup: &CaptureSetup,
) -> Result<(CaptureHandle, VoiceInput, Option<VoiceInput>), LiveError> {
    let cust_dev = find_device(&setup.customer.device).ok_or_else(|| LiveError::NoDevice {
        id: setup.customer.device.clone(),
    })?;
    let agent_dev = match &setup.agent {
        Some(a) if a.device != setup.customer.device => {
            Some(find_device(&a.device).ok_or_else(|| LiveError::NoDevice {
                id: a.device.clone(),
            })?)
        }
        _ => None,
    };
    let need = |p: Pick| match p {
        Pick::Mix => 1,
        Pick::Channel(c) => c.saturating_add(1),
    };
    let rate = match setup.rate {
        Some(r) => r,
        None => {
            let all8k = [Some(&cust_dev), agent_dev.as_ref()]
                .into_iter()
                .flatten()
                .all(|d| {
                    let ch = d.default_input_config().map_or(1, |c| c.channels());
                    [SampleFormat::F32, SampleFormat::I16]
                        .iter()
                        .any(|f| supports(d, shoutcue_core::ANALYSIS_RATE, ch, *f))
                });
            if all8k {
                shoutcue_core::ANALYSIS_RATE
            } else {
                cust_dev
                    .default_input_config()
                    .map_err(|e| LiveError::Config {
                        id: setup.customer.device.clone(),
                        problem: format!("no default input config: {e}"),
                    })?
                    .sample_rate()
            }
        }
    };
    let ring = ((setup.ring_s.max(0.1) * rate as f32) as usize).max(rate as usize / 10);

    // Group voices by device: one stereo device may carry both.
    let mut groups: Vec<DeviceGroup> = vec![(
        setup.customer.device.clone(),
        cust_dev,
        vec![(Speaker::Customer, setup.customer.pick)],
    )];
    if let Some(a) = &setup.agent {
        match agent_dev {
            Some(d) => groups.push((a.device.clone(), d, vec![(Speaker::Agent, a.pick)])),
            None => groups[0].2.push((Speaker::Agent, a.pick)),
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let (mut cust_in, mut agent_in) = (None, None);
    for (id, dev, voices) in groups {
        let need_ch = voices.iter().map(|(_, p)| need(*p)).max().unwrap_or(1);
        let opened = choose(&id, &dev, rate, need_ch)?;
        let mut slots = Vec::new();
        for (speaker, pick) in voices {
            let health = Arc::new(ChannelHealth::default());
            // A placeholder ring: the real one arrives through `updates`
            // when the stream opens (and again after every reconnect).
            let (_, placeholder) = channel_ring(1, pick, health.clone());
            let (vi, updates) = voice_input(speaker, placeholder, health.clone());
            match speaker {
                Speaker::Customer => cust_in = Some(vi),
                Speaker::Agent => agent_in = Some(vi),
            }
            slots.push(VoiceSlot {
                pick,
                health,
                updates,
            });
        }
        // Opened on the watchdog thread (a stream need not be Send); the
        // first attempt's result comes back here so a bad device fails now.
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let stop = stop.clone();
        let name = id.clone();
        let t = std::thread::Builder::new()
            .name(format!("shoutcue-dev-{id}"))
            .spawn(move || watch_device(&name, dev, rate, ring, opened, slots, stop, first_tx))
            .map_err(|e| LiveError::Audio(e.to_string()))?;
        match first_rx.recv() {
            Ok(Ok(())) => threads.push(t),
            Ok(Err(problem)) => {
                let _ = t.join();
                return Err(LiveError::Config { id, problem });
            }
            Err(_) => {
                let _ = t.join();
                return Err(LiveError::Audio(format!("{id}: capture thread ended")));
            }
        }
    }
    let cust_in = cust_in.ok_or_else(|| LiveError::Audio("no customer voice".into()))?;
    Ok((
        CaptureHandle {
            stop,
            threads,
            rate,
        },
        cust_in,
        agent_in,
    ))
}

/// Keeps one device capturing for the whole call: a stream error or a
/// callback that stops coming marks its voices lost (the analysis feeds
/// silence and reports `device_lost`); the device is then looked for again
/// every [`RETRY`] until it is back (`device_back`).
#[allow(clippy::too_many_arguments)]
fn watch_device(
    id: &str,
    first: cpal::Device,
    rate: u32,
    ring: usize,
    opened: Opened,
    mut slots: Vec<VoiceSlot>,
    stop: Arc<AtomicBool>,
    first_result: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let failed = Arc::new(AtomicBool::new(false));
    let mut stream = match open(&first, rate, ring, &opened, &mut slots, &failed) {
        Ok(s) => {
            let _ = first_result.send(Ok(()));
            Some(s)
        }
        Err(e) => {
            let _ = first_result.send(Err(format!("cannot open for capture: {e}")));
            return;
        }
    };
    // Watch the device through its own host: a PulseAudio source that is
    // removed does not always fail its stream (the server may move the
    // stream to another source), so its presence is checked too.
    let did = first.id().ok();
    let host = did.as_ref().and_then(|d| cpal::host_from_id(d.host()).ok());
    let present = |host: &Option<cpal::Host>| match (host, &did) {
        (Some(h), Some(d)) => h.device_by_id(d),
        _ => find_device(id),
    };
    drop(first);
    let mut next_presence = Instant::now() + PRESENCE;
    let set_lost = |slots: &[VoiceSlot], lost: bool| {
        for s in slots {
            s.health.lost.store(lost, Ordering::Release);
        }
    };
    let callbacks = |slots: &[VoiceSlot]| {
        slots
            .first()
            .map_or(0, |s| s.health.callbacks.load(Ordering::Relaxed))
    };
    let mut seen = callbacks(&slots);
    let mut last_progress = Instant::now();
    let mut next_retry = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let now = Instant::now();
        if stream.is_some() {
            let c = callbacks(&slots);
            if c != seen {
                seen = c;
                last_progress = now;
            }
            let silent = now.duration_since(last_progress) > WATCHDOG;
            let gone = now >= next_presence && {
                next_presence = now + PRESENCE;
                present(&host).is_none()
            };
            if failed.swap(false, Ordering::AcqRel) || silent || gone {
                stream = None;
                set_lost(&slots, true);
                eprintln!("shoutcue: {id}: device lost, retrying");
                next_retry = now + RETRY;
            }
        } else if now >= next_retry {
            next_retry = now + RETRY;
            if let Some(d) = present(&host) {
                failed.store(false, Ordering::Release);
                if let Ok(s) = open(&d, rate, ring, &opened, &mut slots, &failed) {
                    stream = Some(s);
                    seen = callbacks(&slots);
                    last_progress = Instant::now();
                    set_lost(&slots, false);
                    eprintln!("shoutcue: {id}: device back");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pulse_socket_is_looked_for_where_libpulse_looks() {
        let home = shoutcue_testkit::TempDir::new("pulse-home");
        std::fs::create_dir_all(home.path().join(".config/pulse/0123abcd-runtime")).unwrap();
        std::fs::create_dir_all(home.path().join(".config/pulse/cookie-dir")).unwrap();
        let h = home.path().to_string_lossy().into_owned();
        let env = |k: &str| match k {
            "PULSE_RUNTIME_PATH" => Some("/tmp/pr".to_string()),
            "XDG_RUNTIME_DIR" => Some("/tmp/xdg".to_string()),
            "HOME" => Some(h.clone()),
            _ => None,
        };
        let got = pulse_socket_candidates(&env, 1000);
        let want: Vec<std::path::PathBuf> = vec![
            "/tmp/pr/native".into(),
            "/tmp/xdg/pulse/native".into(),
            "/run/user/1000/pulse/native".into(),
            home.path().join(".config/pulse/0123abcd-runtime/native"),
            "/var/run/pulse/native".into(),
        ];
        assert_eq!(got, want);
        // Nothing set: the uid's runtime dir and the system server.
        let none = pulse_socket_candidates(&|_| None, 0);
        assert_eq!(
            none,
            vec![
                std::path::PathBuf::from("/run/user/0/pulse/native"),
                "/var/run/pulse/native".into()
            ]
        );
    }
}

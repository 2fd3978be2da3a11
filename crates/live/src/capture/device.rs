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

/// Every input device of every audio host available here.
pub fn list_input_devices() -> Result<Vec<DeviceInfo>, LiveError> {
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
fn find_device(id: &str) -> Option<cpal::Device> {
    input_devices().find(|d| {
        d.id()
            .is_ok_and(|did| did.to_string() == id || did.id() == id)
    })
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

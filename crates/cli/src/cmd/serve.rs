//! `shoutcue serve`: live calls from the contact-centre platform's media
//! forks (AudioHook, AudioSocket, FreeSWITCH, Twilio), many at once.

use std::net::SocketAddr;
use std::path::PathBuf;

use shoutcue_serve::config::{AudioHookConfig, AudioSocketConfig, FreeSwitchConfig, TwilioConfig};
use shoutcue_serve::{ServeConfig, Server};

use crate::args::SetupArgs;
use crate::logging::LogFormat;
use crate::AnyError;

/// Options of `shoutcue serve`. Every flag overrides the config file's key
/// of the same name; secrets come from the environment or the file only.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); SHOUTCUE_SERVE__KEY variables override
    /// its keys, and the flags below override both (docs/CONFIG.md).
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Print every configuration key with its default, annotated, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// The log on stderr: text (coloured only on a terminal), or json, one
    /// object per line for log shippers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Genesys AudioHook listener, e.g. 127.0.0.1:9001 (key and secret from
    /// SHOUTCUE_AUDIOHOOK_API_KEY and SHOUTCUE_AUDIOHOOK_CLIENT_SECRET).
    #[arg(long, value_name = "ADDR")]
    pub audiohook: Option<SocketAddr>,
    /// URL path of the AudioHook WebSocket.
    #[arg(long, value_name = "PATH")]
    pub audiohook_path: Option<String>,
    /// Asterisk AudioSocket listener (TCP).
    #[arg(long, value_name = "ADDR")]
    pub audiosocket: Option<SocketAddr>,
    /// FreeSWITCH mod_audio_fork / mod_audio_stream listener (WebSocket).
    #[arg(long, value_name = "ADDR")]
    pub freeswitch: Option<SocketAddr>,
    /// Twilio Media Streams listener (WebSocket).
    #[arg(long, value_name = "ADDR")]
    pub twilio: Option<SocketAddr>,
    /// The scheme and host Twilio's `<Stream url>` names (e.g.
    /// wss://voice.example.com): with SHOUTCUE_TWILIO_AUTH_TOKEN set,
    /// every upgrade must carry Twilio's signature of that URL.
    #[arg(long, value_name = "URL")]
    pub twilio_url: Option<String>,
    /// Pages, /healthz and /metrics (Prometheus).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// PEM certificate chain: the pages and the WebSocket listeners speak
    /// TLS (https://, wss://); read again on SIGHUP. Needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// One CALL_ID.jsonl per call here, and CALL_ID.note.json/.md when it ends.
    #[arg(long, value_name = "DIR")]
    pub events_dir: Option<PathBuf>,
    /// Most concurrent calls; past it new calls are refused.
    #[arg(long, value_name = "N")]
    pub max_calls: Option<usize>,
    /// On SIGTERM, seconds running calls may go on before they are ended.
    #[arg(long, value_name = "SECONDS")]
    pub drain_grace: Option<f64>,
    /// Publish every call's public events to this NATS server's JetStream
    /// (nats://HOST:4222; several separated by commas). Subjects:
    /// shoutcue.SITE.call.CALL.TYPE, shoutcue.SITE.alert, heartbeats on
    /// shoutcue.SITE.node.NODE.heartbeat (docs/OPERATIONS.md).
    #[arg(long = "nats", value_name = "URL")]
    pub nats: Option<String>,
    /// This site's name in subjects and the stream's name (default "default").
    #[arg(long, value_name = "NAME")]
    pub site: Option<String>,
    /// This node's name in heartbeats (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node_id: Option<String>,
    /// The console shows the whole site (every node's calls) from this NATS
    /// server's stream instead of this node's calls (`shoutcue console`
    /// does the same without serving calls).
    #[arg(long, value_name = "URL")]
    pub console_nats: Option<String>,
    /// Print agent ID's own page link (from SHOUTCUE_PAGES_SECRET and the
    /// --http address) and exit; hand it to that agent alone.
    #[arg(long, value_name = "ID")]
    pub agent_link: Option<String>,
    /// Print the signed link to platform call CALL's cue view (`/embed`,
    /// for the agent's softphone or desktop to frame; needs --embed-agent)
    /// and exit. A dialplan or script runs this as the call starts.
    #[arg(long, value_name = "CALL", requires = "embed_agent")]
    pub embed_link: Option<String>,
    /// The agent the --embed-link is for: their private nudges show only
    /// if the platform names the same agent for the call.
    #[arg(long, value_name = "ID", requires = "embed_link")]
    pub embed_agent: Option<String>,
    /// How long the --embed-link is valid, s (at most 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = 4 * 3600,
          value_parser = clap::value_parser!(u64).range(60..=86400))]
    pub embed_ttl: u64,
    /// Model, coach timing and script (no `--name` or `--started-at`: a
    /// server's calls each have their own).
    #[command(flatten)]
    pub setup: SetupArgs,
}

/// Runs the server until SIGTERM or Ctrl-C, then drains.
pub fn run(a: ServeArgs) -> Result<(), AnyError> {
    if a.print_config {
        print!("{}", shoutcue_serve::config::EXAMPLE_TOML);
        return Ok(());
    }
    // vars_os: a variable that is not UTF-8 (set by something else) must
    // not panic the server; ours are all text.
    let env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let mut cfg = ServeConfig::load(a.config.as_deref(), env)?;
    if let Some(listen) = a.audiohook {
        let mut c = cfg.audiohook.take().unwrap_or(AudioHookConfig {
            max_calls: None,
            listen,
            path: "/api/v1/audiohook/ws".into(),
            api_key: None,
            client_secret: None,
        });
        c.listen = listen;
        cfg.audiohook = Some(c);
    }
    if let (Some(p), Some(c)) = (&a.audiohook_path, cfg.audiohook.as_mut()) {
        c.path = p.clone();
    }
    if let Some(listen) = a.audiosocket {
        let mut c = cfg.audiosocket.take().unwrap_or(AudioSocketConfig {
            listen,
            max_calls: None,
            pairing: Default::default(),
        });
        c.listen = listen;
        cfg.audiosocket = Some(c);
    }
    if let Some(listen) = a.freeswitch {
        let mut c = cfg
            .freeswitch
            .take()
            .unwrap_or_else(|| FreeSwitchConfig::new(listen));
        c.listen = listen;
        cfg.freeswitch = Some(c);
    }
    if let Some(listen) = a.twilio {
        let mut c = cfg.twilio.take().unwrap_or(TwilioConfig {
            max_calls: None,
            listen,
            auth_token: None,
            public_url: None,
        });
        c.listen = listen;
        cfg.twilio = Some(c);
    }
    if let Some(u) = &a.twilio_url {
        match cfg.twilio.as_mut() {
            Some(c) => c.public_url = Some(u.clone()),
            None => return Err(
                "--twilio-url: no Twilio listener (give --twilio ADDR or [twilio] in the config)"
                    .into(),
            ),
        }
    }
    if a.tls_cert.is_some() {
        cfg.tls_cert = a.tls_cert.clone();
        cfg.tls_key = a.tls_key.clone();
    }
    if a.http.is_some() {
        cfg.http = a.http;
    }
    if a.events_dir.is_some() {
        cfg.events_dir = a.events_dir.clone();
    }
    if let Some(n) = a.max_calls {
        cfg.max_calls = n;
    }
    if let Some(g) = a.drain_grace {
        cfg.drain_grace_s = g;
    }
    if a.nats.is_some() {
        cfg.nats_url = a.nats.clone();
    }
    if let Some(site) = &a.site {
        cfg.site = site.clone();
    }
    if a.node_id.is_some() {
        cfg.node_id = a.node_id.clone();
    }
    if a.console_nats.is_some() {
        cfg.console_nats = a.console_nats.clone();
    }
    if a.setup.model.is_some() {
        cfg.model = a.setup.model.clone();
    }
    if a.setup.coach_config.is_some() {
        cfg.coach_config = a.setup.coach_config.clone();
    }
    if a.setup.script.is_some() {
        cfg.script = a.setup.script.clone();
    }
    if a.setup.line.is_some() {
        cfg.line_calibration = a.setup.line.clone();
    }
    cfg.secrets_from_env();
    if let Some(id) = &a.agent_link {
        return print_agent_link(&cfg, id);
    }
    if let (Some(call), Some(agent)) = (&a.embed_link, &a.embed_agent) {
        let (http, pages) = link_parts(&cfg, "--embed-link")?;
        println!(
            "{}",
            shoutcue_serve::embed_url(&cfg.page_base(http), &pages, call, agent, a.embed_ttl)
        );
        return Ok(());
    }
    cfg.validate()?;
    run_server(cfg, "serve", a.log_format)
}

/// Options of `shoutcue console`.
#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// The NATS server(s) the site's nodes publish to (nats://HOST:4222;
    /// several separated by commas).
    #[arg(long = "nats", value_name = "URL")]
    pub nats: String,
    /// The site to show (default "default").
    #[arg(long, value_name = "NAME")]
    pub site: Option<String>,
    /// Where the console page listens (0 as the port: any free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8099")]
    pub http: SocketAddr,
    /// End a node's calls (reason disconnect) after this many seconds
    /// without its heartbeat; default: three of the node's own intervals.
    #[arg(long, value_name = "SECONDS")]
    pub node_timeout: Option<f64>,
    /// On start, show the calls of the last this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub lookback: Option<f64>,
    /// The log on stderr: text (coloured only on a terminal), or json.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// `shoutcue console`: the supervisor console for every node of a site,
/// from NATS; serves no calls and publishes nothing.
pub fn console(a: ConsoleArgs) -> Result<(), AnyError> {
    let mut cfg = ServeConfig {
        http: Some(a.http),
        console_nats: Some(a.nats.clone()),
        node_timeout_s: a.node_timeout,
        ..ServeConfig::default()
    };
    if let Some(site) = a.site {
        cfg.site = site;
    }
    if let Some(l) = a.lookback {
        cfg.console_lookback_s = l;
    }
    cfg.secrets_from_env();
    cfg.validate()?;
    run_server(cfg, "console", a.log_format)
}

/// Starts `cfg`'s server, says where it is, and drains it on a signal.
fn run_server(cfg: ServeConfig, what: &'static str, log: LogFormat) -> Result<(), AnyError> {
    // Where it listens, as text on stderr, or as a log line among the
    // others when the log is JSON (a shipper reads every line as JSON).
    macro_rules! say {
        ($($arg:tt)*) => {
            match log {
                LogFormat::Text => eprintln!($($arg)*),
                LogFormat::Json => tracing::info!(target: "shoutcue", "{}", format!($($arg)*)),
            }
        };
    }
    let setup = SetupArgs {
        model: cfg.model.clone(),
        coach_config: cfg.coach_config.clone(),
        script: cfg.script.clone(),
        line: cfg.line_calibration.clone(),
    }
    .load()?;
    crate::logging::init(log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = Server::start(cfg.clone(), setup.model, setup.coach, setup.script).await?;
        let b = &server.bound;
        let ws = cfg.ws_scheme();
        if let (Some(addr), Some(c)) = (b.audiohook, &cfg.audiohook) {
            say!("shoutcue serve: audiohook {ws}://{addr}{}", c.path);
        }
        if let Some(addr) = b.audiosocket {
            say!("shoutcue serve: audiosocket tcp://{addr}");
        }
        if let Some(addr) = b.freeswitch {
            say!("shoutcue serve: freeswitch {ws}://{addr}/");
        }
        if let Some(addr) = b.twilio {
            say!("shoutcue serve: twilio {ws}://{addr}/");
        }
        if let (Some(addr), Some(console)) = (b.http, server.console_url()) {
            say!("shoutcue {what}: http {}/healthz", cfg.page_base(addr));
            say!("shoutcue {what}: console {console}");
            if cfg.pages_secret.is_none() {
                say!(
                    "shoutcue {what}: no SHOUTCUE_PAGES_SECRET: page tokens are new each run; agents' links come from `shoutcue serve --agent-link ID` only with a fixed secret"
                );
            }
        }
        if let Some(url) = &cfg.nats_url {
            say!(
                "shoutcue serve: nats {}: subjects shoutcue.{}.>, stream {}, node {}",
                shoutcue_serve::nats::redacted(url),
                cfg.site,
                shoutcue_serve::nats::stream_name(&cfg.site),
                cfg.node_id()
            );
        }
        if let Some(url) = &cfg.console_nats {
            say!(
                "shoutcue {what}: the console shows site {} from nats {} (stream {})",
                cfg.site,
                shoutcue_serve::nats::redacted(url),
                shoutcue_serve::nats::stream_name(&cfg.site),
            );
        }
        if what == "serve" && cfg.events_dir.is_none() {
            say!("shoutcue serve: no --events-dir: events and notes are not written anywhere");
        }
        wait_for_signal(|| match server.reload_tls() {
            Ok(true) => tracing::info!("TLS certificate and key read again (SIGHUP)"),
            Ok(false) => tracing::info!("SIGHUP: no TLS configured, nothing to reload"),
            Err(e) => tracing::error!("SIGHUP: TLS not reloaded, the previous certificate stays: {e}"),
        })
        .await?;
        say!("shoutcue {what}: stopping");
        server.drain().await;
        Ok::<(), AnyError>(())
    })
}

/// What a link printed offline needs: the server's fixed secret and address.
fn link_parts(
    cfg: &ServeConfig,
    what: &str,
) -> Result<(std::net::SocketAddr, shoutcue_serve::Pages), AnyError> {
    let Some(secret) = cfg.pages_secret.as_deref() else {
        return Err(format!("{what} needs the pages' secret: set SHOUTCUE_PAGES_SECRET (or pages_secret in the config), the same as the server's").into());
    };
    let Some(http) = cfg.http else {
        return Err(format!("{what} needs the server's --http address").into());
    };
    Ok((http, shoutcue_serve::Pages::new(Some(secret))?))
}

/// `--agent-link ID`: the link needs the fixed secret and the address.
fn print_agent_link(cfg: &ServeConfig, id: &str) -> Result<(), AnyError> {
    let (http, pages) = link_parts(cfg, "--agent-link")?;
    println!(
        "{}",
        shoutcue_serve::agent_url(&cfg.page_base(http), &pages, id)
    );
    Ok(())
}

/// Waits for SIGTERM or Ctrl-C; each SIGHUP in between calls `on_hup`.
async fn wait_for_signal(on_hup: impl Fn()) -> Result<(), AnyError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => on_hup(),
        }
    }
}

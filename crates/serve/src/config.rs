//! What `shoutcue serve` is told: a TOML file, then `SHOUTCUE_SERVE__KEY`
//! environment variables, then flags, each winning over the one before. A
//! listener that is not named is off; everything binds to loopback unless
//! told. [`EXAMPLE_TOML`] holds every key with its default
//! (`shoutcue serve --print-config`); docs/CONFIG.md explains each.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Genesys AudioHook Monitor listener (WebSocket).
    #[serde(default)]
    pub audiohook: Option<AudioHookConfig>,
    /// Asterisk AudioSocket listener (TCP).
    #[serde(default)]
    pub audiosocket: Option<AudioSocketConfig>,
    /// FreeSWITCH `mod_audio_fork` / `mod_audio_stream` listener (WebSocket).
    #[serde(default)]
    pub freeswitch: Option<FreeSwitchConfig>,
    /// Twilio Media Streams listener (WebSocket).
    #[serde(default)]
    pub twilio: Option<TwilioConfig>,
    /// Pages and `/healthz`.
    #[serde(default)]
    pub http: Option<SocketAddr>,
    /// A PEM certificate chain: with `tls_key`, the pages and every
    /// WebSocket listener (AudioHook, FreeSWITCH, Twilio) speak TLS
    /// (`https://`, `wss://`); read again on SIGHUP. AudioSocket stays
    /// plain TCP (Asterisk speaks no TLS on it). Default: none.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// One `CALL_ID.jsonl` per call here, and `CALL_ID.note.json`/`.md` when it ends.
    #[serde(default)]
    pub events_dir: Option<PathBuf>,
    /// Most calls at once; past it new calls are refused with the protocol's own error.
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// On SIGTERM, how long running calls may go on before they are ended, s.
    #[serde(default = "default_grace")]
    pub drain_grace_s: f64,
    /// Shout model file; default: the built-in one.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Coach timing file; default: the documented defaults.
    #[serde(default)]
    pub coach_config: Option<PathBuf>,
    /// Script file; default: English.
    #[serde(default)]
    pub script: Option<PathBuf>,
    /// A line calibration from `shoutcue calibrate` over this server's
    /// recorded calls: callers who open raised are judged against the
    /// line's callers. Default: none (the model's training recordings).
    #[serde(default)]
    pub line_calibration: Option<PathBuf>,
    /// Learn each listener's line from its own calls and judge its new
    /// calls' cold starts against it once 20 calls from many voices have
    /// ended (`shoutcue_serve::line`); off by default. Not with
    /// `line_calibration`.
    #[serde(default)]
    pub line_learning: bool,
    /// The secret the pages' tokens derive from (at least 16 characters);
    /// better from `SHOUTCUE_PAGES_SECRET`. When absent, a random one per
    /// run: the console's address (printed at start) then changes with
    /// each restart and agent links cannot be handed out in advance.
    #[serde(default)]
    pub pages_secret: Option<String>,
    /// When set (at least 16 characters; better from `SHOUTCUE_OPS_TOKEN`),
    /// `/healthz` and `/metrics` answer only requests with `Authorization:
    /// Bearer <token>`: on a bind other than loopback they are otherwise
    /// open to anyone who can reach the port (a warning says so at start).
    #[serde(default)]
    pub ops_token: Option<String>,
    /// NATS server(s) to publish every call's public events to, on
    /// JetStream (`nats://host:4222`, several separated by commas); off
    /// when absent. See [`crate::nats`] for the subjects.
    #[serde(default)]
    pub nats_url: Option<String>,
    /// This site's name: the second token of every subject and the stream's
    /// name (`SHOUTCUE_<SITE>`). Letters, digits, `-` and `_`.
    #[serde(default = "default_site")]
    pub site: String,
    /// This node's name in heartbeats and message ids; default: the host
    /// name. Two nodes of one site must not share it.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Events waiting for NATS at most; past it the oldest that is not a
    /// `supervisor_alert` is dropped (and counted).
    #[serde(default = "default_nats_queue")]
    pub nats_queue: usize,
    /// Also publish agents' private nudges, to
    /// `shoutcue.<site>.agent.<agent_id>.private` only (live, not stored).
    #[serde(default)]
    pub nats_private: bool,
    /// The stream keeps events this long, s (0: no limit).
    #[serde(default = "default_nats_max_age")]
    pub nats_max_age_s: f64,
    /// The stream keeps at most this many bytes (0: no limit); the oldest go first.
    #[serde(default = "default_nats_max_bytes")]
    pub nats_max_bytes: u64,
    /// Seconds between this node's heartbeats.
    #[serde(default = "default_nats_heartbeat")]
    pub nats_heartbeat_s: f64,
    /// The console shows the whole site's calls, every node's, read from
    /// this NATS server's stream (usually the same as `nats_url`) instead
    /// of this process's own calls. See [`crate::fleet`].
    #[serde(default)]
    pub console_nats: Option<String>,
    /// How far back a fleet console reads the stream when it starts, s:
    /// calls running then, started within this, show up whole.
    #[serde(default = "default_console_lookback")]
    pub console_lookback_s: f64,
    /// A fleet console ends a node's calls (reason `disconnect`) after this
    /// many seconds without its heartbeat; default: three of the node's
    /// own intervals.
    #[serde(default)]
    pub node_timeout_s: Option<f64>,
    /// Browser origins (`https://host`) that may open media streams; by
    /// default none: an upgrade carrying any `Origin` is refused (403).
    #[serde(default)]
    pub media_origins: Vec<String>,
    /// Origins of the agent desktops that may frame the cue view
    /// (`/embed`): `https://host[:port]`, a host may start with `*.`. By
    /// default none: the view opens on its own, and no site can frame it.
    #[serde(default)]
    pub embed_ancestors: Vec<String>,
    /// Genesys Cloud's API for this org's region
    /// (`https://api.mypurecloud.com`, `https://api.mypurecloud.ie`, ...):
    /// when set, a Genesys user's OAuth token opens the cue view of a
    /// conversation they are on (`POST /embed/link`). Off by default.
    #[serde(default)]
    pub genesys_api: Option<String>,
    /// The Twilio account SID (`AC...`) whose Flex tokens open cue views
    /// (`POST /embed/link`); off by default. Needs `flex_auth_token`.
    #[serde(default)]
    pub flex_account_sid: Option<String>,
    /// That account's auth token; better from `SHOUTCUE_FLEX_AUTH_TOKEN`.
    #[serde(default)]
    pub flex_auth_token: Option<String>,
    /// Twilio IAM, which validates Flex tokens.
    #[serde(default = "default_flex_api")]
    pub flex_api: String,
}

fn default_flex_api() -> String {
    "https://iam.twilio.com".into()
}

/// An API base a secret may be sent to: `https://`, or plain `http://` to
/// a loopback host only (a local proxy, a test's mock).
fn is_api_base(u: &str) -> bool {
    if let Some(rest) = u.strip_prefix("https://") {
        return !rest.is_empty() && !rest.contains(char::is_whitespace);
    }
    let Some(rest) = u.strip_prefix("http://") else {
        return false;
    };
    shoutcue_web::is_loopback_host(rest.split('/').next().unwrap_or(""))
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            audiohook: None,
            audiosocket: None,
            freeswitch: None,
            twilio: None,
            http: None,
            tls_cert: None,
            tls_key: None,
            events_dir: None,
            max_calls: default_max_calls(),
            drain_grace_s: default_grace(),
            model: None,
            coach_config: None,
            script: None,
            line_calibration: None,
            line_learning: false,
            pages_secret: None,
            ops_token: None,
            nats_url: None,
            site: default_site(),
            node_id: None,
            nats_queue: default_nats_queue(),
            nats_private: false,
            nats_max_age_s: default_nats_max_age(),
            nats_max_bytes: default_nats_max_bytes(),
            nats_heartbeat_s: default_nats_heartbeat(),
            console_nats: None,
            console_lookback_s: default_console_lookback(),
            node_timeout_s: None,
            media_origins: Vec::new(),
            embed_ancestors: Vec::new(),
            genesys_api: None,
            flex_account_sid: None,
            flex_auth_token: None,
            flex_api: default_flex_api(),
        }
    }
}

fn default_site() -> String {
    "default".into()
}

fn default_nats_queue() -> usize {
    10_000
}

fn default_nats_max_age() -> f64 {
    7.0 * 86_400.0
}

fn default_nats_max_bytes() -> u64 {
    1 << 30
}

fn default_nats_heartbeat() -> f64 {
    5.0
}

fn default_console_lookback() -> f64 {
    3600.0
}

fn default_max_calls() -> usize {
    1000
}

fn default_grace() -> f64 {
    30.0
}

/// The AudioHook listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioHookConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Most calls at once on this listener (within the global `max_calls`),
    /// so one platform's flood cannot take every slot; default: no limit
    /// of its own.
    #[serde(default)]
    pub max_calls: Option<usize>,
    /// URL path of the WebSocket (the reference implementation's by default).
    #[serde(default = "default_audiohook_path")]
    pub path: String,
    /// The API key Genesys sends (`X-API-KEY`); better from `SHOUTCUE_AUDIOHOOK_API_KEY`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The base64 client secret that keys the message signature; better from
    /// `SHOUTCUE_AUDIOHOOK_CLIENT_SECRET`.
    #[serde(default)]
    pub client_secret: Option<String>,
}

fn default_audiohook_path() -> String {
    "/api/v1/audiohook/ws".into()
}

/// The AudioSocket listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSocketConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Most calls at once on this listener (within the global `max_calls`),
    /// so one platform's flood cannot take every slot; default: no limit
    /// of its own.
    #[serde(default)]
    pub max_calls: Option<usize>,
    /// How two connections (customer and agent legs) make one call; see [`Pairing`].
    #[serde(default)]
    pub pairing: Pairing,
}

/// How AudioSocket connections pair into calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    /// The two legs' UUIDs differ only in their last byte: `00` is the
    /// customer's leg, `01` the agent's; any other last byte is a call of its
    /// own (mono, the customer).
    #[default]
    RoleByte,
    /// Every connection is a call of its own, the customer's voice.
    None,
}

/// The FreeSWITCH audio-fork listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeSwitchConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Most calls at once on this listener (within the global `max_calls`),
    /// so one platform's flood cannot take every slot; default: no limit
    /// of its own.
    #[serde(default)]
    pub max_calls: Option<usize>,
    /// Sample rate of the binary L16 frames (8000 or 16000), unless the
    /// metadata frame says `sampleRate`.
    #[serde(default = "default_fs_rate")]
    pub rate: u32,
    /// 2 (stereo, as `uuid_audio_fork ... stereo` sends) or 1 (the
    /// customer alone), unless the metadata says `channels`.
    #[serde(default = "default_fs_channels")]
    pub channels: u16,
    /// Which stereo channel is the customer (0 = left), unless the metadata
    /// says `customerChannel`. A fork started on the customer's leg sends
    /// that leg's own voice left and what it hears (the agent) right: 0.
    #[serde(default)]
    pub customer_channel: u16,
}

impl FreeSwitchConfig {
    /// A listener on `listen` with the documented defaults (8 kHz stereo,
    /// the customer left), as the config file gives when it names only
    /// `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            max_calls: None,
            rate: default_fs_rate(),
            channels: default_fs_channels(),
            customer_channel: 0,
        }
    }
}

fn default_fs_rate() -> u32 {
    8000
}

fn default_fs_channels() -> u16 {
    2
}

/// The Twilio Media Streams listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Most calls at once on this listener (within the global `max_calls`),
    /// so one platform's flood cannot take every slot; default: no limit
    /// of its own.
    #[serde(default)]
    pub max_calls: Option<usize>,
    /// The account's auth token: with it, every upgrade must carry a valid
    /// `X-Twilio-Signature` (HMAC-SHA1 of the stream URL). From
    /// `SHOUTCUE_TWILIO_AUTH_TOKEN` when the file has none; never a flag.
    #[serde(default)]
    pub auth_token: Option<String>,
    /// The stream URL's scheme and host as Twilio calls it, e.g.
    /// `wss://voice.example.com` (the `<Stream url>` in TwiML, without the
    /// path): behind a TLS proxy the server cannot see it, and the
    /// signature covers it. Needed with `auth_token`.
    #[serde(default)]
    pub public_url: Option<String>,
}

/// Every key with its default and a line on what it does: what
/// `shoutcue serve --print-config` prints. A test checks that it parses,
/// that it names every key the server reads, and that docs/CONFIG.md does.
pub const EXAMPLE_TOML: &str = include_str!("serve.example.toml");

/// The prefix of the environment variables that set keys:
/// `SHOUTCUE_SERVE__MAX_CALLS=500`, `SHOUTCUE_SERVE__AUDIOSOCKET__LISTEN=...`.
pub const ENV_PREFIX: &str = "SHOUTCUE_SERVE__";

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What the TOML parser said.
        source: Box<toml::de::Error>,
    },
    /// Something is missing or out of range.
    #[error("serve configuration: {0}")]
    Invalid(String),
}

impl ServeConfig {
    /// The listener's own call limit (`[section] max_calls`), if it has one.
    pub fn protocol_max_calls(&self, protocol: crate::call::Protocol) -> Option<usize> {
        use crate::call::Protocol;
        match protocol {
            Protocol::AudioHook => self.audiohook.as_ref().and_then(|c| c.max_calls),
            Protocol::AudioSocket => self.audiosocket.as_ref().and_then(|c| c.max_calls),
            Protocol::FreeSwitch => self.freeswitch.as_ref().and_then(|c| c.max_calls),
            Protocol::Twilio => self.twilio.as_ref().and_then(|c| c.max_calls),
        }
    }

    /// The pages' base address on `addr`: `https://` with TLS.
    pub fn page_base(&self, addr: SocketAddr) -> String {
        let scheme = if self.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{addr}")
    }

    /// `ws` or `wss` (with TLS), for the WebSocket listeners' addresses.
    pub fn ws_scheme(&self) -> &'static str {
        if self.tls_cert.is_some() {
            "wss"
        } else {
            "ws"
        }
    }

    /// The file (if any) with the environment's `SHOUTCUE_SERVE__*` keys
    /// over it. A variable's value is read as a TOML value when it is one
    /// (`500`, `true`, `30.5`, `"text"`) and as text otherwise
    /// (`127.0.0.1:9092`); `__` separates a section from its key. A
    /// variable that names no key is an error, as an unknown key in the
    /// file is.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (source, text) = match path {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?,
            ),
            None => ("the defaults".to_string(), String::new()),
        };
        let parse_err = |source: String, e| ConfigError::Parse {
            path: source,
            source: Box::new(e),
        };
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| parse_err(source.clone(), e))?;
        let mut set = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            match parts.as_slice() {
                [key] if !key.is_empty() => {
                    table.insert(key.clone(), value);
                }
                [section, key] if !section.is_empty() && !key.is_empty() => {
                    let entry = table
                        .entry(section.clone())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    match entry {
                        toml::Value::Table(t) => {
                            t.insert(key.clone(), value);
                        }
                        _ => {
                            return Err(ConfigError::Invalid(format!(
                                "{name}: {section} is a key, not a [section]"
                            )))
                        }
                    }
                }
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: expected {ENV_PREFIX}KEY or {ENV_PREFIX}SECTION__KEY"
                    )))
                }
            }
            set.push(name);
        }
        let source = if set.is_empty() {
            source
        } else {
            format!("{source} with {}", set.join(", "))
        };
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| parse_err(source, e))
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            source: Box::new(e),
        })
    }

    /// This node's name: `node_id`, or the host name, or `node`.
    pub fn node_id(&self) -> String {
        if let Some(n) = &self.node_id {
            return n.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".into())
    }

    /// Takes the AudioHook secrets from the environment when the file has none.
    pub fn secrets_from_env(&mut self) {
        if self.pages_secret.is_none() {
            self.pages_secret = std::env::var("SHOUTCUE_PAGES_SECRET").ok();
        }
        if self.flex_auth_token.is_none() {
            self.flex_auth_token = std::env::var("SHOUTCUE_FLEX_AUTH_TOKEN").ok();
        }
        if self.ops_token.is_none() {
            self.ops_token = std::env::var("SHOUTCUE_OPS_TOKEN").ok();
        }
        if let Some(ah) = &mut self.audiohook {
            if ah.api_key.is_none() {
                ah.api_key = std::env::var("SHOUTCUE_AUDIOHOOK_API_KEY").ok();
            }
            if ah.client_secret.is_none() {
                ah.client_secret = std::env::var("SHOUTCUE_AUDIOHOOK_CLIENT_SECRET").ok();
            }
        }
        if let Some(tw) = &mut self.twilio {
            if tw.auth_token.is_none() {
                tw.auth_token = std::env::var("SHOUTCUE_TWILIO_AUTH_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty());
            }
        }
    }

    /// Checks what can be checked before binding anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.audiohook.is_none()
            && self.audiosocket.is_none()
            && self.freeswitch.is_none()
            && self.twilio.is_none()
            && self.console_nats.is_none()
        {
            return bad(
                "no listener named: give at least one of --audiohook, --audiosocket, --freeswitch, --twilio"
                    .into(),
            );
        }
        if self.max_calls == 0 {
            return bad("max_calls must be at least 1".into());
        }
        for (section, m) in [
            (
                "audiohook",
                self.audiohook.as_ref().and_then(|c| c.max_calls),
            ),
            (
                "audiosocket",
                self.audiosocket.as_ref().and_then(|c| c.max_calls),
            ),
            (
                "freeswitch",
                self.freeswitch.as_ref().and_then(|c| c.max_calls),
            ),
            ("twilio", self.twilio.as_ref().and_then(|c| c.max_calls)),
        ] {
            if m == Some(0) {
                return bad(format!(
                    "{section}.max_calls must be at least 1 (or absent: no limit of its own)"
                ));
            }
        }
        if !(self.drain_grace_s.is_finite() && self.drain_grace_s >= 0.0) {
            return bad(format!(
                "drain_grace_s must be a non-negative number of seconds, got {}",
                self.drain_grace_s
            ));
        }
        if let Some(tw) = &self.twilio {
            match (tw.auth_token.as_deref(), tw.public_url.as_deref()) {
                (Some(""), _) => {
                    return bad("twilio.auth_token is empty".into());
                }
                (Some(_), None) => {
                    return bad("the Twilio auth token needs twilio.public_url (or --twilio-url), the wss://host Twilio connects to: the signature covers it".into());
                }
                (None, Some(_)) => {
                    return bad("twilio.public_url is set but no auth token (SHOUTCUE_TWILIO_AUTH_TOKEN or twilio.auth_token): nothing would be checked".into());
                }
                (Some(_), Some(u)) => {
                    if let Err(e) = crate::twilio::check_public_url(u) {
                        return bad(format!("twilio.public_url: {e}"));
                    }
                }
                (None, None) => {}
            }
        }
        if let Some(ah) = &self.audiohook {
            if ah.api_key.as_deref().unwrap_or("").is_empty() {
                return bad("the AudioHook listener needs an API key (SHOUTCUE_AUDIOHOOK_API_KEY or audiohook.api_key)".into());
            }
            match ah.client_secret.as_deref() {
                None | Some("") => {
                    return bad("the AudioHook listener needs the base64 client secret (SHOUTCUE_AUDIOHOOK_CLIENT_SECRET or audiohook.client_secret)".into())
                }
                Some(s) => {
                    if crate::audiohook::decode_secret(s).is_none() {
                        return bad("the AudioHook client secret is not valid base64".into());
                    }
                }
            }
            if !ah.path.starts_with('/') {
                return bad(format!(
                    "audiohook.path must start with '/', got {:?}",
                    ah.path
                ));
            }
        }
        if let Some(s) = &self.pages_secret {
            if let Err(e) = shoutcue_web::Token::given(s) {
                return bad(format!("pages_secret (SHOUTCUE_PAGES_SECRET): {e}"));
            }
        }
        if self.line_learning && self.line_calibration.is_some() {
            return bad(
                "line_learning and line_calibration: give one (a file, or learning from the calls)"
                    .into(),
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert and tls_key go together: give both, or neither".into());
        }
        if let Err(e) = shoutcue_web::Ancestors::new(&self.embed_ancestors) {
            return bad(format!("embed_ancestors: {e}"));
        }
        for (key, u) in [
            ("genesys_api", self.genesys_api.as_deref()),
            ("flex_api", Some(self.flex_api.as_str())),
        ] {
            if let Some(u) = u.filter(|u| !is_api_base(u)) {
                return bad(format!(
                    "{key}: expected an https:// URL (http:// only to a loopback host), got {u:?}"
                ));
            }
        }
        match (&self.flex_account_sid, &self.flex_auth_token) {
            (Some(sid), _)
                if !(sid.len() == 34
                    && sid.starts_with("AC")
                    && sid.chars().all(|c| c.is_ascii_alphanumeric())) =>
            {
                return bad(format!(
                    "flex_account_sid: expected AC and 32 hex digits, got {sid:?}"
                ));
            }
            (Some(_), None) => {
                return bad("flex_account_sid needs the account's auth token (SHOUTCUE_FLEX_AUTH_TOKEN or flex_auth_token)".into());
            }
            (None, Some(_)) => {
                return bad("flex_auth_token is set but no flex_account_sid".into());
            }
            _ => {}
        }
        if let Some(s) = &self.ops_token {
            if let Err(e) = shoutcue_web::Token::given(s) {
                return bad(format!("ops_token (SHOUTCUE_OPS_TOKEN): {e}"));
            }
        }
        if !crate::nats::is_token(&self.site) || self.site.len() > 64 {
            return bad(format!(
                "site must be 1 to 64 letters, digits, '-' or '_', got {:?}",
                self.site
            ));
        }
        if let Some(n) = &self.node_id {
            if n.is_empty() || n.len() > 128 {
                return bad(format!("node_id must be 1 to 128 bytes, got {n:?}"));
            }
        }
        if let Some(url) = &self.nats_url {
            if let Err(e) = crate::nats::server_addrs(url) {
                return bad(format!("nats_url: {e}"));
            }
        }
        if self.nats_queue == 0 {
            return bad("nats_queue must be at least 1".into());
        }
        if !(self.nats_max_age_s.is_finite() && self.nats_max_age_s >= 0.0) {
            return bad(format!(
                "nats_max_age_s must be a non-negative number of seconds, got {}",
                self.nats_max_age_s
            ));
        }
        if !(self.nats_heartbeat_s.is_finite() && self.nats_heartbeat_s >= 0.1) {
            return bad(format!(
                "nats_heartbeat_s must be at least 0.1 s, got {}",
                self.nats_heartbeat_s
            ));
        }
        if let Some(url) = &self.console_nats {
            if let Err(e) = crate::nats::server_addrs(url) {
                return bad(format!("console_nats: {e}"));
            }
            if self.http.is_none() {
                return bad(
                    "console_nats needs the pages' --http address: the console is a page".into(),
                );
            }
        }
        if !(self.console_lookback_s.is_finite()
            && (0.0..=30.0 * 86_400.0).contains(&self.console_lookback_s))
        {
            return bad(format!(
                "console_lookback_s must be 0 to 30 days in seconds, got {}",
                self.console_lookback_s
            ));
        }
        if let Some(t) = self.node_timeout_s {
            if !(t.is_finite() && t >= 0.2) {
                return bad(format!("node_timeout_s must be at least 0.2 s, got {t}"));
            }
        }
        if i64::try_from(self.nats_max_bytes).is_err() {
            return bad(format!(
                "nats_max_bytes is too large: {}",
                self.nats_max_bytes
            ));
        }
        if let Some(fs) = &self.freeswitch {
            if !matches!(fs.rate, 8000 | 16000) {
                return bad(format!(
                    "freeswitch.rate must be 8000 or 16000, got {}",
                    fs.rate
                ));
            }
            if !matches!(fs.channels, 1 | 2) || fs.customer_channel > 1 {
                return bad(format!(
                    "freeswitch.channels must be 1 or 2 and customer_channel 0 or 1, got {} and {}",
                    fs.channels, fs.customer_channel
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_twilio(t: &str) -> Result<(), ConfigError> {
        let cfg: ServeConfig = toml::from_str(&format!("[twilio]\nlisten = \"127.0.0.1:0\"\n{t}"))
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        cfg.validate()
    }

    #[test]
    fn a_twilio_token_needs_the_public_url_and_the_url_needs_a_token() {
        assert!(with_twilio("").is_ok());
        assert!(
            with_twilio("auth_token = \"t\"\npublic_url = \"wss://voice.example.com\"\n").is_ok()
        );
        for (t, says) in [
            ("auth_token = \"t\"\n", "public_url"),
            (
                "public_url = \"wss://voice.example.com\"\n",
                "no auth token",
            ),
            ("auth_token = \"\"\npublic_url = \"wss://h\"\n", "empty"),
            (
                "auth_token = \"t\"\npublic_url = \"wss://h/media\"\n",
                "only a scheme and host",
            ),
        ] {
            let e = with_twilio(t).expect_err(t).to_string();
            assert!(e.contains(says), "{t}: {e}");
        }
    }
}

//! The configuration an operator meets: the annotated example that
//! `serve --print-config` prints names every key the server reads and
//! parses to the defaults; docs/CONFIG.md explains every key; environment
//! variables override the file, and a misspelt one is an error.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_serve::config::{Pairing, EXAMPLE_TOML};
use shoutcue_serve::ServeConfig;

/// The keys a struct reads, from serde's own refusal of an unknown one
/// ("unknown field `zz`, expected one of `a`, `b`"): the list comes from
/// the derive, so a key added to the code and not to the example or the
/// doc fails these tests.
fn keys_of(section: Option<&str>) -> Vec<String> {
    let text = match section {
        None => "zz_not_a_key = 1".to_string(),
        Some(s) => format!("[{s}]\nlisten = \"127.0.0.1:1\"\nzz_not_a_key = 1"),
    };
    let err = toml::from_str::<ServeConfig>(&text)
        .unwrap_err()
        .to_string();
    // "expected one of `a`, `b`", or "expected `a` or `b`" for two.
    let list = &err[err.find("expected").expect(&err)..];
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

const SECTIONS: [&str; 4] = ["audiohook", "audiosocket", "freeswitch", "twilio"];

/// Keys the example names, set or commented out (`# key = ...`), by section.
fn example_keys(section: Option<&str>) -> Vec<String> {
    let mut current: Option<String> = None;
    let mut keys = Vec::new();
    for line in EXAMPLE_TOML.lines() {
        let l = line.trim_start_matches('#').trim();
        if let Some(s) = l.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if !line.starts_with('#') {
                current = Some(s.to_string());
            }
            continue;
        }
        let Some((k, _)) = l.split_once(" = ") else {
            continue;
        };
        let is_key = !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if is_key && current.as_deref() == section {
            keys.push(k.to_string());
        }
    }
    keys
}

#[test]
fn the_example_names_every_key_and_parses_to_the_defaults() {
    for section in [None].into_iter().chain(SECTIONS.map(Some)) {
        let code = keys_of(section);
        assert!(!code.is_empty());
        let example = example_keys(section);
        for k in &code {
            // A section is named as one, not as a key.
            if SECTIONS.contains(&k.as_str()) {
                assert!(EXAMPLE_TOML.contains(&format!("\n[{k}]\n")), "[{k}]");
                continue;
            }
            assert!(example.contains(k), "{section:?}: the example lacks `{k}`");
        }
        for k in &example {
            assert!(
                code.contains(k),
                "{section:?}: the example names `{k}`, which the server does not read"
            );
        }
    }
    let mut c: ServeConfig = toml::from_str(EXAMPLE_TOML).unwrap();
    // It runs once AudioHook's two required secrets come (from the
    // environment, as the example says).
    let ah = c.audiohook.as_mut().unwrap();
    ah.api_key = Some("key".into());
    ah.client_secret = Some("YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=".into());
    c.validate().unwrap();
    // Every address of the example is on loopback.
    assert!(c.http.unwrap().ip().is_loopback());
    let d = ServeConfig::default();
    assert_eq!(c.max_calls, d.max_calls);
    assert_eq!(c.drain_grace_s, d.drain_grace_s);
    assert_eq!(c.site, d.site);
    assert_eq!(c.nats_queue, d.nats_queue);
    assert_eq!(c.nats_private, d.nats_private);
    assert_eq!(c.nats_max_age_s, d.nats_max_age_s);
    assert_eq!(c.nats_max_bytes, d.nats_max_bytes);
    assert_eq!(c.nats_heartbeat_s, d.nats_heartbeat_s);
    assert_eq!(c.console_lookback_s, d.console_lookback_s);
    assert!(c.audiohook.as_ref().unwrap().listen.ip().is_loopback());
    assert_eq!(c.audiohook.unwrap().path, "/api/v1/audiohook/ws");
    assert_eq!(c.audiosocket.unwrap().pairing, Pairing::RoleByte);
    let fs = c.freeswitch.unwrap();
    let fs_default = shoutcue_serve::config::FreeSwitchConfig::new(fs.listen);
    assert_eq!(
        (fs.rate, fs.channels, fs.customer_channel),
        (
            fs_default.rate,
            fs_default.channels,
            fs_default.customer_channel
        )
    );
}

#[test]
fn the_doc_explains_every_key() {
    let doc =
        std::fs::read_to_string(shoutcue_testkit::repo_root().join("docs/CONFIG.md")).unwrap();
    for section in [None].into_iter().chain(SECTIONS.map(Some)) {
        if let Some(s) = section {
            assert!(
                doc.contains(&format!("## `[{s}]`")),
                "docs/CONFIG.md lacks a [{s}] section"
            );
        }
        for k in keys_of(section) {
            if SECTIONS.contains(&k.as_str()) {
                continue;
            }
            assert!(
                doc.contains(&format!("| `{k}` |")),
                "docs/CONFIG.md does not explain `{k}` ({section:?})"
            );
        }
    }
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn environment_variables_override_the_file_and_a_misspelt_one_is_refused() {
    let dir = shoutcue_testkit::TempDir::new("serve-config-env");
    let file = dir.path().join("serve.toml");
    std::fs::write(
        &file,
        "max_calls = 10\nsite = \"north\"\n[audiosocket]\nlisten = \"127.0.0.1:9092\"\n",
    )
    .unwrap();
    let c = ServeConfig::load(
        Some(&file),
        env(&[
            ("SHOUTCUE_SERVE__MAX_CALLS", "7"),
            ("SHOUTCUE_SERVE__NATS_PRIVATE", "true"),
            ("SHOUTCUE_SERVE__DRAIN_GRACE_S", "12"),
            ("SHOUTCUE_SERVE__AUDIOSOCKET__PAIRING", "none"),
            ("SHOUTCUE_SERVE__FREESWITCH__LISTEN", "127.0.0.1:9093"),
            ("PATH", "/usr/bin"),
        ]),
    )
    .unwrap();
    assert_eq!(c.max_calls, 7, "the variable wins over the file");
    assert_eq!(
        c.site, "north",
        "the file's key stays where no variable is set"
    );
    assert!(c.nats_private);
    assert_eq!(c.drain_grace_s, 12.0);
    let a = c.audiosocket.unwrap();
    assert_eq!((a.listen.port(), a.pairing), (9092, Pairing::None));
    assert_eq!(
        c.freeswitch.unwrap().listen.port(),
        9093,
        "a variable can turn a listener on"
    );

    let e = ServeConfig::load(None, env(&[("SHOUTCUE_SERVE__MAX_CALL", "7")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SHOUTCUE_SERVE__MAX_CALL") && e.contains("max_calls"),
        "{e}"
    );
    let e = ServeConfig::load(None, env(&[("SHOUTCUE_SERVE__A__B__C", "1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("SHOUTCUE_SERVE__A__B__C"), "{e}");
    let e = ServeConfig::load(None, env(&[("SHOUTCUE_SERVE__SITE__X", "1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("SHOUTCUE_SERVE__SITE__X"), "{e}");
    // Nothing set: the defaults.
    let c = ServeConfig::load(None, env(&[])).unwrap();
    assert_eq!(c.max_calls, ServeConfig::default().max_calls);
}

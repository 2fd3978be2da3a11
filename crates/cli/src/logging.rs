//! The server's log: one line per event, whatever a client sends.
//!
//! Call ids, metadata and client error texts come from the network, and
//! FreeSWITCH and Twilio need no authentication, so a client could end a
//! log line early and forge the next one (a newline), hide text (NUL), or
//! turn a line around on screen (U+202E). Every field, the message
//! included, is written with such characters escaped as `\u{..}`, `\n` and
//! so on; the formatter's own colours are added outside the fields and
//! only when stderr is a terminal, so files and log shippers get plain text.
//!
//! `--log-format json` writes one JSON object per line instead, for log
//! shippers: `ts` (RFC 3339, UTC), `level`, `target`, `message` and the
//! event's `fields`. JSON's own escaping keeps a line whole; bidirectional
//! and invisible characters are written as `\uXXXX` escapes too, which
//! decode to the same text. Hand-rolled rather than tracing-subscriber's
//! `json` feature, which needs `tracing-serde`, a crate this build does not
//! have offline; it is one small formatter.

use std::fmt::Write as _;
use std::io::IsTerminal;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// `s` with control, bidirectional and invisible format characters
/// escaped, and backslashes doubled so the escape reads back unambiguously.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = |c: char| {
        c == '\\'
            || c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    if !s.chars().any(risky) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if risky(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.into()
}

/// The log subscriber writing to `writer`, colours as asked.
pub fn subscriber<W>(
    writer: W,
    ansi: bool,
    filter: EnvFilter,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let fields = debug_fn(
        |w: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            // `%x` and the message arrive here through their Debug form, which
            // prints them as Display does; `?x` keeps its Debug form.
            let text = format!("{value:?}");
            if field.name() == "message" {
                write!(w, "{}", escape(&text))
            } else {
                write!(w, "{}={}", field.name(), escape(&text))
            }
        },
    )
    .delimited(" ");
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(ansi)
        .fmt_fields(fields)
        .with_env_filter(filter)
        .finish()
}

/// The log's format on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event (coloured only on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The log subscriber writing JSON Lines to `writer`.
pub fn json_subscriber<W>(writer: W, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .event_format(JsonLines)
        .with_env_filter(filter)
        .finish()
}

/// Formats each event as one JSON object on one line.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut fields = FieldMap(serde_json::Map::new());
        event.record(&mut fields);
        let mut line = serde_json::Map::new();
        let ts = humantime::format_rfc3339_micros(std::time::SystemTime::now());
        line.insert("ts".into(), ts.to_string().into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(m) = fields.0.remove("message") {
            line.insert("message".into(), m);
        }
        if !fields.0.is_empty() {
            line.insert("fields".into(), serde_json::Value::Object(fields.0));
        }
        let text = serde_json::to_string(&line).map_err(|_| std::fmt::Error)?;
        // serde_json escapes controls; invisible and bidirectional
        // characters are valid JSON but would still turn a line around on
        // a screen: written as escapes, they decode to the same text.
        for c in text.chars() {
            if is_invisible(c) {
                write!(w, "\\u{:04x}", c as u32)?;
            } else {
                w.write_char(c)?;
            }
        }
        writeln!(w)
    }
}

/// Bidirectional and invisible format characters (controls are JSON's).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// An event's fields as JSON values: numbers and booleans as themselves,
/// everything else as its text.
struct FieldMap(serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for FieldMap {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// Logs to stderr at `SHOUTCUE_LOG` (default `info`): text, coloured only
/// on a terminal, or JSON Lines.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SHOUTCUE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = match format {
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal();
            tracing::subscriber::set_global_default(subscriber(std::io::stderr, ansi, filter))
        }
        LogFormat::Json => {
            tracing::subscriber::set_global_default(json_subscriber(std::io::stderr, filter))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buf {
        type Writer = Buf;
        fn make_writer(&'w self) -> Buf {
            self.clone()
        }
    }

    #[test]
    fn a_call_id_cannot_forge_a_log_line_or_hide_text() {
        let buf = Buf::default();
        let sub = subscriber(buf.clone(), false, EnvFilter::new("info"));
        let evil = "c1\n2026-12-07T00:00:00Z  INFO call ended\u{0}\u{202E}gnp.exe\u{1b}[31m";
        tracing::subscriber::with_default(sub, || {
            tracing::info!(call = %evil, "call started");
            tracing::warn!("FreeSWITCH: bad metadata {evil}");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        for bad in ['\u{0}', '\u{202E}', '\u{1b}'] {
            assert!(!out.contains(bad), "{bad:?} reached the log: {out:?}");
        }
        let escaped = "c1\\n2026-12-07T00:00:00Z  INFO call ended\\u{0}\\u{202e}gnp.exe\\u{1b}[31m";
        assert!(out.contains(&format!("call={escaped}")), "{out}");
        assert!(out.contains(&format!("bad metadata {escaped}")), "{out}");
    }

    #[test]
    fn json_lines_keep_each_event_whole_and_its_text_exact() {
        let buf = Buf::default();
        let sub = json_subscriber(buf.clone(), EnvFilter::new("info"));
        let evil = "c1\n{\"level\":\"ERROR\"}\u{0}\u{202E}gnp.exe";
        tracing::subscriber::with_default(sub, || {
            tracing::info!(call = %evil, frames = 42u64, late_s = 0.25, private = false, "call started");
            tracing::warn!("bad metadata {evil}");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            !out.contains('\u{202E}') && !out.contains('\u{0}'),
            "{out:?}"
        );
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "call started");
        assert_eq!(first["fields"]["call"], evil, "the text decodes exactly");
        assert_eq!(first["fields"]["frames"], 42);
        assert_eq!(first["fields"]["late_s"], 0.25);
        assert_eq!(first["fields"]["private"], false);
        assert!(first["ts"].as_str().unwrap().ends_with('Z'));
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["level"], "WARN");
        assert_eq!(second["message"], format!("bad metadata {evil}"));
    }

    #[test]
    fn plain_text_is_untouched_and_escapes_read_back() {
        assert!(matches!(escape("CA123-ab"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(escape("a\\n"), "a\\\\n");
        assert_eq!(escape("a\nb"), "a\\nb");
    }
}

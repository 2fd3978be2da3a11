//! The server's log: one line per event, whatever a client sends.
//!
//! Call ids, metadata and client error texts come from the network, and
//! FreeSWITCH and Twilio need no authentication, so a client could end a
//! log line early and forge the next one (a newline), hide text (NUL), or
//! turn a line around on screen (U+202E). Every field, the message
//! included, is written with such characters escaped as `\u{..}`, `\n` and
//! so on; the formatter's own colours are added outside the fields and
//! only when stderr is a terminal, so files and log shippers get plain text.

use std::fmt::Write as _;
use std::io::IsTerminal;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::MakeWriter;
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

/// Logs to stderr at `SHOUTCUE_LOG` (default `info`), coloured only on a
/// terminal.
pub fn init() {
    let filter = EnvFilter::try_from_env("SHOUTCUE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stderr, ansi, filter));
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
    fn plain_text_is_untouched_and_escapes_read_back() {
        assert!(matches!(escape("CA123-ab"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(escape("a\\n"), "a\\\\n");
        assert_eq!(escape("a\nb"), "a\\nb");
    }
}

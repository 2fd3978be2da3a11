//! The agent's overlay: a narrow local web page that shows the current cue,
//! the customer's voice meter and the agent's private nudges, fed by
//! Server-Sent Events.
//!
//! Two halves, so the real-time path never formats or locks:
//!
//! * [`OverlayFeed`] sits on the analysis thread as the engine's
//!   [`Observer`](shoutcue_core::engine::Observer): it sends small `Copy`
//!   messages over a bounded channel with `try_send` and counts what it
//!   had to drop.
//! * [`Publisher`] runs on its own thread: it renders each event with the
//!   same [`JsonlSink`](shoutcue_core::sinks::JsonlSink) as `replay` (schema v1), keeps the
//!   incident note, and hands the lines to the [`Overlay`] web server.
//!
//! The server ([`Overlay`]) binds to loopback by default, serves one embedded
//! page at `/`, the event stream at `/events` and takes the agent's marks
//! ("said", "dismiss") at `POST /api/mark`. A page that connects late is
//! sent the call's events so far first, so it shows the right state.
//!
//! Besides the schema-v1 lines the stream carries, under the SSE event name
//! `meter`, the customer's voice meter about 20 times a second, and as plain
//! schema-v1-shaped lines the live capture's health: `overrun`,
//! `device_lost`, `device_back` (see [`Status`]). No audio is sent or stored.

mod feed;
mod server;
mod session;

pub use feed::{
    feed_channel, percentile, FeedMsg, FeedReceiver, Meter, OverlayFeed, Publisher,
    PublisherReport, Status, FEED_CAPACITY, METER_EVERY_HOPS,
};
pub use server::{
    parse_mark, CueShown, Mark, MarkAction, MarkBody, MarkError, Overlay, OverlayError,
    OverlayOptions,
};
pub use session::ServedCall;

use std::io::Write;
use std::path::Path;

use shoutcue_core::engine::SinkError;
use shoutcue_core::sinks::IncidentNote;

/// Writes the incident note as `PREFIX.json` and `PREFIX.md`, with the
/// agent's marks ("said", "dismiss") appended: the note module knows nothing
/// of the overlay, so the marks are added here rather than in its format.
pub fn write_note(prefix: &Path, note: &IncidentNote, marks: &[Mark]) -> Result<(), OverlayError> {
    let json_path = prefix.with_extension("json");
    let md_path = prefix.with_extension("md");
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source: std::io::Error| OverlayError::Note {
            path: path.clone(),
            source,
        }
    };
    let mut value = serde_json::to_value(note).map_err(|e| OverlayError::Note {
        path: json_path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "agent_marks".into(),
            serde_json::to_value(marks).unwrap_or_default(),
        );
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    std::fs::write(&json_path, text).map_err(io(&json_path))?;

    let mut md = note.to_markdown();
    if !marks.is_empty() {
        md.push_str("\n## Agent marks\n\n");
        for m in marks {
            let what = match m.action {
                MarkAction::Said => "said",
                MarkAction::Dismiss => "dismissed as a false alarm",
            };
            md.push_str(&format!(
                "- {}: step {} (shown at {:.1} s) {what}\n",
                shoutcue_core::sinks::clock(m.t),
                m.step,
                m.cue_t
            ));
        }
    }
    let mut f = std::fs::File::create(&md_path).map_err(io(&md_path))?;
    f.write_all(md.as_bytes()).map_err(io(&md_path))?;
    Ok(())
}

/// Maps a sink failure inside the publisher to something printable.
fn sink_err(e: SinkError) -> std::io::Error {
    std::io::Error::other(e)
}

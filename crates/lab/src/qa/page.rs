//! One page per call (`calls/NAME.html`): the recording to play, the
//! timeline plot as its seek bar (click a moment to hear it; a cursor
//! follows the playback), the cues with their times, and the incident note
//! rendered from its Markdown.
//!
//! The audio is the recording where it lies, linked by a relative path:
//! the report copies no audio (nothing is stored that was not asked for),
//! and the page plays it when the report is opened beside the calls.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::plot::{PLOT_WIDTH, PLOT_X0, PLOT_X1};
use super::report::{clock, esc, href};
use super::row::CallRow;

/// The relative path from folder `from` to file `to` (both absolute), `/`-separated.
pub(crate) fn relative(from: &Path, to: &Path) -> Option<String> {
    let from: Vec<Component> = from.components().collect();
    let to_c: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to_c[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(parts.join("/"))
}

/// Markdown to HTML, with any raw HTML in it shown as text (a file name
/// or a customer name is never markup).
pub(crate) fn markdown_html(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut out = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#111;max-width:1250px}
.timeline{position:relative;display:inline-block;cursor:pointer;max-width:100%}
.timeline img{display:block;max-width:100%;height:auto;border:1px solid #ccc}
#cursor{position:absolute;top:0;bottom:0;width:2px;background:#0b5394;left:0;pointer-events:none;display:none}
audio{width:100%;max-width:1200px;margin:.5em 0}
table{border-collapse:collapse;font-size:14px;margin:.5em 0}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left}
th{background:#eee}
button.t{font:inherit;border:1px solid #888;background:#fff;border-radius:3px;cursor:pointer}
.note{background:#f6f6f3;border:1px solid #ddd;padding:0 1em;max-width:60em}
.said{color:#05642d}.notsaid{color:#a00}.unknown{color:#555}
.error{color:#a00;border:1px solid #a00;background:#fff5f5;padding:.5em 1em;max-width:60em}
.nav{font-size:14px}";

/// The page's script: the plot seeks the audio, the cursor follows it.
fn script(end_s: f64) -> String {
    format!(
        "(function(){{var a=document.getElementById('audio'),tl=document.getElementById('timeline'),img=tl.querySelector('img'),cur=document.getElementById('cursor');
var W={PLOT_WIDTH},X0={PLOT_X0},X1={PLOT_X1},END={end_s};
function seek(t){{if(!a)return;a.currentTime=Math.max(0,Math.min(END,t));a.play().catch(function(){{}});}}
window.__seek=seek;
tl.addEventListener('click',function(e){{var r=img.getBoundingClientRect(),x=(e.clientX-r.left)*W/r.width;seek((x-X0)/(X1-X0)*END);}});
document.querySelectorAll('button.t').forEach(function(b){{b.addEventListener('click',function(){{seek(parseFloat(b.dataset.t));}});}});
function draw(){{if(!a)return;var r=img.getBoundingClientRect(),k=r.width/W;cur.style.display='block';cur.style.left=((X0+(X1-X0)*Math.min(1,a.currentTime/END))*k)+'px';}}
if(a){{a.addEventListener('timeupdate',draw);a.addEventListener('seeked',draw);}}
}})();"
    )
}

/// Writes the call's page to `path` (in the report's `calls/` folder).
/// `source` is the recording (absolute), `note_md` the note's Markdown.
pub(crate) fn write(
    path: &Path,
    row: &CallRow,
    source: &Path,
    note_md: &str,
    plot_png: &Path,
) -> Result<(), String> {
    let here = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let abs =
        |p: &Path| -> PathBuf { std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()) };
    let audio = relative(&abs(&here), &abs(source));
    // The plot sits beside the page; the index is as many folders up as
    // the call's name has, plus `calls/`.
    let plot = plot_png
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report_index = format!(
        "{}index.html",
        "../".repeat(row.name.matches('/').count() + 1)
    );
    let end = row.duration_s.max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>shoutcue QA: {name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<p class=\"nav\"><a href=\"{index}\">← all calls</a></p>\n<h1>{name}</h1>\n<p>{dur} long; {what}.</p>\n",
        name = esc(&row.name),
        index = esc(&href(&report_index)),
        dur = clock(row.duration_s),
        what = match row.episodes {
            0 => "no customer shouting found".to_string(),
            n => format!(
                "customer shouting {:.1} s in {n} episode{}; highest step {}",
                row.shouting_s,
                if n == 1 { "" } else { "s" },
                if row.highest_step == 0 { "none".to_string() } else { row.highest_step.to_string() },
            ),
        },
    );
    let about: Vec<String> = [
        row.agent_id.as_ref().map(|a| format!("Agent {}", esc(a))),
        row.labels.as_ref().map(|l| esc(l)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !about.is_empty() {
        let _ = writeln!(s, "<p class=\"about\">{}</p>", about.join(" · "));
    }
    if let Some(e) = &row.error {
        let _ = writeln!(
            s,
            "<p class=\"error\" role=\"alert\">This call could not be read to its end: {}. What follows covers the {} that were read.</p>",
            esc(e),
            clock(row.duration_s)
        );
    }
    match &audio {
        Some(a) => {
            let _ = write!(
                s,
                "<audio id=\"audio\" controls preload=\"metadata\" src=\"{}\">Your browser cannot play this recording here.</audio>\n<p class=\"nav\">Click the plot to hear that moment. The recording is played from where it lies; the report holds no copy.</p>\n",
                esc(&href(a))
            );
        }
        None => s.push_str(
            "<p>The recording is on another drive than the report: open it from there.</p>\n",
        ),
    }
    let _ = writeln!(
        s,
        "<div class=\"timeline\" id=\"timeline\"><img src=\"{}\" alt=\"timeline of {}: loudness, pitch, shouting and cues\" width=\"{PLOT_WIDTH}\"><div id=\"cursor\"></div></div>",
        esc(&href(&plot)),
        esc(&row.name)
    );
    if !row.cues.is_empty() {
        s.push_str("<h2>Cues</h2>\n<table><thead><tr><th>shown at</th><th>step</th><th>said?</th></tr></thead><tbody>\n");
        for c in &row.cues {
            let (class, said) = match c.said.as_str() {
                "yes" => ("said", "✓ said"),
                "no" => ("notsaid", "✗ not said"),
                "unknown" => ("unknown", "? no agent channel"),
                _ => ("unknown", "? no verdict"),
            };
            let _ = writeln!(
                s,
                "<tr><td><button class=\"t\" data-t=\"{t}\" title=\"play from here\">▶ {clock}</button></td><td>{step}</td><td class=\"{class}\">{said}</td></tr>",
                t = (c.shown_s - 2.0).max(0.0),
                clock = clock(c.shown_s),
                step = esc(&c.rung().label()),
            );
        }
        s.push_str("</tbody></table>\n");
        if row.cues.iter().any(|c| c.rung().label() == "3b") {
            s.push_str(
                "<p class=\"nav\">3b: step 3 said the second time, as the script asks.</p>\n",
            );
        }
    }
    let _ = write!(
        s,
        "<h2>{}</h2>\n<div class=\"note\">{}</div>\n<script>{}</script>\n</body>\n</html>\n",
        if row.episodes == 0 {
            "Call note"
        } else {
            "Incident note"
        },
        markdown_html(note_md),
        script(end)
    );
    std::fs::write(path, s).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(
            relative(
                Path::new("/r/report/calls/mon"),
                Path::new("/r/in/mon/a.wav")
            )
            .as_deref(),
            Some("../../../in/mon/a.wav")
        );
        assert_eq!(
            relative(
                Path::new("/r/report/calls"),
                Path::new("/r/report/calls/a.png")
            )
            .as_deref(),
            Some("a.png")
        );
    }

    #[test]
    fn markup_in_a_note_is_text() {
        let h = markdown_html("# Note\n\n- **Call:** <script>alert(1)</script>\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n");
        assert!(h.contains("<h1>Note</h1>") && h.contains("<table>"), "{h}");
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
    }
}

//! The batch's two tables: `summary.csv` for spreadsheets and `index.html`
//! for people, with the same rows.
//!
//! The page is one self-contained file: no frameworks, no network, relative
//! links, so it opens straight from disk or a file share. It reads fine
//! without JavaScript; a few lines of inline script make the headers sort.

use std::fmt::Write as _;
use std::path::Path;

use super::row::CallRow;
use super::{BatchSummary, QaError, QaOptions};

fn write_file(path: &Path, text: &str) -> Result<(), QaError> {
    std::fs::write(path, text).map_err(|source| QaError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// RFC 4180 quoting. Hand-rolled: writing (not parsing) CSV is these few
/// lines, not worth a dependency.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `summary.csv`: one row per call, sorted by name.
pub(crate) fn write_csv(path: &Path, rows: &[CallRow], opts: &QaOptions) -> Result<(), QaError> {
    let mut s = String::from("name,");
    if opts.manifest.is_some() {
        s.push_str("agent_id,labels,");
    }
    s.push_str(
        "status,error,duration_s,shouting_s,episodes,highest_step,cues_shown,cues_said,cues,ladder_ended",
    );
    if opts.include_private {
        s.push_str(",agent_nudges,agent_shouting_s");
    }
    s.push_str(",plot,note,notes\n");
    for r in rows {
        let (plot, note) = r
            .outputs
            .as_ref()
            .map_or((String::new(), String::new()), |o| {
                (o.plot_png.clone(), o.note_md.clone())
            });
        let _ = write!(s, "{},", csv_field(&r.name));
        if opts.manifest.is_some() {
            let _ = write!(
                s,
                "{},{},",
                csv_field(r.agent_id.as_deref().unwrap_or("")),
                csv_field(r.labels.as_deref().unwrap_or(""))
            );
        }
        let _ = write!(
            s,
            "{},{},{:.3},{:.3},{},{},{},{},{},{}",
            r.status(),
            csv_field(r.error.as_deref().unwrap_or("")),
            r.duration_s,
            r.shouting_s,
            r.episodes,
            r.highest_step,
            r.cues.len(),
            r.cues_said(),
            csv_field(&r.cue_summary()),
            r.ladder_ended,
        );
        if opts.include_private {
            let _ = write!(
                s,
                ",{},{}",
                r.agent_nudges.map_or(String::new(), |n| n.to_string()),
                r.agent_shouting_s
                    .map_or(String::new(), |v| format!("{v:.3}"))
            );
        }
        let _ = writeln!(
            s,
            ",{},{},{}",
            csv_field(&plot),
            csv_field(&note),
            csv_field(&r.notes())
        );
    }
    write_file(path, &s)
}

pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Percent-encodes a relative `/`-separated path for an `href`, so names
/// with spaces, `#` or `%` still link.
pub(crate) fn href(path: &str) -> String {
    let mut o = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

pub(crate) fn clock(t: f64) -> String {
    let s = if t.is_finite() && t > 0.0 {
        t.round() as u64
    } else {
        0
    };
    format!("{}:{:02}", s / 60, s % 60)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#111}
table{border-collapse:collapse;font-size:14px}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eee;cursor:pointer;user-select:none}
td.err{max-width:22em;overflow-wrap:anywhere}
td.links{white-space:nowrap}
th::after{content:' \\2195';color:#888}
th[aria-sort=ascending]::after{content:' \\25B2';color:#111}
th[aria-sort=descending]::after{content:' \\25BC';color:#111}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.error td{background:#fde8e8}
tr.shout td:first-child{border-left:4px solid #c81e1e}
.said{color:#05642d}.notsaid{color:#a00}.unknown{color:#555}
.summary{margin:0 0 1em 0}
.filters{display:flex;gap:1.2em;align-items:center;margin:0 0 .8em 0;font-size:14px}
#f-count{color:#555}";

/// Filters over the rows (status, highest step, name); the rows stay in
/// the page, so it still reads without JavaScript.
const FILTERS: &str = "<form class=\"filters\" id=\"filters\" onsubmit=\"return false\">
<label>Status <select id=\"f-status\"><option value=\"\">all</option><option>ok</option><option>error</option><option>skipped</option></select></label>
<label>Highest step at least <select id=\"f-step\"><option value=\"0\">any</option><option>1</option><option>2</option><option>3</option><option>4</option></select></label>
<label>Name contains <input id=\"f-name\" type=\"search\"></label>
<span id=\"f-count\"></span>
</form>
";

const SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){
function go(){var tb=th.closest('table').tBodies[0];var asc=th.getAttribute('aria-sort')!=='ascending';
th.closest('tr').querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort')});
th.setAttribute('aria-sort',asc?'ascending':'descending');
function key(r){var c=r.cells[i];var v=c.getAttribute('data-sort');if(v===null)v=c.textContent.trim().toLowerCase();var n=parseFloat(v);return isNaN(n)?v:n;}
var rows=Array.prototype.slice.call(tb.rows);
rows.sort(function(a,b){var x=key(a),y=key(b);if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);});
rows.forEach(function(r){tb.appendChild(r)});}
th.tabIndex=0;th.addEventListener('click',go);th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});
var m=/^#sort=(\\d+)(-?)$/.exec(location.hash);if(m&&+m[1]===i){go();if(m[2])go();}});
(function(){var st=document.getElementById('f-status'),sp=document.getElementById('f-step'),nm=document.getElementById('f-name'),ct=document.getElementById('f-count');
function apply(){var n=0,rows=document.querySelectorAll('#calls tbody tr');rows.forEach(function(r){var ok=(!st.value||r.dataset.status===st.value)&&(+r.dataset.step>=+sp.value)&&(!nm.value||r.cells[0].textContent.toLowerCase().indexOf(nm.value.toLowerCase())>=0);r.hidden=!ok;if(ok)n++;});ct.textContent=n+' of '+rows.length+' calls shown';}
[st,sp,nm].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
var q=new URLSearchParams(location.hash.replace(/^#sort=[^&]*&?/,'').replace(/^#/,''));if(q.get('status'))st.value=q.get('status');if(q.get('step'))sp.value=q.get('step');apply();})();";

/// Writes `index.html`: a summary line and one row per call, the calls
/// with the most customer shouting first, failed calls at the top.
pub(crate) fn write_html(
    path: &Path,
    summary: &BatchSummary,
    opts: &QaOptions,
) -> Result<(), QaError> {
    let mut rows: Vec<&CallRow> = summary.rows.iter().collect();
    rows.sort_by(|a, b| {
        b.error
            .is_some()
            .cmp(&a.error.is_some())
            .then(b.shouting_s.total_cmp(&a.shouting_s))
            .then(a.name.cmp(&b.name))
    });
    let shouting = summary.rows.iter().filter(|r| r.shouting_s > 0.0).count();
    // A call cut short was still analysed up to the cut: not "unread".
    let partial = summary
        .rows
        .iter()
        .filter(|r| r.error.is_some() && r.duration_s > 0.0)
        .count();
    let unread = summary.rows.iter().filter(|r| r.error.is_some()).count() - partial;
    let partial = if partial > 0 {
        format!("; {partial} read only in part (each page says where it stopped)")
    } else {
        String::new()
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>shoutcue QA: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>shoutcue QA review</h1>\n",
        esc(&opts.dir.display().to_string())
    );
    let _ = writeln!(
        s,
        "<p class=\"summary\" id=\"summary\">{} calls from <code>{}</code>, {} of audio; {} with customer shouting; {} could not be read{}. Sorted by shouting seconds; click a header to sort, a call to open its page (audio, timeline, note). The same rows for a spreadsheet: <a href=\"summary.csv\">summary.csv</a>.</p>",
        summary.rows.len(),
        esc(&opts.dir.display().to_string()),
        clock(summary.total_audio_s),
        shouting,
        unread,
        partial
    );
    let manifest = opts.manifest.is_some();
    let mut head = vec!["call"];
    if manifest {
        head.extend(["agent", "labels"]);
    }
    head.extend([
        "status",
        "duration (s)",
        "shouting (s)",
        "episodes",
        "highest step",
        "cues shown at a pause: step, said?",
    ]);
    if opts.include_private {
        head.push("agent nudges (private)");
    }
    head.extend(["plot", "note"]);
    s.push_str(FILTERS);
    s.push_str("<table class=\"sortable\" id=\"calls\">\n<thead><tr>");
    for h in &head {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        let class = match (&r.error, r.shouting_s > 0.0) {
            (Some(_), _) => " class=\"error\"",
            (None, true) => " class=\"shout\"",
            (None, false) => "",
        };
        let page = r
            .outputs
            .as_ref()
            .map(|o| o.page.as_str())
            .filter(|p| !p.is_empty());
        let _ = write!(
            s,
            "<tr{class} data-status=\"{}\" data-step=\"{}\">",
            r.status(),
            r.highest_step
        );
        match page {
            Some(p) => {
                let _ = write!(
                    s,
                    "<td><a href=\"{}\">{}</a></td>",
                    esc(&href(p)),
                    esc(&r.name)
                );
            }
            None => {
                let _ = write!(s, "<td>{}</td>", esc(&r.name));
            }
        }
        if manifest {
            let _ = write!(
                s,
                "<td>{}</td><td>{}</td>",
                esc(r.agent_id.as_deref().unwrap_or("")),
                esc(r.labels.as_deref().unwrap_or(""))
            );
        }
        match &r.error {
            Some(e) => {
                let _ = write!(
                    s,
                    "<td class=\"err\" data-sort=\"error\">error: {}</td>",
                    esc(e)
                );
            }
            None => {
                let status = r.status();
                let notes = r.notes();
                if notes.is_empty() {
                    let _ = write!(s, "<td data-sort=\"{status}\">{status}</td>");
                } else {
                    let _ = write!(
                        s,
                        "<td class=\"err\" data-sort=\"{status}\">{status} ({})</td>",
                        esc(&notes)
                    );
                }
            }
        }
        let num = |s: &mut String, v: f64, text: String| {
            let _ = write!(s, "<td class=\"num\" data-sort=\"{v}\">{text}</td>");
        };
        num(&mut s, r.duration_s, format!("{:.1}", r.duration_s));
        num(&mut s, r.shouting_s, format!("{:.1}", r.shouting_s));
        num(&mut s, r.episodes as f64, r.episodes.to_string());
        let step = if r.highest_step == 0 {
            "none".to_string()
        } else if r.ladder_ended {
            format!("{} (end advised)", r.highest_step)
        } else {
            r.highest_step.to_string()
        };
        num(&mut s, r.highest_step as f64, step);
        let _ = write!(s, "<td data-sort=\"{}\">", r.cues.len());
        if r.cues.is_empty() {
            s.push_str("none");
        }
        for (i, c) in r.cues.iter().enumerate() {
            let (class, mark) = match c.said.as_str() {
                "yes" => ("said", "✓ said"),
                "no" => ("notsaid", "✗ not said"),
                "unknown" => ("unknown", "? no agent channel"),
                _ => ("unknown", "? no verdict"),
            };
            let _ = write!(
                s,
                "{}<span class=\"{class}\" title=\"shown at {}\">{} {mark}</span>",
                if i > 0 { ", " } else { "" },
                clock(c.shown_s),
                c.rung().label()
            );
        }
        s.push_str("</td>");
        if opts.include_private {
            match r.agent_nudges {
                Some(n) => num(&mut s, n as f64, n.to_string()),
                None => s.push_str("<td data-sort=\"-1\"></td>"),
            }
        }
        match &r.outputs {
            Some(o) => {
                let _ = write!(
                    s,
                    "<td class=\"links\"><a href=\"{}\">PNG</a> <a href=\"{}\">SVG</a></td><td class=\"links\"><a href=\"{}\">note</a> <a href=\"{}\">events</a> <a href=\"{}\">labels</a></td>",
                    esc(&href(&o.plot_png)),
                    esc(&href(&o.plot_svg)),
                    esc(&href(&o.note_md)),
                    esc(&href(&o.events)),
                    esc(&href(&o.labels)),
                );
            }
            None => s.push_str("<td></td><td></td>"),
        }
        s.push_str("</tr>\n");
    }
    let _ = write!(
        s,
        "</tbody>\n</table>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    write_file(path, &s)
}

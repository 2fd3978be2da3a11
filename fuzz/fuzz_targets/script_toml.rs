//! Arbitrary text as a script file: parsing must never panic, and a script
//! that parses holds only non-empty lines whose one placeholder renders
//! away, whatever step is asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoutcue_core::coach::{Line, NudgeKind, Script};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(script) = Script::parse(text, "fuzz.toml") else {
        return;
    };
    assert!(!script.lang().trim().is_empty());
    let mut lines: Vec<Line> = (0..=u8::MAX).map(Line::Step).collect();
    lines.extend([
        Line::Calm,
        Line::EndCall,
        Line::Nudge(NudgeKind::RaisedVoice),
        Line::Nudge(NudgeKind::Overtalk),
    ]);
    for line in lines {
        let template = script.template(line);
        assert!(!template.trim().is_empty(), "{line:?} is empty");
        for name in [None, Some("Ana"), Some("   ")] {
            let shown = script.render(line, name);
            // Only `{name}` may hold a brace, and it is always filled or dropped.
            assert!(!shown.contains(['{', '}']), "{line:?} rendered {shown:?}");
        }
    }
    // Parsing is a pure function of the text.
    let again = Script::parse(text, "fuzz.toml");
    assert!(matches!(again, Ok(s) if s == script));
});
